//! Group-committed runtime writes on PostgreSQL: a whole batch in one transaction. Its checks
//! (and tokens minted with them) are inserted by one multi-row statement each, its conditional
//! writes run one statement each in batch order, and the activity entries of the writes that
//! applied are appended to their chains, in batch order, by one more.

use oakallow_domain::audit::ActivityRecord;
use oakallow_domain::id::{CheckId, OrgId};
use oakallow_store::{CheckRecord, RuntimeWrite, StoreResult, TokenRecord};
use sqlx::{AssertSqlSafe, PgConnection, PgPool};

use crate::error::{is_deadlock, map_error};
use crate::rows::{self, CHECK_COLUMNS};
use crate::{chain, tokens};

/// How many times a batch is tried when PostgreSQL aborts it to break a deadlock (possible
/// when batches on several nodes consume or mint the same tokens in different orders).
const DEADLOCK_TRIES: u32 = 3;

/// Commits the batch, or nothing of it; answers, per write, whether it applied.
pub(crate) async fn commit(pool: &PgPool, batch: &[RuntimeWrite]) -> StoreResult<Vec<bool>> {
    if batch.is_empty() {
        return Ok(Vec::new());
    }
    let mut tries = 1;
    loop {
        match try_commit(pool, batch).await {
            Err(error) if tries < DEADLOCK_TRIES && is_deadlock(&error) => {
                tracing::debug!(tries, "a runtime batch was aborted to break a deadlock; trying it again");
                tries += 1;
            }
            result => return result,
        }
    }
}

/// One try of [`commit`]. Unconditional rows (checks, and tokens minted with them) go first:
/// a conditional write could only meet them by naming a token or source that nobody knows
/// before this batch commits. Then the conditional writes run in batch order, so that e.g. a
/// token minted by one write can be consumed by a later one; a write that does not apply is
/// not an error.
async fn try_commit(pool: &PgPool, batch: &[RuntimeWrite]) -> StoreResult<Vec<bool>> {
    let mut checks: Vec<&CheckRecord> = Vec::new();
    let mut inline_tokens: Vec<&TokenRecord> = Vec::new();
    for write in batch {
        if let RuntimeWrite::Check { check, token, .. } = write {
            checks.push(check);
            inline_tokens.extend(token.as_ref().map(|minted| &minted.token));
        }
    }
    let mut tx = pool.begin().await.map_err(map_error)?;
    insert_checks(&mut tx, &checks).await?;
    tokens::insert_inline(&mut tx, &inline_tokens).await?;
    let mut applied = Vec::with_capacity(batch.len());
    let mut activity: Vec<&ActivityRecord> = Vec::with_capacity(batch.len());
    for write in batch {
        let done = match write {
            RuntimeWrite::Check { activity: checked, token, .. } => {
                activity.push(checked);
                activity.extend(token.as_ref().map(|minted| &minted.activity));
                true
            }
            RuntimeWrite::Activity(record) => {
                activity.push(record);
                true
            }
            RuntimeWrite::MintToken(minted) => {
                let done = tokens::mint(&mut tx, &minted.token).await?;
                activity.extend(done.then_some(&minted.activity));
                done
            }
            RuntimeWrite::ConsumeToken { org_id, jti, at, verified, already_used } => {
                let done = tokens::consume(&mut tx, *org_id, jti, *at).await?;
                activity.push(if done { verified } else { already_used });
                done
            }
            RuntimeWrite::Execution { execution, activity: logged } => {
                let done = tokens::log_execution(&mut tx, execution).await?;
                activity.extend(done.then_some(logged));
                done
            }
        };
        applied.push(done);
    }
    chain::append(&mut tx, activity).await?;
    tx.commit().await.map_err(map_error)?;
    Ok(applied)
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
