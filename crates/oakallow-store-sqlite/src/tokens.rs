//! Execution tokens on SQLite: each org's signing keys (one per algorithm), issued tokens (minted
//! at most once per source, consumed at most once) and reported executions (at most one per
//! token). The writes here run inside the group commit's transaction.

use oakallow_domain::Timestamp;
use oakallow_domain::id::OrgId;
use oakallow_domain::token::Algorithm;
use oakallow_store::{ExecutionRecord, StoreError, StoreResult, StoredSigningKey, TokenRecord, exact_i64};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::conn::map_error;
use crate::rows::to_json;
use crate::runtime_rows::{self, SIGNING_KEY_COLUMNS, TOKEN_COLUMNS};

/// The token insert, as a literal so that the conditional variant can extend it.
macro_rules! insert_token_sql {
    () => {
        "INSERT INTO tokens (jti, org_id, kid, src, tool, tenant, resource, method, params_sha256, issued_at, expires_at, consumed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
    };
}

fn insert_token(tx: &Transaction<'_>, sql: &str, t: &TokenRecord) -> StoreResult<usize> {
    tx.prepare_cached(sql)
        .map_err(map_error)?
        .execute(params![
            t.jti,
            t.org_id.to_string(),
            t.kid,
            t.src,
            t.tool,
            t.tenant,
            t.resource,
            t.method,
            t.params_sha256,
            t.issued_at.micros(),
            t.expires_at.micros(),
            t.consumed_at.map(Timestamp::micros)
        ])
        .map_err(map_error)
}

/// Stores a token minted with its check; a duplicate (which would be a bug) fails the batch.
pub(crate) fn insert(tx: &Transaction<'_>, token: &TokenRecord) -> StoreResult<()> {
    insert_token(tx, insert_token_sql!(), token).map(|_| ())
}

/// Stores a token unless its source (or id) already has one; answers whether it did.
pub(crate) fn insert_once(tx: &Transaction<'_>, token: &TokenRecord) -> StoreResult<bool> {
    insert_token(tx, concat!(insert_token_sql!(), " ON CONFLICT DO NOTHING"), token).map(|inserted| inserted == 1)
}

/// Marks a token of the org consumed at `at` unless it already was; answers whether it did.
pub(crate) fn consume(tx: &Transaction<'_>, org: OrgId, jti: &str, at: Timestamp) -> StoreResult<bool> {
    let changed = tx
        .prepare_cached("UPDATE tokens SET consumed_at = ?1 WHERE org_id = ?2 AND jti = ?3 AND consumed_at IS NULL")
        .map_err(map_error)?
        .execute(params![at.micros(), org.to_string(), jti])
        .map_err(map_error)?;
    Ok(changed == 1)
}

/// Stores an execution unless one was already logged with its token; answers whether it did.
pub(crate) fn insert_execution(tx: &Transaction<'_>, e: &ExecutionRecord) -> StoreResult<bool> {
    let duration_ms = exact_i64(e.duration_ms, "duration_ms")?;
    let inserted = tx
        .prepare_cached(
            "INSERT INTO executions (id, org_id, tool, tenant, resource, method, params, result, duration_ms, output, error,
               token_jti, authorized, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
             ON CONFLICT DO NOTHING",
        )
        .map_err(map_error)?
        .execute(params![
            e.id.to_string(),
            e.org_id.to_string(),
            e.tool,
            e.tenant,
            e.resource,
            e.method,
            e.params.as_ref().map(to_json),
            e.result,
            duration_ms,
            e.output.as_ref().map(to_json),
            e.error,
            e.token_jti,
            e.authorized,
            e.created_at.micros()
        ])
        .map_err(map_error)?;
    Ok(inserted == 1)
}

/// A token of the org.
pub(crate) fn token(conn: &Connection, org: OrgId, jti: &str) -> StoreResult<Option<TokenRecord>> {
    conn.prepare_cached(&format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE org_id = ?1 AND jti = ?2"))
        .map_err(map_error)?
        .query_row(params![org.to_string(), jti], runtime_rows::token)
        .optional()
        .map_err(map_error)
}

/// Whether the org logged an execution with this token.
pub(crate) fn has_execution(conn: &Connection, org: OrgId, jti: &str) -> StoreResult<bool> {
    conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM executions WHERE org_id = ?1 AND token_jti = ?2)")
        .map_err(map_error)?
        .query_row(params![org.to_string(), jti], |row| row.get(0))
        .map_err(map_error)
}

/// The org's signing key of `algorithm`.
pub(crate) fn signing_key(conn: &Connection, org: OrgId, algorithm: Algorithm) -> StoreResult<Option<StoredSigningKey>> {
    conn.prepare_cached(&format!("SELECT {SIGNING_KEY_COLUMNS} FROM signing_keys WHERE org_id = ?1 AND algorithm = ?2"))
        .map_err(map_error)?
        .query_row(params![org.to_string(), algorithm.as_str()], runtime_rows::signing_key)
        .optional()
        .map_err(map_error)
}

/// One of the org's signing keys by key id.
pub(crate) fn signing_key_by_kid(conn: &Connection, org: OrgId, kid: &str) -> StoreResult<Option<StoredSigningKey>> {
    conn.prepare_cached(&format!("SELECT {SIGNING_KEY_COLUMNS} FROM signing_keys WHERE org_id = ?1 AND kid = ?2"))
        .map_err(map_error)?
        .query_row(params![org.to_string(), kid], runtime_rows::signing_key)
        .optional()
        .map_err(map_error)
}

/// The org's Ed25519 keys, oldest first.
pub(crate) fn ed25519_keys(conn: &Connection, org: OrgId) -> StoreResult<Vec<StoredSigningKey>> {
    let mut statement = conn
        .prepare_cached(&format!(
            "SELECT {SIGNING_KEY_COLUMNS} FROM signing_keys WHERE org_id = ?1 AND algorithm = ?2 ORDER BY created_at, kid"
        ))
        .map_err(map_error)?;
    let keys = statement.query_map(params![org.to_string(), Algorithm::Ed25519.as_str()], runtime_rows::signing_key).map_err(map_error)?;
    keys.collect::<Result<_, _>>().map_err(map_error)
}

/// Stores `key` unless the org has a key of its algorithm, and answers the one it has.
/// [`StoreError::NotFound`] for an unknown org; [`StoreError::Conflict`] if the key id is taken
/// by the org's key of another algorithm.
pub(crate) fn add_signing_key(conn: &mut Connection, key: &StoredSigningKey) -> StoreResult<StoredSigningKey> {
    let tx = conn.transaction().map_err(map_error)?;
    let org = key.org_id.to_string();
    let known: bool = tx.query_row("SELECT EXISTS (SELECT 1 FROM orgs WHERE id = ?1)", [&org], |row| row.get(0)).map_err(map_error)?;
    if !known {
        return Err(StoreError::NotFound);
    }
    tx.execute(
        "INSERT INTO signing_keys (org_id, kid, algorithm, secret, created_at) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
        params![org, key.kid, key.algorithm.as_str(), key.secret.as_slice(), key.created_at.micros()],
    )
    .map_err(map_error)?;
    let stored = signing_key(&tx, key.org_id, key.algorithm)?
        .ok_or_else(|| StoreError::Conflict("duplicate: the signing key id is taken by another algorithm".into()))?;
    tx.commit().map_err(map_error)?;
    Ok(stored)
}
