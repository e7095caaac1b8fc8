//! Execution tokens, their signing keys and executions on PostgreSQL. The conditional writes of
//! the group commit (mint once per source, consume once, one execution per token) are single
//! statements whose uniqueness or row lock decides the one winner across every node; "not
//! applied" is never an error, so it cannot abort the rest of a batch.

use oakallow_domain::Timestamp;
use oakallow_domain::id::OrgId;
use oakallow_domain::token::Algorithm;
use oakallow_store::{ExecutionRecord, StoreError, StoreResult, StoredSigningKey, TokenRecord, exact_i64};
use sqlx::{AssertSqlSafe, PgConnection, PgPool};

use crate::error::map_error;
use crate::rows;
use crate::runtime_rows::{self, SIGNING_KEY_COLUMNS, TOKEN_COLUMNS};

// ----- signing keys -----------------------------------------------------------------------------

/// The org's key of `algorithm`.
pub(crate) async fn signing_key(pool: &PgPool, org: OrgId, algorithm: Algorithm) -> StoreResult<Option<StoredSigningKey>> {
    let sql = format!("SELECT {SIGNING_KEY_COLUMNS} FROM signing_keys WHERE org_id = $1 AND algorithm = $2");
    let found =
        sqlx::query(AssertSqlSafe(sql)).bind(org.to_string()).bind(algorithm.as_str()).fetch_optional(pool).await.map_err(map_error)?;
    found.as_ref().map(runtime_rows::signing_key).transpose().map_err(map_error)
}

/// The org's key with this key id.
pub(crate) async fn signing_key_by_kid(pool: &PgPool, org: OrgId, kid: &str) -> StoreResult<Option<StoredSigningKey>> {
    let sql = format!("SELECT {SIGNING_KEY_COLUMNS} FROM signing_keys WHERE org_id = $1 AND kid = $2");
    let found = sqlx::query(AssertSqlSafe(sql)).bind(org.to_string()).bind(kid).fetch_optional(pool).await.map_err(map_error)?;
    found.as_ref().map(runtime_rows::signing_key).transpose().map_err(map_error)
}

/// Stores `key` unless the org has a key of its algorithm, then reads the org's key of that
/// algorithm. A concurrent creator's insert makes this one wait and then do nothing, and the
/// read (a new snapshot) sees the key that was committed: every node answers the same key.
pub(crate) async fn add_signing_key(pool: &PgPool, key: &StoredSigningKey) -> StoreResult<StoredSigningKey> {
    sqlx::query(
        "INSERT INTO signing_keys (org_id, kid, algorithm, secret, created_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (org_id, algorithm) DO NOTHING",
    )
    .bind(key.org_id.to_string())
    .bind(&key.kid)
    .bind(key.algorithm.as_str())
    .bind(key.secret.as_slice())
    .bind(key.created_at.micros())
    .execute(pool)
    .await
    .map_err(map_error)?;
    // Only a concurrent removal could leave nothing here; keys are never removed.
    signing_key(pool, key.org_id, key.algorithm).await?.ok_or(StoreError::NotFound)
}

/// The org's Ed25519 keys, oldest first.
pub(crate) async fn ed25519_keys(pool: &PgPool, org: OrgId) -> StoreResult<Vec<StoredSigningKey>> {
    let sql = format!("SELECT {SIGNING_KEY_COLUMNS} FROM signing_keys WHERE org_id = $1 AND algorithm = $2 ORDER BY created_at, kid");
    let found =
        sqlx::query(AssertSqlSafe(sql)).bind(org.to_string()).bind(Algorithm::Ed25519.as_str()).fetch_all(pool).await.map_err(map_error)?;
    found.iter().map(runtime_rows::signing_key).collect::<Result<_, _>>().map_err(map_error)
}

// ----- tokens -----------------------------------------------------------------------------------

/// A token of the org.
pub(crate) async fn token(pool: &PgPool, org: OrgId, jti: &str) -> StoreResult<Option<TokenRecord>> {
    let sql = format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE org_id = $1 AND jti = $2");
    let found = sqlx::query(AssertSqlSafe(sql)).bind(org.to_string()).bind(jti).fetch_optional(pool).await.map_err(map_error)?;
    found.as_ref().map(runtime_rows::token).transpose().map_err(map_error)
}

/// Whether the org logged an execution with this token.
pub(crate) async fn has_execution(pool: &PgPool, org: OrgId, jti: &str) -> StoreResult<bool> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM executions WHERE org_id = $1 AND token_jti = $2)")
        .bind(org.to_string())
        .bind(jti)
        .fetch_one(pool)
        .await
        .map_err(map_error)
}

