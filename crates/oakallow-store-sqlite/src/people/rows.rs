//! Reading sessions, memberships and invitations out of SQLite rows.

use oakallow_domain::account::{ApproverLevels, Invite, Membership, Role, Session};
use rusqlite::Row;

use crate::rows::{invalid, named, parsed, parsed_opt, time, time_opt};

/// `columns` (a comma-separated list) qualified by a table alias, for joins.
pub(super) fn qualified(alias: &str, columns: &str) -> String {
    columns.split(", ").map(|column| format!("{alias}.{column}")).collect::<Vec<_>>().join(", ")
}

/// How many columns a comma-separated list names (where a joined table's columns start).
pub(super) fn width(columns: &str) -> usize {
    columns.split(", ").count()
}

/// A 32-byte digest column.
fn digest(row: &Row<'_>, idx: usize) -> rusqlite::Result<[u8; 32]> {
    let bytes: Vec<u8> = row.get(idx)?;
    bytes.try_into().map_err(|_| invalid(idx, "digest"))
}

pub(super) const SESSION_COLUMNS: &str = "id, digest, account_id, created_at, expires_at, revoked_at";

pub(super) fn session(row: &Row<'_>) -> rusqlite::Result<Session> {
    Ok(Session {
        id: parsed(row, 0)?,
        digest: digest(row, 1)?,
        account_id: parsed(row, 2)?,
        created_at: time(row, 3)?,
        expires_at: time(row, 4)?,
        revoked_at: time_opt(row, 5)?,
    })
}

pub(super) const MEMBERSHIP_COLUMNS: &str = "org_id, account_id, role, approves_level1, approves_level2, created_at";

/// A membership whose columns start at `at` (after those of a joined table).
pub(super) fn membership_at(row: &Row<'_>, at: usize) -> rusqlite::Result<Membership> {
    Ok(Membership {
        org_id: parsed(row, at)?,
        account_id: parsed(row, at + 1)?,
        role: named(row, at + 2, Role::parse)?,
        approver: ApproverLevels { level1: row.get(at + 3)?, level2: row.get(at + 4)? },
        created_at: time(row, at + 5)?,
    })
}

pub(super) fn membership(row: &Row<'_>) -> rusqlite::Result<Membership> {
    membership_at(row, 0)
}

pub(super) const INVITE_COLUMNS: &str =
    "id, digest, org_id, role, approves_level1, approves_level2, created_by, created_at, expires_at, used_at, used_by";

pub(super) fn invite(row: &Row<'_>) -> rusqlite::Result<Invite> {
    Ok(Invite {
        id: parsed(row, 0)?,
        digest: digest(row, 1)?,
        org_id: parsed(row, 2)?,
        role: named(row, 3, Role::parse)?,
        approver: ApproverLevels { level1: row.get(4)?, level2: row.get(5)? },
        created_by: parsed(row, 6)?,
        created_at: time(row, 7)?,
        expires_at: time(row, 8)?,
        used_at: time_opt(row, 9)?,
        used_by: parsed_opt(row, 10)?,
    })
}
