//! Reading the audit trail on PostgreSQL: listing and filtering an org's entries, and
//! verifying its whole hash chain against the recorded head. Appending is in `chain`.

use futures_util::TryStreamExt as _;
use oakallow_domain::audit::{ActivityEntry, ChainCheck};
use oakallow_domain::id::{ActivityId, OrgId};
use oakallow_store::{ActivityFilter, StoreResult};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder, Row as _};

use crate::error::map_error;
use crate::rows::{self, ACTIVITY_COLUMNS, bigint};

/// Entries of an org matching `filter`, newest first (oldest first when `ascending`).
pub(crate) async fn list(pool: &PgPool, org: OrgId, filter: &ActivityFilter) -> StoreResult<Vec<ActivityEntry>> {
    let mut sql = QueryBuilder::<Postgres>::new(format!("SELECT {ACTIVITY_COLUMNS} FROM activity WHERE org_id = "));
    sql.push_bind(org.to_string());
    if let Some(kind) = filter.kind {
        sql.push(" AND type = ").push_bind(kind.as_str());
    }
    if let Some(tool) = &filter.tool {
        sql.push(" AND tool = ").push_bind(tool.clone());
    }
    if let Some(tenant) = &filter.tenant {
        sql.push(" AND tenant = ").push_bind(tenant.clone());
    }
    if let Some(permission) = filter.permission {
        sql.push(" AND permission = ").push_bind(permission.as_str());
    }
    if let Some(result) = &filter.result {
        sql.push(" AND result = ").push_bind(result.clone());
    }
    if let Some(since) = filter.since {
        sql.push(" AND at >= ").push_bind(since.micros());
    }
    if let Some(until) = filter.until {
        sql.push(" AND at < ").push_bind(until.micros());
    }
    if let Some(before) = filter.before_seq {
        sql.push(" AND seq < ").push_bind(bigint(before));
    }
    if let Some(after) = filter.after_seq {
        sql.push(" AND seq > ").push_bind(bigint(after));
    }
    sql.push(if filter.ascending { " ORDER BY seq ASC" } else { " ORDER BY seq DESC" });
    sql.push(" LIMIT ").push_bind(i64::from(filter.limit));
    let found = sql.build().fetch_all(pool).await.map_err(map_error)?;
    found.iter().map(rows::activity).collect::<Result<_, _>>().map_err(map_error)
}

/// One entry of an org.
pub(crate) async fn get(pool: &PgPool, org: OrgId, id: ActivityId) -> StoreResult<Option<ActivityEntry>> {
    let sql = format!("SELECT {ACTIVITY_COLUMNS} FROM activity WHERE org_id = $1 AND id = $2");
    let found =
        sqlx::query(sqlx::AssertSqlSafe(sql)).bind(org.to_string()).bind(id.to_string()).fetch_optional(pool).await.map_err(map_error)?;
    found.as_ref().map(rows::activity).transpose().map_err(map_error)
}

/// Recomputes an org's whole chain, streaming it in `seq` order, and compares the walk with
/// the recorded head (so that removing the newest entries is noticed too). Entries and head
/// are read from one snapshot, so appends running meanwhile are not mistaken for damage.
pub(crate) async fn verify(pool: &PgPool, org: OrgId) -> StoreResult<ChainCheck> {
    let mut tx = pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY").await.map_err(map_error)?;
    let mut check = ChainCheck::default();
    walk(&mut tx, org, &mut check).await?;
    let head: Option<(i64, String, String)> = sqlx::query_as("SELECT seq, id, hash FROM activity_heads WHERE org_id = $1")
        .bind(org.to_string())
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_error)?;
    if let Some((seq, id, hash)) = head {
        check.compare_head(u64::try_from(seq).unwrap_or(0), &id, &hash);
    }
    tx.commit().await.map_err(map_error)?;
    Ok(check)
}

/// Feeds every entry of the org to `check`, in order.
async fn walk(conn: &mut PgConnection, org: OrgId, check: &mut ChainCheck) -> StoreResult<()> {
    let sql = format!("SELECT {ACTIVITY_COLUMNS} FROM activity WHERE org_id = $1 ORDER BY seq");
    let org = org.to_string();
    let mut entries = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(&org).fetch(&mut *conn);
    while let Some(row) = entries.try_next().await.map_err(map_error)? {
        match rows::activity(&row) {
            Ok(entry) => check.push(&entry),
            Err(_) => mark_unreadable(&row, check)?,
        }
    }
    Ok(())
}

/// A row that no longer decodes is as broken as one whose hash is wrong.
fn mark_unreadable(row: &PgRow, check: &mut ChainCheck) -> StoreResult<()> {
    let id: String = row.try_get(0).map_err(map_error)?;
    let seq: i64 = row.try_get(2).map_err(map_error)?;
    check.push_undecodable(&id, u64::try_from(seq).unwrap_or(0));
    Ok(())
}
