//! The storage contract: one [`Store`] trait that every backend (SQLite, PostgreSQL)
//! implements, each method one transaction, every query scoped by org. The
//! [`conformance`] suite is the definition of "implements it correctly"; each backend runs it.

mod accounts;
mod billing_records;
pub mod charges;
pub mod conformance;
mod email_codes;
mod error;
mod lifecycle;
mod notifications;
mod passkeys;
mod records;
mod runtime_records;
mod second_factors;

use std::sync::Arc;

use async_trait::async_trait;
use oakallow_domain::Timestamp;
use oakallow_domain::approval::Approval;
use oakallow_domain::audit::{ActivityEntry, ActivityRecord, ChainCheck};
use oakallow_domain::id::{AccountId, KeyId, OrgId};
use oakallow_domain::id::{ActivityId, ApprovalId, CheckId, DeliveryId, LeaseId, LedgerId};
use oakallow_domain::org::{Account, ApiKey, Org};
use oakallow_domain::policy::{PolicyChange, PolicyParts};
use oakallow_domain::token::Algorithm;

pub use accounts::{AccountStore, Member, OrgMembership};
pub use billing_records::{
    BatchItem, Change, ChangeSink, Charge, CreditState, LedgerRow, NewCredit, NewPurchase, OrgVersion, Purchase, Refund, RefundReservation,
    WriteOutcome,
};
pub use email_codes::{EmailCode, EmailCodeStore};
pub use error::{StoreError, StoreResult, exact_i64};
pub use lifecycle::{AccountLifecycleStore, AccountStatus, ERASED_NAME, erased_email};
pub use notifications::{NotificationStore, SlackLink, SlackMessage, StoredChannels};
pub use passkeys::{CeremonyKind, PasskeyCeremony, PasskeyStore, StoredPasskey};
pub use records::{ActivityFilter, CheckRecord, MintedToken, NewKey, RuntimeWrite};
pub use runtime_records::{
    ApprovalFilter, ApprovalTransition, AttemptResult, ClaimLimit, ClaimedDelivery, CreateOutcome, Delivery, DeliveryAttempt,
    DeliveryChannel, DeliveryFilter, DeliveryLease, DeliveryStatus, ExecutionRecord, IdempotencyClaim, NewApproval, NewDelivery, Outbox,
    StoredSigningKey, TokenRecord, WebhookEvent,
};
pub use second_factors::{PendingSignIn, SecondFactorStore, TotpFactor};

/// What [`Store::deployment_counts`] answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeploymentCounts {
    /// Approvals waiting for a decision.
    pub pending_approvals: u64,
    /// Webhook deliveries waiting to be sent or sent again.
    pub queued_deliveries: u64,
    /// Accounts holding credit whose live balance is below the threshold asked for.
    pub low_balance_accounts: u64,
}

/// Everything oakallow keeps. Implementations must make each method atomic and durable when it
/// returns `Ok`, and must never return data of an org other than the one asked for.
#[async_trait]
pub trait Store: AccountStore + AccountLifecycleStore + EmailCodeStore + SecondFactorStore + PasskeyStore + NotificationStore {
    /// Short backend name for health output (`sqlite`, `postgres`).
    fn backend(&self) -> &'static str;

    /// Answers when the database can be reached.
    async fn ping(&self) -> StoreResult<()>;

    /// Numbers about the whole deployment, every org and account, for the metrics page:
    /// approvals pending, webhook deliveries waiting, and accounts holding credit whose live
    /// balance at `now` (expired credit not counted) is below `low_balance_below` µ$.
    async fn deployment_counts(&self, now: Timestamp, low_balance_below: i64) -> StoreResult<DeploymentCounts>;

    // ----- accounts and orgs --------------------------------------------------------------------

    /// Creates an account, with its sign-up credit if any, and, with `password_hash`, its
    /// password; [`StoreError::Conflict`] if the email is taken.
    async fn create_account(&self, account: &Account, password_hash: Option<&str>, free_credit: Option<&NewCredit>) -> StoreResult<()>;

    /// The account with this email.
    async fn account_by_email(&self, email: &str) -> StoreResult<Option<Account>>;

    /// Creates an org with its first keys, and their audit entries, in one transaction. The
    /// owning account becomes its member with role `owner`, approving both levels.
    async fn create_org(&self, org: &Org, keys: &[NewKey], activity: Vec<ActivityRecord>) -> StoreResult<()>;

    /// One org.
    async fn org(&self, org_id: OrgId) -> StoreResult<Option<Org>>;

    /// The orgs an account owns (created), oldest first.
    async fn orgs_of_account(&self, account_id: AccountId) -> StoreResult<Vec<Org>>;

    /// Saves an org's settings, but only if they are still the version the change was planned
    /// from (stored `updated_at` equal to `expected_updated_at`): otherwise
    /// [`StoreError::VersionConflict`] and nothing is written, so a change is never applied to
    /// settings it did not see. [`StoreError::NotFound`] if the org does not exist. With
    /// `first_webhook_secret`, the org gets that webhook secret unless it already has one.
    async fn update_org(
        &self,
        org: &Org,
        expected_updated_at: Timestamp,
        first_webhook_secret: Option<&str>,
        activity: ActivityRecord,
    ) -> StoreResult<()>;

