//! The delivery worker: claims due deliveries from the outbox under a lease that outlasts any
//! attempt (so each attempt runs on one node at a time, and a crashed node's attempts are
//! retried when it ends), sends them signed, records every attempt if its claim still holds,
//! and schedules retries. New events wake it at once; retries are found by polling.
//!
//! Attempts run side by side up to the node's concurrency, and a slot that frees up is filled
//! at once: a slow receiver holds only its own attempts, never a batch of other orgs'. Each
//! claim takes a bounded share per org, so one org cannot fill every slot. Stopping abandons
//! attempts in flight: their leases run out and another attempt follows (at least once).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use oakallow_domain::Clock;
use oakallow_domain::id::{DeliveryId, LeaseId};
use oakallow_domain::webhook::{ERROR_BYTES, response_excerpt, storable_text};
use oakallow_store::{AttemptResult, ClaimLimit, ClaimedDelivery, DeliveryAttempt, DeliveryChannel, DeliveryLease, Store};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

use super::send::{client, send};
use crate::config::{ChannelsConfig, EmailConfig, WebhookConfig};
use crate::notify::send::{Notifier, Sent};
use crate::redact;

/// What an attempt records instead of the receiver's text when the store refuses that text.
const UNSTORABLE: &str = "the response or error of this attempt could not be stored";

/// Where the worker's passes over the due deliveries stand. A pass claims everything due when
/// it begins (as slots allow) and ends when every attempt it claimed is recorded; passes end in
/// order. Tests wait on it instead of sleeping (see [`crate::Service::webhook_passes`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WebhookPasses {
    /// The number of the newest pass that has begun.
    pub started: u64,
    /// Every pass up to this number has ended.
    pub finished: u64,
}

/// What the worker needs; it holds no reference to the service, so the service can stop.
pub(crate) struct Worker {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) config: WebhookConfig,
    pub(crate) wake: Arc<Notify>,
    pub(crate) stopping: watch::Receiver<bool>,
    pub(crate) passes: watch::Sender<WebhookPasses>,
    pub(crate) metrics: Arc<crate::metrics::Metrics>,
    /// Where the notification channels' services are.
    pub(crate) channels: ChannelsConfig,
    /// E-mail, for the e-mail channel.
    pub(crate) email: Option<EmailConfig>,
}

/// The passes' bookkeeping: attempts in flight by the pass that claimed them.
#[derive(Default)]
struct Passes {
    current: u64,
    /// The current pass has claimed everything that was due (or could not claim).
    caught_up: bool,
    in_flight: BTreeMap<u64, usize>,
}

impl Passes {
    fn begin(&mut self) {
        self.current += 1;
        self.caught_up = false;
    }

    fn claimed(&mut self) {
        *self.in_flight.entry(self.current).or_default() += 1;
    }

    fn recorded(&mut self, pass: u64) {
        if let Some(left) = self.in_flight.get_mut(&pass) {
            *left -= 1;
            if *left == 0 {
                self.in_flight.remove(&pass);
            }
        }
    }

    fn state(&self) -> WebhookPasses {
        let claimed_through = if self.caught_up { self.current } else { self.current - 1 };
        let oldest_open = self.in_flight.keys().next().map_or(u64::MAX, |pass| pass - 1);
        WebhookPasses { started: self.current, finished: claimed_through.min(oldest_open) }
    }
}

/// One attempt's work, owned by its task.
#[derive(Clone)]
struct Attempter {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    config: WebhookConfig,
    client: reqwest::Client,
    metrics: Arc<crate::metrics::Metrics>,
    channels: ChannelsConfig,
    email: Option<EmailConfig>,
}

