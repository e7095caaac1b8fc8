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

#[cfg(test)]
mod tests {
    use super::*;

    /// An empty database migrated up to `version`.
    fn at_version(version: i64) -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)").unwrap();
        for (v, sql) in MIGRATIONS.iter().filter(|(v, _)| *v <= version) {
            conn.execute_batch(sql).unwrap();
            conn.execute("INSERT INTO schema_migrations (version, applied_at) VALUES (?1, 0)", [v]).unwrap();
        }
        conn
    }

    /// A database at version 5 with one account and its org.
    fn at_version_5() -> Connection {
        let conn = at_version(5);
        conn.execute_batch(
            "INSERT INTO accounts (id, email, created_at) VALUES ('acc_1', 'old@example.com', 7);
             INSERT INTO orgs (id, account_id, name, token_signing, redact_pii, created_at, updated_at)
             VALUES ('org_1', 'acc_1', 'old', 'hs256', 1, 8, 8);",
        )
        .unwrap();
        conn
    }

    #[test]
    fn existing_accounts_are_named_by_email_and_own_their_orgs() {
        let mut conn = at_version_5();
        assert_eq!(migrate(&mut conn).unwrap(), MIGRATIONS.len() - 5);
        let name: String = conn.query_row("SELECT name FROM accounts WHERE id = 'acc_1'", [], |row| row.get(0)).unwrap();
        assert_eq!(name, "old@example.com");
        let membership: (String, String, bool, bool, i64) = conn
            .query_row(
                "SELECT account_id, role, approves_level1, approves_level2, created_at FROM memberships WHERE org_id = 'org_1'",
                [],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?)),
            )
            .unwrap();
        assert_eq!(membership, ("acc_1".into(), "owner".into(), true, true, 8));
    }

    #[test]
    fn the_newest_migration_has_its_undo_for_upgrade_tests() {
        assert_eq!(oakallow_store::conformance::undo::newest(), MIGRATIONS.last().unwrap().0);
    }

    #[test]
    fn the_approvers_requirement_moves_into_the_org_settings() {
        let mut conn = at_version(12);
        conn.execute_batch(
            "INSERT INTO accounts (id, email, name, created_at) VALUES ('acc_1', 'a@example.com', 'A', 7);
             INSERT INTO orgs (id, account_id, name, token_signing, redact_pii, created_at, updated_at)
             VALUES ('org_on', 'acc_1', 'on', 'hs256', 1, 8, 8), ('org_off', 'acc_1', 'off', 'hs256', 1, 8, 8),
                    ('org_unset', 'acc_1', 'unset', 'hs256', 1, 8, 8);
             INSERT INTO org_second_factor_policy (org_id, required_for_approvers, updated_at)
             VALUES ('org_on', 1, 9), ('org_off', 0, 9);",
        )
        .unwrap();
        assert_eq!(migrate(&mut conn).unwrap(), MIGRATIONS.len() - 12);
        let mut statement = conn.prepare("SELECT id, require_second_factor_for_approvers FROM orgs ORDER BY id").unwrap();
        let orgs: Vec<(String, bool)> =
            statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?))).unwrap().map(Result::unwrap).collect();
        assert_eq!(orgs, vec![("org_off".into(), false), ("org_on".into(), true), ("org_unset".into(), false)]);
        let left: i64 =
            conn.query_row("SELECT count(*) FROM sqlite_master WHERE name = 'org_second_factor_policy'", [], |row| row.get(0)).unwrap();
        assert_eq!(left, 0, "the old table is gone");
    }
}
