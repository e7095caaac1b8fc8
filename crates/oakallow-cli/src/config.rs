//! Configuration: built-in defaults (`config/default.toml`) < `oakallow.toml` < `OAKALLOW_*`
//! environment variables < command-line flags, with `<key>_file` reading a value from a file.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use toml::{Table, Value};

/// The defaults, which also list every setting there is.
const DEFAULTS: &str = include_str!("../../../config/default.toml");

/// Environment variables are `OAKALLOW_` + the key path joined with `__`.
const ENV_PREFIX: &str = "OAKALLOW_";

/// Every setting.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Listen address.
    pub listen: String,
    /// SQLite data directory.
    pub data_dir: PathBuf,
    /// PostgreSQL URL; empty for SQLite.
    pub database_url: String,
    /// Database settings.
    pub database: DatabaseConfig,
    /// Logging.
    pub log: LogConfig,
    /// Webhook delivery.
    pub webhooks: WebhooksConfig,
    /// Approvals.
    pub approvals: ApprovalsConfig,
    /// Billing.
    pub billing: BillingConfig,
    /// Change propagation.
    pub sync: SyncConfig,
    /// Connections.
    pub server: ServerConfig,
    /// Rate limits.
    pub rate_limits: RateLimitsConfig,
    /// Dashboard accounts.
    pub accounts: AccountsConfig,
    /// E-mail over SMTP.
    pub email: EmailConfig,
    /// The metrics page.
    pub metrics: MetricsConfig,
    /// Where the notification channels' services are.
    pub notifications: NotificationsConfig,
}

/// `[notifications]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationsConfig {
    /// Slack's Web API.
    pub slack_api_url: String,
    /// What every Slack `response_url` starts with.
    pub slack_response_url_prefix: String,
    /// PagerDuty's Events API v2 endpoint.
    pub pagerduty_events_url: String,
}

impl NotificationsConfig {
    /// Refuses addresses that are not http(s) URLs.
    fn check(&self) -> Result<()> {
        for (name, value) in [
            ("notifications.slack_api_url", &self.slack_api_url),
            ("notifications.slack_response_url_prefix", &self.slack_response_url_prefix),
            ("notifications.pagerduty_events_url", &self.pagerduty_events_url),
        ] {
            let host = value.strip_prefix("https://").or_else(|| value.strip_prefix("http://")).unwrap_or("");
            if host.is_empty() || host.starts_with('/') || host.chars().any(char::is_whitespace) {
                bail!("{name} must be an http(s) URL");
            }
        }
        Ok(())
    }
}

/// `[metrics]`.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Serve `GET /metrics`.
    pub enabled: bool,
    /// The bearer token a scrape must send; empty: none asked for.
    pub token: String,
    /// The credit, in calls, under which an account counts as low on credit.
    pub low_balance_calls: u64,
}

impl std::fmt::Debug for MetricsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsConfig")
            .field("enabled", &self.enabled)
            .field("low_balance_calls", &self.low_balance_calls)
            .finish_non_exhaustive()
    }
}

impl MetricsConfig {
    /// The service's metrics settings, `None` when metrics are off.
    fn service(&self) -> Option<oakallow_service::config::MetricsConfig> {
        self.enabled.then(|| oakallow_service::config::MetricsConfig {
            token: Some(self.token.trim().to_owned()).filter(|t| !t.is_empty()),
            low_balance_calls: self.low_balance_calls,
        })
    }
}

/// `[accounts]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountsConfig {
    /// `open`, `invite` or `closed`.
    pub sign_up: String,
    /// Hours a session lasts after sign-in.
    pub session_hours: u32,
    /// Failed sign-ins per account and per address per minute (0: no limit).
    pub sign_in_attempts_per_minute: u32,
    /// Days an invitation link works.
    pub invite_days: u32,
    /// Always mark cookies `Secure`.
    pub secure_cookies: bool,
    /// Seconds a verified second factor covers deciding approvals of critical-risk tools.
    pub step_up_seconds: u32,
    /// Where people reach the dashboard (the passkeys' relying party).
    pub public_url: String,
}

