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
    /// Dashboard accounts: who may sign up, sessions, sign-in attempts.
    pub accounts: AccountsConfig,
    /// Buying credit through Stripe Checkout; `None`: purchases are hidden and
    /// `POST /webhooks/stripe` answers 404.
    pub stripe: Option<StripeConfig>,
    /// Sending e-mail (invitations, sign-in codes) over SMTP; `None`: nothing is e-mailed and
    /// the pages offer no e-mail options.
    pub email: Option<EmailConfig>,
    /// `GET /metrics`; `None`: off (the route answers 404).
    pub metrics: Option<MetricsConfig>,
    /// Where the notification channels' services are.
    pub channels: ChannelsConfig,
}

/// Where the services behind the notification channels are (the defaults are the real ones;
/// tests point them at local servers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelsConfig {
    /// Slack's Web API (`chat.postMessage` and `chat.update` are under it).
    pub slack_api_url: String,
    /// Every `response_url` Slack sends with a click starts with this; any other is refused, so
    /// a click cannot make oakallow send a request elsewhere.
    pub slack_response_url_prefix: String,
    /// PagerDuty's Events API v2 endpoint.
    pub pagerduty_events_url: String,
}

impl Default for ChannelsConfig {
    fn default() -> Self {
        Self {
            slack_api_url: "https://slack.com/api".into(),
            slack_response_url_prefix: "https://hooks.slack.com/".into(),
            pagerduty_events_url: "https://events.pagerduty.com/v2/enqueue".into(),
        }
    }
}

/// The metrics page.
#[derive(Clone, PartialEq, Eq)]
pub struct MetricsConfig {
    /// A scrape must send `Authorization: Bearer <token>`; `None`: anyone who reaches the
    /// listener may read the page.
    pub token: Option<String>,
    /// Accounts holding less credit than this many calls are counted as low on credit.
    pub low_balance_calls: u64,
}

impl std::fmt::Debug for MetricsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsConfig")
            .field("token", &self.token.as_ref().map(|_| "…"))
            .field("low_balance_calls", &self.low_balance_calls)
            .finish()
    }
}

/// Stripe Checkout for buying credit packages.
#[derive(Clone, PartialEq, Eq)]
pub struct StripeConfig {
    /// Where Stripe's API is (`https://api.stripe.com`; a test server in tests).
    pub api_base: String,
    /// The secret API key (`sk_…`) that creates Checkout Sessions.
    pub secret_key: String,
    /// The signing secret (`whsec_…`) of the endpoint that receives `POST /webhooks/stripe`.
    pub webhook_secret: String,
    /// The packages on sale.
    pub packages: Vec<oakallow_domain::stripe::Package>,
}

impl std::fmt::Debug for StripeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The two secrets never reach a log.
        f.debug_struct("StripeConfig").field("api_base", &self.api_base).field("packages", &self.packages).finish_non_exhaustive()
    }
}

/// Who may create an account once the instance has its operator (the first account, which
/// may always sign up on an empty instance).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SignUpMode {
    /// Anyone who can reach the dashboard.
    Open,
    /// Only with an invitation link to an org (default).
    #[default]
    Invite,
    /// Nobody; accounts come from `oakallow admin bootstrap` only.
    Closed,
}

impl SignUpMode {
    /// Parses the config value.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "open" => Some(Self::Open),
            "invite" => Some(Self::Invite),
            "closed" => Some(Self::Closed),
            _ => None,
        }
    }
}

/// Dashboard account settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountsConfig {
    /// Who may sign up.
    pub sign_up: SignUpMode,
    /// How long a session lasts after sign-in, however active.
    pub session_lifetime: Duration,
    /// Failed sign-ins allowed per account and per address within a minute; the next is refused.
    pub sign_in_attempts_per_minute: u32,
    /// How long an invitation link works.
    pub invite_lifetime: Duration,
    /// Mark dashboard cookies `Secure` on every answer (set it when serving over TLS directly;
    /// behind a proxy, `X-Forwarded-Proto: https` does it per request).
    pub secure_cookies: bool,
    /// How long a verified second factor lets its session decide approvals of critical-risk
    /// tools; after that, deciding one asks for the second factor again.
    pub step_up: Duration,
    /// Where people reach the dashboard (`https://oakallow.example.com`): passkeys are bound to
    /// its host name (the WebAuthn relying party id; never an IP address) and only work on pages
    /// of exactly this origin.
    pub public_url: url::Url,
}

