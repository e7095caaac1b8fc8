//! oakallow's default backend: one SQLite file in WAL mode with `synchronous=FULL`, so every
//! acknowledged write is on disk. One thread owns the only writing connection; reads use a small
//! pool of read-only connections. Migrations in `migrations/` are applied at open.

mod accounts;
mod activity;
mod approvals;
mod billing;
mod conn;
mod credits;
mod email_codes;
mod migrate;
mod notifications;
mod passkeys;
mod people;
mod policy;
mod rows;
mod runtime;
mod runtime_rows;
mod second_factors;
mod tokens;
mod webhooks;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use oakallow_domain::Timestamp;
use oakallow_domain::approval::Approval;
use oakallow_domain::audit::{ActivityEntry, ActivityRecord, ChainCheck};
use oakallow_domain::id::{AccountId, ActivityId, ApprovalId, CheckId, DeliveryId, KeyId, LeaseId, LedgerId, OrgId};
use oakallow_domain::org::{Account, ApiKey, Org};
use oakallow_domain::policy::{PolicyChange, PolicyParts};
use oakallow_domain::token::Algorithm;
use oakallow_store::{
    ActivityFilter, ApprovalFilter, ApprovalTransition, AttemptResult, BatchItem, Charge, CheckRecord, ClaimLimit, ClaimedDelivery,
    CreateOutcome, CreditState, Delivery, DeliveryAttempt, DeliveryFilter, DeliveryLease, DeploymentCounts, LedgerRow, NewApproval,
    NewCredit, NewKey, NewPurchase, OrgVersion, Outbox, Purchase, RefundReservation, Store, StoreError, StoreResult, StoredSigningKey,
    TokenRecord, WriteOutcome,
};

use crate::conn::{Readers, Writer};

/// The database file inside a data directory.
pub const DATABASE_FILE: &str = "oakallow.db";

/// The SQLite store.
pub struct SqliteStore {
    writer: Writer,
    readers: Arc<Readers>,
}

impl SqliteStore {
    /// Opens (creating if needed) `<data_dir>/oakallow.db` and applies migrations.
    pub fn open_dir(data_dir: &Path) -> StoreResult<Self> {
        std::fs::create_dir_all(data_dir)
            .map_err(|e| StoreError::Unavailable(format!("cannot create data directory {}: {e}", data_dir.display())))?;
        Self::open_file(&data_dir.join(DATABASE_FILE))
    }

    /// Opens (creating if needed) the database file at `path` and applies migrations.
    pub fn open_file(path: &Path) -> StoreResult<Self> {
        let mut conn = conn::open(path, false)?;
        let applied = migrate::migrate(&mut conn)?;
        if applied > 0 {
            tracing::info!(applied, path = %path.display(), "applied SQLite migrations");
        }
        Ok(Self { writer: Writer::start(conn)?, readers: Readers::new(PathBuf::from(path)) })
    }
}