impl AccountsConfig {
    /// Refuses a sign-up mode that does not exist.
    fn check(&self) -> Result<()> {
        if oakallow_service::config::SignUpMode::parse(&self.sign_up).is_none() {
            bail!("accounts.sign_up must be open, invite or closed, not {:?}", self.sign_up);
        }
        if let Err(error) = oakallow_service::people::passkeys::public_url(&self.public_url) {
            bail!("accounts.public_url: {error}");
        }
        Ok(())
    }

    fn service(&self) -> oakallow_service::config::AccountsConfig {
        // Checked when the configuration was loaded.
        let sign_up = oakallow_service::config::SignUpMode::parse(&self.sign_up).unwrap_or_default();
        oakallow_service::config::AccountsConfig {
            sign_up,
            session_lifetime: std::time::Duration::from_secs(u64::from(self.session_hours.max(1)) * 3600),
            sign_in_attempts_per_minute: self.sign_in_attempts_per_minute,
            invite_lifetime: std::time::Duration::from_secs(u64::from(self.invite_days.max(1)) * 24 * 3600),
            secure_cookies: self.secure_cookies,
            step_up: std::time::Duration::from_secs(u64::from(self.step_up_seconds)),
            // Checked when the configuration was loaded.
            public_url: oakallow_service::people::passkeys::public_url(&self.public_url)
                .unwrap_or_else(|_| oakallow_service::config::AccountsConfig::default().public_url),
        }
    }
}

/// `[rate_limits]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitsConfig {
    /// Sustained requests per second of one key (0: off).
    pub per_key_per_second: u32,
    /// Requests one key may make at once.
    pub per_key_burst: u32,
    /// Sustained requests per second of one org's keys together (0: off).
    pub per_org_per_second: u32,
    /// Requests one org may make at once.
    pub per_org_burst: u32,
    /// Database lookups per second of keys the node has not cached (0: off).
    pub key_lookups_per_second: u32,
    /// Long-polls one key may hold open at once (0: no limit).
    pub long_polls_per_key: u32,
    /// Activity exports one org may run at once (0: no limit).
    pub exports_per_org: u32,
}

impl RateLimitsConfig {
    fn service(&self) -> oakallow_service::rate_limits::RateLimitConfig {
        use oakallow_service::rate_limits::Rate;
        oakallow_service::rate_limits::RateLimitConfig {
            per_key: Rate { per_second: self.per_key_per_second, burst: self.per_key_burst },
            per_org: Rate { per_second: self.per_org_per_second, burst: self.per_org_burst },
            key_lookups: Rate { per_second: self.key_lookups_per_second, burst: self.key_lookups_per_second },
            long_polls_per_key: self.long_polls_per_key,
            exports_per_org: self.exports_per_org,
        }
    }
}

/// `[server]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Seconds for a request's header to arrive.
    pub header_read_timeout_seconds: u64,
    /// Seconds a kept-alive connection may idle.
    pub idle_timeout_seconds: u64,
    /// Seconds for a request's body to arrive.
    pub body_read_timeout_seconds: u64,
    /// Seconds a response may wait for a client that does not read it.
    pub response_write_timeout_seconds: u64,
    /// Most open connections.
    pub max_connections: usize,
    /// Seconds for requests in flight at shutdown.
    pub shutdown_timeout_seconds: u64,
}

/// `[billing]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BillingConfig {
    /// Meter billable calls.
    pub enabled: bool,
    /// Stripe Checkout.
    pub stripe: StripeConfig,
}

/// `[billing.stripe]`.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StripeConfig {
    /// API key; empty: purchases off.
    pub secret_key: String,
    /// Signing secret of the webhook endpoint; empty: purchases off.
    pub webhook_secret: String,
    /// Stripe's API.
    pub api_base: String,
    /// Packages on sale.
    pub packages: Vec<PackageConfig>,
}

impl std::fmt::Debug for StripeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeConfig").field("api_base", &self.api_base).field("packages", &self.packages).finish_non_exhaustive()
    }
}

/// One of `billing.stripe.packages`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageConfig {
    /// How checkouts name it.
    pub id: String,
    /// What buyers see.
    pub name: String,
    /// Price in US cents.
    pub price_cents: i64,
    /// Billable calls it buys.
    pub calls: i64,
}

