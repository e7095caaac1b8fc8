//! Sending one delivery attempt: the HTTP client (no proxy, no redirects, only addresses the
//! guard allows), the signed request, and the start of the answer. An attempt never takes longer
//! than the configured timeout, which is what lets a claim's lease outlast it.

use oakallow_domain::Timestamp;
use oakallow_domain::webhook::{EXCERPT_BYTES, sign};
use oakallow_store::ClaimedDelivery;
use reqwest::Url;

use super::guard::{GuardedResolver, literal_refusal};
use crate::config::WebhookConfig;

/// The client every attempt of this node uses.
pub(crate) fn client(config: &WebhookConfig) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        // Straight to the destination: a proxy (HTTP_PROXY and the like) would resolve and
        // reach it itself, out of sight of the guard, which would then check only the proxy.
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(config.timeout)
        .dns_resolver(GuardedResolver { allow_private: config.allow_private_targets })
        .user_agent(concat!("oakallow-webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Sends one attempt, signed at `at`: `Ok((status, start of the body))` when an answer came,
/// `Err(reason)` when not (including when the whole attempt outlasts the timeout).
pub(crate) async fn send(
    client: &reqwest::Client,
    config: &WebhookConfig,
    claimed: &ClaimedDelivery,
    at: Timestamp,
) -> Result<(u16, Vec<u8>), String> {
    let url = Url::parse(&claimed.delivery.url).map_err(|_| "the destination URL is not valid".to_owned())?;
    if let Some(reason) = literal_refusal(&url, config.allow_private_targets) {
        return Err(reason);
    }
    let secret = claimed.secret.as_deref().ok_or_else(|| "the org has no webhook secret".to_owned())?;
    let event_id = claimed.delivery.event_id.to_string();
    let timestamp = at.unix_seconds();
    let signatures = sign(secret, &event_id, timestamp, claimed.payload.as_bytes());
    let request = client
        .post(url)
        .header("content-type", "application/json")
        .header("x-oakallow-event", &claimed.delivery.event_type)
        .header("x-oakallow-delivery", &event_id)
        .header("x-oakallow-timestamp", timestamp.to_string())
        .header("x-oakallow-signature", signatures.oakallow)
        .header("webhook-id", &event_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signatures.standard)
        .body(claimed.payload.clone());
    let exchange = async {
        let response = request.send().await.map_err(|e| describe(&e))?;
        let status = response.status().as_u16();
        Ok((status, read_head(response, HEAD_BYTES).await))
    };
    // reqwest's own timeout covers the exchange too; this bound is ours, whatever the client does.
    tokio::time::timeout(config.timeout, exchange).await.unwrap_or_else(|_| Err("timed out".to_owned()))
}

/// How much of an answer's body is read, in bytes: the excerpt kept is shorter, but it is cut
/// after redaction, which needs the text around the cut (an address must not lose its start).
pub(crate) const HEAD_BYTES: usize = 16 * EXCERPT_BYTES;

/// The first `max` bytes of an answer's body. Reading stops there and the connection is
/// dropped, so a huge or endless body holds neither memory nor the worker.
pub(crate) async fn read_head(mut response: reqwest::Response, max: usize) -> Vec<u8> {
    let mut head = Vec::with_capacity(EXCERPT_BYTES);
    while head.len() < max {
        match response.chunk().await {
            Ok(Some(chunk)) => head.extend_from_slice(&chunk[..chunk.len().min(max - head.len())]),
            // The end of the body, or a failure part way: the excerpt is what arrived.
            Ok(None) | Err(_) => break,
        }
    }
    head
}

/// A transport error in words, without the URL (which may carry tokens in its query).
pub(crate) fn describe(error: &reqwest::Error) -> String {
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
