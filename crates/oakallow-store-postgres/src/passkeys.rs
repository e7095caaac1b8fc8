//! Passkeys and WebAuthn ceremonies on PostgreSQL ([`PasskeyStore`]), each method one statement
//! or one transaction on the pool.

use async_trait::async_trait;
use oakallow_domain::Timestamp;
use oakallow_domain::id::{AccountId, PasskeyId};
use oakallow_store::{CeremonyKind, PasskeyCeremony, PasskeyStore, StoreError, StoreResult, StoredPasskey};
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, Row as _};

use crate::PostgresStore;
use crate::error::map_error;
use crate::rows::{RowResult, invalid, named, parsed, parsed_opt, time, time_opt};

const PASSKEY_COLUMNS: &str = "id, account_id, name, credential_id, credential, created_at, last_used_at";

fn passkey(row: &PgRow) -> RowResult<StoredPasskey> {
    Ok(StoredPasskey {
        id: parsed(row, 0)?,
        account_id: parsed(row, 1)?,
        name: row.try_get(2)?,
        credential_id: row.try_get(3)?,
        credential: row.try_get(4)?,
        created_at: time(row, 5)?,
        last_used_at: time_opt(row, 6)?,
    })
}

fn ceremony(row: &PgRow) -> RowResult<PasskeyCeremony> {
    let binding: Vec<u8> = row.try_get(0)?;
    Ok(PasskeyCeremony {
        binding: binding.try_into().map_err(|_| invalid(0, "digest"))?,
        kind: named(row, 1, CeremonyKind::parse)?,
        account_id: parsed_opt(row, 2)?,
        state: row.try_get(3)?,
        expires_at: time(row, 4)?,
    })
}

/// `NotFound` unless exactly one row changed.
fn one(changed: u64) -> StoreResult<()> {
    if changed == 1 { Ok(()) } else { Err(StoreError::NotFound) }
}

#[async_trait]
impl PasskeyStore for PostgresStore {
    async fn add_passkey(&self, p: &StoredPasskey) -> StoreResult<()> {
        let sql = format!("INSERT INTO passkeys ({PASSKEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)");
        sqlx::query(AssertSqlSafe(sql))
            .bind(p.id.to_string())
            .bind(p.account_id.to_string())
            .bind(&p.name)
            .bind(&p.credential_id)
            .bind(&p.credential)
            .bind(p.created_at.micros())
            .bind(p.last_used_at.map(Timestamp::micros))
            .execute(&self.pool)
            .await
            .map_err(map_error)?;
        Ok(())
    }

    async fn passkeys(&self, account: AccountId) -> StoreResult<Vec<StoredPasskey>> {
        let sql = format!("SELECT {PASSKEY_COLUMNS} FROM passkeys WHERE account_id = $1 ORDER BY created_at, id");
        let found = sqlx::query(AssertSqlSafe(sql)).bind(account.to_string()).fetch_all(&self.pool).await.map_err(map_error)?;
        found.iter().map(passkey).collect::<Result<_, _>>().map_err(map_error)
    }

    async fn passkey_by_credential(&self, credential_id: &[u8]) -> StoreResult<Option<StoredPasskey>> {
        let sql = format!("SELECT {PASSKEY_COLUMNS} FROM passkeys WHERE credential_id = $1");
        let found = sqlx::query(AssertSqlSafe(sql)).bind(credential_id).fetch_optional(&self.pool).await.map_err(map_error)?;
        found.as_ref().map(passkey).transpose().map_err(map_error)
    }

    async fn record_passkey_use(&self, account: AccountId, id: PasskeyId, credential: &str, at: Timestamp) -> StoreResult<()> {
        let done = sqlx::query("UPDATE passkeys SET credential = $3, last_used_at = $4 WHERE id = $1 AND account_id = $2")
            .bind(id.to_string())
            .bind(account.to_string())
            .bind(credential)
            .bind(at.micros())
            .execute(&self.pool)
            .await
            .map_err(map_error)?;
        one(done.rows_affected())
    }

    async fn remove_passkey(&self, account: AccountId, id: PasskeyId) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM passkeys WHERE id = $1 AND account_id = $2")
            .bind(id.to_string())
            .bind(account.to_string())
            .execute(&self.pool)
            .await
            .map_err(map_error)?;
        one(done.rows_affected())
    }

    async fn put_passkey_ceremony(&self, c: &PasskeyCeremony, now: Timestamp) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(map_error)?;
        sqlx::query("DELETE FROM passkey_ceremonies WHERE expires_at < $1")
            .bind(now.micros())
            .execute(&mut *tx)
            .await
            .map_err(map_error)?;
        sqlx::query(
            "INSERT INTO passkey_ceremonies (binding, kind, account_id, state, expires_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (binding) DO UPDATE SET kind = excluded.kind, account_id = excluded.account_id, state = excluded.state,
                 expires_at = excluded.expires_at",
        )
        .bind(c.binding.as_slice())
        .bind(c.kind.as_str())
        .bind(c.account_id.map(|a| a.to_string()))
        .bind(&c.state)
        .bind(c.expires_at.micros())
        .execute(&mut *tx)
        .await
        .map_err(map_error)?;
        tx.commit().await.map_err(map_error)
    }

    async fn take_passkey_ceremony(&self, binding: &[u8; 32], kind: CeremonyKind, now: Timestamp) -> StoreResult<Option<PasskeyCeremony>> {
        let taken = sqlx::query("DELETE FROM passkey_ceremonies WHERE binding = $1 RETURNING binding, kind, account_id, state, expires_at")
            .bind(binding.as_slice())
            .fetch_optional(&self.pool)
            .await
            .map_err(map_error)?;
        let taken = taken.as_ref().map(ceremony).transpose().map_err(map_error)?;
        Ok(taken.filter(|c| c.kind == kind && c.expires_at > now))
    }
}
