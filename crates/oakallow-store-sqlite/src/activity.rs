//! The audit trail on SQLite: appending entries to each org's hash chain inside a write
//! transaction, and reading, filtering and verifying them.

use std::collections::HashMap;

use oakallow_domain::audit::{ActivityEntry, ActivityRecord, ChainCheck, GENESIS_HASH, chain_hash};
use oakallow_domain::id::{ActivityId, OrgId};
use oakallow_store::{ActivityFilter, StoreResult, exact_i64};
use rusqlite::types::Value as Sql;
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::conn::map_error;
use crate::rows::{self, ACTIVITY_COLUMNS};

/// The chain heads touched by one transaction: loaded on first use, written back at the end.
#[derive(Default)]
pub(crate) struct Chains {
    heads: HashMap<OrgId, (u64, ActivityId, String)>,
}

impl Chains {
    /// Seals `record` after its org's current head and inserts it.
    pub(crate) fn append(&mut self, tx: &Transaction<'_>, record: &ActivityRecord) -> StoreResult<()> {
        let (seq, prev_hash) = match self.heads.get(&record.org_id) {
            Some((seq, _, hash)) => (*seq, hash.clone()),
            None => load_head(tx, record.org_id)?,
        };
        let seq = seq + 1;
        let hash = chain_hash(record, seq, &prev_hash);
        insert(tx, record, seq, &prev_hash, &hash)?;
        self.heads.insert(record.org_id, (seq, record.id, hash));
        Ok(())
    }

    /// Saves the new heads; call once, before commit.
    pub(crate) fn save(self, tx: &Transaction<'_>) -> StoreResult<()> {
        let mut upsert = tx
            .prepare_cached(
                "INSERT INTO activity_heads (org_id, seq, id, hash) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (org_id) DO UPDATE SET seq = excluded.seq, id = excluded.id, hash = excluded.hash",
            )
            .map_err(map_error)?;
        for (org, (seq, id, hash)) in self.heads {
            upsert.execute(params![org.to_string(), seq as i64, id.to_string(), hash]).map_err(map_error)?;
        }
        Ok(())
    }
}

fn load_head(tx: &Transaction<'_>, org: OrgId) -> StoreResult<(u64, String)> {
    let head: Option<(i64, String)> = tx
        .prepare_cached("SELECT seq, hash FROM activity_heads WHERE org_id = ?1")
        .map_err(map_error)?
        .query_row([org.to_string()], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()
        .map_err(map_error)?;
    Ok(match head {
        Some((seq, hash)) => (u64::try_from(seq).unwrap_or(0), hash),
        None => (0, GENESIS_HASH.to_owned()),
    })
}

fn opt_json(value: Option<&serde_json::Value>) -> Option<String> {
    value.map(rows::to_json)
}

/// Written once: the statement cache is keyed by this text, and every entry looks it up.
static INSERT_ENTRY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "INSERT INTO activity ({ACTIVITY_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25)"
    )
});

fn insert(tx: &Transaction<'_>, r: &ActivityRecord, seq: u64, prev_hash: &str, hash: &str) -> StoreResult<()> {
    let duration_ms = r.duration_ms.map(|d| exact_i64(d, "duration_ms")).transpose()?;
    let mut statement = tx.prepare_cached(&INSERT_ENTRY).map_err(map_error)?;
    statement
        .execute(params![
            r.id.to_string(),
            r.org_id.to_string(),
            seq as i64,
            r.at.micros(),
            r.kind.as_str(),
            r.actor.kind.as_str(),
            r.actor.id,
            r.actor.label,
            r.tenant,
            r.resource,
            r.tool,
            r.method,
            r.permission.map(|p| p.as_str()),
            r.resolved_from.map(|s| s.as_str()),
            r.rule_id.map(|id| id.to_string()),
            opt_json(r.params.as_ref()),
            r.reason,
            r.result,
            duration_ms,
            r.token_jti,
            r.approval_id.map(|id| id.to_string()),
            r.check_id.map(|id| id.to_string()),
            opt_json(r.details.as_ref()),
            prev_hash,
            hash,
        ])
        .map_err(map_error)?;
    Ok(())
}

