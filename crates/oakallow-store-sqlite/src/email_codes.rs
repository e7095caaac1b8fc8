//! E-mailed sign-in codes on SQLite ([`EmailCodeStore`]): one row per account, deleted when the
//! code or its link is used. Every write goes through the single writer, so of two redemptions
//! racing, the second finds the row gone.

use async_trait::async_trait;
use oakallow_domain::Timestamp;
use oakallow_domain::id::AccountId;
use oakallow_store::{EmailCode, EmailCodeStore, StoreResult};
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::SqliteStore;
use crate::conn::map_error;
use crate::rows::{invalid, parsed, time};

const COLUMNS: &str = "account_id, code_digest, link_digest, created_at, expires_at, wrong_tries";

fn digest(row: &Row<'_>, idx: usize) -> rusqlite::Result<[u8; 32]> {
    let bytes: Vec<u8> = row.get(idx)?;
    bytes.try_into().map_err(|_| invalid(idx, "digest"))
}

fn email_code(row: &Row<'_>) -> rusqlite::Result<EmailCode> {
    Ok(EmailCode {
        account_id: parsed(row, 0)?,
        code_digest: digest(row, 1)?,
        link_digest: digest(row, 2)?,
        created_at: time(row, 3)?,
        expires_at: time(row, 4)?,
        wrong_tries: row.get(5)?,
    })
}

fn put(conn: &Connection, code: &EmailCode) -> StoreResult<()> {
    conn.execute(
        &format!(
            "INSERT INTO email_codes ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (account_id) DO UPDATE SET code_digest = excluded.code_digest, link_digest = excluded.link_digest,
               created_at = excluded.created_at, expires_at = excluded.expires_at, wrong_tries = excluded.wrong_tries"
        ),
        params![
            code.account_id.to_string(),
            code.code_digest.as_slice(),
            code.link_digest.as_slice(),
            code.created_at.micros(),
            code.expires_at.micros(),
            code.wrong_tries
        ],
    )
    .map_err(map_error)?;
    Ok(())
}

fn get(conn: &Connection, account: AccountId) -> StoreResult<Option<EmailCode>> {
    conn.query_row(&format!("SELECT {COLUMNS} FROM email_codes WHERE account_id = ?1"), [account.to_string()], email_code)
        .optional()
        .map_err(map_error)
}

fn spend(conn: &Connection, account: AccountId, link: &[u8; 32], now: Timestamp, max_wrong: u32) -> StoreResult<bool> {
    let deleted = conn
        .execute(
            "DELETE FROM email_codes WHERE account_id = ?1 AND link_digest = ?2 AND expires_at > ?3 AND wrong_tries < ?4",
            params![account.to_string(), link.as_slice(), now.micros(), max_wrong],
        )
        .map_err(map_error)?;
    Ok(deleted == 1)
}

fn count_wrong(conn: &mut Connection, account: AccountId, link: &[u8; 32], max_wrong: u32) -> StoreResult<u32> {
    let tx = conn.transaction().map_err(map_error)?;
    let tries: Option<u32> = tx
        .query_row(
            "UPDATE email_codes SET wrong_tries = wrong_tries + 1 WHERE account_id = ?1 AND link_digest = ?2 RETURNING wrong_tries",
            params![account.to_string(), link.as_slice()],
            |row| row.get(0),
        )
        .optional()
        .map_err(map_error)?;
    if tries.is_some_and(|tries| tries >= max_wrong) {
        tx.execute("DELETE FROM email_codes WHERE account_id = ?1", [account.to_string()]).map_err(map_error)?;
    }
    tx.commit().map_err(map_error)?;
    Ok(tries.unwrap_or(0))
}

fn spend_link(conn: &Connection, link: &[u8; 32], now: Timestamp, max_wrong: u32) -> StoreResult<Option<AccountId>> {
    conn.query_row(
        "DELETE FROM email_codes WHERE link_digest = ?1 AND expires_at > ?2 AND wrong_tries < ?3 RETURNING account_id",
        params![link.as_slice(), now.micros(), max_wrong],
        |row| parsed(row, 0),
    )
    .optional()
    .map_err(map_error)
}

#[async_trait]
impl EmailCodeStore for SqliteStore {
    async fn put_email_code(&self, code: &EmailCode) -> StoreResult<()> {
        let code = code.clone();
        self.writer.run(move |conn| put(conn, &code)).await
    }

    async fn email_code(&self, account: AccountId) -> StoreResult<Option<EmailCode>> {
        self.readers.run(move |conn| get(conn, account)).await
    }

    async fn spend_email_code(&self, account: AccountId, link_digest: &[u8; 32], now: Timestamp, max_wrong: u32) -> StoreResult<bool> {
        let link = *link_digest;
        self.writer.run(move |conn| spend(conn, account, &link, now, max_wrong)).await
    }

    async fn count_wrong_email_code(&self, account: AccountId, link_digest: &[u8; 32], max_wrong: u32) -> StoreResult<u32> {
        let link = *link_digest;
        self.writer.run(move |conn| count_wrong(conn, account, &link, max_wrong)).await
    }

    async fn spend_email_link(&self, link_digest: &[u8; 32], now: Timestamp, max_wrong: u32) -> StoreResult<Option<AccountId>> {
        let link = *link_digest;
        self.writer.run(move |conn| spend_link(conn, &link, now, max_wrong)).await
    }
}
