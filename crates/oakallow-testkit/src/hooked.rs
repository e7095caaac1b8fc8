//! A [`Store`] that delegates every call to a real one, with hooks a test can pull to provoke
//! what a real database does only by bad luck: [`StoreHooks::hold_next_commit`] parks the next
//! group commit until the test releases it (so that requests queue up into one batch),
//! [`StoreHooks::refuse_batches_with`] makes the store refuse any runtime batch containing a
//! chosen write, as a database refuses a transaction over one bad row (nothing is written), and
//! [`StoreHooks::hold_next_walk`] and [`StoreHooks::hold_next_ping`] park the next chain
//! verification or database probe ([`StoreHooks::walks`] and [`StoreHooks::pings`] count them).

mod email_codes;
mod notifications;
mod passkeys;
mod people;
mod second_factors;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use oakallow_domain::Timestamp;
use oakallow_domain::approval::Approval;
use oakallow_domain::audit::{ActivityEntry, ActivityRecord, ChainCheck};
use oakallow_domain::id::{AccountId, ActivityId, ApprovalId, CheckId, DeliveryId, KeyId, LeaseId, LedgerId, OrgId};
use oakallow_domain::org::{Account, ApiKey, Org};
use oakallow_domain::policy::{PolicyChange, PolicyParts};
use oakallow_domain::token::Algorithm;
use oakallow_store::{
    ActivityFilter, ApprovalFilter, ApprovalTransition, AttemptResult, BatchItem, ChangeSink, Charge, CheckRecord, ClaimLimit,
    ClaimedDelivery, CreateOutcome, CreditState, Delivery, DeliveryAttempt, DeliveryFilter, DeliveryLease, DeploymentCounts, LedgerRow,
    NewApproval, NewCredit, NewKey, NewPurchase, OrgVersion, Outbox, Purchase, RefundReservation, Store, StoreError, StoreResult,
    StoredSigningKey, TokenRecord, WriteOutcome,
};
use tokio::sync::oneshot;

/// Which writes make a batch be refused.
type Refusal = Box<dyn Fn(&BatchItem) -> bool + Send + Sync>;

/// One `commit_runtime` call as the hooked store saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeenBatch {
    /// Writes in the batch.
    pub writes: usize,
    /// Whether the hooks refused it.
    pub refused: bool,
}

/// The hooks of a [`HookedStore`], shared with the test.
#[derive(Default)]
pub struct StoreHooks {
    hold_commit: Mutex<Option<Hold>>,
    hold_walk: Mutex<Option<Hold>>,
    refusal: Mutex<Option<Refusal>>,
    batches: Mutex<Vec<SeenBatch>>,
    walks: AtomicUsize,
    hold_ping: Mutex<Option<Hold>>,
    pings: AtomicUsize,
}

/// The store's side of a [`Held`] call: tells it has arrived, waits to be released.
type Hold = (oneshot::Sender<()>, oneshot::Receiver<()>);

/// Parks the call if `hold` is set, until released.
async fn wait_if_held(hold: &Mutex<Option<Hold>>) {
    let hold = hold.lock().unwrap().take();
    if let Some((entered, release)) = hold {
        let _ = entered.send(());
        let _ = release.await;
    }
}

impl std::fmt::Debug for StoreHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreHooks").field("batches", &self.batches()).finish_non_exhaustive()
    }
}

/// A store call parked by [`StoreHooks::hold_next_commit`] or [`StoreHooks::hold_next_walk`].
pub struct Held {
    entered: oneshot::Receiver<()>,
    release: oneshot::Sender<()>,
}

impl Held {
    /// Waits until the call has arrived and is parked.
    pub async fn entered(&mut self) {
        (&mut self.entered).await.expect("the hooked store dropped a held call");
    }

    /// Lets the held call go on to the real store.
    pub fn release(self) {
        let _ = self.release.send(());
    }
}

impl StoreHooks {
    /// New hooks, all inactive.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Parks the next `commit_runtime` call until the returned handle is released.
    pub fn hold_next_commit(&self) -> Held {
        Self::hold(&self.hold_commit)
    }