/// Appends `records`, in order, within `tx`.
pub(crate) fn append_in(tx: &Transaction<'_>, records: &[ActivityRecord]) -> StoreResult<()> {
    let mut chains = Chains::default();
    for record in records {
        chains.append(tx, record)?;
    }
    chains.save(tx)
}

/// Entries of an org matching `filter`, newest first (oldest first when `ascending`).
pub(crate) fn list(conn: &Connection, org: OrgId, filter: &ActivityFilter) -> StoreResult<Vec<ActivityEntry>> {
    let mut sql = format!("SELECT {ACTIVITY_COLUMNS} FROM activity WHERE org_id = ?");
    let mut args: Vec<Sql> = vec![Sql::Text(org.to_string())];
    let mut add = |clause: &str, value: Sql| {
        sql.push_str(clause);
        args.push(value);
    };
    if let Some(kind) = filter.kind {
        add(" AND type = ?", Sql::Text(kind.as_str().into()));
    }
    if let Some(tool) = &filter.tool {
        add(" AND tool = ?", Sql::Text(tool.clone()));
    }
    if let Some(tenant) = &filter.tenant {
        add(" AND tenant = ?", Sql::Text(tenant.clone()));
    }
    if let Some(permission) = filter.permission {
        add(" AND permission = ?", Sql::Text(permission.as_str().into()));
    }
    if let Some(result) = &filter.result {
        add(" AND result = ?", Sql::Text(result.clone()));
    }
    if let Some(since) = filter.since {
        add(" AND at >= ?", Sql::Integer(since.micros()));
    }
    if let Some(until) = filter.until {
        add(" AND at < ?", Sql::Integer(until.micros()));
    }
    if let Some(before) = filter.before_seq {
        add(" AND seq < ?", Sql::Integer(i64::try_from(before).unwrap_or(i64::MAX)));
    }
    if let Some(after) = filter.after_seq {
        add(" AND seq > ?", Sql::Integer(i64::try_from(after).unwrap_or(i64::MAX)));
    }
    let order = if filter.ascending { " ORDER BY seq ASC LIMIT ?" } else { " ORDER BY seq DESC LIMIT ?" };
    add(order, Sql::Integer(i64::from(filter.limit)));
    let mut statement = conn.prepare_cached(&sql).map_err(map_error)?;
    let entries = statement.query_map(rusqlite::params_from_iter(args), rows::activity).map_err(map_error)?;
    entries.collect::<Result<_, _>>().map_err(map_error)
}

/// One entry of an org.
pub(crate) fn get(conn: &Connection, org: OrgId, id: ActivityId) -> StoreResult<Option<ActivityEntry>> {
    conn.prepare_cached(&format!("SELECT {ACTIVITY_COLUMNS} FROM activity WHERE org_id = ?1 AND id = ?2"))
        .map_err(map_error)?
        .query_row([org.to_string(), id.to_string()], rows::activity)
        .optional()
        .map_err(map_error)
}

/// Recomputes an org's whole chain in one read transaction, including the recorded head (so
/// that removing the newest entries is noticed too).
pub(crate) fn verify(conn: &mut Connection, org: OrgId) -> StoreResult<ChainCheck> {
    let tx = conn.transaction().map_err(map_error)?;
    let mut check = ChainCheck::default();
    {
        let mut statement =
            tx.prepare(&format!("SELECT {ACTIVITY_COLUMNS} FROM activity WHERE org_id = ?1 ORDER BY seq")).map_err(map_error)?;
        let mut entries = statement.query([org.to_string()]).map_err(map_error)?;
        while let Some(row) = entries.next().map_err(map_error)? {
            match rows::activity(row) {
                Ok(entry) => check.push(&entry),
                Err(_) => {
                    // A row that no longer decodes is as broken as one whose hash is wrong.
                    let id: String = row.get(0).map_err(map_error)?;
                    let seq: i64 = row.get(2).map_err(map_error)?;
                    check.push_undecodable(&id, u64::try_from(seq).unwrap_or(0));
                }
            }
        }
    }
    let head: Option<(i64, String, String)> = tx
        .query_row("SELECT seq, id, hash FROM activity_heads WHERE org_id = ?1", [org.to_string()], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })
        .optional()
        .map_err(map_error)?;
    if let Some((seq, id, hash)) = head {
        check.compare_head(u64::try_from(seq).unwrap_or(0), &id, &hash);
    }
    Ok(check)
}
