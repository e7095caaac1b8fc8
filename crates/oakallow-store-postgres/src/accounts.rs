//! Accounts, orgs and API keys on PostgreSQL, and the versions of them that other nodes'
//! caches compare against. (Memberships, sessions and invitations: `people`.) Changes other nodes cache are announced (see `notify`).

use oakallow_domain::Timestamp;
use oakallow_domain::account::Membership;
use oakallow_domain::audit::ActivityRecord;
use oakallow_domain::id::{AccountId, KeyId, OrgId};
use oakallow_domain::org::{Account, ApiKey, Org};
use oakallow_store::{Change, NewCredit, NewKey, OrgVersion, StoreError, StoreResult};
use sqlx::{AssertSqlSafe, PgConnection, PgPool};

use crate::error::map_error;
use crate::notify::Channel;
use crate::people::members;
use crate::rows::{self, ACCOUNT_COLUMNS, KEY_COLUMNS, ORG_COLUMNS};
use crate::{chain, credits};

/// Creates an account with its password, if any, and, with `free_credit`, its first lot of
/// credit, in one transaction.
pub(crate) async fn create_account(
    pool: &PgPool,
    account: &Account,
    password_hash: Option<&str>,
    free_credit: Option<&NewCredit>,
) -> StoreResult<()> {
    let mut tx = pool.begin().await.map_err(map_error)?;
    sqlx::query("INSERT INTO accounts (id, email, name, password_hash, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(account.id.to_string())
        .bind(&account.email)
        .bind(&account.name)
        .bind(password_hash)
        .bind(account.created_at.micros())
        .execute(&mut *tx)
        .await
        .map_err(map_error)?;
    if let Some(credit) = free_credit {
        credits::insert_credit(&mut tx, account.id, credit).await?;
    }
    tx.commit().await.map_err(map_error)
}

pub(crate) async fn account_by_email(pool: &PgPool, email: &str) -> StoreResult<Option<Account>> {
    let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE email = $1");
    let found = sqlx::query(AssertSqlSafe(sql)).bind(email).fetch_optional(pool).await.map_err(map_error)?;
    found.as_ref().map(rows::account).transpose().map_err(map_error)
}

async fn insert_key(conn: &mut PgConnection, new: &NewKey) -> StoreResult<()> {
    let k = &new.key;
    sqlx::query(
        "INSERT INTO api_keys (id, org_id, name, tier, prefix, digest, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(k.id.to_string())
    .bind(k.org_id.to_string())
    .bind(&k.name)
    .bind(k.tier.as_str())
    .bind(&k.prefix)
    .bind(new.digest.as_slice())
    .bind(k.created_at.micros())
    .bind(k.revoked_at.map(Timestamp::micros))
    .execute(conn)
    .await
    .map_err(map_error)?;
    Ok(())
}

pub(crate) async fn create_org(pool: &PgPool, org: &Org, keys: &[NewKey], activity: &[ActivityRecord]) -> StoreResult<()> {
    let mut tx = pool.begin().await.map_err(map_error)?;
    let sql = format!("INSERT INTO orgs ({ORG_COLUMNS}, policy_version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0)");
    sqlx::query(AssertSqlSafe(sql))
        .bind(org.id.to_string())
        .bind(org.account_id.to_string())
        .bind(&org.name)
        .bind(org.approval_timeout_seconds.map(i64::from))
        .bind(&org.webhook_url)
        .bind(org.webhook_events.as_ref().map(rows::to_json))
        .bind(org.token_signing.as_str())
        .bind(org.redact_pii)
        .bind(org.created_at.micros())
        .bind(org.updated_at.micros())
        .bind(org.require_second_factor_for_approvers)
        .execute(&mut *tx)
        .await
        .map_err(map_error)?;
    members::put(&mut *tx, &Membership::owner_of(org)).await?;
    for key in keys {
        insert_key(&mut tx, key).await?;
    }
    chain::append(&mut tx, activity).await?;
    tx.commit().await.map_err(map_error)
}

pub(crate) async fn org(pool: &PgPool, id: OrgId) -> StoreResult<Option<Org>> {
    let sql = format!("SELECT {ORG_COLUMNS} FROM orgs WHERE id = $1");
    let found = sqlx::query(AssertSqlSafe(sql)).bind(id.to_string()).fetch_optional(pool).await.map_err(map_error)?;
    found.as_ref().map(rows::org).transpose().map_err(map_error)
}

pub(crate) async fn orgs_of_account(pool: &PgPool, account: AccountId) -> StoreResult<Vec<Org>> {
    let sql = format!("SELECT {ORG_COLUMNS} FROM orgs WHERE account_id = $1 ORDER BY id");
    let found = sqlx::query(AssertSqlSafe(sql)).bind(account.to_string()).fetch_all(pool).await.map_err(map_error)?;
    found.iter().map(rows::org).collect::<Result<_, _>>().map_err(map_error)
}

/// Saves the org's settings if they are still at `expected_updated_at`, and gives it
/// `first_webhook_secret` unless it has a secret.
pub(crate) async fn update_org(
    pool: &PgPool,
    channel: &Channel,
    org: &Org,
    expected_updated_at: Timestamp,
    first_webhook_secret: Option<&str>,
    activity: &ActivityRecord,
) -> StoreResult<()> {
    let mut tx = pool.begin().await.map_err(map_error)?;
    let changed = sqlx::query(
        "UPDATE orgs SET name = $2, approval_timeout_seconds = $3, webhook_url = $4, webhook_events = $5, token_signing = $6,
           redact_pii = $7, updated_at = $8, webhook_secret = coalesce(webhook_secret, $9),
           require_second_factor_for_approvers = $11
         WHERE id = $1 AND updated_at = $10",
    )
    .bind(org.id.to_string())
    .bind(&org.name)
    .bind(org.approval_timeout_seconds.map(i64::from))
    .bind(&org.webhook_url)
    .bind(org.webhook_events.as_ref().map(rows::to_json))
    .bind(org.token_signing.as_str())
    .bind(org.redact_pii)
    .bind(org.updated_at.micros())
    .bind(first_webhook_secret)
    .bind(expected_updated_at.micros())
    .bind(org.require_second_factor_for_approvers)
    .execute(&mut *tx)
    .await
    .map_err(map_error)?;
    if changed.rows_affected() == 0 {
        let exists =
            sqlx::query("SELECT 1 FROM orgs WHERE id = $1").bind(org.id.to_string()).fetch_optional(&mut *tx).await.map_err(map_error)?;
        return Err(if exists.is_some() { StoreError::VersionConflict } else { StoreError::NotFound });
    }
    channel.announce(&mut tx, &Change::Org(org.id)).await?;
    chain::append(&mut tx, [activity]).await?;
    tx.commit().await.map_err(map_error)
}

/// The org's webhook secret (none for an org that does not exist).
pub(crate) async fn webhook_secret(pool: &PgPool, org: OrgId) -> StoreResult<Option<String>> {
    let found: Option<Option<String>> = sqlx::query_scalar("SELECT webhook_secret FROM orgs WHERE id = $1")
        .bind(org.to_string())
        .fetch_optional(pool)
        .await
        .map_err(map_error)?;
    Ok(found.flatten())
}

/// Replaces the org's webhook secret (its settings' `updated_at` stays: the secret is not one).
pub(crate) async fn set_webhook_secret(
    pool: &PgPool,
    channel: &Channel,
    org: OrgId,
    secret: &str,
    activity: &ActivityRecord,
) -> StoreResult<()> {
    let mut tx = pool.begin().await.map_err(map_error)?;
    let changed = sqlx::query("UPDATE orgs SET webhook_secret = $2 WHERE id = $1")
        .bind(org.to_string())
        .bind(secret)
        .execute(&mut *tx)
        .await
        .map_err(map_error)?;
    if changed.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    channel.announce(&mut tx, &Change::Org(org)).await?;
    chain::append(&mut tx, [activity]).await?;
    tx.commit().await.map_err(map_error)
}

pub(crate) async fn create_key(pool: &PgPool, key: &NewKey, activity: &ActivityRecord) -> StoreResult<()> {
    let mut tx = pool.begin().await.map_err(map_error)?;
    insert_key(&mut tx, key).await?;
    chain::append(&mut tx, [activity]).await?;
    tx.commit().await.map_err(map_error)
}

pub(crate) async fn key_by_digest(pool: &PgPool, digest: &[u8; 32]) -> StoreResult<Option<ApiKey>> {
    let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE digest = $1");
    let found = sqlx::query(AssertSqlSafe(sql)).bind(digest.as_slice()).fetch_optional(pool).await.map_err(map_error)?;
    found.as_ref().map(rows::api_key).transpose().map_err(map_error)
}

pub(crate) async fn list_keys(pool: &PgPool, org: OrgId, after: Option<KeyId>, limit: u32) -> StoreResult<Vec<ApiKey>> {
    let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE org_id = $1 AND id > $2 ORDER BY id LIMIT $3");
    let after = after.map(|id| id.to_string()).unwrap_or_default();
    let found = sqlx::query(AssertSqlSafe(sql))
        .bind(org.to_string())
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await
        .map_err(map_error)?;
    found.iter().map(rows::api_key).collect::<Result<_, _>>().map_err(map_error)
}

pub(crate) async fn key(pool: &PgPool, org: OrgId, id: KeyId) -> StoreResult<Option<ApiKey>> {
    let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE org_id = $1 AND id = $2");
    let found = sqlx::query(AssertSqlSafe(sql)).bind(org.to_string()).bind(id.to_string()).fetch_optional(pool).await.map_err(map_error)?;
    found.as_ref().map(rows::api_key).transpose().map_err(map_error)
}

/// Sets `revoked_at` unless already set, and returns the key as it now is.
pub(crate) async fn revoke_key(
    pool: &PgPool,
    channel: &Channel,
    org: OrgId,
    id: KeyId,
    at: Timestamp,
    activity: &ActivityRecord,
) -> StoreResult<ApiKey> {
    let mut tx = pool.begin().await.map_err(map_error)?;
    let sql = format!("UPDATE api_keys SET revoked_at = coalesce(revoked_at, $3) WHERE org_id = $1 AND id = $2 RETURNING {KEY_COLUMNS}");
    let revoked = sqlx::query(AssertSqlSafe(sql))
        .bind(org.to_string())
        .bind(id.to_string())
        .bind(at.micros())
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_error)?;
    let key = revoked.as_ref().map(rows::api_key).transpose().map_err(map_error)?.ok_or(StoreError::NotFound)?;
    channel.announce(&mut tx, &Change::KeyRevoked(key.id)).await?;
    chain::append(&mut tx, [activity]).await?;
    tx.commit().await.map_err(map_error)?;
    Ok(key)
}

/// The current versions of those of these orgs that exist, in id order, with one query.
pub(crate) async fn org_versions(pool: &PgPool, orgs: &[OrgId]) -> StoreResult<Vec<OrgVersion>> {
    let ids: Vec<String> = orgs.iter().map(OrgId::to_string).collect();
    let found: Vec<(String, i64, i64)> = sqlx::query_as("SELECT id, policy_version, updated_at FROM orgs WHERE id = ANY($1) ORDER BY id")
        .bind(&ids)
        .fetch_all(pool)
        .await
        .map_err(map_error)?;
    found
        .into_iter()
        .map(|(id, version, updated_at)| {
            Ok(OrgVersion {
                org_id: id.parse().map_err(|_| StoreError::Corrupt("an org has an invalid id".into()))?,
                policy_version: u64::try_from(version).map_err(|_| StoreError::Corrupt("an org has a negative policy version".into()))?,
                updated_at: Timestamp::from_micros(updated_at),
            })
        })
        .collect()
}

/// Those of these keys that are revoked, in id order, with one query.
pub(crate) async fn revoked_keys(pool: &PgPool, keys: &[KeyId]) -> StoreResult<Vec<KeyId>> {
    let ids: Vec<String> = keys.iter().map(KeyId::to_string).collect();
    let found: Vec<String> = sqlx::query_scalar("SELECT id FROM api_keys WHERE id = ANY($1) AND revoked_at IS NOT NULL ORDER BY id")
        .bind(&ids)
        .fetch_all(pool)
        .await
        .map_err(map_error)?;
    found.iter().map(|id| id.parse().map_err(|_| StoreError::Corrupt("an API key has an invalid id".into()))).collect()
}