    /// Parks the next `verify_chain` call until the returned handle is released.
    pub fn hold_next_walk(&self) -> Held {
        Self::hold(&self.hold_walk)
    }

    fn hold(slot: &Mutex<Option<Hold>>) -> Held {
        let (entered_tx, entered) = oneshot::channel();
        let (release, release_rx) = oneshot::channel();
        *slot.lock().unwrap() = Some((entered_tx, release_rx));
        Held { entered, release }
    }

    /// Parks the next `ping` call until the returned handle is released.
    pub fn hold_next_ping(&self) -> Held {
        Self::hold(&self.hold_ping)
    }

    /// How many database probes reached the store.
    pub fn pings(&self) -> usize {
        self.pings.load(Ordering::SeqCst)
    }

    /// How many chain verifications reached the store.
    pub fn walks(&self) -> usize {
        self.walks.load(Ordering::SeqCst)
    }

    /// From now on, refuses (with a backend error, writing nothing) every runtime batch that
    /// contains a write for which `poisoned` is true.
    pub fn refuse_batches_with(&self, poisoned: impl Fn(&BatchItem) -> bool + Send + Sync + 'static) {
        *self.refusal.lock().unwrap() = Some(Box::new(poisoned));
    }

    /// Every `commit_runtime` call so far, in order.
    pub fn batches(&self) -> Vec<SeenBatch> {
        self.batches.lock().unwrap().clone()
    }

    async fn before_commit(&self, batch: &[BatchItem]) -> StoreResult<()> {
        wait_if_held(&self.hold_commit).await;
        let refused = self.refusal.lock().unwrap().as_ref().is_some_and(|poisoned| batch.iter().any(poisoned));
        self.batches.lock().unwrap().push(SeenBatch { writes: batch.len(), refused });
        if refused {
            return Err(StoreError::Backend("the test store refused this batch".into()));
        }
        Ok(())
    }
}

/// A store that passes everything to `inner`, through [`StoreHooks`].
pub struct HookedStore {
    inner: Arc<dyn Store>,
    hooks: Arc<StoreHooks>,
}

impl HookedStore {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Store>, hooks: Arc<StoreHooks>) -> Self {
        Self { inner, hooks }
    }
}

#[async_trait]
impl Store for HookedStore {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    async fn ping(&self) -> StoreResult<()> {
        self.hooks.pings.fetch_add(1, Ordering::SeqCst);
        wait_if_held(&self.hooks.hold_ping).await;
        self.inner.ping().await
    }

    async fn deployment_counts(&self, now: Timestamp, low_balance_below: i64) -> StoreResult<DeploymentCounts> {
        self.inner.deployment_counts(now, low_balance_below).await
    }

    async fn create_account(&self, account: &Account, password_hash: Option<&str>, free_credit: Option<&NewCredit>) -> StoreResult<()> {
        self.inner.create_account(account, password_hash, free_credit).await
    }

    async fn account_by_email(&self, email: &str) -> StoreResult<Option<Account>> {
        self.inner.account_by_email(email).await
    }

    async fn create_org(&self, org: &Org, keys: &[NewKey], activity: Vec<ActivityRecord>) -> StoreResult<()> {
        self.inner.create_org(org, keys, activity).await
    }

    async fn org(&self, org_id: OrgId) -> StoreResult<Option<Org>> {
        self.inner.org(org_id).await
    }

    async fn orgs_of_account(&self, account_id: AccountId) -> StoreResult<Vec<Org>> {
        self.inner.orgs_of_account(account_id).await
    }

    async fn update_org(
        &self,
        org: &Org,
        expected_updated_at: Timestamp,
        first_webhook_secret: Option<&str>,
        activity: ActivityRecord,
    ) -> StoreResult<()> {
        self.inner.update_org(org, expected_updated_at, first_webhook_secret, activity).await
    }

    async fn webhook_secret(&self, org_id: OrgId) -> StoreResult<Option<String>> {
        self.inner.webhook_secret(org_id).await
    }

