//! oakallow's use cases. Each public method of [`Service`] is one thing a caller can do; it
//! takes a tier-typed caller from [`auth`], decides with the domain crate, and persists through
//! the [`Store`] trait. HTTP lives elsewhere; this crate is testable without it.

pub mod activity;
pub mod approvals;
pub mod auth;
pub mod billing;
pub mod bootstrap;
mod cef;
mod chain_walks;
pub mod check;
pub mod commit;
pub mod config;
pub mod discover;
pub mod error;
mod events;
pub mod executions;
pub mod explain;
pub mod keys;
pub mod manage;
pub mod metrics;
pub mod notify;
pub mod org;
mod orgs_cache;
pub mod page;
pub mod pauses;
pub mod people;
pub mod policy_doc;
pub mod purchases;
pub mod rate_limits;
mod redact;
pub mod schema;
mod shared_runs;
mod signing;
pub mod simulate;
mod sync;
pub mod tokens;
mod wakeups;
pub mod webhooks;

use crate::metrics::{DeploymentGauges, Metrics};
use std::sync::Arc;

use oakallow_domain::Clock;
use oakallow_domain::id::OrgId;
use oakallow_domain::policy::PolicyDiff;
use oakallow_store::Store;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use tokio::sync::{Notify, watch};

use crate::auth::{Caller, KeyCache};
use crate::chain_walks::ChainWalks;
use crate::commit::Committer;
use crate::config::ServiceConfig;
use crate::error::ServiceResult;
use crate::orgs_cache::{OrgCache, OrgRuntime};
use crate::pauses::{Pause, PausePoint, Pauses};
use crate::rate_limits::RateLimits;
use crate::shared_runs::SharedRuns;
use crate::signing::SigningKeys;
use crate::wakeups::Wakeups;
use crate::webhooks::worker::Worker;

pub use error::{ServiceError, ServiceResult as Result};
pub use webhooks::worker::WebhookPasses;

/// The application: storage, time, and the per-node caches.
pub struct Service {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    config: ServiceConfig,
    orgs: OrgCache,
    keys: KeyCache,
    signing: SigningKeys,
    committer: Committer,
    limits: RateLimits,
    walks: ChainWalks,
    database_probe: SharedRuns<bool>,
    wakeups: Wakeups,
    /// Orgs whose approvals just changed on this node (the dashboard's live queue listens).
    approval_changes: tokio::sync::broadcast::Sender<oakallow_domain::id::OrgId>,
    webhook_wake: Arc<Notify>,
    webhook_passes: watch::Receiver<WebhookPasses>,
    stop: watch::Sender<bool>,
    pauses: Arc<Pauses>,
    metrics: Arc<Metrics>,
}

/// Background tasks owned by a [`Service`]: the group committer and, on a server, the webhook
/// worker, the approval sweeper and the change sync. Call [`Service::stop`], drop the service,
/// then await [`ServiceTasks::finished`] to be sure every queued write was committed.
pub struct ServiceTasks {
    tasks: Vec<(&'static str, JoinHandle<()>)>,
}

impl ServiceTasks {
    /// Waits for the background tasks to end.
    pub async fn finished(self) {
        for (name, task) in self.tasks {
            tracing::debug!(task = name, "waiting for a background task to end");
            if let Err(error) = task.await {
                tracing::error!(%error, task = name, "a background task ended abnormally");
            }
        }
    }
}

/// Answer of `GET /v1/health`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok` or `degraded`.
    pub status: &'static str,
    /// oakallow's version.
    pub version: &'static str,
    /// Backend name and whether it answers.
    pub database: DatabaseHealth,
}

/// The database part of the health answer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DatabaseHealth {
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// `ok` or `unavailable`.
    pub status: &'static str,
}

impl Service {
    /// A service for a server: on `store`, with time from `clock`, and with all its background
    /// work (group committer, webhook worker, approval sweeper, change sync). Must be called
    /// inside a tokio runtime.
    pub fn start(store: Arc<dyn Store>, clock: Arc<dyn Clock>, config: ServiceConfig) -> (Arc<Self>, ServiceTasks) {
        let (service, mut tasks, worker) = Self::new(store, clock, config);
        tasks.tasks.push(("webhook worker", tokio::spawn(worker.run())));
        tasks.tasks.push(("approval sweeper", tokio::spawn(sweep_approvals(Arc::downgrade(&service), service.stop.subscribe()))));
        tasks.tasks.push(("change sync", sync::start(&service, service.stop.subscribe())));
        (service, tasks)
    }