    /// The org's webhook secret.
    async fn webhook_secret(&self, org_id: OrgId) -> StoreResult<Option<String>>;

    /// Replaces the org's webhook secret; [`StoreError::NotFound`] if the org does not exist.
    async fn set_webhook_secret(&self, org_id: OrgId, secret: &str, activity: ActivityRecord) -> StoreResult<()>;

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
    /// writes `activity` and queues `outbox` (webhook events), and returns the new version. [`StoreError::VersionConflict`] if another
    /// writer got there first; nothing is written then.
    async fn commit_policy(
        &self,
        org_id: OrgId,
        expected_version: u64,
        changes: &[PolicyChange],
        activity: Vec<ActivityRecord>,
        outbox: Vec<Outbox>,
    ) -> StoreResult<u64>;

    /// The org's current policy version (cheap; for detecting changes made elsewhere).
    async fn policy_version(&self, org_id: OrgId) -> StoreResult<u64>;

    // ----- runtime writes and the audit trail ---------------------------------------------------

    /// Commits many runtime writes in one transaction (group commit), appending each activity
    /// entry to its org's hash chain in batch order. All or nothing; answers, per write, what
    /// became of it.
    ///
    /// Billing: a charged write that its account cannot pay for (with everything before it in
    /// the batch) is not written at all (`InsufficientCredits`). Otherwise the call is paid for
    /// exactly when the write appends its activity entry: always for `Check`, `Activity` and
    /// `ConsumeToken`, only if applied for `MintToken` and `Execution`. The calls of the batch
    /// make one `debit` ledger row per account and org (or, at price 0, one `usage` row),
    /// spending free credit first, then other credit oldest first; free credit found expired is
    /// written off with an `expiry` row. The balance never goes below zero, whatever runs
    /// concurrently (each account's credit is locked for the transaction).
    ///
    /// The batch is shared, not moved, so that the caller can retry parts of a refused batch.
    async fn commit_runtime(&self, now: Timestamp, batch: Arc<[BatchItem]>) -> StoreResult<Vec<WriteOutcome>>;

    /// A check recorded by `commit_runtime`.
    async fn check(&self, org_id: OrgId, check_id: CheckId) -> StoreResult<Option<CheckRecord>>;

    /// An org's activity, newest first, matching `filter`.
    async fn list_activity(&self, org_id: OrgId, filter: &ActivityFilter) -> StoreResult<Vec<ActivityEntry>>;

    /// One activity entry of the org.
    async fn activity(&self, org_id: OrgId, id: ActivityId) -> StoreResult<Option<ActivityEntry>>;

    /// Walks the org's whole chain in order and checks every link.
    async fn verify_chain(&self, org_id: OrgId) -> StoreResult<ChainCheck>;

    // ----- tokens and executions ----------------------------------------------------------------

    /// The org's signing key of `algorithm`, if it has one.
    async fn signing_key(&self, org_id: OrgId, algorithm: Algorithm) -> StoreResult<Option<StoredSigningKey>>;

    /// One of the org's signing keys by key id.
    async fn signing_key_by_kid(&self, org_id: OrgId, kid: &str) -> StoreResult<Option<StoredSigningKey>>;

    /// Stores `key` unless the org already has a key of its algorithm; answers the org's key of
    /// that algorithm either way (so concurrent creators agree on one key).
    async fn add_signing_key(&self, key: &StoredSigningKey) -> StoreResult<StoredSigningKey>;

    /// The org's Ed25519 keys (public halves are published).
    async fn ed25519_keys(&self, org_id: OrgId) -> StoreResult<Vec<StoredSigningKey>>;

    /// A token of the org.
    async fn token(&self, org_id: OrgId, jti: &str) -> StoreResult<Option<TokenRecord>>;

    /// Whether an execution was logged with this token.
    async fn token_has_execution(&self, org_id: OrgId, jti: &str) -> StoreResult<bool>;

    // ----- approvals ----------------------------------------------------------------------------

    /// Stores a new approval with its audit entry, events and idempotency claim, and charges
    /// for it (a replay is not charged again). A reference already used in the org is a
    /// [`StoreError::Conflict`] (the caller draws a new one).
    async fn create_approval(&self, new: &NewApproval, charge: Option<Charge>) -> StoreResult<CreateOutcome>;

    /// One approval of the org, with its decisions.
    async fn approval(&self, org_id: OrgId, id: ApprovalId) -> StoreResult<Option<Approval>>;

    /// The org's approvals matching `filter`, newest first.
    async fn list_approvals(&self, org_id: OrgId, filter: &ApprovalFilter) -> StoreResult<Vec<Approval>>;

    /// Applies a transition if the approval is still pending at `expected_level` and (for
    /// decisions and cancellations) its deadline has not passed at `now`, or (for expiries,
    /// `after.status == Expired`) it has. Answers whether it applied; if not, nothing is written.
    async fn transition_approval(&self, transition: &ApprovalTransition) -> StoreResult<bool>;

