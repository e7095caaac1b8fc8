//! E-mailed sign-in codes on PostgreSQL ([`EmailCodeStore`]): one row per account, deleted when
//! the code or its link is used. Spending is one conditional `DELETE`: of two redemptions racing,
//! the second waits for the first's row lock, then finds the row gone.

use async_trait::async_trait;
use oakallow_domain::Timestamp;
use oakallow_domain::id::AccountId;
use oakallow_store::{EmailCode, EmailCodeStore, StoreError, StoreResult};
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, Row as _};

use crate::PostgresStore;
use crate::error::map_error;
use crate::rows::{RowResult, invalid, parsed, time};

const COLUMNS: &str = "account_id, code_digest, link_digest, created_at, expires_at, wrong_tries";

fn digest(row: &PgRow, idx: usize) -> RowResult<[u8; 32]> {
    let bytes: Vec<u8> = row.try_get(idx)?;
    bytes.try_into().map_err(|_| invalid(idx, "digest"))
}

fn email_code(row: &PgRow) -> RowResult<EmailCode> {
    let tries: i32 = row.try_get(5)?;
    Ok(EmailCode {
        account_id: parsed(row, 0)?,
        code_digest: digest(row, 1)?,
        link_digest: digest(row, 2)?,
        created_at: time(row, 3)?,
        expires_at: time(row, 4)?,
        wrong_tries: u32::try_from(tries).map_err(|_| invalid(5, "wrong_tries"))?,
    })
}

fn tries(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

#[async_trait]
impl EmailCodeStore for PostgresStore {
    async fn put_email_code(&self, code: &EmailCode) -> StoreResult<()> {
        let sql = format!(
            "INSERT INTO email_codes ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (account_id) DO UPDATE SET code_digest = excluded.code_digest, link_digest = excluded.link_digest,
               created_at = excluded.created_at, expires_at = excluded.expires_at, wrong_tries = excluded.wrong_tries"
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(code.account_id.to_string())
            .bind(code.code_digest.as_slice())
            .bind(code.link_digest.as_slice())
            .bind(code.created_at.micros())
            .bind(code.expires_at.micros())
            .bind(tries(code.wrong_tries))
            .execute(&self.pool)
            .await
            .map_err(map_error)?;
        Ok(())
    }

    async fn email_code(&self, account: AccountId) -> StoreResult<Option<EmailCode>> {
        let sql = format!("SELECT {COLUMNS} FROM email_codes WHERE account_id = $1");
        let found = sqlx::query(AssertSqlSafe(sql)).bind(account.to_string()).fetch_optional(&self.pool).await.map_err(map_error)?;
        found.as_ref().map(email_code).transpose().map_err(map_error)
    }

    async fn spend_email_code(&self, account: AccountId, link_digest: &[u8; 32], now: Timestamp, max_wrong: u32) -> StoreResult<bool> {
        let deleted =
            sqlx::query("DELETE FROM email_codes WHERE account_id = $1 AND link_digest = $2 AND expires_at > $3 AND wrong_tries < $4")
                .bind(account.to_string())
                .bind(link_digest.as_slice())
                .bind(now.micros())
                .bind(tries(max_wrong))
                .execute(&self.pool)
                .await
                .map_err(map_error)?;
        Ok(deleted.rows_affected() == 1)
    }

    async fn count_wrong_email_code(&self, account: AccountId, link_digest: &[u8; 32], max_wrong: u32) -> StoreResult<u32> {
        let mut tx = self.pool.begin().await.map_err(map_error)?;
        let counted: Option<i32> = sqlx::query_scalar(
            "UPDATE email_codes SET wrong_tries = wrong_tries + 1 WHERE account_id = $1 AND link_digest = $2 RETURNING wrong_tries",
        )
        .bind(account.to_string())
        .bind(link_digest.as_slice())
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_error)?;
        let counted = counted.map(u32::try_from).transpose().map_err(|_| StoreError::Corrupt("a negative count".into()))?;
        if counted.is_some_and(|n| n >= max_wrong) {
            sqlx::query("DELETE FROM email_codes WHERE account_id = $1")
                .bind(account.to_string())
                .execute(&mut *tx)
                .await
                .map_err(map_error)?;
        }
        tx.commit().await.map_err(map_error)?;
        Ok(counted.unwrap_or(0))
    }

    async fn spend_email_link(&self, link_digest: &[u8; 32], now: Timestamp, max_wrong: u32) -> StoreResult<Option<AccountId>> {
        let account: Option<String> = sqlx::query_scalar(
            "DELETE FROM email_codes WHERE link_digest = $1 AND expires_at > $2 AND wrong_tries < $3 RETURNING account_id",
        )
        .bind(link_digest.as_slice())
        .bind(now.micros())
        .bind(tries(max_wrong))
        .fetch_optional(&self.pool)
        .await
        .map_err(map_error)?;
        account.map(|id| id.parse().map_err(|_| StoreError::Corrupt("an account id".into()))).transpose()
    }
}
