//! Group-committed runtime writes on SQLite: a whole batch in one transaction, one disk sync.
//! Conditional writes (minting, consuming, executions) report whether they applied; a write that
//! does not apply is an answer, not a failure, and the rest of the batch still commits. Charged
//! writes are paid for through [`Billing`]: one the account cannot pay for is skipped.

use oakallow_domain::Timestamp;
use oakallow_domain::id::{CheckId, OrgId};
use oakallow_store::{BatchItem, CheckRecord, RuntimeWrite, StoreResult, WriteOutcome};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::activity::Chains;
use crate::billing::Billing;
use crate::conn::map_error;
use crate::rows::{self, CHECK_COLUMNS};
use crate::tokens;

/// Commits the batch, or nothing of it; answers, per write, what became of it.
pub(crate) fn commit(conn: &mut Connection, now: Timestamp, batch: &[BatchItem]) -> StoreResult<Vec<WriteOutcome>> {
    if batch.is_empty() {
        return Ok(Vec::new());
    }
    let tx = conn.transaction().map_err(map_error)?;
    let mut chains = Chains::default();
    let mut billing = Billing::new(now);
    let outcomes = batch.iter().map(|item| commit_one(&tx, &mut chains, &mut billing, item)).collect::<StoreResult<Vec<_>>>()?;
    chains.save(&tx)?;
    billing.finish(&tx)?;
    tx.commit().map_err(map_error)?;
    Ok(outcomes)
}

/// Writes one item unless its account cannot pay for it, and pays if it appended its entry.
fn commit_one(tx: &Transaction<'_>, chains: &mut Chains, billing: &mut Billing, item: &BatchItem) -> StoreResult<WriteOutcome> {
    if let Some(charge) = &item.charge
        && !billing.can_pay(tx, charge)?
    {
        return Ok(WriteOutcome::InsufficientCredits);
    }
    let applied = apply(tx, chains, &item.write)?;
    if let Some(charge) = &item.charge
        && appends_entry(&item.write, applied)
    {
        billing.pay(charge)?;
    }
    Ok(if applied { WriteOutcome::Applied } else { WriteOutcome::NotApplied })
}

/// Whether the write appended its activity entry (what a call is paid for): checks, plain
/// entries and consumptions always do (a refused consumption records the reuse); mints and
/// executions only when they applied.
fn appends_entry(write: &RuntimeWrite, applied: bool) -> bool {
    match write {
        RuntimeWrite::Check { .. } | RuntimeWrite::Activity(_) | RuntimeWrite::ConsumeToken { .. } => true,
        RuntimeWrite::MintToken(_) | RuntimeWrite::Execution { .. } => applied,
    }
}

/// Applies one write and appends the activity entry that describes what happened.
fn apply(tx: &Transaction<'_>, chains: &mut Chains, write: &RuntimeWrite) -> StoreResult<bool> {
    match write {
        RuntimeWrite::Check { check, activity, token } => {
            insert_check(tx, check)?;
            chains.append(tx, activity)?;
            if let Some(minted) = token {
                tokens::insert(tx, &minted.token)?;
                chains.append(tx, &minted.activity)?;
            }
            Ok(true)
        }
        RuntimeWrite::Activity(record) => {
            chains.append(tx, record)?;
            Ok(true)
        }
        RuntimeWrite::MintToken(minted) => {
            let applied = tokens::insert_once(tx, &minted.token)?;
            if applied {
                chains.append(tx, &minted.activity)?;
            }
            Ok(applied)
        }
        RuntimeWrite::ConsumeToken { org_id, jti, at, verified, already_used } => {
            let applied = tokens::consume(tx, *org_id, jti, *at)?;
            chains.append(tx, if applied { verified } else { already_used })?;
            Ok(applied)
        }
        RuntimeWrite::Execution { execution, activity } => {
            let applied = tokens::insert_execution(tx, execution)?;
            if applied {
                if let Some(jti) = &execution.token_jti {
                    // Consumes the token if nothing has (a verification may have, before).
                    tokens::consume(tx, execution.org_id, jti, execution.created_at)?;
                }
                chains.append(tx, activity)?;
            }
            Ok(applied)
        }
    }
}

/// Written once: the statement cache is keyed by this text, and every check looks it up.
static INSERT_CHECK: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| format!("INSERT INTO checks ({CHECK_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"));

fn insert_check(tx: &Transaction<'_>, c: &CheckRecord) -> StoreResult<()> {
    tx.prepare_cached(&INSERT_CHECK)
        .map_err(map_error)?
        .execute(params![
            c.id.to_string(),
            c.org_id.to_string(),
            c.tool,
            c.tenant,
            c.resource,
            c.method,
            c.permission.as_str(),
            c.resolved_from.as_str(),
            c.params_sha256,
            c.created_at.micros()
        ])
        .map_err(map_error)?;
    Ok(())
}

/// A check of the org.
pub(crate) fn check(conn: &Connection, org: OrgId, id: CheckId) -> StoreResult<Option<CheckRecord>> {
    conn.prepare_cached(&format!("SELECT {CHECK_COLUMNS} FROM checks WHERE org_id = ?1 AND id = ?2"))
        .map_err(map_error)?
        .query_row([org.to_string(), id.to_string()], rows::check)
        .optional()
        .map_err(map_error)
}