/// The deployment's counts: pending approvals, queued deliveries, accounts low on live credit.
const DEPLOYMENT_COUNTS: &str = "SELECT (SELECT count(*) FROM approvals WHERE status = 'pending'),
        (SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'),
        (SELECT count(*) FROM (
            SELECT sum(CASE WHEN expires_at IS NULL OR expires_at > ?1 THEN remaining ELSE 0 END) AS balance
              FROM credit_lots GROUP BY account_id)
          WHERE balance < ?2)";

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> StoreResult<()> {
        self.readers.run(|conn| conn.query_row("SELECT 1", [], |_| Ok(())).map_err(conn::map_error)).await
    }

    async fn deployment_counts(&self, now: Timestamp, low_balance_below: i64) -> StoreResult<DeploymentCounts> {
        self.readers
            .run(move |conn| {
                let (approvals, deliveries, low): (i64, i64, i64) = conn
                    .prepare_cached(DEPLOYMENT_COUNTS)
                    .and_then(|mut statement| {
                        statement.query_row([now.micros(), low_balance_below], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
                    })
                    .map_err(conn::map_error)?;
                let count = |n: i64| u64::try_from(n).map_err(|_| StoreError::Corrupt("a negative count".into()));
                Ok(DeploymentCounts {
                    pending_approvals: count(approvals)?,
                    queued_deliveries: count(deliveries)?,
                    low_balance_accounts: count(low)?,
                })
            })
            .await
    }

    async fn create_account(&self, account: &Account, password_hash: Option<&str>, free_credit: Option<&NewCredit>) -> StoreResult<()> {
        let (account, password_hash, credit) = (account.clone(), password_hash.map(str::to_owned), free_credit.cloned());
        self.writer.run(move |conn| accounts::create_account(conn, &account, password_hash.as_deref(), credit.as_ref())).await
    }

    async fn account_by_email(&self, email: &str) -> StoreResult<Option<Account>> {
        let email = email.to_owned();
        self.readers.run(move |conn| accounts::account_by_email(conn, &email)).await
    }

    async fn create_org(&self, org: &Org, keys: &[NewKey], activity: Vec<ActivityRecord>) -> StoreResult<()> {
        let (org, keys) = (org.clone(), keys.to_vec());
        self.writer.run(move |conn| accounts::create_org(conn, &org, &keys, &activity)).await
    }

    async fn org(&self, org_id: OrgId) -> StoreResult<Option<Org>> {
        self.readers.run(move |conn| accounts::org(conn, org_id)).await
    }

    async fn orgs_of_account(&self, account_id: AccountId) -> StoreResult<Vec<Org>> {
        self.readers.run(move |conn| accounts::orgs_of_account(conn, account_id)).await
    }

    async fn update_org(
        &self,
        org: &Org,
        expected_updated_at: Timestamp,
        first_webhook_secret: Option<&str>,
        activity: ActivityRecord,
    ) -> StoreResult<()> {
        let (org, secret) = (org.clone(), first_webhook_secret.map(str::to_owned));
        self.writer.run(move |conn| accounts::update_org(conn, &org, expected_updated_at, secret.as_deref(), &activity)).await
    }

    async fn webhook_secret(&self, org_id: OrgId) -> StoreResult<Option<String>> {
        self.readers.run(move |conn| accounts::webhook_secret(conn, org_id)).await
    }

    async fn set_webhook_secret(&self, org_id: OrgId, secret: &str, activity: ActivityRecord) -> StoreResult<()> {
        let secret = secret.to_owned();
        self.writer.run(move |conn| accounts::set_webhook_secret(conn, org_id, &secret, &activity)).await
    }

    async fn create_key(&self, key: &NewKey, activity: ActivityRecord) -> StoreResult<()> {
        let key = key.clone();
        self.writer.run(move |conn| accounts::create_key(conn, &key, &activity)).await
    }

    async fn key_by_digest(&self, digest: &[u8; 32]) -> StoreResult<Option<ApiKey>> {
        let digest = *digest;
        self.readers.run(move |conn| accounts::key_by_digest(conn, &digest)).await
    }

    async fn list_keys(&self, org_id: OrgId, after: Option<KeyId>, limit: u32) -> StoreResult<Vec<ApiKey>> {
        self.readers.run(move |conn| accounts::list_keys(conn, org_id, after, limit)).await
    }

    async fn key(&self, org_id: OrgId, key_id: KeyId) -> StoreResult<Option<ApiKey>> {
        self.readers.run(move |conn| accounts::key(conn, org_id, key_id)).await
    }

    async fn revoke_key(&self, org_id: OrgId, key_id: KeyId, at: Timestamp, activity: ActivityRecord) -> StoreResult<ApiKey> {
        self.writer.run(move |conn| accounts::revoke_key(conn, org_id, key_id, at, &activity)).await
    }

    async fn load_policy(&self, org_id: OrgId) -> StoreResult<(u64, PolicyParts)> {
        self.readers.run(move |conn| policy::load(conn, org_id)).await
    }

    async fn commit_policy(
        &self,
        org_id: OrgId,
        expected_version: u64,
        changes: &[PolicyChange],
        activity: Vec<ActivityRecord>,
        outbox: Vec<Outbox>,
    ) -> StoreResult<u64> {
        let changes = changes.to_vec();
        self.writer.run(move |conn| policy::commit(conn, org_id, expected_version, &changes, &activity, &outbox)).await
    }

    async fn policy_version(&self, org_id: OrgId) -> StoreResult<u64> {
        self.readers.run(move |conn| policy::version(conn, org_id)).await
    }

    async fn commit_runtime(&self, now: Timestamp, batch: Arc<[BatchItem]>) -> StoreResult<Vec<WriteOutcome>> {
        self.writer.run(move |conn| runtime::commit(conn, now, &batch)).await
    }

    async fn check(&self, org_id: OrgId, check_id: CheckId) -> StoreResult<Option<CheckRecord>> {
        self.readers.run(move |conn| runtime::check(conn, org_id, check_id)).await
    }

    async fn list_activity(&self, org_id: OrgId, filter: &ActivityFilter) -> StoreResult<Vec<ActivityEntry>> {
        let filter = filter.clone();
        self.readers.run(move |conn| activity::list(conn, org_id, &filter)).await
    }

    async fn activity(&self, org_id: OrgId, id: ActivityId) -> StoreResult<Option<ActivityEntry>> {
        self.readers.run(move |conn| activity::get(conn, org_id, id)).await
    }

    async fn verify_chain(&self, org_id: OrgId) -> StoreResult<ChainCheck> {
        self.readers.run(move |conn| activity::verify(conn, org_id)).await
    }

    async fn signing_key(&self, org_id: OrgId, algorithm: Algorithm) -> StoreResult<Option<StoredSigningKey>> {
        self.readers.run(move |conn| tokens::signing_key(conn, org_id, algorithm)).await
    }

    async fn signing_key_by_kid(&self, org_id: OrgId, kid: &str) -> StoreResult<Option<StoredSigningKey>> {
        let kid = kid.to_owned();
        self.readers.run(move |conn| tokens::signing_key_by_kid(conn, org_id, &kid)).await
    }

    async fn add_signing_key(&self, key: &StoredSigningKey) -> StoreResult<StoredSigningKey> {
        let key = key.clone();
        self.writer.run(move |conn| tokens::add_signing_key(conn, &key)).await
    }

    async fn ed25519_keys(&self, org_id: OrgId) -> StoreResult<Vec<StoredSigningKey>> {
        self.readers.run(move |conn| tokens::ed25519_keys(conn, org_id)).await
    }

    async fn token(&self, org_id: OrgId, jti: &str) -> StoreResult<Option<TokenRecord>> {
        let jti = jti.to_owned();
        self.readers.run(move |conn| tokens::token(conn, org_id, &jti)).await
    }

    async fn token_has_execution(&self, org_id: OrgId, jti: &str) -> StoreResult<bool> {
        let jti = jti.to_owned();
        self.readers.run(move |conn| tokens::has_execution(conn, org_id, &jti)).await
    }

    async fn create_approval(&self, new: &NewApproval, charge: Option<Charge>) -> StoreResult<CreateOutcome> {
        let new = new.clone();
        self.writer.run(move |conn| approvals::create(conn, &new, charge)).await
    }

    async fn approval(&self, org_id: OrgId, id: ApprovalId) -> StoreResult<Option<Approval>> {
        self.readers.run(move |conn| approvals::get(conn, org_id, id)).await
    }

    async fn list_approvals(&self, org_id: OrgId, filter: &ApprovalFilter) -> StoreResult<Vec<Approval>> {
        let filter = filter.clone();
        self.readers.run(move |conn| approvals::list(conn, org_id, &filter)).await
    }

    async fn transition_approval(&self, transition: &ApprovalTransition) -> StoreResult<bool> {
        let transition = transition.clone();
        self.writer.run(move |conn| approvals::transition(conn, &transition)).await
    }

    async fn due_approvals(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<Approval>> {
        self.readers.run(move |conn| approvals::due(conn, now, limit)).await
    }

    async fn enqueue_webhook(&self, outbox: &Outbox) -> StoreResult<()> {
        let outbox = outbox.clone();
        self.writer.run(move |conn| webhooks::enqueue(conn, &outbox)).await
    }

    async fn claim_deliveries(&self, now: Timestamp, lease: DeliveryLease, limit: ClaimLimit) -> StoreResult<Vec<ClaimedDelivery>> {
        self.writer.run(move |conn| webhooks::claim(conn, now, lease, limit)).await
    }

    async fn finish_attempt(&self, id: DeliveryId, lease: LeaseId, attempt: &DeliveryAttempt, result: AttemptResult) -> StoreResult<bool> {
        let attempt = attempt.clone();
        self.writer.run(move |conn| webhooks::finish(conn, id, lease, &attempt, result)).await
    }

    async fn list_deliveries(&self, org_id: OrgId, filter: &DeliveryFilter) -> StoreResult<Vec<Delivery>> {
        let filter = filter.clone();
        self.readers.run(move |conn| webhooks::list(conn, org_id, &filter)).await
    }

    async fn retry_delivery(&self, org_id: OrgId, id: DeliveryId, now: Timestamp) -> StoreResult<Delivery> {
        self.writer.run(move |conn| webhooks::retry(conn, org_id, id, now)).await
    }

    async fn add_credit(&self, account_id: AccountId, credit: &NewCredit) -> StoreResult<()> {
        let credit = credit.clone();
        self.writer.run(move |conn| credits::add_credit(conn, account_id, &credit)).await
    }

    async fn set_balance(
        &self,
        account_id: AccountId,
        target: i64,
        id: LedgerId,
        note: &str,
        now: Timestamp,
    ) -> StoreResult<Option<LedgerRow>> {
        let note = note.to_owned();
        self.writer.run(move |conn| credits::set_balance(conn, account_id, target, id, &note, now)).await
    }

    async fn credit_state(&self, account_id: AccountId, now: Timestamp) -> StoreResult<CreditState> {
        // A write: expired free credit found now is written off.
        self.writer.run(move |conn| credits::credit_state(conn, account_id, now)).await
    }

    async fn ledger(&self, account_id: AccountId, before: Option<LedgerId>, limit: u32) -> StoreResult<Vec<LedgerRow>> {
        self.readers.run(move |conn| credits::ledger(conn, account_id, before, limit)).await
    }

    async fn record_purchase(&self, purchase: &NewPurchase) -> StoreResult<bool> {
        let purchase = purchase.clone();
        self.writer.run(move |conn| credits::record_purchase(conn, &purchase)).await
    }

    async fn purchases(&self, account_id: AccountId) -> StoreResult<Vec<Purchase>> {
        self.readers.run(move |conn| credits::purchases(conn, account_id)).await
    }

    async fn reserve_refund(
        &self,
        account_id: AccountId,
        purchase_id: LedgerId,
        ledger_id: LedgerId,
        bought_after: Timestamp,
        now: Timestamp,
    ) -> StoreResult<RefundReservation> {
        self.writer.run(move |conn| credits::reserve_refund(conn, account_id, purchase_id, ledger_id, bought_after, now)).await
    }

    async fn complete_refund(&self, purchase_id: LedgerId, stripe_refund_id: &str, now: Timestamp) -> StoreResult<()> {
        let stripe_refund_id = stripe_refund_id.to_owned();
        self.writer.run(move |conn| credits::complete_refund(conn, purchase_id, &stripe_refund_id, now)).await
    }

    async fn cancel_refund(&self, purchase_id: LedgerId, ledger_id: LedgerId, now: Timestamp) -> StoreResult<()> {
        self.writer.run(move |conn| credits::cancel_refund(conn, purchase_id, ledger_id, now)).await
    }

    async fn org_versions(&self, orgs: &[OrgId]) -> StoreResult<Vec<OrgVersion>> {
        let orgs = orgs.to_vec();
        self.readers.run(move |conn| accounts::org_versions(conn, &orgs)).await
    }

    async fn revoked_keys(&self, keys: &[KeyId]) -> StoreResult<Vec<KeyId>> {
        let keys = keys.to_vec();
        self.readers.run(move |conn| accounts::revoked_keys(conn, &keys)).await
    }
}
