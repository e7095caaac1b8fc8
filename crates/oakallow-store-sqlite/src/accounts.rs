//! Accounts, orgs and API keys on SQLite. (Memberships, sessions and invitations: `people`.)

use oakallow_domain::Timestamp;
use oakallow_domain::account::Membership;
use oakallow_domain::audit::ActivityRecord;
use oakallow_domain::id::{AccountId, KeyId, OrgId};
use oakallow_domain::org::{Account, ApiKey, Org};
use oakallow_store::{NewCredit, NewKey, OrgVersion, StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::activity::append_in as append;
use crate::conn::map_error;
use crate::credits;
use crate::people::members;
use crate::rows::{self, ACCOUNT_COLUMNS, KEY_COLUMNS, ORG_COLUMNS, parsed, time};
use crate::runtime_rows::{id_list, int};

/// Creates an account with its password, if any, and, in the same transaction, its sign-up
/// credit if any.
pub(crate) fn create_account(
    conn: &mut Connection,
    account: &Account,
    password_hash: Option<&str>,
    free_credit: Option<&NewCredit>,
) -> StoreResult<()> {
    let tx = conn.transaction().map_err(map_error)?;
    tx.execute(
        "INSERT INTO accounts (id, email, name, password_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![account.id.to_string(), account.email, account.name, password_hash, account.created_at.micros()],
    )
    .map_err(map_error)?;
    if let Some(credit) = free_credit {
        credits::insert_credit(&tx, account.id, credit)?;
    }
    tx.commit().map_err(map_error)
}

pub(crate) fn account_by_email(conn: &Connection, email: &str) -> StoreResult<Option<Account>> {
    conn.query_row(&format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE email = ?1"), [email], rows::account)
        .optional()
        .map_err(map_error)
}

fn insert_key(tx: &Transaction<'_>, new: &NewKey) -> StoreResult<()> {
    let k = &new.key;
    tx.execute(
        "INSERT INTO api_keys (id, org_id, name, tier, prefix, digest, created_at, revoked_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            k.id.to_string(),
            k.org_id.to_string(),
            k.name,
            k.tier.as_str(),
            k.prefix,
            new.digest.as_slice(),
            k.created_at.micros(),
            k.revoked_at.map(Timestamp::micros)
        ],
    )
    .map_err(map_error)?;
    Ok(())
}

pub(crate) fn create_org(conn: &mut Connection, org: &Org, keys: &[NewKey], activity: &[ActivityRecord]) -> StoreResult<()> {
    let tx = conn.transaction().map_err(map_error)?;
    tx.execute(
        &format!("INSERT INTO orgs ({ORG_COLUMNS}, policy_version) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 0)"),
        params![
            org.id.to_string(),
            org.account_id.to_string(),
            org.name,
            org.approval_timeout_seconds,
            org.webhook_url,
            org.webhook_events.as_ref().map(rows::to_json),
            org.token_signing.as_str(),
            org.redact_pii,
            org.created_at.micros(),
            org.updated_at.micros(),
            org.require_second_factor_for_approvers
        ],
    )
    .map_err(map_error)?;
    members::put(&tx, &Membership::owner_of(org))?;
    for key in keys {
        insert_key(&tx, key)?;
    }
    append(&tx, activity)?;
    tx.commit().map_err(map_error)
}

pub(crate) fn org(conn: &Connection, id: OrgId) -> StoreResult<Option<Org>> {
    conn.query_row(&format!("SELECT {ORG_COLUMNS} FROM orgs WHERE id = ?1"), [id.to_string()], rows::org).optional().map_err(map_error)
}

pub(crate) fn orgs_of_account(conn: &Connection, account: AccountId) -> StoreResult<Vec<Org>> {
    let mut statement = conn.prepare(&format!("SELECT {ORG_COLUMNS} FROM orgs WHERE account_id = ?1 ORDER BY id")).map_err(map_error)?;
    let orgs = statement.query_map([account.to_string()], rows::org).map_err(map_error)?;
    orgs.collect::<Result<_, _>>().map_err(map_error)
}

/// Saves an org's settings if they are still at `expected_updated_at`; with
/// `first_webhook_secret`, sets the webhook secret unless it has one.
pub(crate) fn update_org(
    conn: &mut Connection,
    org: &Org,
    expected_updated_at: Timestamp,
    first_webhook_secret: Option<&str>,
    activity: &ActivityRecord,
) -> StoreResult<()> {
    let tx = conn.transaction().map_err(map_error)?;
    let changed = tx
        .execute(
            "UPDATE orgs SET name = ?2, approval_timeout_seconds = ?3, webhook_url = ?4, webhook_events = ?5, token_signing = ?6,
               redact_pii = ?7, updated_at = ?8, webhook_secret = coalesce(webhook_secret, ?9),
               require_second_factor_for_approvers = ?11 WHERE id = ?1 AND updated_at = ?10",
            params![
                org.id.to_string(),
                org.name,
                org.approval_timeout_seconds,
                org.webhook_url,
                org.webhook_events.as_ref().map(rows::to_json),
                org.token_signing.as_str(),
                org.redact_pii,
                org.updated_at.micros(),
                first_webhook_secret,
                expected_updated_at.micros(),
                org.require_second_factor_for_approvers
            ],
        )
        .map_err(map_error)?;
    if changed == 0 {
        let exists = tx.query_row("SELECT 1 FROM orgs WHERE id = ?1", [org.id.to_string()], |_| Ok(())).optional().map_err(map_error)?;
        return Err(if exists.is_some() { StoreError::VersionConflict } else { StoreError::NotFound });
    }
    append(&tx, std::slice::from_ref(activity))?;
    tx.commit().map_err(map_error)
}

/// The org's webhook secret (`None` also for an unknown org).
pub(crate) fn webhook_secret(conn: &Connection, org: OrgId) -> StoreResult<Option<String>> {
    let secret: Option<Option<String>> = conn
        .prepare_cached("SELECT webhook_secret FROM orgs WHERE id = ?1")
        .map_err(map_error)?
        .query_row([org.to_string()], |row| row.get(0))
        .optional()
        .map_err(map_error)?;
    Ok(secret.flatten())
}

/// Replaces the org's webhook secret (its settings' `updated_at` stays).
pub(crate) fn set_webhook_secret(conn: &mut Connection, org: OrgId, secret: &str, activity: &ActivityRecord) -> StoreResult<()> {
    let tx = conn.transaction().map_err(map_error)?;
    let changed = tx.execute("UPDATE orgs SET webhook_secret = ?2 WHERE id = ?1", params![org.to_string(), secret]).map_err(map_error)?;
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    append(&tx, std::slice::from_ref(activity))?;
    tx.commit().map_err(map_error)
}

pub(crate) fn create_key(conn: &mut Connection, key: &NewKey, activity: &ActivityRecord) -> StoreResult<()> {
    let tx = conn.transaction().map_err(map_error)?;
    insert_key(&tx, key)?;
    append(&tx, std::slice::from_ref(activity))?;
    tx.commit().map_err(map_error)
}

pub(crate) fn key_by_digest(conn: &Connection, digest: &[u8; 32]) -> StoreResult<Option<ApiKey>> {
    conn.prepare_cached(&format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE digest = ?1"))
        .map_err(map_error)?
        .query_row([digest.as_slice()], rows::api_key)
        .optional()
        .map_err(map_error)
}

pub(crate) fn list_keys(conn: &Connection, org: OrgId, after: Option<KeyId>, limit: u32) -> StoreResult<Vec<ApiKey>> {
    let mut statement = conn
        .prepare_cached(&format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE org_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3"))
        .map_err(map_error)?;
    let after = after.map(|id| id.to_string()).unwrap_or_default();
    let keys = statement.query_map(params![org.to_string(), after, i64::from(limit)], rows::api_key).map_err(map_error)?;
    keys.collect::<Result<_, _>>().map_err(map_error)
}

pub(crate) fn key(conn: &Connection, org: OrgId, id: KeyId) -> StoreResult<Option<ApiKey>> {
    conn.query_row(
        &format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE org_id = ?1 AND id = ?2"),
        [org.to_string(), id.to_string()],
        rows::api_key,
    )
    .optional()
    .map_err(map_error)
}

pub(crate) fn revoke_key(conn: &mut Connection, org: OrgId, id: KeyId, at: Timestamp, activity: &ActivityRecord) -> StoreResult<ApiKey> {
    let tx = conn.transaction().map_err(map_error)?;
    let changed = tx
        .execute(
            "UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?3) WHERE org_id = ?1 AND id = ?2",
            params![org.to_string(), id.to_string(), at.micros()],
        )
        .map_err(map_error)?;
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    let key = key(&tx, org, id)?.ok_or(StoreError::NotFound)?;
    append(&tx, std::slice::from_ref(activity))?;
    tx.commit().map_err(map_error)?;
    Ok(key)
}

/// The current versions of those of these orgs that exist, in id order.
pub(crate) fn org_versions(conn: &Connection, orgs: &[OrgId]) -> StoreResult<Vec<OrgVersion>> {
    if orgs.is_empty() {
        return Ok(Vec::new());
    }
    let mut statement = conn
        .prepare_cached("SELECT id, policy_version, updated_at FROM orgs WHERE id IN (SELECT value FROM json_each(?1)) ORDER BY id")
        .map_err(map_error)?;
    let versions = statement
        .query_map([id_list(orgs)], |row| {
            Ok(OrgVersion { org_id: parsed(row, 0)?, policy_version: int(row, 1)?, updated_at: time(row, 2)? })
        })
        .map_err(map_error)?;
    versions.collect::<Result<_, _>>().map_err(map_error)
}

/// Those of these keys that are revoked, in id order.
pub(crate) fn revoked_keys(conn: &Connection, keys: &[KeyId]) -> StoreResult<Vec<KeyId>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let mut statement = conn
        .prepare_cached("SELECT id FROM api_keys WHERE id IN (SELECT value FROM json_each(?1)) AND revoked_at IS NOT NULL ORDER BY id")
        .map_err(map_error)?;
    let revoked = statement.query_map([id_list(keys)], |row| parsed(row, 0)).map_err(map_error)?;
    revoked.collect::<Result<_, _>>().map_err(map_error)
}
