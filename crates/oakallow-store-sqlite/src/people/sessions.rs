//! Dashboard sessions on SQLite, found by the digest of their cookie's secret.

use oakallow_domain::Timestamp;
use oakallow_domain::account::Session;
use oakallow_domain::id::{AccountId, SessionId};
use oakallow_store::{StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension, params};

use super::rows::{self, SESSION_COLUMNS};
use crate::conn::map_error;

/// Saves the session if its account may sign in (exists and is not disabled), else
/// [`StoreError::NotFound`]: checked in the same statement, so a session cannot slip in beside
/// the operator disabling the account.
pub(super) fn create(conn: &Connection, s: &Session) -> StoreResult<()> {
    let saved = conn
        .execute(
            &format!(
                "INSERT INTO sessions ({SESSION_COLUMNS}) SELECT ?1, ?2, ?3, ?4, ?5, ?6
             WHERE EXISTS (SELECT 1 FROM accounts WHERE id = ?3 AND disabled_at IS NULL)"
            ),
            params![
                s.id.to_string(),
                s.digest.as_slice(),
                s.account_id.to_string(),
                s.created_at.micros(),
                s.expires_at.micros(),
                s.revoked_at.map(Timestamp::micros)
            ],
        )
        .map_err(map_error)?;
    if saved == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}

pub(super) fn by_digest(conn: &Connection, digest: &[u8; 32]) -> StoreResult<Option<Session>> {
    conn.prepare_cached(&format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE digest = ?1"))
        .map_err(map_error)?
        .query_row([digest.as_slice()], rows::session)
        .optional()
        .map_err(map_error)
}

/// The account's unrevoked, unexpired sessions, newest first.
pub(super) fn live(conn: &Connection, account: AccountId, now: Timestamp) -> StoreResult<Vec<Session>> {
    let mut statement = conn
        .prepare(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE account_id = ?1 AND revoked_at IS NULL AND expires_at > ?2
             ORDER BY created_at DESC, id DESC"
        ))
        .map_err(map_error)?;
    let sessions = statement.query_map(params![account.to_string(), now.micros()], rows::session).map_err(map_error)?;
    sessions.collect::<Result<_, _>>().map_err(map_error)
}

/// Revokes the session if it is the account's and not revoked yet.
pub(super) fn revoke(conn: &Connection, account: AccountId, id: SessionId, now: Timestamp) -> StoreResult<()> {
    conn.execute(
        "UPDATE sessions SET revoked_at = ?3 WHERE id = ?1 AND account_id = ?2 AND revoked_at IS NULL",
        params![id.to_string(), account.to_string(), now.micros()],
    )
    .map_err(map_error)?;
    Ok(())
}