impl Worker {
    /// Runs until the service stops.
    pub(crate) async fn run(mut self) {
        let attempter = match client(&self.config) {
            Ok(client) => Attempter {
                store: Arc::clone(&self.store),
                clock: Arc::clone(&self.clock),
                config: self.config.clone(),
                client,
                metrics: Arc::clone(&self.metrics),
                channels: self.channels.clone(),
                email: self.email.clone(),
            },
            Err(error) => {
                tracing::error!(%error, "cannot build the webhook HTTP client; webhooks stay in the outbox");
                return;
            }
        };
        let mut attempts: JoinSet<u64> = JoinSet::new();
        let mut passes = Passes::default();
        passes.begin();
        loop {
            if *self.stopping.borrow() {
                tracing::debug!(abandoned = attempts.len(), "webhook worker stopped");
                attempts.abort_all();
                return;
            }
            if !passes.caught_up {
                self.claim_due(&attempter, &mut attempts, &mut passes).await;
            }
            self.passes.send_if_modified(|published| std::mem::replace(published, passes.state()) != passes.state());
            tokio::select! {
                () = self.wake.notified() => if passes.caught_up { passes.begin() },
                () = tokio::time::sleep(self.config.poll_interval) => if passes.caught_up { passes.begin() },
                Some(done) = attempts.join_next(), if !attempts.is_empty() => match done {
                    Ok(pass) => passes.recorded(pass),
                    Err(error) => tracing::error!(%error, "a webhook attempt ended abnormally"),
                },
                changed = self.stopping.changed() => {
                    // The service is gone without saying stop: stop too.
                    if changed.is_err() {
                        attempts.abort_all();
                        return;
                    }
                }
            }
        }
    }

    /// Claims due deliveries into the free slots, each claim under a lease of its own, and
    /// starts their attempts. The pass is caught up once a claim finds fewer than it asked for.
    async fn claim_due(&self, attempter: &Attempter, attempts: &mut JoinSet<u64>, passes: &mut Passes) {
        loop {
            let free = self.config.concurrency.saturating_sub(u32::try_from(attempts.len()).unwrap_or(u32::MAX));
            if free == 0 {
                return;
            }
            let now = self.clock.now();
            let lease = DeliveryLease { id: LeaseId::generate(), until: now.plus_seconds(self.config.lease_seconds()) };
            let limit = ClaimLimit { total: free, per_org: self.config.concurrency_per_org };
            let claimed = match self.store.claim_deliveries(now, lease, limit).await {
                Ok(claimed) => claimed,
                Err(error) => {
                    tracing::warn!(%error, "cannot claim webhook deliveries");
                    passes.caught_up = true;
                    return;
                }
            };
            let all_due = claimed.len() < free as usize;
            for delivery in claimed {
                passes.claimed();
                let (attempter, pass) = (attempter.clone(), passes.current);
                attempts.spawn(async move {
                    attempter.attempt(lease.id, delivery).await;
                    pass
                });
            }
            if all_due {
                passes.caught_up = true;
                return;
            }
        }
    }
}

impl Attempter {
    async fn attempt(&self, lease: LeaseId, claimed: ClaimedDelivery) {
        let delivery = &claimed.delivery;
        let started = Instant::now();
        let at = self.clock.now();
        let outcome = match delivery.channel {
            DeliveryChannel::Webhook => send(&self.client, &self.config, &claimed, at).await.map(|(status, head)| Sent {
                status: Some(status),
                head,
                accepted: (200..300).contains(&status),
            }),
            _ => {
                let notifier = Notifier {
                    store: self.store.as_ref(),
                    client: &self.client,
                    timeout: self.config.timeout,
                    allow_private: self.config.allow_private_targets,
                    channels: &self.channels,
                    email: self.email.as_ref(),
                };
                notifier.send(&claimed).await
            }
        };
        let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        // The receiver's text is stored the same way on every backend (no NUL, bounded).
        let (status_code, response_excerpt, error, delivered) = match outcome {
            Ok(sent) => (sent.status, Some(excerpt(&sent.head, claimed.redact_pii)), None, sent.accepted),
            Err(error) => (None, None, Some(storable_text(&error, ERROR_BYTES)), false),
        };
        self.metrics.webhook_attempted(delivered);
        let result = if delivered {
            AttemptResult::Delivered
        } else {
            match self.config.retry_schedule_seconds.get(delivery.round_attempts as usize) {
                Some(wait) => AttemptResult::RetryAt(at.plus_seconds(i64::from(*wait))),
                None => AttemptResult::Failed,
            }
        };
        let attempt = DeliveryAttempt { attempt: delivery.attempts + 1, at, status_code, latency_ms, response_excerpt, error };
        self.record(delivery.id, lease, attempt, result).await;
    }