    async fn set_webhook_secret(&self, org_id: OrgId, secret: &str, activity: ActivityRecord) -> StoreResult<()> {
        self.inner.set_webhook_secret(org_id, secret, activity).await
    }

    async fn create_key(&self, key: &NewKey, activity: ActivityRecord) -> StoreResult<()> {
        self.inner.create_key(key, activity).await
    }

    async fn key_by_digest(&self, digest: &[u8; 32]) -> StoreResult<Option<ApiKey>> {
        self.inner.key_by_digest(digest).await
    }

    async fn list_keys(&self, org_id: OrgId, after: Option<KeyId>, limit: u32) -> StoreResult<Vec<ApiKey>> {
        self.inner.list_keys(org_id, after, limit).await
    }

    async fn key(&self, org_id: OrgId, key_id: KeyId) -> StoreResult<Option<ApiKey>> {
        self.inner.key(org_id, key_id).await
    }

    async fn revoke_key(&self, org_id: OrgId, key_id: KeyId, at: Timestamp, activity: ActivityRecord) -> StoreResult<ApiKey> {
        self.inner.revoke_key(org_id, key_id, at, activity).await
    }

    async fn load_policy(&self, org_id: OrgId) -> StoreResult<(u64, PolicyParts)> {
        self.inner.load_policy(org_id).await
    }

    async fn commit_policy(
        &self,
        org_id: OrgId,
        expected_version: u64,
        changes: &[PolicyChange],
        activity: Vec<ActivityRecord>,
        outbox: Vec<Outbox>,
    ) -> StoreResult<u64> {
        self.inner.commit_policy(org_id, expected_version, changes, activity, outbox).await
    }

    async fn policy_version(&self, org_id: OrgId) -> StoreResult<u64> {
        self.inner.policy_version(org_id).await
    }

    async fn commit_runtime(&self, now: Timestamp, batch: Arc<[BatchItem]>) -> StoreResult<Vec<WriteOutcome>> {
        self.hooks.before_commit(&batch).await?;
        self.inner.commit_runtime(now, batch).await
    }

    async fn check(&self, org_id: OrgId, check_id: CheckId) -> StoreResult<Option<CheckRecord>> {
        self.inner.check(org_id, check_id).await
    }

    async fn list_activity(&self, org_id: OrgId, filter: &ActivityFilter) -> StoreResult<Vec<ActivityEntry>> {
        self.inner.list_activity(org_id, filter).await
    }

    async fn activity(&self, org_id: OrgId, id: ActivityId) -> StoreResult<Option<ActivityEntry>> {
        self.inner.activity(org_id, id).await
    }

    async fn verify_chain(&self, org_id: OrgId) -> StoreResult<ChainCheck> {
        self.hooks.walks.fetch_add(1, Ordering::SeqCst);
        wait_if_held(&self.hooks.hold_walk).await;
        self.inner.verify_chain(org_id).await
    }

    async fn signing_key(&self, org_id: OrgId, algorithm: Algorithm) -> StoreResult<Option<StoredSigningKey>> {
        self.inner.signing_key(org_id, algorithm).await
    }

    async fn signing_key_by_kid(&self, org_id: OrgId, kid: &str) -> StoreResult<Option<StoredSigningKey>> {
        self.inner.signing_key_by_kid(org_id, kid).await
    }

    async fn add_signing_key(&self, key: &StoredSigningKey) -> StoreResult<StoredSigningKey> {
        self.inner.add_signing_key(key).await
    }

    async fn ed25519_keys(&self, org_id: OrgId) -> StoreResult<Vec<StoredSigningKey>> {
        self.inner.ed25519_keys(org_id).await
    }

    async fn token(&self, org_id: OrgId, jti: &str) -> StoreResult<Option<TokenRecord>> {
        self.inner.token(org_id, jti).await
    }

    async fn token_has_execution(&self, org_id: OrgId, jti: &str) -> StoreResult<bool> {
        self.inner.token_has_execution(org_id, jti).await
    }

    async fn create_approval(&self, new: &NewApproval, charge: Option<Charge>) -> StoreResult<CreateOutcome> {
        self.inner.create_approval(new, charge).await
    }

