//! Invitations on PostgreSQL: created by an admin, used once (or withdrawn) by their digest.
//! Two people racing to use one link are settled by the conditional update in [`accept`]: the
//! second waits for the first's row lock, then finds the invitation used.

use oakallow_domain::Timestamp;
use oakallow_domain::account::{Invite, Membership};
use oakallow_domain::id::{AccountId, InviteId, OrgId};
use oakallow_store::{StoreError, StoreResult};
use sqlx::{AssertSqlSafe, PgPool};

use super::rows::{self, INVITE_COLUMNS, MEMBERSHIP_COLUMNS};
use crate::error::map_error;

/// Joins the org, or, for a member already, keeps the higher of the two roles and every
/// approver group either grants. Parameters: org, account, role, level 1, level 2, now.
const JOIN_KEEPING_MORE: &str = "
    INSERT INTO memberships (org_id, account_id, role, approves_level1, approves_level2, created_at)
    VALUES ($1, $2, $3, $4, $5, $6)
    ON CONFLICT (org_id, account_id) DO UPDATE SET
      role = CASE
               WHEN (CASE excluded.role WHEN 'owner' THEN 2 WHEN 'admin' THEN 1 ELSE 0 END)
                  > (CASE memberships.role WHEN 'owner' THEN 2 WHEN 'admin' THEN 1 ELSE 0 END)
               THEN excluded.role ELSE memberships.role
             END,
      approves_level1 = memberships.approves_level1 OR excluded.approves_level1,
      approves_level2 = memberships.approves_level2 OR excluded.approves_level2";

pub(super) async fn create(pool: &PgPool, i: &Invite) -> StoreResult<()> {
    let sql = format!("INSERT INTO invites ({INVITE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)");
    sqlx::query(AssertSqlSafe(sql))
        .bind(i.id.to_string())
        .bind(i.digest.as_slice())
        .bind(i.org_id.to_string())
        .bind(i.role.as_str())
        .bind(i.approver.level1)
        .bind(i.approver.level2)
        .bind(i.created_by.to_string())
        .bind(i.created_at.micros())
        .bind(i.expires_at.micros())
        .bind(i.used_at.map(Timestamp::micros))
        .bind(i.used_by.map(|id| id.to_string()))
        .execute(pool)
        .await
        .map_err(map_error)?;
    Ok(())
}

/// The org's unused, unexpired invitations, newest first.
pub(super) async fn open(pool: &PgPool, org: OrgId, now: Timestamp) -> StoreResult<Vec<Invite>> {
    let sql = format!(
        "SELECT {INVITE_COLUMNS} FROM invites WHERE org_id = $1 AND used_at IS NULL AND expires_at > $2
         ORDER BY created_at DESC, id DESC"
    );
    let found = sqlx::query(AssertSqlSafe(sql)).bind(org.to_string()).bind(now.micros()).fetch_all(pool).await.map_err(map_error)?;
    found.iter().map(rows::invite).collect::<Result<_, _>>().map_err(map_error)
}

pub(super) async fn by_digest(pool: &PgPool, digest: &[u8; 32]) -> StoreResult<Option<Invite>> {
    let sql = format!("SELECT {INVITE_COLUMNS} FROM invites WHERE digest = $1");
    let found = sqlx::query(AssertSqlSafe(sql)).bind(digest.as_slice()).fetch_optional(pool).await.map_err(map_error)?;
    found.as_ref().map(rows::invite).transpose().map_err(map_error)
}

/// Marks the invitation used by `account` if it still works, and makes the account a member.
pub(super) async fn accept(pool: &PgPool, digest: &[u8; 32], account: AccountId, now: Timestamp) -> StoreResult<Option<Membership>> {
    let mut tx = pool.begin().await.map_err(map_error)?;
    let grant: Option<(String, String, bool, bool)> = sqlx::query_as(
        "UPDATE invites SET used_at = $3, used_by = $2 WHERE digest = $1 AND used_at IS NULL AND expires_at > $3
         RETURNING org_id, role, approves_level1, approves_level2",
    )
    .bind(digest.as_slice())
    .bind(account.to_string())
    .bind(now.micros())
    .fetch_optional(&mut *tx)
    .await
    .map_err(map_error)?;
    let Some((org, role, level1, level2)) = grant else {
        return Ok(None);
    };
    let row = sqlx::query(AssertSqlSafe(format!("{JOIN_KEEPING_MORE} RETURNING {MEMBERSHIP_COLUMNS}")))
        .bind(org)
        .bind(account.to_string())
        .bind(role)
        .bind(level1)
        .bind(level2)
        .bind(now.micros())
        .fetch_one(&mut *tx)
        .await
        .map_err(map_error)?;
    let membership = rows::membership(&row).map_err(map_error)?;
    tx.commit().await.map_err(map_error)?;
    Ok(Some(membership))
}

/// Marks an unused invitation of the org used by nobody.
pub(super) async fn withdraw(pool: &PgPool, org: OrgId, id: InviteId, now: Timestamp) -> StoreResult<()> {
    let changed = sqlx::query("UPDATE invites SET used_at = $3 WHERE org_id = $1 AND id = $2 AND used_at IS NULL")
        .bind(org.to_string())
        .bind(id.to_string())
        .bind(now.micros())
        .execute(pool)
        .await
        .map_err(map_error)?;
    if changed.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}
