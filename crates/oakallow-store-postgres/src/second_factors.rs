//! Second factors on PostgreSQL ([`SecondFactorStore`]): TOTP secrets, recovery codes, sign-ins
//! waiting for their second factor, sessions' last verification and the org requirement. Each
//! "exactly once" answer is one conditional UPDATE, so of several nodes racing one wins.

use async_trait::async_trait;
use oakallow_domain::Timestamp;
use oakallow_domain::id::{AccountId, SessionId};
use oakallow_store::{PendingSignIn, SecondFactorStore, StoreError, StoreResult, TotpFactor};
use sqlx::{PgConnection, Row};

use crate::PostgresStore;
use crate::error::map_error;

async fn put_codes(conn: &mut PgConnection, account: AccountId, digests: &[[u8; 32]], now: Timestamp) -> StoreResult<()> {
    sqlx::query("DELETE FROM recovery_codes WHERE account_id = $1")
        .bind(account.to_string())
        .execute(&mut *conn)
        .await
        .map_err(map_error)?;
    let digests: Vec<Vec<u8>> = digests.iter().map(|d| d.to_vec()).collect();
    sqlx::query("INSERT INTO recovery_codes (account_id, digest, created_at) SELECT $1, digest, $3 FROM unnest($2::bytea[]) AS digest")
        .bind(account.to_string())
        .bind(digests)
        .bind(now.micros())
        .execute(&mut *conn)
        .await
        .map_err(map_error)?;
    Ok(())
}

#[async_trait]
impl SecondFactorStore for PostgresStore {
    async fn totp(&self, account: AccountId) -> StoreResult<Option<TotpFactor>> {
        let row = sqlx::query("SELECT secret, activated_at, last_step FROM totp_factors WHERE account_id = $1")
            .bind(account.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(map_error)?;
        row.map(|row| {
            Ok(TotpFactor {
                secret: row.try_get(0)?,
                activated_at: row.try_get::<Option<i64>, _>(1)?.map(Timestamp::from_micros),
                last_step: row.try_get(2)?,
            })
        })
        .transpose()
        .map_err(map_error)
    }

    async fn start_totp(&self, account: AccountId, secret: &[u8], now: Timestamp) -> StoreResult<bool> {
        let done = sqlx::query(
            "INSERT INTO totp_factors (account_id, secret, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (account_id) DO UPDATE SET secret = excluded.secret, created_at = excluded.created_at
             WHERE totp_factors.activated_at IS NULL",
        )
        .bind(account.to_string())
        .bind(secret)
        .bind(now.micros())
        .execute(&self.pool)
        .await
        .map_err(map_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn activate_totp(
        &self,
        account: AccountId,
        secret: &[u8],
        step: i64,
        recovery_digests: &[[u8; 32]],
        now: Timestamp,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(map_error)?;
        let done = sqlx::query(
            "UPDATE totp_factors SET activated_at = $3, last_step = $4 WHERE account_id = $1 AND secret = $2 AND activated_at IS NULL",
        )
        .bind(account.to_string())
        .bind(secret)
        .bind(now.micros())
        .bind(step)
        .execute(&mut *tx)
        .await
        .map_err(map_error)?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        put_codes(&mut tx, account, recovery_digests, now).await?;
        tx.commit().await.map_err(map_error)?;
        Ok(true)
    }

    async fn use_totp_step(&self, account: AccountId, step: i64) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE totp_factors SET last_step = $2
             WHERE account_id = $1 AND activated_at IS NOT NULL AND (last_step IS NULL OR last_step < $2)",
        )
        .bind(account.to_string())
        .bind(step)
        .execute(&self.pool)
        .await
        .map_err(map_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn remove_second_factor(&self, account: AccountId, reset_at: Option<Timestamp>) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(map_error)?;
        let id = account.to_string();
        let delete = async |sql: &'static str, tx: &mut sqlx::PgConnection| {
            sqlx::query(sql).bind(&id).execute(tx).await.map(|done| done.rows_affected()).map_err(map_error)
        };
        let factors = delete("DELETE FROM totp_factors WHERE account_id = $1", &mut tx).await?;
        let codes = delete("DELETE FROM recovery_codes WHERE account_id = $1", &mut tx).await?;
        let mut passkeys = 0;
        if let Some(at) = reset_at {
            delete("DELETE FROM passkey_ceremonies WHERE account_id = $1", &mut tx).await?;
            passkeys = delete("DELETE FROM passkeys WHERE account_id = $1", &mut tx).await?;
            sqlx::query("UPDATE sessions SET revoked_at = $2 WHERE account_id = $1 AND revoked_at IS NULL")
                .bind(&id)
                .bind(at.micros())
                .execute(&mut *tx)
                .await
                .map_err(map_error)?;
        }
        tx.commit().await.map_err(map_error)?;
        Ok(factors + codes + passkeys > 0)
    }

    async fn replace_recovery_codes(&self, account: AccountId, digests: &[[u8; 32]], now: Timestamp) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(map_error)?;
        put_codes(&mut tx, account, digests, now).await?;
        tx.commit().await.map_err(map_error)
    }

