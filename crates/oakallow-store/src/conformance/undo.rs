//! SQL that undoes the schema migrations, newest first, for upgrade tests: a test takes a fresh
//! database back to an older version, writes rows as that version would, and migrates again.
//! The statements are the same on SQLite and PostgreSQL. A new migration adds its undo here.

/// For each version, the statements that undo it (after which its `schema_migrations` row is
/// deleted too).
const UNDO: &[(i64, &[&str])] = &[
    (
        14,
        &[
            "ALTER TABLE webhook_deliveries DROP COLUMN channel",
            "DROP TABLE slack_messages",
            "DROP TABLE slack_links",
            "DROP TABLE notification_channels",
        ],
    ),
    (13, &["ALTER TABLE orgs DROP COLUMN require_second_factor_for_approvers"]),
    (12, &["DROP TABLE passkey_ceremonies", "DROP TABLE passkeys"]),
    (
        11,
        &[
            // Version 13 folded this table into the orgs; a database taken back from 13 lacks it.
            "DROP TABLE IF EXISTS org_second_factor_policy",
            "DROP TABLE session_second_factors",
            "DROP TABLE pending_sign_ins",
            "DROP TABLE recovery_codes",
            "DROP TABLE totp_factors",
        ],
    ),
    (10, &["DROP TABLE email_codes"]),
    (9, &["ALTER TABLE accounts DROP COLUMN disabled_at", "ALTER TABLE accounts DROP COLUMN deleted_at"]),
    (8, &["DROP TABLE purchases"]),
    (
        7,
        &[
            "DROP INDEX webhook_deliveries_org_due",
            "DROP INDEX webhook_deliveries_leased",
            "CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at, id) WHERE status = 'pending'",
        ],
    ),
    (
        6,
        &[
            "DROP TABLE sign_in_failures",
            "DROP TABLE invites",
            "DROP TABLE memberships",
            "DROP TABLE sessions",
            "DROP TABLE instance_operator",
            "ALTER TABLE accounts DROP COLUMN name",
        ],
    ),
    (5, &["ALTER TABLE webhook_deliveries DROP COLUMN lease_id"]),
    (4, &["ALTER TABLE approval_decisions DROP COLUMN decider_kind", "ALTER TABLE approval_decisions DROP COLUMN decider_id"]),
];

/// The statements that take a database at the newest version back to just before `version`
/// (undoing `version` and everything after it), in the order to run them.
///
/// # Panics
/// If `version` is not one this list can undo down to.
pub fn undo_down_to(version: i64) -> Vec<String> {
    assert!(UNDO.iter().any(|(v, _)| *v == version), "no undo for version {version}");
    UNDO.iter()
        .take_while(|(v, _)| *v >= version)
        .flat_map(|(v, statements)| {
            statements.iter().map(|s| (*s).to_owned()).chain([format!("DELETE FROM schema_migrations WHERE version = {v}")])
        })
        .collect()
}

/// The newest version this list undoes; a test checks it is the newest migration, so a new
/// migration cannot be added without its undo.
pub fn newest() -> i64 {
    UNDO[0].0
}
