//! Second factors on SQLite ([`SecondFactorStore`]): TOTP secrets, recovery codes, sign-ins
//! waiting for their second factor, sessions' last verification and the org requirement. Each
//! "exactly once" answer is one conditional UPDATE on the single writer, so racers see one win.

use async_trait::async_trait;
use oakallow_domain::Timestamp;
use oakallow_domain::id::{AccountId, SessionId};
use oakallow_store::{PendingSignIn, SecondFactorStore, StoreError, StoreResult, TotpFactor};
use rusqlite::{Connection, OptionalExtension, params};

use crate::SqliteStore;
use crate::conn::map_error;

fn totp(conn: &Connection, account: AccountId) -> StoreResult<Option<TotpFactor>> {
    conn.query_row("SELECT secret, activated_at, last_step FROM totp_factors WHERE account_id = ?1", [account.to_string()], |row| {
        Ok(TotpFactor {
            secret: row.get(0)?,
            activated_at: row.get::<_, Option<i64>>(1)?.map(Timestamp::from_micros),
            last_step: row.get(2)?,
        })
    })
    .optional()
    .map_err(map_error)
}

fn start_totp(conn: &Connection, account: AccountId, secret: &[u8], now: Timestamp) -> StoreResult<bool> {
    let changed = conn
        .execute(
            "INSERT INTO totp_factors (account_id, secret, created_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (account_id) DO UPDATE SET secret = excluded.secret, created_at = excluded.created_at
             WHERE totp_factors.activated_at IS NULL",
            params![account.to_string(), secret, now.micros()],
        )
        .map_err(map_error)?;
    Ok(changed == 1)
}

fn put_codes(conn: &Connection, account: AccountId, digests: &[[u8; 32]], now: Timestamp) -> StoreResult<()> {
    conn.execute("DELETE FROM recovery_codes WHERE account_id = ?1", [account.to_string()]).map_err(map_error)?;
    for digest in digests {
        conn.execute(
            "INSERT INTO recovery_codes (account_id, digest, created_at) VALUES (?1, ?2, ?3)",
            params![account.to_string(), digest.as_slice(), now.micros()],
        )
        .map_err(map_error)?;
    }
    Ok(())
}

fn activate(
    conn: &mut Connection,
    account: AccountId,
    secret: &[u8],
    step: i64,
    digests: &[[u8; 32]],
    now: Timestamp,
) -> StoreResult<bool> {
    let tx = conn.transaction().map_err(map_error)?;
    let changed = tx
        .execute(
            "UPDATE totp_factors SET activated_at = ?3, last_step = ?4 WHERE account_id = ?1 AND secret = ?2 AND activated_at IS NULL",
            params![account.to_string(), secret, now.micros(), step],
        )
        .map_err(map_error)?;
    if changed == 0 {
        return Ok(false);
    }
    put_codes(&tx, account, digests, now)?;
    tx.commit().map_err(map_error)?;
    Ok(true)
}

fn remove(conn: &mut Connection, account: AccountId, reset_at: Option<Timestamp>) -> StoreResult<bool> {
    let tx = conn.transaction().map_err(map_error)?;
    let id = account.to_string();
    let factors = tx.execute("DELETE FROM totp_factors WHERE account_id = ?1", [&id]).map_err(map_error)?;
    let codes = tx.execute("DELETE FROM recovery_codes WHERE account_id = ?1", [&id]).map_err(map_error)?;
    let mut passkeys = 0;
    if let Some(at) = reset_at {
        tx.execute("DELETE FROM passkey_ceremonies WHERE account_id = ?1", [&id]).map_err(map_error)?;
        passkeys = tx.execute("DELETE FROM passkeys WHERE account_id = ?1", [&id]).map_err(map_error)?;
        tx.execute("UPDATE sessions SET revoked_at = ?2 WHERE account_id = ?1 AND revoked_at IS NULL", params![id, at.micros()])
            .map_err(map_error)?;
    }
    tx.commit().map_err(map_error)?;
    Ok(factors + codes + passkeys > 0)
}

