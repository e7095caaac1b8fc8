//! People on SQLite: accounts' passwords, the instance operator, dashboard sessions, org
//! memberships, invitations and failed sign-ins ([`AccountStore`]). Writes go to the writer
//! thread, reads to the reader pool, as for everything else.

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

use crate::SqliteStore;

#[async_trait]
impl AccountStore for SqliteStore {
    async fn account(&self, id: AccountId) -> StoreResult<Option<Account>> {
        self.readers.run(move |conn| sign_in::account(conn, id)).await
    }

    async fn accounts(&self, after: Option<AccountId>, limit: u32) -> StoreResult<Vec<Account>> {
        self.readers.run(move |conn| sign_in::accounts(conn, after, limit)).await
    }

    async fn claim_operator(&self, account: AccountId) -> StoreResult<bool> {
        self.writer.run(move |conn| sign_in::claim_operator(conn, account)).await
    }

    async fn operator(&self) -> StoreResult<Option<AccountId>> {
        self.readers.run(|conn| sign_in::operator(conn)).await
    }

    async fn password_hash(&self, account: AccountId) -> StoreResult<Option<String>> {
        self.readers.run(move |conn| sign_in::password_hash(conn, account)).await
    }

    async fn set_password_hash(&self, account: AccountId, hash: &str, now: Timestamp) -> StoreResult<()> {
        let hash = hash.to_owned();
        self.writer.run(move |conn| sign_in::set_password_hash(conn, account, &hash, now)).await
    }

    async fn create_session(&self, session: &Session) -> StoreResult<()> {
        let session = session.clone();
        self.writer.run(move |conn| sessions::create(conn, &session)).await
    }

    async fn session_by_digest(&self, digest: &[u8; 32]) -> StoreResult<Option<Session>> {
        let digest = *digest;
        self.readers.run(move |conn| sessions::by_digest(conn, &digest)).await
    }

    async fn live_sessions(&self, account: AccountId, now: Timestamp) -> StoreResult<Vec<Session>> {
        self.readers.run(move |conn| sessions::live(conn, account, now)).await
    }

    async fn revoke_session(&self, account: AccountId, id: SessionId, now: Timestamp) -> StoreResult<()> {
        self.writer.run(move |conn| sessions::revoke(conn, account, id, now)).await
    }

    async fn membership(&self, org: OrgId, account: AccountId) -> StoreResult<Option<Membership>> {
        self.readers.run(move |conn| members::get(conn, org, account)).await
    }

    async fn memberships_of_account(&self, account: AccountId) -> StoreResult<Vec<OrgMembership>> {
        self.readers.run(move |conn| members::of_account(conn, account)).await
    }

    async fn members(&self, org: OrgId) -> StoreResult<Vec<Member>> {
        self.readers.run(move |conn| members::of_org(conn, org)).await
    }

    async fn put_membership(&self, membership: &Membership) -> StoreResult<()> {
        let membership = membership.clone();
        self.writer.run(move |conn| members::put(conn, &membership)).await
    }

    async fn remove_membership(&self, org: OrgId, account: AccountId) -> StoreResult<()> {
        self.writer.run(move |conn| members::remove(conn, org, account)).await
    }

    async fn create_invite(&self, invite: &Invite) -> StoreResult<()> {
        let invite = invite.clone();
        self.writer.run(move |conn| invites::create(conn, &invite)).await
    }

    async fn open_invites(&self, org: OrgId, now: Timestamp) -> StoreResult<Vec<Invite>> {
        self.readers.run(move |conn| invites::open(conn, org, now)).await
    }

    async fn invite_by_digest(&self, digest: &[u8; 32]) -> StoreResult<Option<Invite>> {
        let digest = *digest;
        self.readers.run(move |conn| invites::by_digest(conn, &digest)).await
    }

    async fn accept_invite(&self, digest: &[u8; 32], account: AccountId, now: Timestamp) -> StoreResult<Option<Membership>> {
        let digest = *digest;
        self.writer.run(move |conn| invites::accept(conn, &digest, account, now)).await
    }

    async fn withdraw_invite(&self, org: OrgId, id: InviteId, now: Timestamp) -> StoreResult<()> {
        self.writer.run(move |conn| invites::withdraw(conn, org, id, now)).await
    }

    async fn record_sign_in_failure(&self, subjects: &[String], at: Timestamp, forget_before: Timestamp) -> StoreResult<()> {
        let subjects = subjects.to_vec();
        self.writer.run(move |conn| sign_in::record_failure(conn, &subjects, at, forget_before)).await
    }

    async fn sign_in_failures(&self, subject: &str, since: Timestamp) -> StoreResult<u64> {
        let subject = subject.to_owned();
        self.readers.run(move |conn| sign_in::failures(conn, &subject, since)).await
    }
}
