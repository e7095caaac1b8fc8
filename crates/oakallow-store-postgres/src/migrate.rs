//! Schema migrations, embedded in the binary and applied in order at connect, each in its own
//! transaction, recorded in `schema_migrations`. Several nodes may start at once against the
//! same database: each migration first takes a transaction-scoped advisory lock and re-reads
//! the applied version, so exactly one node applies it and the others see it done.

use oakallow_store::StoreResult;
use sqlx::{PgConnection, PgPool};

use crate::error::map_error;

/// `(version, sql)`, ascending.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_init.sql")),
    (2, include_str!("../migrations/0002_runtime.sql")),
    (3, include_str!("../migrations/0003_billing.sql")),
    (4, include_str!("../migrations/0004_deciders.sql")),
    (5, include_str!("../migrations/0005_delivery_leases.sql")),
    (6, include_str!("../migrations/0006_accounts.sql")),
    (7, include_str!("../migrations/0007_delivery_claims.sql")),
    (8, include_str!("../migrations/0008_purchases.sql")),
    (9, include_str!("../migrations/0009_account_lifecycle.sql")),
    (10, include_str!("../migrations/0010_email_codes.sql")),
    (11, include_str!("../migrations/0011_second_factors.sql")),
    (12, include_str!("../migrations/0012_passkeys.sql")),
    (13, include_str!("../migrations/0013_approvers_second_factor.sql")),
    (14, include_str!("../migrations/0014_notifications.sql")),
];

/// The advisory lock key that serializes migrations (the bytes of `oakallow`). It is
/// database-wide, so migrations of different schemas in one database also wait for each other.
const MIGRATION_LOCK: i64 = 0x6f61_6b61_6c6c_6f77;

/// Brings the schema up to date; returns how many migrations this call applied.
pub(crate) async fn migrate(pool: &PgPool) -> StoreResult<usize> {
    let mut conn = pool.acquire().await.map_err(map_error)?;
    let current = applied_version(&mut conn).await?;
    let mut applied = 0;
    for &(version, sql) in MIGRATIONS.iter().filter(|(version, _)| *version > current) {
        if apply(&mut conn, version, sql).await? {
            applied += 1;
        }
    }
    Ok(applied)
}

/// The newest applied version; 0 before the first migration (no `schema_migrations` yet).
async fn applied_version(conn: &mut PgConnection) -> StoreResult<i64> {
    let exists: bool =
        sqlx::query_scalar("SELECT to_regclass('schema_migrations') IS NOT NULL").fetch_one(&mut *conn).await.map_err(map_error)?;
    if !exists {
        return Ok(0);
    }
    sqlx::query_scalar("SELECT coalesce(max(version), 0) FROM schema_migrations").fetch_one(&mut *conn).await.map_err(map_error)
}

/// Applies one migration under the lock unless another node did first; true if this call did.
async fn apply(conn: &mut PgConnection, version: i64, sql: &'static str) -> StoreResult<bool> {
    let mut tx = sqlx::Connection::begin(&mut *conn).await.map_err(map_error)?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(MIGRATION_LOCK).execute(&mut *tx).await.map_err(map_error)?;
    sqlx::raw_sql("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)")
        .execute(&mut *tx)
        .await
        .map_err(map_error)?;
    if applied_version(&mut tx).await? >= version {
        // Another node applied it while this one waited for the lock.
        tx.commit().await.map_err(map_error)?;
        return Ok(false);
    }
    sqlx::raw_sql(sql).execute(&mut *tx).await.map_err(map_error)?;
    sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, extract(epoch FROM now())::bigint)")
        .bind(version)
        .execute(&mut *tx)
        .await
        .map_err(map_error)?;
    tx.commit().await.map_err(map_error)?;
    Ok(true)
}
