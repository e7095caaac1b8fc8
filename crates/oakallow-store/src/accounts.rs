//! The storage contract for people: accounts' passwords, the instance operator, dashboard
//! sessions, org memberships, invitations and failed sign-ins. Part of [`crate::Store`].

use async_trait::async_trait;
use oakallow_domain::Timestamp;
use oakallow_domain::account::{Invite, Membership, Session};
use oakallow_domain::id::{AccountId, InviteId, OrgId, SessionId};
use oakallow_domain::org::{Account, Org};

use crate::StoreResult;

/// A member and their account, as the team page lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Their place in the org.
    pub membership: Membership,
    /// Who they are.
    pub account: Account,
}

/// An org an account belongs to, with the account's place in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgMembership {
    /// The org.
    pub org: Org,
    /// The account's place in it.
    pub membership: Membership,
}

/// Storage of accounts, sessions, memberships and invitations. Each method is one transaction.
#[async_trait]
pub trait AccountStore: Send + Sync + 'static {
    /// The account with this id.
    async fn account(&self, id: AccountId) -> StoreResult<Option<Account>>;

    /// Accounts in id order (oldest first), after `after`, at most `limit`.
    async fn accounts(&self, after: Option<AccountId>, limit: u32) -> StoreResult<Vec<Account>>;

    /// Makes `account` the instance operator if there is none yet (atomically: of two accounts
    /// racing for it, exactly one wins). Answers whether it is the operator now.
    async fn claim_operator(&self, account: AccountId) -> StoreResult<bool>;

    /// The instance operator, if any.
    async fn operator(&self) -> StoreResult<Option<AccountId>>;

    /// The account's argon2id password hash (PHC string), if it has a password.
    async fn password_hash(&self, account: AccountId) -> StoreResult<Option<String>>;

    /// Sets the account's password hash and revokes all its sessions at `now`, in one
    /// transaction. [`crate::StoreError::NotFound`] if there is no such account.
    async fn set_password_hash(&self, account: AccountId, hash: &str, now: Timestamp) -> StoreResult<()>;

    /// Saves a new session, if its account exists and is not disabled (checked atomically);
    /// else [`crate::StoreError::NotFound`].
    async fn create_session(&self, session: &Session) -> StoreResult<()>;

    /// The session whose secret has this digest (live or not: the caller checks).
    async fn session_by_digest(&self, digest: &[u8; 32]) -> StoreResult<Option<Session>>;

    /// The account's sessions that are neither revoked nor expired at `now`, newest first.
    async fn live_sessions(&self, account: AccountId, now: Timestamp) -> StoreResult<Vec<Session>>;

    /// Revokes one of the account's sessions (no-op if it is already revoked or not theirs).
    async fn revoke_session(&self, account: AccountId, id: SessionId, now: Timestamp) -> StoreResult<()>;

    /// The account's place in the org, if it is a member.
    async fn membership(&self, org: OrgId, account: AccountId) -> StoreResult<Option<Membership>>;

    /// The orgs the account is a member of, oldest membership first.
    async fn memberships_of_account(&self, account: AccountId) -> StoreResult<Vec<OrgMembership>>;

    /// The org's members, oldest first.
    async fn members(&self, org: OrgId) -> StoreResult<Vec<Member>>;

    /// Adds the member, or changes their role and approver groups.
    async fn put_membership(&self, membership: &Membership) -> StoreResult<()>;

    /// Removes the member. [`crate::StoreError::NotFound`] if they were not one.
    async fn remove_membership(&self, org: OrgId, account: AccountId) -> StoreResult<()>;

    /// Saves a new invitation.
    async fn create_invite(&self, invite: &Invite) -> StoreResult<()>;

    /// The org's invitations that are unused and unexpired at `now`, newest first.
    async fn open_invites(&self, org: OrgId, now: Timestamp) -> StoreResult<Vec<Invite>>;

    /// The invitation whose secret has this digest (used or not: the caller checks).
    async fn invite_by_digest(&self, digest: &[u8; 32]) -> StoreResult<Option<Invite>>;

    /// Uses the invitation: if it is unused and unexpired at `now`, marks it used by `account`
    /// and makes `account` a member with its role (keeping a higher role the account already
    /// has), in one transaction, and answers the membership. `None` (and nothing written) if it
    /// was used, withdrawn or expired, so a link works exactly once even when two people race.
    async fn accept_invite(&self, digest: &[u8; 32], account: AccountId, now: Timestamp) -> StoreResult<Option<Membership>>;

    /// Withdraws an unused invitation of the org (marks it used by nobody).
    /// [`crate::StoreError::NotFound`] if the org has no such unused invitation.
    async fn withdraw_invite(&self, org: OrgId, id: InviteId, now: Timestamp) -> StoreResult<()>;

    /// Records one failed sign-in against each subject (an account's email, an address) at
    /// `at`, and forgets failures older than `forget_before`.
    async fn record_sign_in_failure(&self, subjects: &[String], at: Timestamp, forget_before: Timestamp) -> StoreResult<()>;

    /// How many failed sign-ins the subject has had since `since`.
    async fn sign_in_failures(&self, subject: &str, since: Timestamp) -> StoreResult<u64>;
}
