//! Prometheus metrics, counted in memory by this node and written out in the text exposition
//! format (version 0.0.4) by [`Metrics::render`].
//!
//! Counters and histograms are plain atomics: a check adds one to a counter, a request a few to a
//! histogram, with no lock on the way (the route histograms are found under a read lock, taken
//! for writing only the first time a route is seen). No label carries an org, a key, a tool or
//! anything a caller typed: the labels are the permission and the resolution step (fixed sets),
//! the matched route pattern and method (the router's own set), and the status class. The
//! gauges that describe the whole deployment (pending approvals, queued webhook deliveries,
//! accounts low on credit) are read from the database when the page is asked for, so every node
//! reports the same numbers for them.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use oakallow_domain::{Permission, ResolvedFrom};

/// Request latency buckets, in seconds.
const LATENCY_BUCKETS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];
/// Commit batch size buckets, in writes.
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0];

const PERMISSIONS: [Permission; 3] = [Permission::Allowed, Permission::RequiresApproval, Permission::Disabled];

/// The methods that name a series; any other is counted as the last, `other`, so that no client
/// can add series of its own.
const METHODS: [&str; 8] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"];

/// A histogram with fixed buckets. Observations are kept per bucket (not cumulative) and summed
/// when written out.
struct Histogram {
    bounds: &'static [f64],
    /// One per bound, then one for `+Inf`.
    counts: Box<[AtomicU64]>,
    /// The sum of the observations, in millionths (of a second, or of a write).
    sum_micros: AtomicU64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Self { bounds, counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(), sum_micros: AtomicU64::new(0) }
    }

    fn observe(&self, value: f64) {
        let bucket = self.bounds.iter().position(|bound| value <= *bound).unwrap_or(self.bounds.len());
        self.counts[bucket].fetch_add(1, Ordering::Relaxed);
        // Saturating: a negative or absurd value cannot wrap the sum.
        #[expect(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "clamped to u64's range first")]
        let micros = (value * 1e6).clamp(0.0, u64::MAX as f64) as u64;
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// Writes the `_bucket`, `_sum` and `_count` lines of `name` with `labels` (`key="value",…`
    /// or empty).
    fn write(&self, out: &mut String, name: &str, labels: &str) {
        let separator = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (i, bound) in self.bounds.iter().enumerate() {
            cumulative += self.counts[i].load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels}{separator}le=\"{bound}\"}} {cumulative}");
        }
        cumulative += self.counts[self.bounds.len()].load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels}{separator}le=\"+Inf\"}} {cumulative}");
        let braces = if labels.is_empty() { String::new() } else { format!("{{{labels}}}") };
        #[expect(clippy::cast_precision_loss, reason = "a sum written as a float, as the format has it")]
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum{braces} {sum}");
        let _ = writeln!(out, "{name}_count{braces} {cumulative}");
    }
}

/// The deployment-wide numbers read from the database for each scrape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeploymentGauges {
    /// Approvals waiting for a decision, in every org.
    pub pending_approvals: u64,
    /// Webhook deliveries waiting to be sent (or sent again), in every org.
    pub queued_deliveries: u64,
    /// Accounts holding credit whose live balance is below the warning threshold (`None` when
    /// billing is off).
    pub low_balance_accounts: Option<u64>,
}

/// This node's counters.
pub struct Metrics {
    checks: [[AtomicU64; ResolvedFrom::ALL.len()]; PERMISSIONS.len()],
    /// Request latency by method (as [`METHODS`]), then route pattern.
    requests: [RwLock<HashMap<Box<str>, Histogram>>; METHODS.len()],
    /// Responses by status class: 1xx … 5xx.
    responses: [AtomicU64; 5],
    commit_batch: Histogram,
    commit_seconds: Histogram,
    commit_failures: AtomicU64,
    webhook_delivered: AtomicU64,
    webhook_failed_attempts: AtomicU64,
    insufficient_credits: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            checks: std::array::from_fn(|_| std::array::from_fn(|_| AtomicU64::new(0))),
            requests: std::array::from_fn(|_| RwLock::new(HashMap::new())),
            responses: std::array::from_fn(|_| AtomicU64::new(0)),
            commit_batch: Histogram::new(BATCH_BUCKETS),
            commit_seconds: Histogram::new(LATENCY_BUCKETS),
            commit_failures: AtomicU64::new(0),
            webhook_delivered: AtomicU64::new(0),
            webhook_failed_attempts: AtomicU64::new(0),
            insufficient_credits: AtomicU64::new(0),
        }
    }
}

