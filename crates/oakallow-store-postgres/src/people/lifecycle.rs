//! Disabling and deleting accounts on PostgreSQL ([`AccountLifecycleStore`]). Both take the
//! account's row lock first, so they serialize with each other and with new sessions (which
//! share-lock the row).
//!
//! PostgreSQL keeps an updated or deleted row's old version in its data files until (auto)vacuum
//! reclaims the space; docs/SECURITY.md says what that means for an erased email.

use async_trait::async_trait;
use oakallow_domain::Timestamp;
use oakallow_domain::id::AccountId;
use oakallow_store::{AccountLifecycleStore, AccountStatus, ERASED_NAME, StoreError, StoreResult, erased_email};
use sqlx::Row;

use crate::PostgresStore;
use crate::error::map_error;
use crate::rows::time_opt;

#[async_trait]
impl AccountLifecycleStore for PostgresStore {
    async fn account_status(&self, account: AccountId) -> StoreResult<Option<AccountStatus>> {
        let found = sqlx::query("SELECT disabled_at, deleted_at FROM accounts WHERE id = $1")
            .bind(account.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(map_error)?;
        found
            .map(|row| Ok(AccountStatus { disabled_at: time_opt(&row, 0)?, deleted_at: time_opt(&row, 1)? }))
            .transpose()
            .map_err(map_error)
    }

    async fn disable_account(&self, account: AccountId, now: Timestamp) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(map_error)?;
        let id = account.to_string();
        let found = sqlx::query("UPDATE accounts SET disabled_at = coalesce(disabled_at, $2) WHERE id = $1")
            .bind(&id)
            .bind(now.micros())
            .execute(&mut *tx)
            .await
            .map_err(map_error)?;
        if found.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        sqlx::query("UPDATE sessions SET revoked_at = $2 WHERE account_id = $1 AND revoked_at IS NULL")
            .bind(&id)
            .bind(now.micros())
            .execute(&mut *tx)
            .await
            .map_err(map_error)?;
        tx.commit().await.map_err(map_error)
    }

    async fn enable_account(&self, account: AccountId) -> StoreResult<()> {
        let changed = sqlx::query("UPDATE accounts SET disabled_at = NULL WHERE id = $1 AND deleted_at IS NULL")
            .bind(account.to_string())
            .execute(&self.pool)
            .await
            .map_err(map_error)?;
        if changed.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    async fn erase_account(&self, account: AccountId, forget: &[String], now: Timestamp) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(map_error)?;
        let id = account.to_string();
        let found = sqlx::query("SELECT name FROM accounts WHERE id = $1 FOR UPDATE")
            .bind(&id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_error)?
            .ok_or(StoreError::NotFound)?;
        let name: String = found.try_get(0).map_err(map_error)?;
        sqlx::query(
            "UPDATE accounts SET email = $2, name = $3, password_hash = NULL,
                    disabled_at = coalesce(disabled_at, $4), deleted_at = coalesce(deleted_at, $4)
             WHERE id = $1",
        )
        .bind(&id)
        .bind(erased_email(account))
        .bind(ERASED_NAME)
        .bind(now.micros())
        .execute(&mut *tx)
        .await
        .map_err(map_error)?;
        sqlx::query("DELETE FROM session_second_factors WHERE session_id IN (SELECT id FROM sessions WHERE account_id = $1)")
            .bind(&id)
            .execute(&mut *tx)
            .await
            .map_err(map_error)?;
        let owned = [
            "sessions",
            "memberships",
            "email_codes",
            "totp_factors",
            "recovery_codes",
            "pending_sign_ins",
            "passkeys",
            "passkey_ceremonies",
            "slack_links",
        ]
        .map(|table| format!("DELETE FROM {table} WHERE account_id = $1"));
        for sql in owned {
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(&id).execute(&mut *tx).await.map_err(map_error)?;
        }
        sqlx::query("DELETE FROM sign_in_failures WHERE subject = ANY($1)").bind(forget).execute(&mut *tx).await.map_err(map_error)?;
        // Decisions recorded under the account's name before decisions were recorded by id.
        sqlx::query(
            "UPDATE approvals SET decided_by = $1 WHERE decided_by = $2
                AND id IN (SELECT approval_id FROM approval_decisions WHERE decider_kind = 'user' AND decider_id = $1)",
        )
        .bind(&id)
        .bind(&name)
        .execute(&mut *tx)
        .await
        .map_err(map_error)?;
        sqlx::query("UPDATE approval_decisions SET decided_by = $1 WHERE decider_kind = 'user' AND decider_id = $1")
            .bind(&id)
            .execute(&mut *tx)
            .await
            .map_err(map_error)?;
        tx.commit().await.map_err(map_error)
    }
}