    /// Pending approvals of every org whose deadline has passed at `now`, oldest deadline first.
    async fn due_approvals(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<Approval>>;

    // ----- webhooks -----------------------------------------------------------------------------

    /// Stores an event (and its delivery) on its own, e.g. `webhook.test`.
    async fn enqueue_webhook(&self, outbox: &Outbox) -> StoreResult<()>;

    /// Claims pending deliveries due at `now` for one attempt each, under `lease`, oldest due
    /// first within `limit` (in all, and per org counting the org's deliveries still under
    /// another claim): their next attempt moves to `lease.until`, so no other worker takes them
    /// while this one tries, and a worker that dies is replaced once the lease ends. The newest
    /// claim of a delivery is the only one that can record its attempt.
    async fn claim_deliveries(&self, now: Timestamp, lease: DeliveryLease, limit: ClaimLimit) -> StoreResult<Vec<ClaimedDelivery>>;

    /// Records an attempt of a delivery claimed under `lease`, and what follows from it, if that
    /// claim still holds the delivery (no later claim took it over); answers whether it did.
    async fn finish_attempt(&self, id: DeliveryId, lease: LeaseId, attempt: &DeliveryAttempt, result: AttemptResult) -> StoreResult<bool>;

    /// The org's deliveries, newest first, with their attempts.
    async fn list_deliveries(&self, org_id: OrgId, filter: &DeliveryFilter) -> StoreResult<Vec<Delivery>>;

    /// Makes a delivery of the org pending again with a fresh retry schedule, due at `now`; a
    /// claim of it still in flight (its lease not ended) is left alone, and its attempt is the
    /// redelivery. [`StoreError::NotFound`] if the org has no such delivery.
    async fn retry_delivery(&self, org_id: OrgId, id: DeliveryId, now: Timestamp) -> StoreResult<Delivery>;

    // ----- credits ------------------------------------------------------------------------------

    /// Adds credit to an account: a lot and its ledger row.
    async fn add_credit(&self, account_id: AccountId, credit: &NewCredit) -> StoreResult<()>;

    /// Makes the account's balance exactly `target` micro-dollars with one `adjustment` ledger
    /// row (none if it is already there), and answers the row.
    async fn set_balance(
        &self,
        account_id: AccountId,
        target: i64,
        id: LedgerId,
        note: &str,
        now: Timestamp,
    ) -> StoreResult<Option<LedgerRow>>;

    /// The account's credit at `now`, writing off expired free credit first.
    async fn credit_state(&self, account_id: AccountId, now: Timestamp) -> StoreResult<CreditState>;

    /// The account's ledger, newest first, before the row `before`.
    async fn ledger(&self, account_id: AccountId, before: Option<LedgerId>, limit: u32) -> StoreResult<Vec<LedgerRow>>;

    /// Records a paid Stripe Checkout and adds its credit (a `purchase` lot and ledger row) in the
    /// same transaction, unless its event or its checkout session was recorded before: `true` if
    /// it was credited now, `false` if it had been (so a replayed or re-sent event credits once).
    /// [`StoreError::NotFound`] if the account does not exist.
    async fn record_purchase(&self, purchase: &NewPurchase) -> StoreResult<bool>;

    /// The account's purchases, newest first, with what is left of each one's credit.
    async fn purchases(&self, account_id: AccountId) -> StoreResult<Vec<Purchase>>;

    /// Starts refunding the account's purchase: if none of its credit was spent, it was bought
    /// at or after `bought_after` and no refund was started, takes its credit back (its lot to
    /// zero, a `refund` ledger row `ledger_id` of minus its amount) and marks the refund pending,
    /// in one transaction. [`StoreError::NotFound`] if the account has no such purchase.
    async fn reserve_refund(
        &self,
        account_id: AccountId,
        purchase_id: LedgerId,
        ledger_id: LedgerId,
        bought_after: Timestamp,
        now: Timestamp,
    ) -> StoreResult<RefundReservation>;

    /// Stripe refunded a pending refund: marks it done. Nothing changes if it is not pending.
    async fn complete_refund(&self, purchase_id: LedgerId, stripe_refund_id: &str, now: Timestamp) -> StoreResult<()>;

    /// Stripe refused a pending refund: gives the credit back (the lot to its amount, a `refund`
    /// ledger row `ledger_id` of plus its amount) and clears the refund, so it can be asked again.
    /// Nothing changes if it is not pending.
    async fn cancel_refund(&self, purchase_id: LedgerId, ledger_id: LedgerId, now: Timestamp) -> StoreResult<()>;

    // ----- several nodes ------------------------------------------------------------------------

    /// Starts telling `sink` about changes committed by any node (for caches to follow). A
    /// store that only one process can use has nothing to announce and does nothing.
    fn watch_changes(&self, sink: ChangeSink) -> StoreResult<()> {
        let _ = sink;
        Ok(())
    }

    /// The current versions of these orgs (the periodic check behind announcements).
    async fn org_versions(&self, orgs: &[OrgId]) -> StoreResult<Vec<OrgVersion>>;

    /// Which of these keys are revoked.
    async fn revoked_keys(&self, keys: &[KeyId]) -> StoreResult<Vec<KeyId>>;
}
