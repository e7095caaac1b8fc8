//! The delivery worker: claims due deliveries from the outbox under a lease that outlasts any
//! attempt (so each attempt runs on one node at a time, and a crashed node's attempts are
//! retried when it ends), sends them signed, records every attempt if its claim still holds,
//! and schedules retries. New events wake it at once; retries are found by polling.

use std::sync::Arc;
use std::time::Instant;

use futures_util::future::join_all;
use oakallow_domain::Clock;
use oakallow_domain::id::{DeliveryId, LeaseId};
use oakallow_domain::webhook::{ERROR_BYTES, response_excerpt, storable_text};
use oakallow_store::{AttemptResult, ClaimedDelivery, DeliveryAttempt, DeliveryLease, Store};
use tokio::sync::{Notify, watch};

use super::send::{client, send};
use crate::config::WebhookConfig;

/// What an attempt records instead of the receiver's text when the store refuses that text.
const UNSTORABLE: &str = "the response or error of this attempt could not be stored";

/// What the worker needs; it holds no reference to the service, so the service can stop.
pub(crate) struct Worker {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) config: WebhookConfig,
    pub(crate) wake: Arc<Notify>,
    pub(crate) stopping: watch::Receiver<bool>,
    /// Counts finished passes over the due deliveries (see [`crate::Service::webhook_passes`]).
    pub(crate) passes: watch::Sender<u64>,
}

impl Worker {
    /// Runs until the service stops.
    pub(crate) async fn run(mut self) {
        let client = match client(&self.config) {
            Ok(client) => client,
            Err(error) => {
                tracing::error!(%error, "cannot build the webhook HTTP client; webhooks stay in the outbox");
                return;
            }
        };
        loop {
            if *self.stopping.borrow() {
                tracing::debug!("webhook worker stopped");
                return;
            }
            tracing::trace!("webhook worker looking for due deliveries");
            self.deliver_due(&client).await;
            self.passes.send_modify(|passes| *passes += 1);
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(self.config.poll_interval) => {}
                changed = self.stopping.changed() => {
                    // The service is gone without saying stop: stop too.
                    if changed.is_err() {
                        return;
                    }
                }
            }
        }
    }

    /// Attempts every due delivery, a batch at a time, each batch under a lease of its own.
    async fn deliver_due(&self, client: &reqwest::Client) {
        loop {
            let now = self.clock.now();
            let lease = DeliveryLease { id: LeaseId::generate(), until: now.plus_seconds(self.config.lease_seconds()) };
            let claimed = match self.store.claim_deliveries(now, lease, self.config.concurrency).await {
                Ok(claimed) => claimed,
                Err(error) => {
                    tracing::warn!(%error, "cannot claim webhook deliveries");
                    return;
                }
            };
            let full = claimed.len() as u32 == self.config.concurrency;
            join_all(claimed.into_iter().map(|delivery| self.attempt(client, lease.id, delivery))).await;
            if !full || *self.stopping.borrow() {
                return;
            }
        }
    }

    async fn attempt(&self, client: &reqwest::Client, lease: LeaseId, claimed: ClaimedDelivery) {
        let delivery = &claimed.delivery;
        let started = Instant::now();
        let at = self.clock.now();
        let outcome = send(client, &self.config, &claimed, at).await;
        let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        // The receiver's text is stored the same way on every backend (no NUL, bounded).
        let (status_code, response_excerpt, error) = match outcome {
            Ok((status, head)) => (Some(status), Some(response_excerpt(&head)), None),
            Err(error) => (None, None, Some(storable_text(&error, ERROR_BYTES))),
        };
        let delivered = status_code.is_some_and(|s| (200..300).contains(&s));
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
