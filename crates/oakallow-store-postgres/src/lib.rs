//! oakallow's PostgreSQL backend, for deployments where several nodes share one database.
//! Every method is one transaction on a connection pool; the audit chain of each org is kept
//! consistent across nodes by row locks on its head, and every other race between nodes
//! (consuming a token, minting from a source, expiring an approval, claiming a webhook
//! delivery, an idempotency key, using an invitation, claiming the instance operator) is
//! settled by one conditional or locking statement.
//! Migrations in `migrations/` are applied at connect, under an advisory lock. The schema is
//! whichever the connection's `search_path` selects first (e.g.
//! `?options=-c%20search_path%3Doakallow` in the URL).
//!
//! Prepaid credit is exact across nodes: every transaction that reads or changes an account's
//! credit first locks the account's row (accounts before chain heads, so nothing deadlocks).
//! Changes that other nodes cache (policy versions, org settings, revoked keys, approvals,
//! pending webhook deliveries) are announced with NOTIFY on a channel of the schema, and
//! [`Store::watch_changes`] follows them.

mod accounts;
mod activity;
mod approvals;
mod billing;
mod chain;
mod credits;
mod email_codes;
mod error;
mod migrate;
mod notifications;
mod notify;
mod passkeys;
mod people;
mod policy;
mod rows;
mod runtime;
mod runtime_rows;
mod second_factors;
mod tokens;
mod webhooks;

use std::str::FromStr;
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
    ActivityFilter, ApprovalFilter, ApprovalTransition, AttemptResult, BatchItem, ChangeSink, Charge, CheckRecord, ClaimLimit,
    ClaimedDelivery, CreateOutcome, CreditState, Delivery, DeliveryAttempt, DeliveryFilter, DeliveryLease, DeploymentCounts, LedgerRow,
    NewApproval, NewCredit, NewKey, NewPurchase, OrgVersion, Outbox, Purchase, RefundReservation, Store, StoreError, StoreResult,
    StoredSigningKey, TokenRecord, WriteOutcome,
};
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::error::map_error;
use crate::notify::Channel;

/// Pool size used by [`PostgresStore::connect`].
pub const DEFAULT_MAX_CONNECTIONS: u32 = 16;

