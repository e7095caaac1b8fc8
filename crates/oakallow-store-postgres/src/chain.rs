//! Appending to each org's audit hash chain inside a write transaction, safe across many nodes
//! and concurrent transactions: every org's head row is locked (`FOR UPDATE`) before its
//! entries are numbered, so appends to one org are serialized by the database itself, and the
//! heads are locked in org id order so that two transactions never wait for each other.

use std::collections::{BTreeMap, BTreeSet};

use oakallow_domain::audit::{ActivityEntry, ActivityRecord, GENESIS_HASH};
use oakallow_domain::id::OrgId;
use oakallow_store::{StoreResult, exact_i64};
use sqlx::PgConnection;

use crate::error::map_error;
use crate::rows::{self, bigint};

/// The end of one org's chain, as locked by this transaction and advanced by its entries.
struct Head {
    seq: u64,
    id: String,
    hash: String,
}

/// Seals `records` after their orgs' current heads, in the order given, and inserts them.
/// Call at most once per transaction (the heads stay locked until it ends).
pub(crate) async fn append<'a>(conn: &mut PgConnection, records: impl IntoIterator<Item = &'a ActivityRecord>) -> StoreResult<()> {
    let records: Vec<&ActivityRecord> = records.into_iter().collect();
    if records.is_empty() {
        return Ok(());
    }
    let orgs: BTreeSet<OrgId> = records.iter().map(|record| record.org_id).collect();
    let mut heads = BTreeMap::new();
    for org in orgs {
        heads.insert(org, lock_head(conn, org).await?);
    }
    let entries: Vec<ActivityEntry> = records.into_iter().map(|record| seal(&mut heads, record)).collect();
    insert_entries(conn, &entries).await?;
    save_heads(conn, &heads).await
}

/// Places `record` after its org's head and moves the head to it.
fn seal(heads: &mut BTreeMap<OrgId, Head>, record: &ActivityRecord) -> ActivityEntry {
    // Every org of the append was locked before sealing began; the default is never used.
    let head = heads.entry(record.org_id).or_insert_with(|| Head { seq: 0, id: String::new(), hash: GENESIS_HASH.to_owned() });
    let entry = ActivityEntry::seal(record.clone(), head.seq + 1, head.hash.clone());
    *head = Head { seq: entry.seq, id: entry.record.id.to_string(), hash: entry.hash.clone() };
    entry
}

/// Creates the org's genesis head if it has none yet, then locks it until the transaction ends.
async fn lock_head(conn: &mut PgConnection, org: OrgId) -> StoreResult<Head> {
    let org = org.to_string();
    sqlx::query("INSERT INTO activity_heads (org_id, seq, id, hash) VALUES ($1, 0, '', $2) ON CONFLICT DO NOTHING")
        .bind(&org)
        .bind(GENESIS_HASH)
        .execute(&mut *conn)
        .await
        .map_err(map_error)?;
    let (seq, hash): (i64, String) = sqlx::query_as("SELECT seq, hash FROM activity_heads WHERE org_id = $1 FOR UPDATE")
        .bind(&org)
        .fetch_one(&mut *conn)
        .await
        .map_err(map_error)?;
    Ok(Head { seq: u64::try_from(seq).unwrap_or(0), id: String::new(), hash })
}

/// Moves every touched head to its org's newest entry, in one statement.
async fn save_heads(conn: &mut PgConnection, heads: &BTreeMap<OrgId, Head>) -> StoreResult<()> {
    let orgs: Vec<String> = heads.keys().map(OrgId::to_string).collect();
    let seqs: Vec<i64> = heads.values().map(|head| bigint(head.seq)).collect();
    let ids: Vec<&str> = heads.values().map(|head| head.id.as_str()).collect();
    let hashes: Vec<&str> = heads.values().map(|head| head.hash.as_str()).collect();
    sqlx::query(
        "UPDATE activity_heads AS head SET seq = new.seq, id = new.id, hash = new.hash
         FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::text[]) AS new (org_id, seq, id, hash)
         WHERE head.org_id = new.org_id",
    )
    .bind(orgs)
    .bind(seqs)
    .bind(ids)
    .bind(hashes)
    .execute(&mut *conn)
    .await
    .map_err(map_error)?;
    Ok(())
}

/// Inserts sealed entries with one multi-row statement: one array per column.
async fn insert_entries(conn: &mut PgConnection, entries: &[ActivityEntry]) -> StoreResult<()> {
    let column = |value: fn(&ActivityEntry) -> Option<String>| entries.iter().map(value).collect::<Vec<_>>();
    let text = |value: fn(&ActivityEntry) -> String| entries.iter().map(value).collect::<Vec<_>>();
    let durations =
        entries.iter().map(|e| e.record.duration_ms.map(|d| exact_i64(d, "duration_ms")).transpose()).collect::<StoreResult<Vec<_>>>()?;
    sqlx::query(
        "INSERT INTO activity (id, org_id, seq, at, type, actor_kind, actor_id, actor_label, tenant, resource, tool, method,
           permission, resolved_from, rule_id, params, reason, result, duration_ms, token_jti, approval_id, check_id, details,
           prev_hash, hash)
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[],
           $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[],
           $18::text[], $19::bigint[], $20::text[], $21::text[], $22::text[], $23::text[], $24::text[], $25::text[])",
    )
    .bind(text(|e| e.record.id.to_string()))
    .bind(text(|e| e.record.org_id.to_string()))
    .bind(entries.iter().map(|e| bigint(e.seq)).collect::<Vec<_>>())
    .bind(entries.iter().map(|e| e.record.at.micros()).collect::<Vec<_>>())
    .bind(text(|e| e.record.kind.as_str().to_owned()))
    .bind(text(|e| e.record.actor.kind.as_str().to_owned()))
    .bind(text(|e| e.record.actor.id.clone()))
    .bind(text(|e| e.record.actor.label.clone()))
    .bind(column(|e| e.record.tenant.clone()))
    .bind(column(|e| e.record.resource.clone()))
    .bind(column(|e| e.record.tool.clone()))
    .bind(column(|e| e.record.method.clone()))
    .bind(column(|e| e.record.permission.map(|p| p.as_str().to_owned())))
    .bind(column(|e| e.record.resolved_from.map(|s| s.as_str().to_owned())))
    .bind(column(|e| e.record.rule_id.map(|id| id.to_string())))
    .bind(column(|e| e.record.params.as_ref().map(rows::to_json)))
    .bind(column(|e| e.record.reason.clone()))
    .bind(column(|e| e.record.result.clone()))
    .bind(durations)
    .bind(column(|e| e.record.token_jti.clone()))
    .bind(column(|e| e.record.approval_id.map(|id| id.to_string())))
    .bind(column(|e| e.record.check_id.map(|id| id.to_string())))
    .bind(column(|e| e.record.details.as_ref().map(rows::to_json)))
    .bind(text(|e| e.prev_hash.clone()))
    .bind(text(|e| e.hash.clone()))
    .execute(&mut *conn)
    .await
    .map_err(map_error)?;
    Ok(())
}
