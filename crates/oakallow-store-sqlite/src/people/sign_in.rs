//! What signing in reads and writes on SQLite: accounts by id, passwords, the instance
//! operator, and the failed sign-ins that slow down guessing.

use oakallow_domain::Timestamp;
use oakallow_domain::id::AccountId;
use oakallow_domain::org::Account;
use oakallow_store::{StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension, params};

use crate::conn::map_error;
use crate::rows::{self, ACCOUNT_COLUMNS, parsed};
use crate::runtime_rows::int;

pub(super) fn account(conn: &Connection, id: AccountId) -> StoreResult<Option<Account>> {
    conn.query_row(&format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = ?1"), [id.to_string()], rows::account)
        .optional()
        .map_err(map_error)
}

/// Accounts in id order after `after`, at most `limit`.
pub(super) fn accounts(conn: &Connection, after: Option<AccountId>, limit: u32) -> StoreResult<Vec<Account>> {
    let mut statement = conn
        .prepare_cached(&format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE ?1 IS NULL OR id > ?1 ORDER BY id LIMIT ?2"))
        .map_err(map_error)?;
    let rows =
        statement.query_map(rusqlite::params![after.map(|id| id.to_string()), i64::from(limit)], rows::account).map_err(map_error)?;
    rows.collect::<Result<_, _>>().map_err(map_error)
}

/// Makes `account` the operator unless there is one; whether it is the operator now.
pub(super) fn claim_operator(conn: &mut Connection, account: AccountId) -> StoreResult<bool> {
    let tx = conn.transaction().map_err(map_error)?;
    tx.execute("INSERT INTO instance_operator (singleton, account_id) VALUES (1, ?1) ON CONFLICT DO NOTHING", [account.to_string()])
        .map_err(map_error)?;
    let operator = operator(&tx)?;
    tx.commit().map_err(map_error)?;
    Ok(operator == Some(account))
}

pub(super) fn operator(conn: &Connection) -> StoreResult<Option<AccountId>> {
    conn.query_row("SELECT account_id FROM instance_operator", [], |row| parsed(row, 0)).optional().map_err(map_error)
}

pub(super) fn password_hash(conn: &Connection, account: AccountId) -> StoreResult<Option<String>> {
    let hash: Option<Option<String>> = conn
        .query_row("SELECT password_hash FROM accounts WHERE id = ?1", [account.to_string()], |row| row.get(0))
        .optional()
        .map_err(map_error)?;
    Ok(hash.flatten())
}

/// Sets the password and revokes every session of the account, in one transaction.
pub(super) fn set_password_hash(conn: &mut Connection, account: AccountId, hash: &str, now: Timestamp) -> StoreResult<()> {
    let tx = conn.transaction().map_err(map_error)?;
    let changed =
        tx.execute("UPDATE accounts SET password_hash = ?2 WHERE id = ?1", params![account.to_string(), hash]).map_err(map_error)?;
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    tx.execute(
        "UPDATE sessions SET revoked_at = ?2 WHERE account_id = ?1 AND revoked_at IS NULL",
        params![account.to_string(), now.micros()],
    )
    .map_err(map_error)?;
    tx.commit().map_err(map_error)
}

/// Records a failure against each subject and forgets every failure older than `forget_before`
/// (of any subject: the table only ever holds the current window).
pub(super) fn record_failure(conn: &mut Connection, subjects: &[String], at: Timestamp, forget_before: Timestamp) -> StoreResult<()> {
    let tx = conn.transaction().map_err(map_error)?;
    tx.execute("DELETE FROM sign_in_failures WHERE at < ?1", [forget_before.micros()]).map_err(map_error)?;
    for subject in subjects {
        tx.execute("INSERT INTO sign_in_failures (subject, at) VALUES (?1, ?2)", params![subject, at.micros()]).map_err(map_error)?;
    }
    tx.commit().map_err(map_error)
}

pub(super) fn failures(conn: &Connection, subject: &str, since: Timestamp) -> StoreResult<u64> {
    conn.query_row("SELECT count(*) FROM sign_in_failures WHERE subject = ?1 AND at >= ?2", params![subject, since.micros()], |row| {
        int(row, 0)
    })
    .map_err(map_error)
}
