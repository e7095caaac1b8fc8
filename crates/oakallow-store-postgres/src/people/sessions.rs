//! Dashboard sessions on PostgreSQL, found by the digest of their cookie's secret.

use oakallow_domain::Timestamp;
use oakallow_domain::account::Session;
use oakallow_domain::id::{AccountId, SessionId};
use oakallow_store::{StoreError, StoreResult};
use sqlx::{AssertSqlSafe, PgPool};

use super::rows::{self, SESSION_COLUMNS};
use crate::error::map_error;

/// Saves the session if its account may sign in (exists and is not disabled), else
/// [`StoreError::NotFound`]. The account row is share-locked by the same statement: a concurrent
/// disabling either waits for this session to commit (and then revokes it) or has committed first
/// (and then this inserts nothing).
pub(super) async fn create(pool: &PgPool, s: &Session) -> StoreResult<()> {
    let sql = format!(
        "INSERT INTO sessions ({SESSION_COLUMNS}) SELECT $1, $2, $3, $4, $5, $6 FROM accounts
         WHERE id = $3 AND disabled_at IS NULL FOR SHARE"
    );
    let saved = sqlx::query(AssertSqlSafe(sql))
        .bind(s.id.to_string())
        .bind(s.digest.as_slice())
        .bind(s.account_id.to_string())
        .bind(s.created_at.micros())
        .bind(s.expires_at.micros())
        .bind(s.revoked_at.map(Timestamp::micros))
        .execute(pool)
        .await
        .map_err(map_error)?;
    if saved.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}

pub(super) async fn by_digest(pool: &PgPool, digest: &[u8; 32]) -> StoreResult<Option<Session>> {
    let sql = format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE digest = $1");
    let found = sqlx::query(AssertSqlSafe(sql)).bind(digest.as_slice()).fetch_optional(pool).await.map_err(map_error)?;
    found.as_ref().map(rows::session).transpose().map_err(map_error)
}

/// The account's unrevoked, unexpired sessions, newest first.
pub(super) async fn live(pool: &PgPool, account: AccountId, now: Timestamp) -> StoreResult<Vec<Session>> {
    let sql = format!(
        "SELECT {SESSION_COLUMNS} FROM sessions WHERE account_id = $1 AND revoked_at IS NULL AND expires_at > $2
         ORDER BY created_at DESC, id DESC"
    );
    let found = sqlx::query(AssertSqlSafe(sql)).bind(account.to_string()).bind(now.micros()).fetch_all(pool).await.map_err(map_error)?;
    found.iter().map(rows::session).collect::<Result<_, _>>().map_err(map_error)
}

/// Revokes the session if it is the account's and not revoked yet.
pub(super) async fn revoke(pool: &PgPool, account: AccountId, id: SessionId, now: Timestamp) -> StoreResult<()> {
    sqlx::query("UPDATE sessions SET revoked_at = $3 WHERE id = $1 AND account_id = $2 AND revoked_at IS NULL")
        .bind(id.to_string())
        .bind(account.to_string())
        .bind(now.micros())
        .execute(pool)
        .await
        .map_err(map_error)?;
    Ok(())
}