    async fn use_recovery_code(&self, account: AccountId, digest: &[u8; 32], now: Timestamp) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE recovery_codes SET used_at = $3 WHERE account_id = $1 AND digest = $2 AND used_at IS NULL")
            .bind(account.to_string())
            .bind(digest.as_slice())
            .bind(now.micros())
            .execute(&self.pool)
            .await
            .map_err(map_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn unused_recovery_codes(&self, account: AccountId) -> StoreResult<u32> {
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM recovery_codes WHERE account_id = $1 AND used_at IS NULL")
            .bind(account.to_string())
            .fetch_one(&self.pool)
            .await
            .map_err(map_error)?;
        u32::try_from(count).map_err(|_| StoreError::Corrupt("a recovery code count".into()))
    }

    async fn create_pending_sign_in(&self, p: &PendingSignIn) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(map_error)?;
        // Expired ones are forgotten as new ones come in: the table holds only live steps.
        sqlx::query("DELETE FROM pending_sign_ins WHERE expires_at <= $1")
            .bind(p.created_at.micros())
            .execute(&mut *tx)
            .await
            .map_err(map_error)?;
        sqlx::query("INSERT INTO pending_sign_ins (digest, account_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(p.digest.as_slice())
            .bind(p.account_id.to_string())
            .bind(p.created_at.micros())
            .bind(p.expires_at.micros())
            .execute(&mut *tx)
            .await
            .map_err(map_error)?;
        tx.commit().await.map_err(map_error)
    }

    async fn pending_sign_in(&self, digest: &[u8; 32], now: Timestamp) -> StoreResult<Option<PendingSignIn>> {
        let row = sqlx::query(
            "SELECT account_id, created_at, expires_at FROM pending_sign_ins WHERE digest = $1 AND used_at IS NULL AND expires_at > $2",
        )
        .bind(digest.as_slice())
        .bind(now.micros())
        .fetch_optional(&self.pool)
        .await
        .map_err(map_error)?;
        let Some(row) = row else { return Ok(None) };
        let account: String = row.try_get(0).map_err(map_error)?;
        let account_id = AccountId::parse(&account).ok_or_else(|| StoreError::Corrupt(format!("account id {account}")))?;
        Ok(Some(PendingSignIn {
            digest: *digest,
            account_id,
            created_at: Timestamp::from_micros(row.try_get(1).map_err(map_error)?),
            expires_at: Timestamp::from_micros(row.try_get(2).map_err(map_error)?),
        }))
    }

    async fn finish_pending_sign_in(&self, digest: &[u8; 32], now: Timestamp) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE pending_sign_ins SET used_at = $2 WHERE digest = $1 AND used_at IS NULL AND expires_at > $2")
            .bind(digest.as_slice())
            .bind(now.micros())
            .execute(&self.pool)
            .await
            .map_err(map_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn record_second_factor(&self, session: SessionId, at: Timestamp) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO session_second_factors (session_id, verified_at) VALUES ($1, $2)
             ON CONFLICT (session_id) DO UPDATE SET verified_at = greatest(session_second_factors.verified_at, excluded.verified_at)",
        )
        .bind(session.to_string())
        .bind(at.micros())
        .execute(&self.pool)
        .await
        .map_err(map_error)?;
        Ok(())
    }

    async fn second_factor_at(&self, session: SessionId) -> StoreResult<Option<Timestamp>> {
        let at: Option<i64> = sqlx::query_scalar("SELECT verified_at FROM session_second_factors WHERE session_id = $1")
            .bind(session.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(map_error)?;
        Ok(at.map(Timestamp::from_micros))
    }
}