impl StripeConfig {
    /// Refuses half a configuration and packages nobody could buy.
    fn check(&self) -> Result<()> {
        if self.secret_key.is_empty() != self.webhook_secret.is_empty() {
            bail!("billing.stripe needs both secret_key and webhook_secret (or neither, to turn purchases off)");
        }
        if !self.api_base.starts_with("https://") && !self.api_base.starts_with("http://") {
            bail!("billing.stripe.api_base must be an http(s) URL");
        }
        let mut ids = std::collections::HashSet::new();
        for package in &self.packages {
            if package.id.is_empty() || package.price_cents <= 0 || package.calls <= 0 || !ids.insert(package.id.as_str()) {
                bail!("billing.stripe.packages: each needs a unique id, a positive price_cents and positive calls");
            }
        }
        Ok(())
    }

    /// The service's Stripe settings, `None` when purchases are off.
    fn service(&self) -> Option<oakallow_service::config::StripeConfig> {
        (!self.secret_key.is_empty()).then(|| oakallow_service::config::StripeConfig {
            api_base: self.api_base.clone(),
            secret_key: self.secret_key.trim().to_owned(),
            webhook_secret: self.webhook_secret.trim().to_owned(),
            packages: self
                .packages
                .iter()
                .map(|p| oakallow_domain::stripe::Package {
                    id: p.id.clone(),
                    name: p.name.clone(),
                    price_cents: p.price_cents,
                    calls: p.calls,
                })
                .collect(),
        })
    }
}

/// `[email]`.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// The SMTP server; empty: e-mail off.
    pub smtp_url: String,
    /// The SMTP password, if not in the URL.
    pub password: String,
    /// The sender.
    pub from: String,
    /// The dashboard's public address, for links.
    pub dashboard_url: String,
    /// Minutes a sign-in code works.
    pub code_minutes: u32,
    /// Wrong codes before a code is void.
    pub code_attempts: u32,
    /// Seconds to hand one message over.
    pub timeout_seconds: u64,
}

impl std::fmt::Debug for EmailConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // smtp_url may hold the password too: neither is shown.
        f.debug_struct("EmailConfig").field("from", &self.from).field("dashboard_url", &self.dashboard_url).finish_non_exhaustive()
    }
}

impl EmailConfig {
    /// Refuses settings that could not send (only when e-mail is on).
    fn check(&self) -> Result<()> {
        let Some(service) = self.service() else { return Ok(()) };
        if self.code_minutes == 0 || self.code_attempts == 0 || !(1..=300).contains(&self.timeout_seconds) {
            bail!("email.code_minutes and email.code_attempts must be at least 1, email.timeout_seconds 1 to 300");
        }
        oakallow_service::people::mail::check(&service).map_err(anyhow::Error::msg)
    }

    /// The service's e-mail settings, `None` when e-mail is off.
    fn service(&self) -> Option<oakallow_service::config::EmailConfig> {
        let seconds = std::time::Duration::from_secs;
        (!self.smtp_url.trim().is_empty()).then(|| oakallow_service::config::EmailConfig {
            smtp_url: self.smtp_url.trim().to_owned(),
            password: Some(self.password.clone()).filter(|p| !p.is_empty()),
            from: self.from.trim().to_owned(),
            dashboard_url: self.dashboard_url.trim().to_owned(),
            code_lifetime: seconds(u64::from(self.code_minutes) * 60),
            code_attempts: self.code_attempts,
            timeout: seconds(self.timeout_seconds),
        })
    }
}

/// `[sync]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncConfig {
    /// Interval of the safety-net comparison, in milliseconds.
    pub interval_ms: u64,
}

/// `[webhooks]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhooksConfig {
    /// Allow internal destinations.
    pub allow_private_targets: bool,
    /// Retry waits, in seconds.
    pub retry_schedule_seconds: Vec<u32>,
    /// Attempt timeout, in seconds.
    pub timeout_seconds: u64,
    /// Attempts in flight at once on this node.
    pub concurrency: u32,
    /// Attempts of one org in flight at once, across nodes.
    pub concurrency_per_org: u32,
}

