//! The hooked store's people side: every [`AccountStore`] call goes straight to the real store.

use async_trait::async_trait;
use oakallow_domain::Timestamp;
use oakallow_domain::account::{Invite, Membership, Session};
use oakallow_domain::id::{AccountId, InviteId, OrgId, SessionId};
use oakallow_domain::org::Account;
use oakallow_store::{AccountLifecycleStore, AccountStatus, AccountStore, Member, OrgMembership, StoreResult};

use super::HookedStore;

#[async_trait]
impl AccountStore for HookedStore {
    async fn account(&self, id: AccountId) -> StoreResult<Option<Account>> {
        self.inner.account(id).await
    }

    async fn accounts(&self, after: Option<AccountId>, limit: u32) -> StoreResult<Vec<Account>> {
        self.inner.accounts(after, limit).await
    }

    async fn claim_operator(&self, account: AccountId) -> StoreResult<bool> {
        self.inner.claim_operator(account).await
    }

    async fn operator(&self) -> StoreResult<Option<AccountId>> {
        self.inner.operator().await
    }

    async fn password_hash(&self, account: AccountId) -> StoreResult<Option<String>> {
        self.inner.password_hash(account).await
    }

    async fn set_password_hash(&self, account: AccountId, hash: &str, now: Timestamp) -> StoreResult<()> {
        self.inner.set_password_hash(account, hash, now).await
    }

    async fn create_session(&self, session: &Session) -> StoreResult<()> {
        self.inner.create_session(session).await
    }

    async fn session_by_digest(&self, digest: &[u8; 32]) -> StoreResult<Option<Session>> {
        self.inner.session_by_digest(digest).await
    }

    async fn live_sessions(&self, account: AccountId, now: Timestamp) -> StoreResult<Vec<Session>> {
        self.inner.live_sessions(account, now).await
    }

    async fn revoke_session(&self, account: AccountId, id: SessionId, now: Timestamp) -> StoreResult<()> {
        self.inner.revoke_session(account, id, now).await
    }

    async fn membership(&self, org: OrgId, account: AccountId) -> StoreResult<Option<Membership>> {
        self.inner.membership(org, account).await
    }

    async fn memberships_of_account(&self, account: AccountId) -> StoreResult<Vec<OrgMembership>> {
        self.inner.memberships_of_account(account).await
    }

    async fn members(&self, org: OrgId) -> StoreResult<Vec<Member>> {
        self.inner.members(org).await
    }

    async fn put_membership(&self, membership: &Membership) -> StoreResult<()> {
        self.inner.put_membership(membership).await
    }

    async fn remove_membership(&self, org: OrgId, account: AccountId) -> StoreResult<()> {
        self.inner.remove_membership(org, account).await
    }

    async fn create_invite(&self, invite: &Invite) -> StoreResult<()> {
        self.inner.create_invite(invite).await
    }

    async fn open_invites(&self, org: OrgId, now: Timestamp) -> StoreResult<Vec<Invite>> {
        self.inner.open_invites(org, now).await
    }

    async fn invite_by_digest(&self, digest: &[u8; 32]) -> StoreResult<Option<Invite>> {
        self.inner.invite_by_digest(digest).await
    }

    async fn accept_invite(&self, digest: &[u8; 32], account: AccountId, now: Timestamp) -> StoreResult<Option<Membership>> {
        self.inner.accept_invite(digest, account, now).await
    }

    async fn withdraw_invite(&self, org: OrgId, id: InviteId, now: Timestamp) -> StoreResult<()> {
        self.inner.withdraw_invite(org, id, now).await
    }

    async fn record_sign_in_failure(&self, subjects: &[String], at: Timestamp, forget_before: Timestamp) -> StoreResult<()> {
        self.inner.record_sign_in_failure(subjects, at, forget_before).await
    }

    async fn sign_in_failures(&self, subject: &str, since: Timestamp) -> StoreResult<u64> {
        self.inner.sign_in_failures(subject, since).await
    }
}

#[async_trait]
impl AccountLifecycleStore for HookedStore {
    async fn account_status(&self, account: AccountId) -> StoreResult<Option<AccountStatus>> {
        self.inner.account_status(account).await
    }

    async fn disable_account(&self, account: AccountId, now: Timestamp) -> StoreResult<()> {
        self.inner.disable_account(account, now).await
    }

    async fn enable_account(&self, account: AccountId) -> StoreResult<()> {
        self.inner.enable_account(account).await
    }

    async fn erase_account(&self, account: AccountId, forget: &[String], now: Timestamp) -> StoreResult<()> {
        self.inner.erase_account(account, forget, now).await
    }
}
