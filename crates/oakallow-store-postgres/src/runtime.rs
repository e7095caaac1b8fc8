//! Group-committed runtime writes on PostgreSQL: a whole batch in one transaction. The writes
//! are decided in batch order: a charged write its account cannot pay for is skipped, a
//! conditional write runs its one statement at once, and a check is only queued. The queued
//! checks (and tokens minted with them) are then inserted by one multi-row statement each, the
//! calls paid for are written to the ledger, and the activity entries of the writes that were
//! made are appended to their chains, in batch order, by one more.

use oakallow_domain::Timestamp;
use oakallow_domain::audit::ActivityRecord;
use oakallow_domain::id::{AccountId, CheckId, OrgId};
use oakallow_store::{BatchItem, CheckRecord, RuntimeWrite, StoreResult, TokenRecord, WriteOutcome};
use sqlx::{AssertSqlSafe, PgConnection, PgPool};

use crate::billing::Billing;
use crate::error::{is_deadlock, map_error};
use crate::rows::{self, CHECK_COLUMNS};
use crate::{chain, tokens};

/// How many times a batch is tried when PostgreSQL aborts it to break a deadlock (possible
/// when batches on several nodes consume or mint the same tokens in different orders).
const DEADLOCK_TRIES: u32 = 3;

/// Commits the batch, or nothing of it; answers, per write, what became of it.
pub(crate) async fn commit(pool: &PgPool, now: Timestamp, batch: &[BatchItem]) -> StoreResult<Vec<WriteOutcome>> {
    if batch.is_empty() {
        return Ok(Vec::new());
    }
    let mut tries = 1;
    loop {
        match try_commit(pool, now, batch).await {
            Err(error) if tries < DEADLOCK_TRIES && is_deadlock(&error) => {
                tracing::debug!(tries, "a runtime batch was aborted to break a deadlock; trying it again");
                tries += 1;
            }
            result => return result,
        }
    }
}

/// What the batch will insert once every write is decided.
#[derive(Default)]
struct Queued<'a> {
    checks: Vec<&'a CheckRecord>,
    inline_tokens: Vec<&'a TokenRecord>,
    activity: Vec<&'a ActivityRecord>,
}

/// One try of [`commit`]. The paying accounts are locked first (before any chain head). Checks
/// are inserted after the conditional writes: a conditional write could only meet them by
/// naming a token or source that nobody knows before this batch commits. The conditional
/// writes run in batch order, so that e.g. a token minted by one write can be consumed by a
/// later one; a write that does not apply is not an error.
async fn try_commit(pool: &PgPool, now: Timestamp, batch: &[BatchItem]) -> StoreResult<Vec<WriteOutcome>> {
    let payers: Vec<AccountId> = batch.iter().filter_map(|item| item.charge.map(|charge| charge.account_id)).collect();
    let mut tx = pool.begin().await.map_err(map_error)?;
    let mut billing = Billing::open(&mut tx, &payers, now).await?;
    let mut queued = Queued::default();
    let mut outcomes = Vec::with_capacity(batch.len());
    for item in batch {
        if let Some(charge) = &item.charge
            && !billing.can_pay(charge)?
        {
            outcomes.push(WriteOutcome::InsufficientCredits);
            continue;
        }
        let (applied, appended) = apply(&mut tx, &mut queued, &item.write).await?;
        if let Some(charge) = &item.charge
            && appended
        {
            billing.pay(charge)?;
        }
        outcomes.push(if applied { WriteOutcome::Applied } else { WriteOutcome::NotApplied });
    }
    insert_checks(&mut tx, &queued.checks).await?;
    tokens::insert_inline(&mut tx, &queued.inline_tokens).await?;
    billing.finish(&mut tx).await?;
    chain::append(&mut tx, queued.activity).await?;
    tx.commit().await.map_err(map_error)?;
    Ok(outcomes)
}

/// Runs (or queues) one write and queues the activity entry that describes what happened;
/// answers whether it applied and whether it appended its entry (what a call is paid for):
/// checks, plain entries and consumptions always do (a refused consumption records the
/// reuse); mints and executions only when they applied.
async fn apply<'a>(conn: &mut PgConnection, queued: &mut Queued<'a>, write: &'a RuntimeWrite) -> StoreResult<(bool, bool)> {
    Ok(match write {
        RuntimeWrite::Check { check, activity, token } => {
            queued.checks.push(check);
            queued.activity.push(activity);
            if let Some(minted) = token {
                queued.inline_tokens.push(&minted.token);
                queued.activity.push(&minted.activity);
            }
            (true, true)
        }
        RuntimeWrite::Activity(record) => {
            queued.activity.push(record);
            (true, true)
        }
        RuntimeWrite::MintToken(minted) => {
            let done = tokens::mint(conn, &minted.token).await?;
            queued.activity.extend(done.then_some(&minted.activity));
            (done, done)
        }
        RuntimeWrite::ConsumeToken { org_id, jti, at, verified, already_used } => {
            let done = tokens::consume(conn, *org_id, jti, *at).await?;
            queued.activity.push(if done { verified } else { already_used });
            (done, true)
        }
        RuntimeWrite::Execution { execution, activity } => {
            let done = tokens::log_execution(conn, execution).await?;
            queued.activity.extend(done.then_some(activity));
            (done, done)
        }
    })
}

/// Inserts checks with one multi-row statement: one array per column.
async fn insert_checks(conn: &mut PgConnection, checks: &[&CheckRecord]) -> StoreResult<()> {
    if checks.is_empty() {
        return Ok(());
    }
    let text = |value: fn(&CheckRecord) -> String| checks.iter().map(|c| value(c)).collect::<Vec<_>>();
    let optional = |value: fn(&CheckRecord) -> Option<String>| checks.iter().map(|c| value(c)).collect::<Vec<_>>();
    sqlx::query(
        "INSERT INTO checks (id, org_id, tool, tenant, resource, method, permission, resolved_from, params_sha256, created_at)
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
           $9::text[], $10::bigint[])",
    )
    .bind(text(|c| c.id.to_string()))
    .bind(text(|c| c.org_id.to_string()))
    .bind(text(|c| c.tool.clone()))
    .bind(optional(|c| c.tenant.clone()))
    .bind(optional(|c| c.resource.clone()))
    .bind(optional(|c| c.method.clone()))
    .bind(text(|c| c.permission.as_str().to_owned()))
    .bind(text(|c| c.resolved_from.as_str().to_owned()))
    .bind(text(|c| c.params_sha256.clone()))
    .bind(checks.iter().map(|c| c.created_at.micros()).collect::<Vec<_>>())
    .execute(conn)
    .await
    .map_err(map_error)?;
    Ok(())
}

/// A check of the org.
pub(crate) async fn check(pool: &PgPool, org: OrgId, id: CheckId) -> StoreResult<Option<CheckRecord>> {
    let sql = format!("SELECT {CHECK_COLUMNS} FROM checks WHERE org_id = $1 AND id = $2");
    let found = sqlx::query(AssertSqlSafe(sql)).bind(org.to_string()).bind(id.to_string()).fetch_optional(pool).await.map_err(map_error)?;
    found.as_ref().map(rows::check).transpose().map_err(map_error)
}