    /// A service for a one-shot operator command (`credits`, `admin bootstrap`): it writes
    /// through the group committer like a server, but starts no background work, so it sends no
    /// webhooks, expires no approvals and follows no other nodes: the command does only what it
    /// says. Must be called inside a tokio runtime.
    pub fn start_for_command(store: Arc<dyn Store>, clock: Arc<dyn Clock>, config: ServiceConfig) -> (Arc<Self>, ServiceTasks) {
        let (service, tasks, _idle_worker) = Self::new(store, clock, config);
        (service, tasks)
    }

    /// The service with only its group committer running, and the webhook worker it may start.
    fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, config: ServiceConfig) -> (Arc<Self>, ServiceTasks, Worker) {
        let metrics = Arc::new(Metrics::default());
        let (committer, committer_task) = Committer::start(Arc::clone(&store), Arc::clone(&clock), Arc::clone(&metrics));
        let (stop, stopping) = watch::channel(false);
        let webhook_wake = Arc::new(Notify::new());
        let (passes, webhook_passes) = watch::channel(WebhookPasses::default());
        let worker = Worker {
            store: Arc::clone(&store),
            clock: Arc::clone(&clock),
            config: config.webhooks.clone(),
            wake: Arc::clone(&webhook_wake),
            stopping: stopping.clone(),
            passes,
            metrics: Arc::clone(&metrics),
            channels: config.channels.clone(),
            email: config.email.clone(),
        };
        let limits = RateLimits::new(config.rate_limits.clone());
        let service = Arc::new(Self {
            store,
            clock,
            config,
            limits,
            orgs: OrgCache::default(),
            keys: KeyCache::default(),
            signing: SigningKeys::default(),
            committer,
            walks: ChainWalks::default(),
            database_probe: SharedRuns::default(),
            wakeups: Wakeups::new(stopping),
            approval_changes: tokio::sync::broadcast::channel(256).0,
            webhook_wake,
            webhook_passes,
            stop,
            pauses: Arc::default(),
            metrics,
        });
        (service, ServiceTasks { tasks: vec![("group committer", committer_task)] }, worker)
    }

    /// This node's metrics, for the HTTP layer to count requests in.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Whether `GET /metrics` is served.
    pub fn metrics_enabled(&self) -> bool {
        self.config.metrics.is_some()
    }

    /// The metrics page (Prometheus text): this node's counters and the deployment's numbers,
    /// read from the database now. 401 unless `bearer` is the configured token (compared in
    /// constant time), when one is configured; 404 when metrics are off.
    pub async fn metrics_page(&self, bearer: Option<&str>) -> ServiceResult<String> {
        let Some(settings) = &self.config.metrics else { return Err(ServiceError::NotFound { what: "route" }) };
        if let Some(token) = &settings.token {
            let presented = bearer.unwrap_or("").as_bytes();
            if !bool::from(subtle::ConstantTimeEq::ct_eq(presented, token.as_bytes())) {
                return Err(ServiceError::Unauthenticated);
            }
        }
        let threshold =
            i64::try_from(settings.low_balance_calls).unwrap_or(i64::MAX).saturating_mul(oakallow_domain::billing::PRICE_MICROUSD);
        let counts = self.store.deployment_counts(self.clock.now(), threshold).await?;
        let gauges = DeploymentGauges {
            pending_approvals: counts.pending_approvals,
            queued_deliveries: counts.queued_deliveries,
            low_balance_accounts: self.config.billing_enabled.then_some(counts.low_balance_accounts),
        };
        Ok(self.metrics.render(self.committer.queued(), gauges))
    }

    /// Begins stopping: long-polls answer at once, the webhook worker and the sweeper end.
    /// Writes already queued are still committed.
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }

    /// Where this node's webhook worker stands in its passes over the due deliveries (each pass
    /// claims what is due when it begins and ends once every attempt it made is recorded).
    /// Tests wait on it instead of sleeping: a pass numbered above `started` begins after now.
    pub fn webhook_passes(&self) -> watch::Receiver<WebhookPasses> {
        self.webhook_passes.clone()
    }

    /// The caller behind a presented API key, or 401; 429 if the key (or its org) has made too
    /// many requests, checked before the request does anything else.
    pub async fn authenticate(&self, presented: &str) -> ServiceResult<Caller> {
        let lookups = || self.limits.admit_lookup(self.clock.now());
        let caller = auth::authenticate(self.store.as_ref(), &self.keys, &self.pauses, lookups, presented).await?;
        let key = caller.key_id().ok_or(ServiceError::Internal)?;
        self.limits.admit_request(key, caller.org_id(), self.clock.now())?;
        Ok(caller)
    }

    /// Announces, with its org id, each approval created or decided on this node (expired too,
    /// when this node's sweeper expires it). Changes made on other nodes are not announced here:
    /// a listener that must see them also re-reads now and then.
    pub fn approval_changes(&self) -> tokio::sync::broadcast::Receiver<oakallow_domain::id::OrgId> {
        self.approval_changes.subscribe()
    }

    /// Turns `true` when the service begins stopping ([`Service::stop`]): a response held open
    /// for a client (the dashboard's live approvals stream) ends then, so that shutdown does not
    /// wait for it.
    pub fn stopping(&self) -> watch::Receiver<bool> {
        self.stop.subscribe()
    }

    /// How many long-polls (`GET /v1/approvals/{id}?wait=`) are waiting on this node, as it
    /// changes: tests wait for a long-poll to be parked before they decide, instead of sleeping.
    pub fn parked_long_polls(&self) -> watch::Receiver<usize> {
        self.wakeups.parked()
    }

    /// For tests: holds the next task that reaches `point` until the answer is released or
    /// dropped, so that a race can be provoked deterministically.
    pub fn pause_at(&self, point: PausePoint) -> Pause {
        self.pauses.arm(point)
    }

    /// Whether the service can reach its database. The database is probed at most once at a
    /// time and once a second however many ask (`/v1/health` needs no key, so a flood of it
    /// must not take database connections from the requests that do).
    pub async fn health(&self) -> Health {
        let store = Arc::clone(&self.store);
        let probe = self.database_probe.run(HEALTH_PROBE_REUSE, async move { Ok(store.ping().await.is_ok()) });
        let ok = probe.await.unwrap_or(false);
        Health {
            status: if ok { "ok" } else { "degraded" },
            version: env!("CARGO_PKG_VERSION"),
            database: DatabaseHealth { backend: self.store.backend(), status: if ok { "ok" } else { "unavailable" } },
        }
    }

    /// Runtime writes waiting for the group committer, not yet in a transaction.
    pub fn queued_writes(&self) -> usize {
        self.committer.queued()
    }

    /// The org's in-memory state.
    async fn org_runtime(&self, org: OrgId) -> ServiceResult<Arc<OrgRuntime>> {
        self.orgs.get(self.store.as_ref(), org).await
    }
}

/// How long one database probe answers `/v1/health`.
const HEALTH_PROBE_REUSE: std::time::Duration = std::time::Duration::from_secs(1);

/// The `details` of a `config.changed` entry.
pub(crate) fn audit_details(action: &str, kind: &str, id: Option<&str>, diff: &PolicyDiff, extra: Value) -> Value {
    let mut details = json!({ "action": action, "kind": kind, "changes": diff });
    if let Some(id) = id {
        details["id"] = Value::String(id.to_owned());
    }
    if let (Some(details), Value::Object(extra)) = (details.as_object_mut(), extra) {
        details.extend(extra);
    }
    details
}

/// Runs the approval sweeper until the service stops. It holds the service only weakly, so
/// dropping the service ends it too.
async fn sweep_approvals(service: std::sync::Weak<Service>, mut stopping: watch::Receiver<bool>) {
    loop {
        let interval = {
            let Some(service) = service.upgrade() else { return };
            if let Err(error) = service.sweep_expired_approvals().await {
                tracing::warn!(%error, "approval sweep failed; retrying");
            }
            service.config.sweep_interval
        };
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            changed = stopping.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
        if *stopping.borrow() {
            return;
        }
    }
}
