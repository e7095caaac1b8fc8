//! Invitations on SQLite: created by an admin, used once (or withdrawn) by their digest.

use oakallow_domain::Timestamp;
use oakallow_domain::account::{Invite, Membership};
use oakallow_domain::id::{AccountId, InviteId, OrgId};
use oakallow_store::{StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension, params};

use super::rows::{self, INVITE_COLUMNS, MEMBERSHIP_COLUMNS};
use crate::conn::map_error;

/// Joins the org, or, for a member already, keeps the higher of the two roles and every
/// approver group either grants. Parameters: org, account, role, level 1, level 2, now.
const JOIN_KEEPING_MORE: &str = "
    INSERT INTO memberships (org_id, account_id, role, approves_level1, approves_level2, created_at)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6)
    ON CONFLICT (org_id, account_id) DO UPDATE SET
      role = CASE
               WHEN (CASE excluded.role WHEN 'owner' THEN 2 WHEN 'admin' THEN 1 ELSE 0 END)
                  > (CASE memberships.role WHEN 'owner' THEN 2 WHEN 'admin' THEN 1 ELSE 0 END)
               THEN excluded.role ELSE memberships.role
             END,
      approves_level1 = memberships.approves_level1 OR excluded.approves_level1,
      approves_level2 = memberships.approves_level2 OR excluded.approves_level2";

pub(super) fn create(conn: &Connection, i: &Invite) -> StoreResult<()> {
    conn.execute(
        &format!("INSERT INTO invites ({INVITE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"),
        params![
            i.id.to_string(),
            i.digest.as_slice(),
            i.org_id.to_string(),
            i.role.as_str(),
            i.approver.level1,
            i.approver.level2,
            i.created_by.to_string(),
            i.created_at.micros(),
            i.expires_at.micros(),
            i.used_at.map(Timestamp::micros),
            i.used_by.map(|id| id.to_string())
        ],
    )
    .map_err(map_error)?;
    Ok(())
}

/// The org's unused, unexpired invitations, newest first.
pub(super) fn open(conn: &Connection, org: OrgId, now: Timestamp) -> StoreResult<Vec<Invite>> {
    let mut statement = conn
        .prepare(&format!(
            "SELECT {INVITE_COLUMNS} FROM invites WHERE org_id = ?1 AND used_at IS NULL AND expires_at > ?2
             ORDER BY created_at DESC, id DESC"
        ))
        .map_err(map_error)?;
    let invites = statement.query_map(params![org.to_string(), now.micros()], rows::invite).map_err(map_error)?;
    invites.collect::<Result<_, _>>().map_err(map_error)
}

pub(super) fn by_digest(conn: &Connection, digest: &[u8; 32]) -> StoreResult<Option<Invite>> {
    conn.query_row(&format!("SELECT {INVITE_COLUMNS} FROM invites WHERE digest = ?1"), [digest.as_slice()], rows::invite)
        .optional()
        .map_err(map_error)
}

/// Marks the invitation used by `account` if it still works, and makes the account a member.
pub(super) fn accept(conn: &mut Connection, digest: &[u8; 32], account: AccountId, now: Timestamp) -> StoreResult<Option<Membership>> {
    let tx = conn.transaction().map_err(map_error)?;
    let grant: Option<(String, String, bool, bool)> = tx
        .query_row(
            "UPDATE invites SET used_at = ?3, used_by = ?2 WHERE digest = ?1 AND used_at IS NULL AND expires_at > ?3
             RETURNING org_id, role, approves_level1, approves_level2",
            params![digest.as_slice(), account.to_string(), now.micros()],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
        )
        .optional()
        .map_err(map_error)?;
    let Some((org, role, level1, level2)) = grant else {
        return Ok(None);
    };
    let membership = tx
        .query_row(
            &format!("{JOIN_KEEPING_MORE} RETURNING {MEMBERSHIP_COLUMNS}"),
            params![org, account.to_string(), role, level1, level2, now.micros()],
            rows::membership,
        )
        .map_err(map_error)?;
    tx.commit().map_err(map_error)?;
    Ok(Some(membership))
}

/// Marks an unused invitation of the org used by nobody.
pub(super) fn withdraw(conn: &Connection, org: OrgId, id: InviteId, now: Timestamp) -> StoreResult<()> {
    let changed = conn
        .execute(
            "UPDATE invites SET used_at = ?3 WHERE org_id = ?1 AND id = ?2 AND used_at IS NULL",
            params![org.to_string(), id.to_string(), now.micros()],
        )
        .map_err(map_error)?;
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}