/// Longest attempt timeout accepted, in seconds: a delivery's lease (timeout plus a margin) is
/// how long a crashed node's attempt waits to be taken over.
const MAX_WEBHOOK_TIMEOUT_SECONDS: u64 = 3600;

impl WebhooksConfig {
    /// Refuses settings no delivery could work with.
    fn check(&self) -> Result<()> {
        if !(1..=MAX_WEBHOOK_TIMEOUT_SECONDS).contains(&self.timeout_seconds) {
            bail!("webhooks.timeout_seconds must be between 1 and {MAX_WEBHOOK_TIMEOUT_SECONDS}");
        }
        if self.concurrency == 0 || self.concurrency_per_org == 0 {
            bail!("webhooks.concurrency and webhooks.concurrency_per_org must be at least 1");
        }
        Ok(())
    }
}

/// `[approvals]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalsConfig {
    /// Sweep interval, in milliseconds.
    pub sweep_interval_ms: u64,
}

impl Config {
    /// The service settings this configuration asks for.
    pub fn service(&self) -> oakallow_service::config::ServiceConfig {
        let mut service = oakallow_service::config::ServiceConfig::default();
        service.webhooks.allow_private_targets = self.webhooks.allow_private_targets;
        service.webhooks.retry_schedule_seconds.clone_from(&self.webhooks.retry_schedule_seconds);
        service.webhooks.timeout = std::time::Duration::from_secs(self.webhooks.timeout_seconds);
        service.webhooks.concurrency = self.webhooks.concurrency;
        service.webhooks.concurrency_per_org = self.webhooks.concurrency_per_org;
        service.sweep_interval = std::time::Duration::from_millis(self.approvals.sweep_interval_ms.max(10));
        service.billing_enabled = self.billing.enabled;
        service.stripe = self.billing.stripe.service();
        service.sync_interval = std::time::Duration::from_millis(self.sync.interval_ms.max(10));
        service.rate_limits = self.rate_limits.service();
        service.accounts = self.accounts.service();
        service.email = self.email.service();
        service.metrics = self.metrics.service();
        service.channels = oakallow_service::config::ChannelsConfig {
            slack_api_url: self.notifications.slack_api_url.clone(),
            slack_response_url_prefix: self.notifications.slack_response_url_prefix.clone(),
            pagerduty_events_url: self.notifications.pagerduty_events_url.clone(),
        };
        service
    }
}

impl Config {
    /// The HTTP server's connection limits (before fitting them to the open files limit).
    pub fn connection_limits(&self) -> oakallow_server::ConnectionLimits {
        let seconds = |value: u64| std::time::Duration::from_secs(value.max(1));
        let server = &self.server;
        oakallow_server::ConnectionLimits {
            header_read_timeout: seconds(server.header_read_timeout_seconds),
            idle_timeout: seconds(server.idle_timeout_seconds),
            body_read_timeout: seconds(server.body_read_timeout_seconds),
            response_write_timeout: seconds(server.response_write_timeout_seconds),
            max_connections: server.max_connections.max(1),
            shutdown_timeout: std::time::Duration::from_secs(server.shutdown_timeout_seconds),
        }
    }
}

/// `[database]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// PostgreSQL pool size.
    pub max_connections: u32,
}

/// `[log]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// `text` or `json`.
    pub format: String,
    /// tracing filter.
    pub filter: String,
}

