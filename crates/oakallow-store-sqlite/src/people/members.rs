//! Org memberships on SQLite: who belongs to which org, with which role and approver groups.

use oakallow_domain::account::Membership;
use oakallow_domain::id::{AccountId, OrgId};
use oakallow_store::{Member, OrgMembership, StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension, params};

use super::rows::{self, MEMBERSHIP_COLUMNS, membership_at, qualified, width};
use crate::conn::map_error;
use crate::rows::{ACCOUNT_COLUMNS, ORG_COLUMNS};

/// Adds the member, or replaces their role and approver groups (keeping when they joined).
/// Also used by `create_org` for the owner, inside its transaction.
pub(crate) fn put(conn: &Connection, m: &Membership) -> StoreResult<()> {
    conn.execute(
        &format!(
            "INSERT INTO memberships ({MEMBERSHIP_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (org_id, account_id) DO UPDATE SET
               role = excluded.role, approves_level1 = excluded.approves_level1, approves_level2 = excluded.approves_level2"
        ),
        params![
            m.org_id.to_string(),
            m.account_id.to_string(),
            m.role.as_str(),
            m.approver.level1,
            m.approver.level2,
            m.created_at.micros()
        ],
    )
    .map_err(map_error)?;
    Ok(())
}

pub(super) fn get(conn: &Connection, org: OrgId, account: AccountId) -> StoreResult<Option<Membership>> {
    conn.query_row(
        &format!("SELECT {MEMBERSHIP_COLUMNS} FROM memberships WHERE org_id = ?1 AND account_id = ?2"),
        [org.to_string(), account.to_string()],
        rows::membership,
    )
    .optional()
    .map_err(map_error)
}

/// The account's orgs, oldest membership first.
pub(super) fn of_account(conn: &Connection, account: AccountId) -> StoreResult<Vec<OrgMembership>> {
    let (o, m) = (qualified("o", ORG_COLUMNS), qualified("m", MEMBERSHIP_COLUMNS));
    let mut statement = conn
        .prepare(&format!(
            "SELECT {o}, {m} FROM memberships m JOIN orgs o ON o.id = m.org_id WHERE m.account_id = ?1 ORDER BY m.created_at, m.org_id"
        ))
        .map_err(map_error)?;
    let after_org = width(ORG_COLUMNS);
    let found = statement
        .query_map([account.to_string()], |row| {
            Ok(OrgMembership { org: crate::rows::org(row)?, membership: membership_at(row, after_org)? })
        })
        .map_err(map_error)?;
    found.collect::<Result<_, _>>().map_err(map_error)
}

/// The org's members with their accounts, oldest first.
pub(super) fn of_org(conn: &Connection, org: OrgId) -> StoreResult<Vec<Member>> {
    let (a, m) = (qualified("a", ACCOUNT_COLUMNS), qualified("m", MEMBERSHIP_COLUMNS));
    let mut statement = conn
        .prepare(&format!(
            "SELECT {a}, {m} FROM memberships m JOIN accounts a ON a.id = m.account_id WHERE m.org_id = ?1
             ORDER BY m.created_at, m.account_id"
        ))
        .map_err(map_error)?;
    let after_account = width(ACCOUNT_COLUMNS);
    let found = statement
        .query_map([org.to_string()], |row| {
            Ok(Member { account: crate::rows::account(row)?, membership: membership_at(row, after_account)? })
        })
        .map_err(map_error)?;
    found.collect::<Result<_, _>>().map_err(map_error)
}

pub(super) fn remove(conn: &Connection, org: OrgId, account: AccountId) -> StoreResult<()> {
    let removed = conn
        .execute("DELETE FROM memberships WHERE org_id = ?1 AND account_id = ?2", [org.to_string(), account.to_string()])
        .map_err(map_error)?;
    if removed == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}