impl Metrics {
    /// A check was answered (its audit entry committed).
    pub fn check_answered(&self, permission: Permission, resolved_from: ResolvedFrom) {
        let p = PERMISSIONS.iter().position(|p| *p == permission).unwrap_or(0);
        let r = ResolvedFrom::ALL.iter().position(|r| *r == resolved_from).unwrap_or(0);
        self.checks[p][r].fetch_add(1, Ordering::Relaxed);
    }

    /// A request to the route pattern `route` (`None`: no route matched) was answered with
    /// `status` after `elapsed`.
    pub fn request_answered(&self, method: &str, route: Option<&str>, status: u16, elapsed: Duration) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        self.responses[class].fetch_add(1, Ordering::Relaxed);
        let index = METHODS.iter().position(|m| *m == method).unwrap_or(METHODS.len() - 1);
        let route = route.unwrap_or("unmatched");
        let seconds = elapsed.as_secs_f64();
        // The common case: the route was seen before, found under the read lock, no allocation.
        if let Ok(map) = self.requests[index].read()
            && let Some(histogram) = map.get(route)
        {
            histogram.observe(seconds);
            return;
        }
        if let Ok(mut map) = self.requests[index].write() {
            map.entry(route.into()).or_insert_with(|| Histogram::new(LATENCY_BUCKETS)).observe(seconds);
        }
    }

    /// The group committer committed (or failed) a transaction of `writes` writes in `elapsed`.
    pub fn batch_committed(&self, writes: usize, elapsed: Duration, failed: bool) {
        #[expect(clippy::cast_precision_loss, reason = "batch sizes are at most a few thousand")]
        self.commit_batch.observe(writes as f64);
        self.commit_seconds.observe(elapsed.as_secs_f64());
        if failed {
            self.commit_failures.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A webhook delivery attempt ended: delivered, or failed (to be retried or given up).
    pub fn webhook_attempted(&self, delivered: bool) {
        let counter = if delivered { &self.webhook_delivered } else { &self.webhook_failed_attempts };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// A billable call was refused for want of credit.
    pub fn credit_refused(&self) {
        self.insufficient_credits.fetch_add(1, Ordering::Relaxed);
    }

    /// The whole page: this node's counters, `queued_writes` waiting for the committer now, and
    /// the deployment's `gauges`.
    pub fn render(&self, queued_writes: usize, gauges: DeploymentGauges) -> String {
        let mut out = String::with_capacity(8 * 1024);
        header(
            &mut out,
            "oakallow_checks_total",
            "counter",
            "Checks answered by this node, by permission and the resolution step that decided.",
        );
        for (p, permission) in PERMISSIONS.iter().enumerate() {
            for (r, step) in ResolvedFrom::ALL.iter().enumerate() {
                let count = self.checks[p][r].load(Ordering::Relaxed);
                if count > 0 {
                    let _ = writeln!(
                        out,
                        "oakallow_checks_total{{permission=\"{}\",resolved_from=\"{}\"}} {count}",
                        permission.as_str(),
                        step.as_str()
                    );
                }
            }
        }

        let name = "oakallow_http_request_duration_seconds";
        header(&mut out, name, "histogram", "Time to answer an HTTP request, by method and route pattern.");
        for (method, requests) in METHODS.iter().zip(&self.requests) {
            let Ok(map) = requests.read() else { continue };
            let mut routes: Vec<_> = map.iter().collect();
            routes.sort_by(|a, b| a.0.cmp(b.0));
            for (route, histogram) in routes {
                histogram.write(&mut out, name, &format!("method=\"{method}\",route=\"{}\"", escape(route)));
            }
        }
        header(&mut out, "oakallow_http_responses_total", "counter", "HTTP responses by status class.");
        for (i, count) in self.responses.iter().enumerate() {
            let _ = writeln!(out, "oakallow_http_responses_total{{status=\"{}xx\"}} {}", i + 1, count.load(Ordering::Relaxed));
        }

        header(&mut out, "oakallow_commit_batch_writes", "histogram", "Writes per group-commit transaction.");
        self.commit_batch.write(&mut out, "oakallow_commit_batch_writes", "");
        header(&mut out, "oakallow_commit_duration_seconds", "histogram", "Time of one group-commit transaction, sync included.");
        self.commit_seconds.write(&mut out, "oakallow_commit_duration_seconds", "");
        counter(&mut out, "oakallow_commit_failures_total", "Group-commit transactions the database refused.", &self.commit_failures);
        gauge(&mut out, "oakallow_commit_queued_writes", "Writes waiting for the group committer on this node.", queued_writes as u64);

        gauge(&mut out, "oakallow_approvals_pending", "Approvals waiting for a decision, in every org.", gauges.pending_approvals);
        gauge(&mut out, "oakallow_webhook_queue_depth", "Webhook deliveries waiting to be sent, in every org.", gauges.queued_deliveries);
        counter(&mut out, "oakallow_webhook_deliveries_total", "Webhook deliveries this node delivered.", &self.webhook_delivered);
        counter(
            &mut out,
            "oakallow_webhook_failed_attempts_total",
            "Webhook delivery attempts by this node that failed.",
            &self.webhook_failed_attempts,
        );
        counter(
            &mut out,
            "oakallow_insufficient_credits_total",
            "Billable calls this node refused with 402 for want of credit.",
            &self.insufficient_credits,
        );
        if let Some(low) = gauges.low_balance_accounts {
            gauge(
                &mut out,
                "oakallow_credit_low_balance_accounts",
                "Accounts holding credit whose balance is below the warning threshold.",
                low,
            );
        }
        out
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn counter(out: &mut String, name: &str, help: &str, value: &AtomicU64) {
    header(out, name, "counter", help);
    let _ = writeln!(out, "{name} {}", value.load(Ordering::Relaxed));
}

fn gauge(out: &mut String, name: &str, help: &str, value: u64) {
    header(out, name, "gauge", help);
    let _ = writeln!(out, "{name} {value}");
}

/// A label value as the text format needs it: backslash, double quote and newline escaped.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative_and_counts_match() {
        let metrics = Metrics::default();
        metrics.batch_committed(1, Duration::from_millis(1), false);
        metrics.batch_committed(3, Duration::from_millis(30), true);
        metrics.batch_committed(5000, Duration::from_secs(20), false);
        let page = metrics.render(7, DeploymentGauges::default());
        assert!(page.contains("oakallow_commit_batch_writes_bucket{le=\"1\"} 1\n"), "{page}");
        assert!(page.contains("oakallow_commit_batch_writes_bucket{le=\"4\"} 2\n"), "{page}");
        assert!(page.contains("oakallow_commit_batch_writes_bucket{le=\"1024\"} 2\n"), "{page}");
        assert!(page.contains("oakallow_commit_batch_writes_bucket{le=\"+Inf\"} 3\n"), "{page}");
        assert!(page.contains("oakallow_commit_batch_writes_sum 5004\n"), "{page}");
        assert!(page.contains("oakallow_commit_batch_writes_count 3\n"), "{page}");
        assert!(page.contains("oakallow_commit_failures_total 1\n"), "{page}");
        assert!(page.contains("oakallow_commit_queued_writes 7\n"), "{page}");
        assert!(!page.contains("oakallow_credit_low_balance_accounts"), "billing off: no such gauge");
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