/// Inserts tokens minted together with their checks, with one multi-row statement. Their
/// sources are new checks, so a conflict is a real error and fails the batch.
pub(crate) async fn insert_inline(conn: &mut PgConnection, tokens: &[&TokenRecord]) -> StoreResult<()> {
    if tokens.is_empty() {
        return Ok(());
    }
    let text = |value: fn(&TokenRecord) -> String| tokens.iter().map(|t| value(t)).collect::<Vec<_>>();
    let optional = |value: fn(&TokenRecord) -> Option<String>| tokens.iter().map(|t| value(t)).collect::<Vec<_>>();
    sqlx::query(
        "INSERT INTO tokens (jti, org_id, kid, src, tool, tenant, resource, method, params_sha256, issued_at, expires_at, consumed_at)
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
           $9::text[], $10::bigint[], $11::bigint[], $12::bigint[])",
    )
    .bind(text(|t| t.jti.clone()))
    .bind(text(|t| t.org_id.to_string()))
    .bind(text(|t| t.kid.clone()))
    .bind(text(|t| t.src.clone()))
    .bind(text(|t| t.tool.clone()))
    .bind(optional(|t| t.tenant.clone()))
    .bind(optional(|t| t.resource.clone()))
    .bind(optional(|t| t.method.clone()))
    .bind(text(|t| t.params_sha256.clone()))
    .bind(tokens.iter().map(|t| t.issued_at.micros()).collect::<Vec<_>>())
    .bind(tokens.iter().map(|t| t.expires_at.micros()).collect::<Vec<_>>())
    .bind(tokens.iter().map(|t| t.consumed_at.map(Timestamp::micros)).collect::<Vec<_>>())
    .execute(conn)
    .await
    .map_err(map_error)?;
    Ok(())
}

/// Inserts a token unless one was minted from its source before (or its id is taken); true if
/// it was inserted. A concurrent mint from the same source makes this one wait for its outcome.
pub(crate) async fn mint(conn: &mut PgConnection, token: &TokenRecord) -> StoreResult<bool> {
    let inserted = sqlx::query(
        "INSERT INTO tokens (jti, org_id, kid, src, tool, tenant, resource, method, params_sha256, issued_at, expires_at, consumed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT DO NOTHING",
    )
    .bind(&token.jti)
    .bind(token.org_id.to_string())
    .bind(&token.kid)
    .bind(&token.src)
    .bind(&token.tool)
    .bind(&token.tenant)
    .bind(&token.resource)
    .bind(&token.method)
    .bind(&token.params_sha256)
    .bind(token.issued_at.micros())
    .bind(token.expires_at.micros())
    .bind(token.consumed_at.map(Timestamp::micros))
    .execute(conn)
    .await
    .map_err(map_error)?;
    Ok(inserted.rows_affected() == 1)
}

/// Marks the org's token consumed at `at` unless it was before; true if this call did. The
/// update locks the row: concurrent consumers wait for the first to commit, then re-check
/// `consumed_at IS NULL` on the committed row and find nothing to do.
pub(crate) async fn consume(conn: &mut PgConnection, org: OrgId, jti: &str, at: Timestamp) -> StoreResult<bool> {
    let consumed = sqlx::query("UPDATE tokens SET consumed_at = $3 WHERE org_id = $1 AND jti = $2 AND consumed_at IS NULL")
        .bind(org.to_string())
        .bind(jti)
        .bind(at.micros())
        .execute(conn)
        .await
        .map_err(map_error)?;
    Ok(consumed.rows_affected() == 1)
}

// ----- executions -------------------------------------------------------------------------------

/// Logs an execution unless one was logged with its token before; true if it was. A logged
/// execution with a token consumes the token, unless something consumed it earlier.
pub(crate) async fn log_execution(conn: &mut PgConnection, execution: &ExecutionRecord) -> StoreResult<bool> {
    let inserted = sqlx::query(
        "INSERT INTO executions (id, org_id, tool, tenant, resource, method, params, result, duration_ms, output, error, token_jti,
           authorized, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
         ON CONFLICT (org_id, token_jti) WHERE token_jti IS NOT NULL DO NOTHING",
    )
    .bind(execution.id.to_string())
    .bind(execution.org_id.to_string())
    .bind(&execution.tool)
    .bind(&execution.tenant)
    .bind(&execution.resource)
    .bind(&execution.method)
    .bind(execution.params.as_ref().map(rows::to_json))
    .bind(&execution.result)
    .bind(exact_i64(execution.duration_ms, "duration_ms")?)
    .bind(execution.output.as_ref().map(rows::to_json))
    .bind(&execution.error)
    .bind(&execution.token_jti)
    .bind(execution.authorized)
    .bind(execution.created_at.micros())
    .execute(&mut *conn)
    .await
    .map_err(map_error)?;
    if inserted.rows_affected() != 1 {
        return Ok(false);
    }
    if let Some(jti) = &execution.token_jti {
        sqlx::query("UPDATE tokens SET consumed_at = coalesce(consumed_at, $3) WHERE org_id = $1 AND jti = $2")
            .bind(execution.org_id.to_string())
            .bind(jti)
            .bind(execution.created_at.micros())
            .execute(&mut *conn)
            .await
            .map_err(map_error)?;
    }
    Ok(true)
}