    /// Records an attempt and what follows from it, if this worker's claim still holds the
    /// delivery. If the store refuses the record, it is written again without the receiver's
    /// text, so the delivery still moves on by its schedule instead of being sent again each
    /// time its lease runs out.
    async fn record(&self, delivery: DeliveryId, lease: LeaseId, attempt: DeliveryAttempt, result: AttemptResult) {
        let recorded = match self.store.finish_attempt(delivery, lease, &attempt, result).await {
            Err(error) => {
                tracing::warn!(%error, %delivery, "cannot record a webhook attempt; recording it without the receiver's text");
                let bare = DeliveryAttempt { response_excerpt: None, error: Some(UNSTORABLE.to_owned()), ..attempt };
                self.store.finish_attempt(delivery, lease, &bare, result).await
            }
            recorded => recorded,
        };
        match recorded {
            Ok(true) => {}
            // Only our own text was left, so the database itself is failing: the lease runs out
            // and the delivery is attempted again once it is back (at least once, never lost).
            Err(error) => tracing::warn!(%error, %delivery, "cannot record a webhook attempt"),
            Ok(false) => {
                tracing::warn!(%delivery, "a webhook attempt outlasted its lease and another claim took over; its outcome is not recorded");
            }
        }
    }
}

/// The response excerpt an attempt keeps of an answer that began with `head`: redacted first
/// when the org redacts (so that the cut cannot leave half an address behind), then cut and made
/// storable as every backend keeps it.
fn excerpt(head: &[u8], redacts: bool) -> String {
    if !redacts {
        return response_excerpt(head);
    }
    response_excerpt(redact::text_if(true, &String::from_utf8_lossy(head)).as_bytes())
}

#[cfg(test)]
mod tests {
    use oakallow_domain::webhook::EXCERPT_BYTES;

    use super::*;

    #[test]
    fn a_pass_ends_when_it_caught_up_and_its_attempts_are_recorded() {
        let mut passes = Passes::default();
        passes.begin();
        passes.claimed();
        passes.claimed();
        passes.caught_up = true;
        assert_eq!(passes.state(), WebhookPasses { started: 1, finished: 0 }, "two attempts in flight");
        passes.begin();
        passes.caught_up = true;
        assert_eq!(passes.state(), WebhookPasses { started: 2, finished: 0 }, "passes end in order");
        passes.recorded(1);
        passes.recorded(1);
        assert_eq!(passes.state(), WebhookPasses { started: 2, finished: 2 });
        passes.begin();
        passes.claimed();
        assert_eq!(passes.state(), WebhookPasses { started: 3, finished: 2 }, "still claiming");
    }

    #[test]
    fn an_excerpt_is_redacted_before_it_is_cut() {
        let answer = format!("{}jane.doe@example.com", " ".repeat(EXCERPT_BYTES - 10));
        assert_eq!(excerpt(answer.as_bytes(), true), format!("{}[REDACTED:", " ".repeat(EXCERPT_BYTES - 10)));
        assert_eq!(excerpt(answer.as_bytes(), false), answer[..EXCERPT_BYTES]);
        assert_eq!(excerpt("é".repeat(EXCERPT_BYTES).as_bytes(), false), "é".repeat(EXCERPT_BYTES / 2));
    }
}
