//! People on PostgreSQL: accounts' passwords, the instance operator, dashboard sessions, org
//! memberships, invitations and failed sign-ins ([`AccountStore`]), each method one statement
//! or one transaction on the pool.

mod invites;
mod lifecycle;
pub(crate) mod members;
mod rows;
mod sessions;
mod sign_in;

use async_trait::async_trait;
use oakallow_domain::Timestamp;
use oakallow_domain::account::{Invite, Membership, Session};
use oakallow_domain::id::{AccountId, InviteId, OrgId, SessionId};
use oakallow_domain::org::Account;
use oakallow_store::{AccountStore, Member, OrgMembership, StoreResult};

use crate::PostgresStore;

#[async_trait]
impl AccountStore for PostgresStore {
    async fn account(&self, id: AccountId) -> StoreResult<Option<Account>> {
        sign_in::account(&self.pool, id).await
    }

    async fn accounts(&self, after: Option<AccountId>, limit: u32) -> StoreResult<Vec<Account>> {
        sign_in::accounts(&self.pool, after, limit).await
    }

    async fn claim_operator(&self, account: AccountId) -> StoreResult<bool> {
        sign_in::claim_operator(&self.pool, account).await
    }

    async fn operator(&self) -> StoreResult<Option<AccountId>> {
        sign_in::operator(&self.pool).await
    }

    async fn password_hash(&self, account: AccountId) -> StoreResult<Option<String>> {
        sign_in::password_hash(&self.pool, account).await
    }

    async fn set_password_hash(&self, account: AccountId, hash: &str, now: Timestamp) -> StoreResult<()> {
        sign_in::set_password_hash(&self.pool, account, hash, now).await
    }

    async fn create_session(&self, session: &Session) -> StoreResult<()> {
        sessions::create(&self.pool, session).await
    }

    async fn session_by_digest(&self, digest: &[u8; 32]) -> StoreResult<Option<Session>> {
        sessions::by_digest(&self.pool, digest).await
    }

    async fn live_sessions(&self, account: AccountId, now: Timestamp) -> StoreResult<Vec<Session>> {
        sessions::live(&self.pool, account, now).await
    }

    async fn revoke_session(&self, account: AccountId, id: SessionId, now: Timestamp) -> StoreResult<()> {
        sessions::revoke(&self.pool, account, id, now).await
    }

    async fn membership(&self, org: OrgId, account: AccountId) -> StoreResult<Option<Membership>> {
        members::get(&self.pool, org, account).await
    }

    async fn memberships_of_account(&self, account: AccountId) -> StoreResult<Vec<OrgMembership>> {
        members::of_account(&self.pool, account).await
    }

    async fn members(&self, org: OrgId) -> StoreResult<Vec<Member>> {
        members::of_org(&self.pool, org).await
    }

    async fn put_membership(&self, membership: &Membership) -> StoreResult<()> {
        members::put(&self.pool, membership).await
    }

    async fn remove_membership(&self, org: OrgId, account: AccountId) -> StoreResult<()> {
        members::remove(&self.pool, org, account).await
    }

    async fn create_invite(&self, invite: &Invite) -> StoreResult<()> {
        invites::create(&self.pool, invite).await
    }

    async fn open_invites(&self, org: OrgId, now: Timestamp) -> StoreResult<Vec<Invite>> {
        invites::open(&self.pool, org, now).await
    }

    async fn invite_by_digest(&self, digest: &[u8; 32]) -> StoreResult<Option<Invite>> {
        invites::by_digest(&self.pool, digest).await
    }

    async fn accept_invite(&self, digest: &[u8; 32], account: AccountId, now: Timestamp) -> StoreResult<Option<Membership>> {
        invites::accept(&self.pool, digest, account, now).await
    }

    async fn withdraw_invite(&self, org: OrgId, id: InviteId, now: Timestamp) -> StoreResult<()> {
        invites::withdraw(&self.pool, org, id, now).await
    }

    async fn record_sign_in_failure(&self, subjects: &[String], at: Timestamp, forget_before: Timestamp) -> StoreResult<()> {
        sign_in::record_failure(&self.pool, subjects, at, forget_before).await
    }

    async fn sign_in_failures(&self, subject: &str, since: Timestamp) -> StoreResult<u64> {
        sign_in::failures(&self.pool, subject, since).await
    }
}