    async fn approval(&self, org_id: OrgId, id: ApprovalId) -> StoreResult<Option<Approval>> {
        self.inner.approval(org_id, id).await
    }

    async fn list_approvals(&self, org_id: OrgId, filter: &ApprovalFilter) -> StoreResult<Vec<Approval>> {
        self.inner.list_approvals(org_id, filter).await
    }

    async fn transition_approval(&self, transition: &ApprovalTransition) -> StoreResult<bool> {
        self.inner.transition_approval(transition).await
    }

    async fn due_approvals(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<Approval>> {
        self.inner.due_approvals(now, limit).await
    }

    async fn enqueue_webhook(&self, outbox: &Outbox) -> StoreResult<()> {
        self.inner.enqueue_webhook(outbox).await
    }

    async fn claim_deliveries(&self, now: Timestamp, lease: DeliveryLease, limit: ClaimLimit) -> StoreResult<Vec<ClaimedDelivery>> {
        self.inner.claim_deliveries(now, lease, limit).await
    }

    async fn finish_attempt(&self, id: DeliveryId, lease: LeaseId, attempt: &DeliveryAttempt, result: AttemptResult) -> StoreResult<bool> {
        self.inner.finish_attempt(id, lease, attempt, result).await
    }

    async fn list_deliveries(&self, org_id: OrgId, filter: &DeliveryFilter) -> StoreResult<Vec<Delivery>> {
        self.inner.list_deliveries(org_id, filter).await
    }

    async fn retry_delivery(&self, org_id: OrgId, id: DeliveryId, now: Timestamp) -> StoreResult<Delivery> {
        self.inner.retry_delivery(org_id, id, now).await
    }

    async fn add_credit(&self, account_id: AccountId, credit: &NewCredit) -> StoreResult<()> {
        self.inner.add_credit(account_id, credit).await
    }

    async fn set_balance(
        &self,
        account_id: AccountId,
        target: i64,
        id: LedgerId,
        note: &str,
        now: Timestamp,
    ) -> StoreResult<Option<LedgerRow>> {
        self.inner.set_balance(account_id, target, id, note, now).await
    }

    async fn credit_state(&self, account_id: AccountId, now: Timestamp) -> StoreResult<CreditState> {
        self.inner.credit_state(account_id, now).await
    }

    async fn ledger(&self, account_id: AccountId, before: Option<LedgerId>, limit: u32) -> StoreResult<Vec<LedgerRow>> {
        self.inner.ledger(account_id, before, limit).await
    }

    async fn record_purchase(&self, purchase: &NewPurchase) -> StoreResult<bool> {
        self.inner.record_purchase(purchase).await
    }

    async fn purchases(&self, account_id: AccountId) -> StoreResult<Vec<Purchase>> {
        self.inner.purchases(account_id).await
    }

    async fn reserve_refund(
        &self,
        account_id: AccountId,
        purchase_id: LedgerId,
        ledger_id: LedgerId,
        bought_after: Timestamp,
        now: Timestamp,
    ) -> StoreResult<RefundReservation> {
        self.inner.reserve_refund(account_id, purchase_id, ledger_id, bought_after, now).await
    }

    async fn complete_refund(&self, purchase_id: LedgerId, stripe_refund_id: &str, now: Timestamp) -> StoreResult<()> {
        self.inner.complete_refund(purchase_id, stripe_refund_id, now).await
    }

    async fn cancel_refund(&self, purchase_id: LedgerId, ledger_id: LedgerId, now: Timestamp) -> StoreResult<()> {
        self.inner.cancel_refund(purchase_id, ledger_id, now).await
    }

    fn watch_changes(&self, sink: ChangeSink) -> StoreResult<()> {
        self.inner.watch_changes(sink)
    }

    async fn org_versions(&self, orgs: &[OrgId]) -> StoreResult<Vec<OrgVersion>> {
        self.inner.org_versions(orgs).await
    }

    async fn revoked_keys(&self, keys: &[KeyId]) -> StoreResult<Vec<KeyId>> {
        self.inner.revoked_keys(keys).await
    }
}