fn pending(conn: &Connection, digest: &[u8; 32], now: Timestamp) -> StoreResult<Option<PendingSignIn>> {
    conn.query_row(
        "SELECT account_id, created_at, expires_at FROM pending_sign_ins WHERE digest = ?1 AND used_at IS NULL AND expires_at > ?2",
        params![digest.as_slice(), now.micros()],
        |row| {
            let account: String = row.get(0)?;
            Ok((account, row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
        },
    )
    .optional()
    .map_err(map_error)?
    .map(|(account, created, expires)| {
        let account_id = AccountId::parse(&account).ok_or_else(|| StoreError::Corrupt(format!("account id {account}")))?;
        Ok(PendingSignIn {
            digest: *digest,
            account_id,
            created_at: Timestamp::from_micros(created),
            expires_at: Timestamp::from_micros(expires),
        })
    })
    .transpose()
}

#[async_trait]
impl SecondFactorStore for SqliteStore {
    async fn totp(&self, account: AccountId) -> StoreResult<Option<TotpFactor>> {
        self.readers.run(move |conn| totp(conn, account)).await
    }

    async fn start_totp(&self, account: AccountId, secret: &[u8], now: Timestamp) -> StoreResult<bool> {
        let secret = secret.to_vec();
        self.writer.run(move |conn| start_totp(conn, account, &secret, now)).await
    }

    async fn activate_totp(
        &self,
        account: AccountId,
        secret: &[u8],
        step: i64,
        recovery_digests: &[[u8; 32]],
        now: Timestamp,
    ) -> StoreResult<bool> {
        let (secret, digests) = (secret.to_vec(), recovery_digests.to_vec());
        self.writer.run(move |conn| activate(conn, account, &secret, step, &digests, now)).await
    }

    async fn use_totp_step(&self, account: AccountId, step: i64) -> StoreResult<bool> {
        self.writer
            .run(move |conn| {
                let changed = conn
                    .execute(
                        "UPDATE totp_factors SET last_step = ?2
                         WHERE account_id = ?1 AND activated_at IS NOT NULL AND (last_step IS NULL OR last_step < ?2)",
                        params![account.to_string(), step],
                    )
                    .map_err(map_error)?;
                Ok(changed == 1)
            })
            .await
    }

    async fn remove_second_factor(&self, account: AccountId, reset_at: Option<Timestamp>) -> StoreResult<bool> {
        self.writer.run(move |conn| remove(conn, account, reset_at)).await
    }

    async fn replace_recovery_codes(&self, account: AccountId, digests: &[[u8; 32]], now: Timestamp) -> StoreResult<()> {
        let digests = digests.to_vec();
        self.writer
            .run(move |conn| {
                let tx = conn.transaction().map_err(map_error)?;
                put_codes(&tx, account, &digests, now)?;
                tx.commit().map_err(map_error)
            })
            .await
    }

    async fn use_recovery_code(&self, account: AccountId, digest: &[u8; 32], now: Timestamp) -> StoreResult<bool> {
        let digest = *digest;
        self.writer
            .run(move |conn| {
                let changed = conn
                    .execute(
                        "UPDATE recovery_codes SET used_at = ?3 WHERE account_id = ?1 AND digest = ?2 AND used_at IS NULL",
                        params![account.to_string(), digest.as_slice(), now.micros()],
                    )
                    .map_err(map_error)?;
                Ok(changed == 1)
            })
            .await
    }

    async fn unused_recovery_codes(&self, account: AccountId) -> StoreResult<u32> {
        self.readers
            .run(move |conn| {
                let count: i64 = conn
                    .query_row(
                        "SELECT count(*) FROM recovery_codes WHERE account_id = ?1 AND used_at IS NULL",
                        [account.to_string()],
                        |row| row.get(0),
                    )
                    .map_err(map_error)?;
                u32::try_from(count).map_err(|_| StoreError::Corrupt("a recovery code count".into()))
            })
            .await
    }

    async fn create_pending_sign_in(&self, pending: &PendingSignIn) -> StoreResult<()> {
        let p = pending.clone();
        self.writer
            .run(move |conn| {
                let tx = conn.transaction().map_err(map_error)?;
                // Expired ones are forgotten as new ones come in: the table holds only live steps.
                tx.execute("DELETE FROM pending_sign_ins WHERE expires_at <= ?1", [p.created_at.micros()]).map_err(map_error)?;
                tx.execute(
                    "INSERT INTO pending_sign_ins (digest, account_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
                    params![p.digest.as_slice(), p.account_id.to_string(), p.created_at.micros(), p.expires_at.micros()],
                )
                .map_err(map_error)?;
                tx.commit().map_err(map_error)
            })
            .await
    }

    async fn pending_sign_in(&self, digest: &[u8; 32], now: Timestamp) -> StoreResult<Option<PendingSignIn>> {
        let digest = *digest;
        self.readers.run(move |conn| pending(conn, &digest, now)).await
    }

    async fn finish_pending_sign_in(&self, digest: &[u8; 32], now: Timestamp) -> StoreResult<bool> {
        let digest = *digest;
        self.writer
            .run(move |conn| {
                let changed = conn
                    .execute(
                        "UPDATE pending_sign_ins SET used_at = ?2 WHERE digest = ?1 AND used_at IS NULL AND expires_at > ?2",
                        params![digest.as_slice(), now.micros()],
                    )
                    .map_err(map_error)?;
                Ok(changed == 1)
            })
            .await
    }

    async fn record_second_factor(&self, session: SessionId, at: Timestamp) -> StoreResult<()> {
        self.writer
            .run(move |conn| {
                conn.execute(
                    "INSERT INTO session_second_factors (session_id, verified_at) VALUES (?1, ?2)
                     ON CONFLICT (session_id) DO UPDATE SET verified_at = max(verified_at, excluded.verified_at)",
                    params![session.to_string(), at.micros()],
                )
                .map_err(map_error)?;
                Ok(())
            })
            .await
    }

    async fn second_factor_at(&self, session: SessionId) -> StoreResult<Option<Timestamp>> {
        self.readers
            .run(move |conn| {
                let at: Option<i64> = conn
                    .query_row("SELECT verified_at FROM session_second_factors WHERE session_id = ?1", [session.to_string()], |row| {
                        row.get(0)
                    })
                    .optional()
                    .map_err(map_error)?;
                Ok(at.map(Timestamp::from_micros))
            })
            .await
    }
}
