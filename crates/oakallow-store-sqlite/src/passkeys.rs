//! Passkeys and WebAuthn ceremonies on SQLite ([`PasskeyStore`]). Writes go to the writer
//! thread, reads to the reader pool, as for everything else.

use async_trait::async_trait;
use oakallow_domain::Timestamp;
use oakallow_domain::id::{AccountId, PasskeyId};
use oakallow_store::{CeremonyKind, PasskeyCeremony, PasskeyStore, StoreError, StoreResult, StoredPasskey};
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::SqliteStore;
use crate::conn::map_error;
use crate::rows::{invalid, named, parsed, parsed_opt, time, time_opt};

const PASSKEY_COLUMNS: &str = "id, account_id, name, credential_id, credential, created_at, last_used_at";

fn passkey(row: &Row<'_>) -> rusqlite::Result<StoredPasskey> {
    Ok(StoredPasskey {
        id: parsed(row, 0)?,
        account_id: parsed(row, 1)?,
        name: row.get(2)?,
        credential_id: row.get(3)?,
        credential: row.get(4)?,
        created_at: time(row, 5)?,
        last_used_at: time_opt(row, 6)?,
    })
}

fn ceremony(row: &Row<'_>) -> rusqlite::Result<PasskeyCeremony> {
    let binding: Vec<u8> = row.get(0)?;
    Ok(PasskeyCeremony {
        binding: binding.try_into().map_err(|_| invalid(0, "digest"))?,
        kind: named(row, 1, CeremonyKind::parse)?,
        account_id: parsed_opt(row, 2)?,
        state: row.get(3)?,
        expires_at: time(row, 4)?,
    })
}

fn add(conn: &Connection, p: &StoredPasskey) -> StoreResult<()> {
    conn.execute(
        &format!("INSERT INTO passkeys ({PASSKEY_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
        params![
            p.id.to_string(),
            p.account_id.to_string(),
            p.name,
            p.credential_id,
            p.credential,
            p.created_at.micros(),
            p.last_used_at.map(Timestamp::micros)
        ],
    )
    .map_err(map_error)?;
    Ok(())
}

fn of_account(conn: &Connection, account: AccountId) -> StoreResult<Vec<StoredPasskey>> {
    let mut statement = conn
        .prepare_cached(&format!("SELECT {PASSKEY_COLUMNS} FROM passkeys WHERE account_id = ?1 ORDER BY created_at, id"))
        .map_err(map_error)?;
    let found = statement.query_map([account.to_string()], passkey).map_err(map_error)?;
    found.collect::<Result<_, _>>().map_err(map_error)
}

fn by_credential(conn: &Connection, credential_id: &[u8]) -> StoreResult<Option<StoredPasskey>> {
    conn.prepare_cached(&format!("SELECT {PASSKEY_COLUMNS} FROM passkeys WHERE credential_id = ?1"))
        .map_err(map_error)?
        .query_row([credential_id], passkey)
        .optional()
        .map_err(map_error)
}

/// `NotFound` unless exactly one row changed.
fn one(changed: usize) -> StoreResult<()> {
    if changed == 1 { Ok(()) } else { Err(StoreError::NotFound) }
}

fn record_use(conn: &Connection, account: AccountId, id: PasskeyId, credential: &str, at: Timestamp) -> StoreResult<()> {
    let changed = conn
        .execute(
            "UPDATE passkeys SET credential = ?3, last_used_at = ?4 WHERE id = ?1 AND account_id = ?2",
            params![id.to_string(), account.to_string(), credential, at.micros()],
        )
        .map_err(map_error)?;
    one(changed)
}

fn remove(conn: &Connection, account: AccountId, id: PasskeyId) -> StoreResult<()> {
    let changed = conn
        .execute("DELETE FROM passkeys WHERE id = ?1 AND account_id = ?2", params![id.to_string(), account.to_string()])
        .map_err(map_error)?;
    one(changed)
}

fn put_ceremony(conn: &mut Connection, c: &PasskeyCeremony, now: Timestamp) -> StoreResult<()> {
    let tx = conn.transaction().map_err(map_error)?;
    tx.execute("DELETE FROM passkey_ceremonies WHERE expires_at < ?1", [now.micros()]).map_err(map_error)?;
    tx.execute(
        "INSERT INTO passkey_ceremonies (binding, kind, account_id, state, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (binding) DO UPDATE SET kind = excluded.kind, account_id = excluded.account_id, state = excluded.state,
             expires_at = excluded.expires_at",
        params![c.binding.as_slice(), c.kind.as_str(), c.account_id.map(|a| a.to_string()), c.state, c.expires_at.micros()],
    )
    .map_err(map_error)?;
    tx.commit().map_err(map_error)
}

fn take_ceremony(conn: &Connection, binding: &[u8; 32], kind: CeremonyKind, now: Timestamp) -> StoreResult<Option<PasskeyCeremony>> {
    let taken = conn
        .prepare_cached("DELETE FROM passkey_ceremonies WHERE binding = ?1 RETURNING binding, kind, account_id, state, expires_at")
        .map_err(map_error)?
        .query_row([binding.as_slice()], ceremony)
        .optional()
        .map_err(map_error)?;
    Ok(taken.filter(|c| c.kind == kind && c.expires_at > now))
}

#[async_trait]
impl PasskeyStore for SqliteStore {
    async fn add_passkey(&self, passkey: &StoredPasskey) -> StoreResult<()> {
        let passkey = passkey.clone();
        self.writer.run(move |conn| add(conn, &passkey)).await
    }

    async fn passkeys(&self, account: AccountId) -> StoreResult<Vec<StoredPasskey>> {
        self.readers.run(move |conn| of_account(conn, account)).await
    }

    async fn passkey_by_credential(&self, credential_id: &[u8]) -> StoreResult<Option<StoredPasskey>> {
        let credential_id = credential_id.to_vec();
        self.readers.run(move |conn| by_credential(conn, &credential_id)).await
    }

    async fn record_passkey_use(&self, account: AccountId, id: PasskeyId, credential: &str, at: Timestamp) -> StoreResult<()> {
        let credential = credential.to_owned();
        self.writer.run(move |conn| record_use(conn, account, id, &credential, at)).await
    }

    async fn remove_passkey(&self, account: AccountId, id: PasskeyId) -> StoreResult<()> {
        self.writer.run(move |conn| remove(conn, account, id)).await
    }

    async fn put_passkey_ceremony(&self, ceremony: &PasskeyCeremony, now: Timestamp) -> StoreResult<()> {
        let ceremony = ceremony.clone();
        self.writer.run(move |conn| put_ceremony(conn, &ceremony, now)).await
    }

    async fn take_passkey_ceremony(&self, binding: &[u8; 32], kind: CeremonyKind, now: Timestamp) -> StoreResult<Option<PasskeyCeremony>> {
        let binding = *binding;
        self.writer.run(move |conn| take_ceremony(conn, &binding, kind, now)).await
    }
}
