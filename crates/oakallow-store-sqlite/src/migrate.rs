//! Schema migrations, embedded in the binary and applied in order at start, each in its own
//! transaction, recorded in `schema_migrations`.

use oakallow_store::StoreResult;
use rusqlite::Connection;

use crate::conn::map_error;

/// `(version, sql)`, ascending.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_init.sql")),
    (2, include_str!("../migrations/0002_runtime.sql")),
    (3, include_str!("../migrations/0003_billing.sql")),
    (4, include_str!("../migrations/0004_deciders.sql")),
    (5, include_str!("../migrations/0005_delivery_leases.sql")),
];

/// Brings the schema up to date; returns how many migrations ran.
pub(crate) fn migrate(conn: &mut Connection) -> StoreResult<usize> {
    conn.execute_batch("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)")
        .map_err(map_error)?;
    let current: i64 =
        conn.query_row("SELECT coalesce(max(version), 0) FROM schema_migrations", [], |row| row.get(0)).map_err(map_error)?;
    let mut applied = 0;
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        let tx = conn.transaction().map_err(map_error)?;
        tx.execute_batch(sql).map_err(map_error)?;
        tx.execute("INSERT INTO schema_migrations (version, applied_at) VALUES (?1, strftime('%s', 'now'))", [version])
            .map_err(map_error)?;
        tx.commit().map_err(map_error)?;
        applied += 1;
    }
    Ok(applied)
}