/// Values given on the command line, as `(key path, value)`.
pub type Overrides = Vec<(&'static str, Value)>;

impl Config {
    /// Loads the configuration. `file` is an explicit `--config`; without it `./oakallow.toml` is
    /// read if present.
    pub fn load(file: Option<&Path>, env: impl Iterator<Item = (String, String)>, flags: Overrides) -> Result<Self> {
        let mut table: Table = DEFAULTS.parse().context("built-in defaults")?;
        let file = file.map(Path::to_path_buf).or_else(|| Some(PathBuf::from("oakallow.toml")).filter(|p| p.exists()));
        if let Some(path) = file {
            let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
            let overlay: Table = text.parse().with_context(|| format!("parsing {}", path.display()))?;
            merge(&mut table, overlay);
        }
        let defaults: Table = DEFAULTS.parse()?;
        for (name, raw) in env {
            if let Some(path) = env_key_path(&name, &defaults) {
                set(&mut table, &path, parse_env_value(&raw));
            }
        }
        for (key, value) in flags {
            set(&mut table, &key.split('.').map(str::to_owned).collect::<Vec<_>>(), value);
        }
        read_files(&mut table)?;
        let config: Self = Value::Table(table).try_into().context("invalid configuration")?;
        config.webhooks.check()?;
        config.accounts.check()?;
        config.billing.stripe.check()?;
        config.email.check()?;
        config.notifications.check()?;
        Ok(config)
    }
}

fn merge(base: &mut Table, overlay: Table) {
    for (key, value) in overlay {
        match (base.get_mut(&key), value) {
            (Some(Value::Table(base)), Value::Table(overlay)) => merge(base, overlay),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

fn set(table: &mut Table, path: &[String], value: Value) {
    let Some((last, parents)) = path.split_last() else { return };
    let mut current = table;
    for key in parents {
        let entry = current.entry(key.clone()).or_insert_with(|| Value::Table(Table::new()));
        let Value::Table(next) = entry else { return };
        current = next;
    }
    current.insert(last.clone(), value);
}

/// The key path an environment variable sets, if it names a known setting (or its `_file`).
/// Other `OAKALLOW_*` variables (such as test settings) are ignored.
fn env_key_path(name: &str, defaults: &Table) -> Option<Vec<String>> {
    let rest = name.strip_prefix(ENV_PREFIX)?;
    let path: Vec<String> = rest.split("__").map(str::to_lowercase).collect();
    let known = |path: &[String]| {
        let mut current = defaults;
        for (i, key) in path.iter().enumerate() {
            match current.get(key) {
                Some(Value::Table(next)) if i + 1 < path.len() => current = next,
                Some(value) if i + 1 == path.len() => return !value.is_table(),
                _ => return false,
            }
        }
        false
    };
    let mut plain = path.clone();
    if let Some(last) = plain.last_mut()
        && let Some(stripped) = last.strip_suffix("_file")
    {
        *last = stripped.to_owned();
        return known(&plain).then_some(path);
    }
    known(&path).then_some(path)
}

/// Environment values are TOML scalars when they parse as one (`true`, `16`), else strings.
fn parse_env_value(raw: &str) -> Value {
    match format!("v = {raw}").parse::<Table>() {
        Ok(mut table) => match table.remove("v") {
            Some(value @ (Value::Boolean(_) | Value::Integer(_) | Value::Float(_) | Value::Array(_))) => value,
            _ => Value::String(raw.to_owned()),
        },
        Err(_) => Value::String(raw.to_owned()),
    }
}

/// Replaces every `<key>_file = "path"` by `<key> = <file contents>`.
fn read_files(table: &mut Table) -> Result<()> {
    let file_keys: Vec<String> = table.keys().filter(|k| k.ends_with("_file")).cloned().collect();
    for key in file_keys {
        let Some(Value::String(path)) = table.remove(&key) else { bail!("{key} must be a file path") };
        let contents = std::fs::read_to_string(&path).with_context(|| format!("reading {key} ({path})"))?;
        let target = key.trim_end_matches("_file").to_owned();
        table.insert(target, Value::String(contents.trim_end_matches(['\r', '\n']).to_owned()));
    }
    for (_, value) in table.iter_mut() {
        if let Value::Table(inner) = value {
            read_files(inner)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Iterator<Item = (String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect::<Vec<_>>().into_iter()
    }

    #[test]
    fn defaults_then_env_then_flags() {
        let config = Config::load(None, env(&[]), vec![]).unwrap();
        assert_eq!(config.listen, "127.0.0.1:8080");
        assert_eq!(config.database.max_connections, 16);

        let config = Config::load(
            None,
            env(&[("OAKALLOW_LISTEN", "127.0.0.1:9000"), ("OAKALLOW_DATABASE__MAX_CONNECTIONS", "4"), ("OAKALLOW_TEST_POSTGRES_URL", "x")]),
            vec![("listen", Value::String("127.0.0.1:9100".into()))],
        )
        .unwrap();
        assert_eq!(config.listen, "127.0.0.1:9100");
        assert_eq!(config.database.max_connections, 4);
    }

    #[test]
    fn file_overrides_defaults_and_secrets_come_from_files() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("db-url");
        std::fs::write(&secret, "postgres://example/db\n").unwrap();
        let file = dir.path().join("oakallow.toml");
        std::fs::write(&file, "[log]\nformat = \"json\"\n").unwrap();
        let config = Config::load(Some(&file), env(&[("OAKALLOW_DATABASE_URL_FILE", secret.to_str().unwrap())]), vec![]).unwrap();
        assert_eq!(config.log.format, "json");
        assert_eq!(config.database_url, "postgres://example/db");
    }

    #[test]
    fn email_is_off_by_default_and_its_secrets_come_from_files_and_stay_out_of_debug() {
        assert!(Config::load(None, env(&[]), vec![]).unwrap().service().email.is_none(), "off by default");
        let dir = tempfile::tempdir().unwrap();
        let password = dir.path().join("smtp-password");
        std::fs::write(&password, "smtp-pass-from-file\n").unwrap();
        let vars = [
            ("OAKALLOW_EMAIL__SMTP_URL", "smtp://mailer@mail.example:587?tls=required"),
            ("OAKALLOW_EMAIL__PASSWORD_FILE", password.to_str().unwrap()),
            ("OAKALLOW_EMAIL__FROM", "oakallow <oak@example.com>"),
            ("OAKALLOW_EMAIL__DASHBOARD_URL", "https://oak.example.com"),
        ];
        let config = Config::load(None, env(&vars), vec![]).unwrap();
        let email = config.service().email.unwrap();
        assert_eq!(email.password.as_deref(), Some("smtp-pass-from-file"));
        assert_eq!(email.code_lifetime, std::time::Duration::from_secs(600), "ten minutes by default");
        assert!(!format!("{email:?}{:?}", config.email).contains("smtp-pass"), "the password stays out of Debug");
        let in_url = Config::load(None, env(&[("OAKALLOW_EMAIL__SMTP_URL", "smtp://u:in-url-secret@mail.example")]), vec![]);
        assert!(in_url.is_err_and(|e| !format!("{e:#}").contains("in-url-secret")), "refused (no from) without repeating the URL");
        let bad = Config::load(
            None,
            env(&[
                ("OAKALLOW_EMAIL__SMTP_URL", "ftp://mail.example"),
                ("OAKALLOW_EMAIL__FROM", "a@b.example"),
                ("OAKALLOW_EMAIL__DASHBOARD_URL", "https://oak.example.com"),
            ]),
            vec![],
        );
        assert!(bad.is_err(), "not an SMTP URL");
    }

    #[test]
    fn purchases_need_both_stripe_secrets_and_sell_the_products_packages() {
        assert!(Config::load(None, env(&[]), vec![]).unwrap().service().stripe.is_none(), "off by default");
        let half = Config::load(None, env(&[("OAKALLOW_BILLING__STRIPE__SECRET_KEY", "sk_test_1")]), vec![]);
        assert!(half.is_err_and(|e| format!("{e:#}").contains("webhook_secret")));
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("whsec");
        std::fs::write(&secret, "whsec_from_file\n").unwrap();
        let vars = [
            ("OAKALLOW_BILLING__STRIPE__SECRET_KEY", "sk_test_1"),
            ("OAKALLOW_BILLING__STRIPE__WEBHOOK_SECRET_FILE", secret.to_str().unwrap()),
        ];
        let stripe = Config::load(None, env(&vars), vec![]).unwrap().service().stripe.unwrap();
        assert_eq!((stripe.secret_key.as_str(), stripe.webhook_secret.as_str()), ("sk_test_1", "whsec_from_file"));
        assert_eq!(stripe.packages, oakallow_domain::stripe::default_packages(), "config/default.toml sells PRODUCT.md's packages");
        assert!(!format!("{stripe:?}").contains("sk_test_1") && !format!("{stripe:?}").contains("whsec"), "secrets stay out of Debug");
    }

    #[test]
    fn webhook_timeouts_must_be_usable() {
        for bad in ["0", "3601"] {
            let refused = Config::load(None, env(&[("OAKALLOW_WEBHOOKS__TIMEOUT_SECONDS", bad)]), vec![]);
            assert!(refused.is_err(), "timeout_seconds = {bad}");
        }
        let config = Config::load(None, env(&[("OAKALLOW_WEBHOOKS__TIMEOUT_SECONDS", "120")]), vec![]).unwrap();
        assert_eq!(config.service().webhooks.lease_seconds(), 180, "the lease outlasts the timeout");
    }

    #[test]
    fn nested_keys_map_to_double_underscores() {
        let config = Config::load(None, env(&[("OAKALLOW_WEBHOOKS__ALLOW_PRIVATE_TARGETS", "true")]), vec![]).unwrap();
        assert!(config.webhooks.allow_private_targets);
        assert!(config.service().webhooks.allow_private_targets);
        let config = Config::load(None, env(&[]), vec![]).unwrap();
        assert!(!config.service().webhooks.allow_private_targets);
        let config = Config::load(None, env(&[("OAKALLOW_BILLING__ENABLED", "false")]), vec![]).unwrap();
        assert!(!config.service().billing_enabled);
        assert_eq!(config.service().webhooks.retry_schedule_seconds, vec![5, 30, 120, 600, 1800, 3600, 7200, 14400]);
    }

    #[test]
    fn connection_limits_come_from_the_server_section() {
        let limits = Config::load(None, env(&[]), vec![]).unwrap().connection_limits();
        assert_eq!(limits, oakallow_server::ConnectionLimits::default(), "the built-in defaults match the server's");
        let env = env(&[("OAKALLOW_SERVER__MAX_CONNECTIONS", "10"), ("OAKALLOW_SERVER__HEADER_READ_TIMEOUT_SECONDS", "3")]);
        let limits = Config::load(None, env, vec![]).unwrap().connection_limits();
        assert_eq!((limits.max_connections, limits.header_read_timeout.as_secs()), (10, 3));
    }

    #[test]
    fn accounts_come_from_their_section_and_a_bad_sign_up_mode_is_refused() {
        let config = Config::load(None, env(&[]), vec![]).unwrap();
        assert_eq!(config.service().accounts, oakallow_service::config::AccountsConfig::default(), "one set of defaults");
        let config = Config::load(None, env(&[("OAKALLOW_ACCOUNTS__SIGN_UP", "open")]), vec![]).unwrap();
        assert_eq!(config.service().accounts.sign_up, oakallow_service::config::SignUpMode::Open);
        let refused = Config::load(None, env(&[("OAKALLOW_ACCOUNTS__SIGN_UP", "everyone")]), vec![]);
        assert!(refused.is_err_and(|e| format!("{e:#}").contains("accounts.sign_up")));
    }

    #[test]
    fn the_public_url_must_be_a_host_name_passkeys_can_use() {
        let config = Config::load(None, env(&[("OAKALLOW_ACCOUNTS__PUBLIC_URL", "https://oak.example.com")]), vec![]).unwrap();
        assert_eq!(config.service().accounts.public_url.as_str(), "https://oak.example.com/");
        for bad in ["http://127.0.0.1:8080", "https://[::1]/", "not a url", "mailto:ops@example.com"] {
            let refused = Config::load(None, env(&[("OAKALLOW_ACCOUNTS__PUBLIC_URL", bad)]), vec![]);
            assert!(refused.is_err_and(|e| format!("{e:#}").contains("accounts.public_url")), "{bad} is refused");
        }
    }

    #[test]
    fn rate_limits_come_from_their_section() {
        let config = Config::load(None, env(&[]), vec![]).unwrap();
        assert_eq!(config.service().rate_limits, oakallow_service::rate_limits::RateLimitConfig::default(), "one set of defaults");
        let config = Config::load(None, env(&[("OAKALLOW_RATE_LIMITS__PER_KEY_PER_SECOND", "0")]), vec![]).unwrap();
        assert_eq!(config.service().rate_limits.per_key.per_second, 0);
    }

    #[test]
    fn unknown_settings_in_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("oakallow.toml");
        std::fs::write(&file, "lisen = \"x\"\n").unwrap();
        assert!(Config::load(Some(&file), env(&[]), vec![]).is_err());
    }
}
