//! What signing in reads and writes on PostgreSQL: accounts by id, passwords, the instance
//! operator, and the failed sign-ins that slow down guessing.

use oakallow_domain::Timestamp;
use oakallow_domain::id::AccountId;
use oakallow_domain::org::Account;
use oakallow_store::{StoreError, StoreResult};
use sqlx::{AssertSqlSafe, PgConnection, PgPool};

use crate::error::map_error;
use crate::rows::{self, ACCOUNT_COLUMNS};

pub(super) async fn account(pool: &PgPool, id: AccountId) -> StoreResult<Option<Account>> {
    let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = $1");
    let found = sqlx::query(AssertSqlSafe(sql)).bind(id.to_string()).fetch_optional(pool).await.map_err(map_error)?;
    found.as_ref().map(rows::account).transpose().map_err(map_error)
}

/// Accounts in id order after `after`, at most `limit`.
pub(super) async fn accounts(pool: &PgPool, after: Option<AccountId>, limit: u32) -> StoreResult<Vec<Account>> {
    let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE $1::text IS NULL OR id > $1 ORDER BY id LIMIT $2");
    let found = sqlx::query(AssertSqlSafe(sql))
        .bind(after.map(|id| id.to_string()))
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await
        .map_err(map_error)?;
    found.iter().map(rows::account).collect::<Result<_, _>>().map_err(map_error)
}

/// Makes `account` the operator unless there is one; whether it is the operator now. Of two
/// concurrent claims, the second's insert waits for the first to commit, then does nothing,
/// and its next statement sees the first's row.
pub(super) async fn claim_operator(pool: &PgPool, account: AccountId) -> StoreResult<bool> {
    let mut tx = pool.begin().await.map_err(map_error)?;
    sqlx::query("INSERT INTO instance_operator (singleton, account_id) VALUES (1, $1) ON CONFLICT DO NOTHING")
        .bind(account.to_string())
        .execute(&mut *tx)
        .await
        .map_err(map_error)?;
    let operator = operator_in(&mut tx).await?;
    tx.commit().await.map_err(map_error)?;
    Ok(operator == Some(account))
}

pub(super) async fn operator(pool: &PgPool) -> StoreResult<Option<AccountId>> {
    let mut conn = pool.acquire().await.map_err(map_error)?;
    operator_in(&mut conn).await
}

async fn operator_in(conn: &mut PgConnection) -> StoreResult<Option<AccountId>> {
    let found: Option<String> =
        sqlx::query_scalar("SELECT account_id FROM instance_operator").fetch_optional(conn).await.map_err(map_error)?;
    found.map(|id| id.parse().map_err(|_| StoreError::Corrupt("the instance operator has an invalid account id".into()))).transpose()
}

pub(super) async fn password_hash(pool: &PgPool, account: AccountId) -> StoreResult<Option<String>> {
    let found: Option<Option<String>> = sqlx::query_scalar("SELECT password_hash FROM accounts WHERE id = $1")
        .bind(account.to_string())
        .fetch_optional(pool)
        .await
        .map_err(map_error)?;
    Ok(found.flatten())
}

/// Sets the password and revokes every session of the account, in one transaction.
pub(super) async fn set_password_hash(pool: &PgPool, account: AccountId, hash: &str, now: Timestamp) -> StoreResult<()> {
    let mut tx = pool.begin().await.map_err(map_error)?;
    let changed = sqlx::query("UPDATE accounts SET password_hash = $2 WHERE id = $1")
        .bind(account.to_string())
        .bind(hash)
        .execute(&mut *tx)
        .await
        .map_err(map_error)?;
    if changed.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    sqlx::query("UPDATE sessions SET revoked_at = $2 WHERE account_id = $1 AND revoked_at IS NULL")
        .bind(account.to_string())
        .bind(now.micros())
        .execute(&mut *tx)
        .await
        .map_err(map_error)?;
    tx.commit().await.map_err(map_error)
}

/// Records a failure against each subject and forgets every failure older than `forget_before`
/// (of any subject: the table only ever holds the current window).
pub(super) async fn record_failure(pool: &PgPool, subjects: &[String], at: Timestamp, forget_before: Timestamp) -> StoreResult<()> {
    let mut tx = pool.begin().await.map_err(map_error)?;
    sqlx::query("DELETE FROM sign_in_failures WHERE at < $1").bind(forget_before.micros()).execute(&mut *tx).await.map_err(map_error)?;
    sqlx::query("INSERT INTO sign_in_failures (subject, at) SELECT subject, $2 FROM unnest($1::text[]) AS subject")
        .bind(subjects)
        .bind(at.micros())
        .execute(&mut *tx)
        .await
        .map_err(map_error)?;
    tx.commit().await.map_err(map_error)
}

pub(super) async fn failures(pool: &PgPool, subject: &str, since: Timestamp) -> StoreResult<u64> {
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM sign_in_failures WHERE subject = $1 AND at >= $2")
        .bind(subject)
        .bind(since.micros())
        .fetch_one(pool)
        .await
        .map_err(map_error)?;
    u64::try_from(count).map_err(|_| StoreError::Corrupt("a negative count".into()))
}
