//! Settings of the service that tests and operators may change.

use std::time::Duration;

use oakallow_domain::webhook::RETRY_SCHEDULE_SECONDS;

use crate::rate_limits::RateLimitConfig;

/// How the service behaves.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// Webhook delivery.
    pub webhooks: WebhookConfig,
    /// How often the approval sweeper looks for expired approvals.
    pub sweep_interval: Duration,
    /// Meter billable calls against prepaid credit (off: calls are only counted).
    pub billing_enabled: bool,
    /// How often cached orgs and keys are compared with the database, in case an announcement
    /// from another node was missed.
    pub sync_interval: Duration,
    /// Rate limits per key, per org, of key lookups and of long-polls.
    pub rate_limits: RateLimitConfig,
}

/// Webhook delivery settings.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// Allow destinations on loopback, private and link-local addresses (off by default).
    pub allow_private_targets: bool,
    /// Waits before each retry, in seconds; after the last, a delivery is `failed`.
    pub retry_schedule_seconds: Vec<u32>,
    /// How long one attempt may take.
    pub timeout: Duration,
    /// How often the worker looks for due retries (new events wake it at once).
    pub poll_interval: Duration,
    /// Most attempts in flight at once per node.
    pub concurrency: u32,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            webhooks: WebhookConfig {
                allow_private_targets: false,
                retry_schedule_seconds: RETRY_SCHEDULE_SECONDS.to_vec(),
                timeout: Duration::from_secs(10),
                poll_interval: Duration::from_secs(1),
                concurrency: 32,
            },
            sweep_interval: Duration::from_secs(1),
            billing_enabled: true,
            sync_interval: Duration::from_secs(2),
            rate_limits: RateLimitConfig::default(),
        }
    }
}