/// The PostgreSQL store.
#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// Where this schema's changes are announced.
    channel: Channel,
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user@host:port/db?...`) with a pool of
    /// [`DEFAULT_MAX_CONNECTIONS`], and applies migrations.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        Self::connect_sized(url, DEFAULT_MAX_CONNECTIONS).await
    }

    /// Connects to the database at `url` with a pool of `max_connections`, and applies migrations.
    pub async fn connect_sized(url: &str, max_connections: u32) -> StoreResult<Self> {
        // The parser's message could quote the URL, password included; say only what is wrong.
        let options = PgConnectOptions::from_str(url).map_err(|_| StoreError::Unavailable("the PostgreSQL URL is not valid".into()))?;
        Self::connect_with(options, max_connections).await
    }

    /// Connects with explicit options and pool size, and applies migrations.
    pub async fn connect_with(options: PgConnectOptions, max_connections: u32) -> StoreResult<Self> {
        // A database that does not answer fails the start (or a request) after 10 s, with a
        // message, instead of after sqlx's default 30 s.
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(std::time::Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(map_error)?;
        let applied = migrate::migrate(&pool).await?;
        if applied > 0 {
            tracing::info!(applied, "applied PostgreSQL migrations");
        }
        let channel = Channel::of_pool(&pool).await?;
        Ok(Self { pool, channel })
    }

    /// The connection pool (for health metrics and tests).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

#[async_trait]
impl Store for PostgresStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(map_error)?;
        Ok(())
    }

    async fn deployment_counts(&self, now: Timestamp, low_balance_below: i64) -> StoreResult<DeploymentCounts> {
        let (approvals, deliveries, low): (i64, i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM approvals WHERE status = 'pending'),
                    (SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'),
                    (SELECT count(*) FROM (
                        SELECT sum(CASE WHEN expires_at IS NULL OR expires_at > $1 THEN remaining ELSE 0 END) AS balance
                          FROM credit_lots GROUP BY account_id) AS balances
                      WHERE balance < $2)",
        )
        .bind(now.micros())
        .bind(low_balance_below)
        .fetch_one(&self.pool)
        .await
        .map_err(map_error)?;
        let count = |n: i64| u64::try_from(n).map_err(|_| StoreError::Corrupt("a negative count".into()));
        Ok(DeploymentCounts {
            pending_approvals: count(approvals)?,
            queued_deliveries: count(deliveries)?,
            low_balance_accounts: count(low)?,
        })
    }

    async fn create_account(&self, account: &Account, password_hash: Option<&str>, free_credit: Option<&NewCredit>) -> StoreResult<()> {
        accounts::create_account(&self.pool, account, password_hash, free_credit).await
    }

    async fn account_by_email(&self, email: &str) -> StoreResult<Option<Account>> {
        accounts::account_by_email(&self.pool, email).await
    }

    async fn create_org(&self, org: &Org, keys: &[NewKey], activity: Vec<ActivityRecord>) -> StoreResult<()> {
        accounts::create_org(&self.pool, org, keys, &activity).await
    }

    async fn org(&self, org_id: OrgId) -> StoreResult<Option<Org>> {
        accounts::org(&self.pool, org_id).await
    }

    async fn orgs_of_account(&self, account_id: AccountId) -> StoreResult<Vec<Org>> {
        accounts::orgs_of_account(&self.pool, account_id).await
    }

    async fn update_org(
        &self,
        org: &Org,
        expected_updated_at: Timestamp,
        first_webhook_secret: Option<&str>,
        activity: ActivityRecord,
    ) -> StoreResult<()> {
        accounts::update_org(&self.pool, &self.channel, org, expected_updated_at, first_webhook_secret, &activity).await
    }

    async fn webhook_secret(&self, org_id: OrgId) -> StoreResult<Option<String>> {
        accounts::webhook_secret(&self.pool, org_id).await
    }

    async fn set_webhook_secret(&self, org_id: OrgId, secret: &str, activity: ActivityRecord) -> StoreResult<()> {
        accounts::set_webhook_secret(&self.pool, &self.channel, org_id, secret, &activity).await
    }

    async fn create_key(&self, key: &NewKey, activity: ActivityRecord) -> StoreResult<()> {
        accounts::create_key(&self.pool, key, &activity).await
    }

    async fn key_by_digest(&self, digest: &[u8; 32]) -> StoreResult<Option<ApiKey>> {
        accounts::key_by_digest(&self.pool, digest).await
    }

    async fn list_keys(&self, org_id: OrgId, after: Option<KeyId>, limit: u32) -> StoreResult<Vec<ApiKey>> {
        accounts::list_keys(&self.pool, org_id, after, limit).await
    }

    async fn key(&self, org_id: OrgId, key_id: KeyId) -> StoreResult<Option<ApiKey>> {
        accounts::key(&self.pool, org_id, key_id).await
    }

    async fn revoke_key(&self, org_id: OrgId, key_id: KeyId, at: Timestamp, activity: ActivityRecord) -> StoreResult<ApiKey> {
        accounts::revoke_key(&self.pool, &self.channel, org_id, key_id, at, &activity).await
    }

    async fn load_policy(&self, org_id: OrgId) -> StoreResult<(u64, PolicyParts)> {
        policy::load(&self.pool, org_id).await
    }

    async fn commit_policy(
        &self,
        org_id: OrgId,
        expected_version: u64,
        changes: &[PolicyChange],
        activity: Vec<ActivityRecord>,
        outbox: Vec<Outbox>,
    ) -> StoreResult<u64> {
        policy::commit(&self.pool, &self.channel, org_id, expected_version, changes, &activity, &outbox).await
    }

    async fn policy_version(&self, org_id: OrgId) -> StoreResult<u64> {
        policy::version(&self.pool, org_id).await
    }

    async fn commit_runtime(&self, now: Timestamp, batch: Arc<[BatchItem]>) -> StoreResult<Vec<WriteOutcome>> {
        runtime::commit(&self.pool, now, &batch).await
    }

    async fn check(&self, org_id: OrgId, check_id: CheckId) -> StoreResult<Option<CheckRecord>> {
        runtime::check(&self.pool, org_id, check_id).await
    }

    async fn list_activity(&self, org_id: OrgId, filter: &ActivityFilter) -> StoreResult<Vec<ActivityEntry>> {
        activity::list(&self.pool, org_id, filter).await
    }

    async fn activity(&self, org_id: OrgId, id: ActivityId) -> StoreResult<Option<ActivityEntry>> {
        activity::get(&self.pool, org_id, id).await
    }

    async fn verify_chain(&self, org_id: OrgId) -> StoreResult<ChainCheck> {
        activity::verify(&self.pool, org_id).await
    }

    async fn signing_key(&self, org_id: OrgId, algorithm: Algorithm) -> StoreResult<Option<StoredSigningKey>> {
        tokens::signing_key(&self.pool, org_id, algorithm).await
    }

    async fn signing_key_by_kid(&self, org_id: OrgId, kid: &str) -> StoreResult<Option<StoredSigningKey>> {
        tokens::signing_key_by_kid(&self.pool, org_id, kid).await
    }

    async fn add_signing_key(&self, key: &StoredSigningKey) -> StoreResult<StoredSigningKey> {
        tokens::add_signing_key(&self.pool, key).await
    }

    async fn ed25519_keys(&self, org_id: OrgId) -> StoreResult<Vec<StoredSigningKey>> {
        tokens::ed25519_keys(&self.pool, org_id).await
    }

    async fn token(&self, org_id: OrgId, jti: &str) -> StoreResult<Option<TokenRecord>> {
        tokens::token(&self.pool, org_id, jti).await
    }

    async fn token_has_execution(&self, org_id: OrgId, jti: &str) -> StoreResult<bool> {
        tokens::has_execution(&self.pool, org_id, jti).await
    }

    async fn create_approval(&self, new: &NewApproval, charge: Option<Charge>) -> StoreResult<CreateOutcome> {
        approvals::create(&self.pool, &self.channel, new, charge).await
    }

    async fn approval(&self, org_id: OrgId, id: ApprovalId) -> StoreResult<Option<Approval>> {
        approvals::get(&self.pool, org_id, id).await
    }

    async fn list_approvals(&self, org_id: OrgId, filter: &ApprovalFilter) -> StoreResult<Vec<Approval>> {
        approvals::list(&self.pool, org_id, filter).await
    }

    async fn transition_approval(&self, transition: &ApprovalTransition) -> StoreResult<bool> {
        approvals::transition(&self.pool, &self.channel, transition).await
    }

    async fn due_approvals(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<Approval>> {
        approvals::due(&self.pool, now, limit).await
    }

    async fn enqueue_webhook(&self, outbox: &Outbox) -> StoreResult<()> {
        webhooks::enqueue(&self.pool, &self.channel, outbox).await
    }

    async fn claim_deliveries(&self, now: Timestamp, lease: DeliveryLease, limit: ClaimLimit) -> StoreResult<Vec<ClaimedDelivery>> {
        webhooks::claim(&self.pool, now, lease, limit).await
    }

    async fn finish_attempt(&self, id: DeliveryId, lease: LeaseId, attempt: &DeliveryAttempt, result: AttemptResult) -> StoreResult<bool> {
        webhooks::finish_attempt(&self.pool, id, lease, attempt, result).await
    }

    async fn list_deliveries(&self, org_id: OrgId, filter: &DeliveryFilter) -> StoreResult<Vec<Delivery>> {
        webhooks::list(&self.pool, org_id, filter).await
    }

    async fn retry_delivery(&self, org_id: OrgId, id: DeliveryId, now: Timestamp) -> StoreResult<Delivery> {
        webhooks::retry(&self.pool, &self.channel, org_id, id, now).await
    }

    async fn add_credit(&self, account_id: AccountId, credit: &NewCredit) -> StoreResult<()> {
        credits::add_credit(&self.pool, account_id, credit).await
    }

    async fn set_balance(
        &self,
        account_id: AccountId,
        target: i64,
        id: LedgerId,
        note: &str,
        now: Timestamp,
    ) -> StoreResult<Option<LedgerRow>> {
        credits::set_balance(&self.pool, account_id, target, id, note, now).await
    }

    async fn credit_state(&self, account_id: AccountId, now: Timestamp) -> StoreResult<CreditState> {
        credits::credit_state(&self.pool, account_id, now).await
    }

    async fn ledger(&self, account_id: AccountId, before: Option<LedgerId>, limit: u32) -> StoreResult<Vec<LedgerRow>> {
        credits::ledger(&self.pool, account_id, before, limit).await
    }

    async fn record_purchase(&self, purchase: &NewPurchase) -> StoreResult<bool> {
        credits::record_purchase(&self.pool, purchase).await
    }

    async fn purchases(&self, account_id: AccountId) -> StoreResult<Vec<Purchase>> {
        credits::purchases(&self.pool, account_id).await
    }

    async fn reserve_refund(
        &self,
        account_id: AccountId,
        purchase_id: LedgerId,
        ledger_id: LedgerId,
        bought_after: Timestamp,
        now: Timestamp,
    ) -> StoreResult<RefundReservation> {
        credits::reserve_refund(&self.pool, account_id, purchase_id, ledger_id, bought_after, now).await
    }

    async fn complete_refund(&self, purchase_id: LedgerId, stripe_refund_id: &str, now: Timestamp) -> StoreResult<()> {
        credits::complete_refund(&self.pool, purchase_id, stripe_refund_id, now).await
    }

    async fn cancel_refund(&self, purchase_id: LedgerId, ledger_id: LedgerId, now: Timestamp) -> StoreResult<()> {
        credits::cancel_refund(&self.pool, purchase_id, ledger_id, now).await
    }

    fn watch_changes(&self, sink: ChangeSink) -> StoreResult<()> {
        notify::watch(&self.pool, &self.channel, sink)
    }

    async fn org_versions(&self, orgs: &[OrgId]) -> StoreResult<Vec<OrgVersion>> {
        accounts::org_versions(&self.pool, orgs).await
    }

    async fn revoked_keys(&self, keys: &[KeyId]) -> StoreResult<Vec<KeyId>> {
        accounts::revoked_keys(&self.pool, keys).await
    }
}
