//! Org memberships on PostgreSQL: who belongs to which org, with which role and approver groups.

use oakallow_domain::account::Membership;
use oakallow_domain::id::{AccountId, OrgId};
use oakallow_store::{Member, OrgMembership, StoreError, StoreResult};
use sqlx::{AssertSqlSafe, PgExecutor, PgPool};

use super::rows::{self, MEMBERSHIP_COLUMNS, membership_at, qualified, width};
use crate::error::map_error;
use crate::rows::{ACCOUNT_COLUMNS, ORG_COLUMNS};

/// Adds the member, or replaces their role and approver groups (keeping when they joined).
/// Also used by `create_org` for the owner, inside its transaction.
pub(crate) async fn put<'c>(conn: impl PgExecutor<'c>, m: &Membership) -> StoreResult<()> {
    let sql = format!(
        "INSERT INTO memberships ({MEMBERSHIP_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (org_id, account_id) DO UPDATE SET
           role = excluded.role, approves_level1 = excluded.approves_level1, approves_level2 = excluded.approves_level2"
    );
    sqlx::query(AssertSqlSafe(sql))
        .bind(m.org_id.to_string())
        .bind(m.account_id.to_string())
        .bind(m.role.as_str())
        .bind(m.approver.level1)
        .bind(m.approver.level2)
        .bind(m.created_at.micros())
        .execute(conn)
        .await
        .map_err(map_error)?;
    Ok(())
}

pub(super) async fn get(pool: &PgPool, org: OrgId, account: AccountId) -> StoreResult<Option<Membership>> {
    let sql = format!("SELECT {MEMBERSHIP_COLUMNS} FROM memberships WHERE org_id = $1 AND account_id = $2");
    let found =
        sqlx::query(AssertSqlSafe(sql)).bind(org.to_string()).bind(account.to_string()).fetch_optional(pool).await.map_err(map_error)?;
    found.as_ref().map(rows::membership).transpose().map_err(map_error)
}

/// The account's orgs, oldest membership first.
pub(super) async fn of_account(pool: &PgPool, account: AccountId) -> StoreResult<Vec<OrgMembership>> {
    let (o, m) = (qualified("o", ORG_COLUMNS), qualified("m", MEMBERSHIP_COLUMNS));
    let sql = format!(
        "SELECT {o}, {m} FROM memberships m JOIN orgs o ON o.id = m.org_id WHERE m.account_id = $1 ORDER BY m.created_at, m.org_id"
    );
    let found = sqlx::query(AssertSqlSafe(sql)).bind(account.to_string()).fetch_all(pool).await.map_err(map_error)?;
    let after_org = width(ORG_COLUMNS);
    found
        .iter()
        .map(|row| Ok(OrgMembership { org: crate::rows::org(row)?, membership: membership_at(row, after_org)? }))
        .collect::<Result<_, sqlx::Error>>()
        .map_err(map_error)
}

/// The org's members with their accounts, oldest first.
pub(super) async fn of_org(pool: &PgPool, org: OrgId) -> StoreResult<Vec<Member>> {
    let (a, m) = (qualified("a", ACCOUNT_COLUMNS), qualified("m", MEMBERSHIP_COLUMNS));
    let sql = format!(
        "SELECT {a}, {m} FROM memberships m JOIN accounts a ON a.id = m.account_id WHERE m.org_id = $1
         ORDER BY m.created_at, m.account_id"
    );
    let found = sqlx::query(AssertSqlSafe(sql)).bind(org.to_string()).fetch_all(pool).await.map_err(map_error)?;
    let after_account = width(ACCOUNT_COLUMNS);
    found
        .iter()
        .map(|row| Ok(Member { account: crate::rows::account(row)?, membership: membership_at(row, after_account)? }))
        .collect::<Result<_, sqlx::Error>>()
        .map_err(map_error)
}

pub(super) async fn remove(pool: &PgPool, org: OrgId, account: AccountId) -> StoreResult<()> {
    let removed = sqlx::query("DELETE FROM memberships WHERE org_id = $1 AND account_id = $2")
        .bind(org.to_string())
        .bind(account.to_string())
        .execute(pool)
        .await
        .map_err(map_error)?;
    if removed.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}
