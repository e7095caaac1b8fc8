//! Group-committed runtime writes on PostgreSQL: a whole batch in one transaction, with its
//! checks and its activity entries each inserted by one multi-row statement.

use oakallow_domain::id::{CheckId, OrgId};
use oakallow_store::{CheckRecord, RuntimeWrite, StoreResult};
use sqlx::{AssertSqlSafe, PgConnection, PgPool};

use crate::chain;
use crate::error::map_error;
use crate::rows::{self, CHECK_COLUMNS};

/// Commits the batch, or nothing of it.
pub(crate) async fn commit(pool: &PgPool, batch: &[RuntimeWrite]) -> StoreResult<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let checks: Vec<&CheckRecord> = batch
        .iter()
        .filter_map(|write| match write {
            RuntimeWrite::Check { check, .. } => Some(check),
            RuntimeWrite::Activity(_) => None,
        })
        .collect();
    let mut tx = pool.begin().await.map_err(map_error)?;
    insert_checks(&mut tx, &checks).await?;
    chain::append(&mut tx, batch.iter().map(RuntimeWrite::activity)).await?;
    tx.commit().await.map_err(map_error)
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