/// The default public address of the dashboard.
pub const DEFAULT_PUBLIC_URL: &str = "http://localhost:8080";

impl Default for AccountsConfig {
    fn default() -> Self {
        Self {
            sign_up: SignUpMode::Invite,
            session_lifetime: Duration::from_secs(12 * 3600),
            sign_in_attempts_per_minute: 5,
            invite_lifetime: Duration::from_secs(7 * 24 * 3600),
            secure_cookies: false,
            step_up: Duration::from_secs(300),
            public_url: url::Url::parse(DEFAULT_PUBLIC_URL).expect("the default public URL parses"),
        }
    }
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
    /// Most attempts of one org in flight at once, across all nodes, so that one org whose
    /// receiver is slow cannot hold every slot.
    pub concurrency_per_org: u32,
}

/// How much longer than the attempt timeout a claim of a delivery lasts: time to record the
/// outcome, and room for clocks of different nodes that disagree by less than that.
pub const LEASE_MARGIN_SECONDS: i64 = 60;

impl WebhookConfig {
    /// How long, in seconds, a worker's claim of a delivery lasts: always longer than an attempt
    /// can take, so no other worker claims a delivery whose attempt is still in flight.
    pub fn lease_seconds(&self) -> i64 {
        let timeout = i64::try_from(self.timeout.as_secs()).unwrap_or(i64::MAX);
        // Whole seconds, rounded up, so a fraction of the timeout is never left out.
        let partial = i64::from(self.timeout.subsec_nanos() > 0);
        timeout.saturating_add(partial).saturating_add(LEASE_MARGIN_SECONDS)
    }
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
                concurrency_per_org: 16,
            },
            sweep_interval: Duration::from_secs(1),
            billing_enabled: true,
            sync_interval: Duration::from_secs(2),
            rate_limits: RateLimitConfig::default(),
            accounts: AccountsConfig::default(),
            stripe: None,
            email: None,
            metrics: None,
            channels: ChannelsConfig::default(),
        }
    }
}

/// E-mail over SMTP.
#[derive(Clone, PartialEq, Eq)]
pub struct EmailConfig {
    /// The SMTP server, as lettre reads it: `smtp://host:587?tls=required` (STARTTLS),
    /// `smtps://host:465` (TLS), `smtp://host:25` (plain, for a relay on loopback), with
    /// `user:password@` if the server wants them.
    pub smtp_url: String,
    /// The SMTP password, if not in the URL (it then replaces the URL's).
    pub password: Option<String>,
    /// The sender, `oakallow <oakallow@example.com>` or a bare address.
    pub from: String,
    /// The dashboard's public address (`https://oakallow.example.com`), for the links in e-mails:
    /// never taken from a request's `Host`, which whoever asks for a sign-in code chooses.
    pub dashboard_url: String,
    /// How long an e-mailed sign-in code (and its link) works.
    pub code_lifetime: Duration,
    /// Wrong codes entered before an e-mailed code is void.
    pub code_attempts: u32,
    /// How long one message may take to hand to the SMTP server (connecting included).
    pub timeout: Duration,
}

impl std::fmt::Debug for EmailConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold the SMTP password: only its scheme, host and port are shown.
        let server = url::Url::parse(&self.smtp_url)
            .map(|u| format!("{}://{}:{}", u.scheme(), u.host_str().unwrap_or(""), u.port().map_or(String::new(), |p| p.to_string())))
            .unwrap_or_else(|_| "(unparsable)".into());
        f.debug_struct("EmailConfig")
            .field("server", &server)
            .field("from", &self.from)
            .field("dashboard_url", &self.dashboard_url)
            .field("code_lifetime", &self.code_lifetime)
            .field("code_attempts", &self.code_attempts)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}
