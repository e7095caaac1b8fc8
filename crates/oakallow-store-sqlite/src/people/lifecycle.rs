//! Disabling and deleting accounts on SQLite ([`AccountLifecycleStore`]).
//!
//! Every connection runs with `secure_delete` on, so the bytes of a deleted or overwritten row
//! are zeroed in the file rather than left in free space; after a deletion the writer also
//! checkpoints and truncates the write-ahead log, which held the old pages. So an erased
//! account's email is gone from the database files, not only from its tables.

use async_trait::async_trait;
use oakallow_domain::Timestamp;
use oakallow_domain::id::AccountId;
use oakallow_store::{AccountLifecycleStore, AccountStatus, ERASED_NAME, StoreError, StoreResult, erased_email};
use rusqlite::{Connection, OptionalExtension, params};

use crate::SqliteStore;
use crate::conn::map_error;
use crate::rows::time_opt;

#[async_trait]
impl AccountLifecycleStore for SqliteStore {
    async fn account_status(&self, account: AccountId) -> StoreResult<Option<AccountStatus>> {
        self.readers.run(move |conn| status(conn, account)).await
    }

    async fn disable_account(&self, account: AccountId, now: Timestamp) -> StoreResult<()> {
        self.writer.run(move |conn| disable(conn, account, now)).await
    }

    async fn enable_account(&self, account: AccountId) -> StoreResult<()> {
        self.writer
            .run(move |conn| {
                let changed = conn
                    .execute("UPDATE accounts SET disabled_at = NULL WHERE id = ?1 AND deleted_at IS NULL", [account.to_string()])
                    .map_err(map_error)?;
                if changed == 0 { Err(StoreError::NotFound) } else { Ok(()) }
            })
            .await
    }

    async fn erase_account(&self, account: AccountId, forget: &[String], now: Timestamp) -> StoreResult<()> {
        let forget = forget.to_vec();
        self.writer.run(move |conn| erase(conn, account, &forget, now)).await
    }
}

fn status(conn: &Connection, account: AccountId) -> StoreResult<Option<AccountStatus>> {
    conn.query_row("SELECT disabled_at, deleted_at FROM accounts WHERE id = ?1", [account.to_string()], |row| {
        Ok(AccountStatus { disabled_at: time_opt(row, 0)?, deleted_at: time_opt(row, 1)? })
    })
    .optional()
    .map_err(map_error)
}

fn disable(conn: &mut Connection, account: AccountId, now: Timestamp) -> StoreResult<()> {
    let tx = conn.transaction().map_err(map_error)?;
    let id = account.to_string();
    let found = tx
        .execute("UPDATE accounts SET disabled_at = coalesce(disabled_at, ?2) WHERE id = ?1", params![id, now.micros()])
        .map_err(map_error)?;
    if found == 0 {
        return Err(StoreError::NotFound);
    }
    tx.execute("UPDATE sessions SET revoked_at = ?2 WHERE account_id = ?1 AND revoked_at IS NULL", params![id, now.micros()])
        .map_err(map_error)?;
    tx.commit().map_err(map_error)
}

fn erase(conn: &mut Connection, account: AccountId, forget: &[String], now: Timestamp) -> StoreResult<()> {
    let tx = conn.transaction().map_err(map_error)?;
    let id = account.to_string();
    let name: String = tx
        .query_row("SELECT name FROM accounts WHERE id = ?1", [&id], |row| row.get(0))
        .optional()
        .map_err(map_error)?
        .ok_or(StoreError::NotFound)?;
    tx.execute(
        "UPDATE accounts SET email = ?2, name = ?3, password_hash = NULL,
                disabled_at = coalesce(disabled_at, ?4), deleted_at = coalesce(deleted_at, ?4)
         WHERE id = ?1",
        params![id, erased_email(account), ERASED_NAME, now.micros()],
    )
    .map_err(map_error)?;
    tx.execute("DELETE FROM session_second_factors WHERE session_id IN (SELECT id FROM sessions WHERE account_id = ?1)", [&id])
        .map_err(map_error)?;
    for table in [
        "sessions",
        "memberships",
        "email_codes",
        "totp_factors",
        "recovery_codes",
        "pending_sign_ins",
        "passkeys",
        "passkey_ceremonies",
        "slack_links",
    ] {
        tx.execute(&format!("DELETE FROM {table} WHERE account_id = ?1"), [&id]).map_err(map_error)?;
    }
    for subject in forget {
        tx.execute("DELETE FROM sign_in_failures WHERE subject = ?1", [subject]).map_err(map_error)?;
    }
    // Decisions recorded under the account's name before decisions were recorded by id.
    tx.execute(
        "UPDATE approvals SET decided_by = ?1 WHERE decided_by = ?2
            AND id IN (SELECT approval_id FROM approval_decisions WHERE decider_kind = 'user' AND decider_id = ?1)",
        params![id, name],
    )
    .map_err(map_error)?;
    tx.execute("UPDATE approval_decisions SET decided_by = ?1 WHERE decider_kind = 'user' AND decider_id = ?1", [&id])
        .map_err(map_error)?;
    tx.commit().map_err(map_error)?;
    // The log's old frames still hold the erased row; copy them into the file and empty the log.
    // A reader in the middle of a transaction can hold it back; the next checkpoint then does it.
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).map_err(map_error)
}
