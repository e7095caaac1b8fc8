//! The delivery worker: claims due deliveries from the outbox (under a lease, so each attempt
//! runs on one node and a crashed node's attempts are retried), sends them signed, records every
//! attempt, and schedules retries. New events wake it at once; retries are found by polling.

use std::sync::Arc;
use std::time::Instant;

use futures_util::future::join_all;
use oakallow_domain::webhook::sign;
use oakallow_domain::{Clock, Timestamp};
use oakallow_store::{AttemptResult, ClaimedDelivery, DeliveryAttempt, Store};
use reqwest::Url;
use tokio::sync::{Notify, watch};

use super::guard::{GuardedResolver, literal_refusal};
use crate::config::WebhookConfig;
use crate::redact;

/// Longest response excerpt kept per attempt, in bytes.
const EXCERPT_BYTES: usize = 512;
/// How much of an answer is redacted before the excerpt is cut from it, in bytes.
const REDACTED_PREFIX_BYTES: usize = 16 * 1024;
/// How long a claimed delivery stays with this worker, in seconds (more than one timeout).
const LEASE_SECONDS: i64 = 60;

/// What the worker needs; it holds no reference to the service, so the service can stop.
pub(crate) struct Worker {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) config: WebhookConfig,
    pub(crate) wake: Arc<Notify>,
    pub(crate) stopping: watch::Receiver<bool>,
}

impl Worker {
    /// Runs until the service stops.
    pub(crate) async fn run(mut self) {
        let client = match reqwest::Client::builder()
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
        let number = delivery.attempts + 1;
        let started = Instant::now();
        let at = self.clock.now();
        let outcome = self.send(client, &claimed, at).await;
        let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let (status_code, response_excerpt, error) = match outcome {
            Ok((status, excerpt)) => (Some(status), Some(excerpt), None),
            Err(error) => (None, None, Some(error)),
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
        let attempt = DeliveryAttempt { attempt: number, at, status_code, latency_ms, response_excerpt, error };
        if let Err(error) = self.store.finish_attempt(delivery.id, &attempt, result).await {
            // The lease runs out and the delivery is attempted again: at least once, never lost.
            tracing::warn!(%error, delivery = %delivery.id, "cannot record a webhook attempt");
        }
    }

    /// Sends one attempt: `Ok((status, excerpt))` when an answer came, `Err(reason)` when not.
    async fn send(&self, client: &reqwest::Client, claimed: &ClaimedDelivery, at: Timestamp) -> Result<(u16, String), String> {
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
        let body = response.bytes().await.unwrap_or_default();
        Ok((status, excerpt(&body, claimed.redact_pii)))
    }
}

/// The start of a receiver's answer as an attempt keeps it: redacted first when the org
/// redacts (so that the cut cannot leave half an address), then cut to [`EXCERPT_BYTES`] at a
/// character boundary.
fn excerpt(body: &[u8], redacts: bool) -> String {
    let start = &body[..body.len().min(REDACTED_PREFIX_BYTES)];
    let text = redact::text_if(redacts, &String::from_utf8_lossy(start));
    let end = (0..=text.len().min(EXCERPT_BYTES)).rev().find(|&at| text.is_char_boundary(at)).unwrap_or(0);
    text[..end].to_owned()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_excerpt_is_redacted_before_it_is_cut() {
        let answer = format!("{}jane.doe@example.com", " ".repeat(EXCERPT_BYTES - 10));
        assert_eq!(excerpt(answer.as_bytes(), true), format!("{}[REDACTED:", " ".repeat(EXCERPT_BYTES - 10)));
        assert_eq!(excerpt(answer.as_bytes(), false), answer[..EXCERPT_BYTES]);
        assert_eq!(excerpt("é".repeat(EXCERPT_BYTES).as_bytes(), false), "é".repeat(EXCERPT_BYTES / 2));
    }
}
