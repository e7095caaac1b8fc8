//! The storage contract: one [`Store`] trait that every backend (SQLite, PostgreSQL)
//! implements, each method one transaction, every query scoped by org. The
//! [`conformance`] suite is the definition of "implements it correctly"; each backend runs it.

pub mod conformance;
mod error;
mod records;

use async_trait::async_trait;
use oakallow_domain::Timestamp;
use oakallow_domain::audit::{ActivityEntry, ActivityRecord, ChainCheck};
use oakallow_domain::id::{AccountId, KeyId, OrgId};
use oakallow_domain::id::{ActivityId, CheckId};
use oakallow_domain::org::{Account, ApiKey, Org};
use oakallow_domain::policy::{PolicyChange, PolicyParts};

pub use error::{StoreError, StoreResult};
pub use records::{ActivityFilter, CheckRecord, NewKey, RuntimeWrite};

/// Everything oakallow keeps. Implementations must make each method atomic and durable when it
/// returns `Ok`, and must never return data of an org other than the one asked for.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Short backend name for health output (`sqlite`, `postgres`).
    fn backend(&self) -> &'static str;

    /// Answers when the database can be reached.
    async fn ping(&self) -> StoreResult<()>;

    // ----- accounts and orgs --------------------------------------------------------------------

    /// Creates an account; [`StoreError::Conflict`] if the email is taken.
    async fn create_account(&self, account: &Account) -> StoreResult<()>;

    /// The account with this email.
    async fn account_by_email(&self, email: &str) -> StoreResult<Option<Account>>;

    /// Creates an org with its first keys, and their audit entries, in one transaction.
    async fn create_org(&self, org: &Org, keys: &[NewKey], activity: Vec<ActivityRecord>) -> StoreResult<()>;

    /// One org.
    async fn org(&self, org_id: OrgId) -> StoreResult<Option<Org>>;

    /// The orgs an account owns, oldest first.
    async fn orgs_of_account(&self, account_id: AccountId) -> StoreResult<Vec<Org>>;

    /// Saves an org's settings; [`StoreError::NotFound`] if it does not exist.
    async fn update_org(&self, org: &Org, activity: ActivityRecord) -> StoreResult<()>;

    // ----- API keys -----------------------------------------------------------------------------

    /// Adds a key to an existing org.
    async fn create_key(&self, key: &NewKey, activity: ActivityRecord) -> StoreResult<()>;

    /// The key whose raw form hashes to `digest`, revoked or not.
    async fn key_by_digest(&self, digest: &[u8; 32]) -> StoreResult<Option<ApiKey>>;

    /// An org's keys in id order, after `after`, at most `limit`.
    async fn list_keys(&self, org_id: OrgId, after: Option<KeyId>, limit: u32) -> StoreResult<Vec<ApiKey>>;

    /// One key of the org.
    async fn key(&self, org_id: OrgId, key_id: KeyId) -> StoreResult<Option<ApiKey>>;

    /// Revokes a key at `at` (keeping an earlier revocation time). [`StoreError::NotFound`] if
    /// the org has no such key.
    async fn revoke_key(&self, org_id: OrgId, key_id: KeyId, at: Timestamp, activity: ActivityRecord) -> StoreResult<ApiKey>;

    // ----- policy -------------------------------------------------------------------------------

    /// An org's whole policy and its version, read in one consistent snapshot.
    async fn load_policy(&self, org_id: OrgId) -> StoreResult<(u64, PolicyParts)>;

    /// Applies `changes` (already ordered) if the org's policy is still at `expected_version`,
    /// writes `activity`, and returns the new version. [`StoreError::VersionConflict`] if another
    /// writer got there first; nothing is written then.
    async fn commit_policy(
        &self,
        org_id: OrgId,
        expected_version: u64,
        changes: &[PolicyChange],
        activity: Vec<ActivityRecord>,
    ) -> StoreResult<u64>;

    /// The org's current policy version (cheap; for detecting changes made elsewhere).
    async fn policy_version(&self, org_id: OrgId) -> StoreResult<u64>;

    // ----- runtime writes and the audit trail ---------------------------------------------------

    /// Commits many runtime writes in one transaction (group commit), appending each activity
    /// entry to its org's hash chain in batch order. All or nothing.
    async fn commit_runtime(&self, batch: &[RuntimeWrite]) -> StoreResult<()>;

    /// A check recorded by `commit_runtime`.
    async fn check(&self, org_id: OrgId, check_id: CheckId) -> StoreResult<Option<CheckRecord>>;

    /// An org's activity, newest first, matching `filter`.
    async fn list_activity(&self, org_id: OrgId, filter: &ActivityFilter) -> StoreResult<Vec<ActivityEntry>>;

    /// One activity entry of the org.
    async fn activity(&self, org_id: OrgId, id: ActivityId) -> StoreResult<Option<ActivityEntry>>;

    /// Walks the org's whole chain in order and checks every link.
    async fn verify_chain(&self, org_id: OrgId) -> StoreResult<ChainCheck>;
}
