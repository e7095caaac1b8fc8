//! The delivery worker: claims due deliveries from the outbox (under a lease, so each attempt
//! runs on one node and a crashed node's attempts are retried), sends them signed, records every
//! attempt, and schedules retries. New events wake it at once; retries are found by polling.

use std::sync::Arc;
use std::time::Instant;

use futures_util::future::join_all;
use oakallow_domain::id::DeliveryId;
use oakallow_domain::webhook::{ERROR_BYTES, EXCERPT_BYTES, response_excerpt, sign, storable_text};
use oakallow_domain::{Clock, Timestamp};
use oakallow_store::{AttemptResult, ClaimedDelivery, DeliveryAttempt, Store};
use reqwest::Url;
use tokio::sync::{Notify, watch};

use super::guard::{GuardedResolver, literal_refusal};
use crate::config::WebhookConfig;

/// What an attempt records instead of the receiver's text when the store refuses that text.
const UNSTORABLE: &str = "the response or error of this attempt could not be stored";
/// How long a claimed delivery stays with this worker, in seconds (more than one timeout).
const LEASE_SECONDS: i64 = 60;

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
        let client = match reqwest::Client::builder()
            // Straight to the destination: a proxy (HTTP_PROXY and the like) would resolve and
            // reach it itself, out of sight of the guard, which would then check only the proxy.
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(self.config.timeout)
            .dns_resolver(GuardedResolver { allow_private: self.config.allow_private_targets })
            .user_agent(concat!("oakallow-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
        {
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

    /// Attempts every due delivery, a batch at a time.
    async fn deliver_due(&self, client: &reqwest::Client) {
        loop {
            let now = self.clock.now();
            let claimed = match self.store.claim_deliveries(now, now.plus_seconds(LEASE_SECONDS), self.config.concurrency).await {
                Ok(claimed) => claimed,
                Err(error) => {
                    tracing::warn!(%error, "cannot claim webhook deliveries");
                    return;
                }
            };
            let full = claimed.len() as u32 == self.config.concurrency;
            join_all(claimed.into_iter().map(|delivery| self.attempt(client, delivery))).await;
            if !full || *self.stopping.borrow() {
                return;
            }
        }
    }

    async fn attempt(&self, client: &reqwest::Client, claimed: ClaimedDelivery) {
        let delivery = &claimed.delivery;
        let started = Instant::now();
        let at = self.clock.now();
        let outcome = self.send(client, &claimed, at).await;
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
        self.record(delivery.id, attempt, result).await;
    }

    /// Records an attempt and what follows from it. If the store refuses the record, it is
    /// written again without the receiver's text, so the delivery still moves on by its
    /// schedule instead of being sent again each time its lease runs out.
    async fn record(&self, delivery: DeliveryId, attempt: DeliveryAttempt, result: AttemptResult) {
        let Err(error) = self.store.finish_attempt(delivery, &attempt, result).await else { return };
        tracing::warn!(%error, %delivery, "cannot record a webhook attempt; recording it without the receiver's text");
        let bare = DeliveryAttempt { response_excerpt: None, error: Some(UNSTORABLE.to_owned()), ..attempt };
        if let Err(error) = self.store.finish_attempt(delivery, &bare, result).await {
            // Only our own text is left, so the database itself is failing: the lease runs out
            // and the delivery is attempted again once it is back (at least once, never lost).
            tracing::warn!(%error, %delivery, "cannot record a webhook attempt");
        }
    }

    /// Sends one attempt: `Ok((status, start of the body))` when an answer came, `Err(reason)`
    /// when not.
    async fn send(&self, client: &reqwest::Client, claimed: &ClaimedDelivery, at: Timestamp) -> Result<(u16, Vec<u8>), String> {
        let url = Url::parse(&claimed.delivery.url).map_err(|_| "the destination URL is not valid".to_owned())?;
        if let Some(reason) = literal_refusal(&url, self.config.allow_private_targets) {
            return Err(reason);
        }
        let secret = claimed.secret.as_deref().ok_or_else(|| "the org has no webhook secret".to_owned())?;
        let event_id = claimed.delivery.event_id.to_string();
        let timestamp = at.unix_seconds();
        let signatures = sign(secret, &event_id, timestamp, claimed.payload.as_bytes());
        let response = client
            .post(url)
            .header("content-type", "application/json")
            .header("x-oakallow-event", &claimed.delivery.event_type)
            .header("x-oakallow-delivery", &event_id)
            .header("x-oakallow-timestamp", timestamp.to_string())
            .header("x-oakallow-signature", signatures.oakallow)
            .header("webhook-id", &event_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signatures.standard)
            .body(claimed.payload.clone())
            .send()
            .await
            .map_err(|e| describe(&e))?;
        let status = response.status().as_u16();
        Ok((status, read_head(response).await))
    }
}

/// The first [`EXCERPT_BYTES`] of an answer's body. Reading stops there and the connection is
/// dropped, so a huge or endless body holds neither memory nor the worker.
async fn read_head(mut response: reqwest::Response) -> Vec<u8> {
    let mut head = Vec::with_capacity(EXCERPT_BYTES);
    while head.len() < EXCERPT_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => head.extend_from_slice(&chunk[..chunk.len().min(EXCERPT_BYTES - head.len())]),
            // The end of the body, or a failure part way: the excerpt is what arrived.
            Ok(None) | Err(_) => break,
        }
    }
    head
}

/// A transport error in words, without the URL (which may carry tokens in its query).
fn describe(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "connection failed"
    } else if error.is_redirect() {
        "redirects are not followed"
    } else {
        "request failed"
    };
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(error);
    let mut detail = String::new();
    while let Some(cause) = source {
        detail = cause.to_string();
        source = cause.source();
    }
    if detail.is_empty() { kind.to_owned() } else { format!("{kind}: {detail}") }
}
