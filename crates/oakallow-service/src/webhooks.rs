//! Webhook settings and the delivery log: rotating the secret, a test event, listing
//! deliveries with their attempts, and retrying one. The outbox itself is written by each use
//! case (see `events`), and [`worker`] delivers it.

pub(crate) mod guard;
pub(crate) mod send;
pub(crate) mod worker;

use oakallow_domain::Timestamp;
use oakallow_domain::id::DeliveryId;
use oakallow_domain::webhook::new_secret;
use oakallow_store::{Delivery, DeliveryFilter, DeliveryStatus, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::auth::Management;
use crate::error::{ServiceError, ServiceResult};
use crate::page::{Page, PageRequest};
use crate::{Service, events};

/// Answer of `POST /v1/org/webhook-secret/rotate`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RotatedSecret {
    /// The new secret (`whsec_…`), shown this once.
    pub secret: String,
}

/// Answer of `POST /v1/webhooks/test`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TestEvent {
    /// The event id (`webhook-id`).
    pub event_id: String,
    /// The delivery id.
    pub delivery_id: String,
}

/// Query of `GET /v1/webhooks/deliveries`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// `pending`, `delivered` or `failed`.
    #[param(pattern = "^(pending|delivered|failed)$")]
    pub status: Option<String>,
    /// Page size, 1–500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// Cursor from the previous page.
    pub cursor: Option<String>,
}

/// A delivery as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DeliveryView {
    /// Its id.
    pub id: String,
    /// The event id (`webhook-id`, the same on every attempt).
    pub event_id: String,
    /// Event type.
    pub event_type: String,
    /// `webhook`, or the notification channel: `slack`, `pagerduty` or `email`.
    pub channel: String,
    /// Destination (for a notification channel, its name without secrets, e.g.
    /// `slack:chat.postMessage`).
    pub url: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    /// Attempts made.
    pub attempts: u32,
    /// When the next attempt is due.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_attempt_at: Option<Timestamp>,
    /// HTTP status of the last attempt.
    pub last_status: Option<u16>,
    /// Error of the last attempt.
    pub last_error: Option<String>,
    /// Creation time.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// When a 2xx arrived.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub delivered_at: Option<Timestamp>,
    /// Every attempt.
    #[schema(value_type = Vec<Object>)]
    pub attempt_log: Vec<Value>,
}

impl From<Delivery> for DeliveryView {
    fn from(d: Delivery) -> Self {
        let attempt_log = d
            .attempt_log
            .iter()
            .map(|a| {
                json!({
                    "attempt": a.attempt, "at": a.at, "status_code": a.status_code, "latency_ms": a.latency_ms,
                    "response_excerpt": a.response_excerpt, "error": a.error
                })
            })
            .collect();
        Self {
            id: d.id.to_string(),
            event_id: d.event_id.to_string(),
            event_type: d.event_type,
            channel: d.channel.as_str().to_owned(),
            url: d.url,
            status: d.status.as_str().to_owned(),
            attempts: d.attempts,
            next_attempt_at: d.next_attempt_at,
            last_status: d.last_status,
            last_error: d.last_error,
            created_at: d.created_at,
            delivered_at: d.delivered_at,
            attempt_log,
        }
    }
}

impl Service {
    /// Replaces the org's webhook secret and answers the new one, once.
    pub async fn rotate_webhook_secret(&self, caller: &Management) -> ServiceResult<RotatedSecret> {
        let secret = new_secret().map_err(|_| ServiceError::Unavailable)?;
        let record = self.config_changed(caller, json!({ "action": "rotated", "kind": "webhook_secret" }));
        self.store.set_webhook_secret(caller.org_id(), &secret, record).await?;
        Ok(RotatedSecret { secret })
    }

    /// Sends a `webhook.test` event to the org's webhook URL.
    pub async fn test_webhook(&self, caller: &Management) -> ServiceResult<TestEvent> {
        let runtime = self.org_runtime(caller.org_id()).await?;
        if runtime.org.webhook_url.is_none() {
            return Err(ServiceError::Conflict {
                message: "the org has no webhook_url; set one with PATCH /v1/org first".into(),
                details: serde_json::json!({"field": "webhook_url"}),
            });
        }
        let now = self.clock.now();
        let outbox = events::outbox(&runtime.org, "webhook.test", json!({ "message": "This is a test event from oakallow." }), now);
        let delivery_id = outbox.delivery.as_ref().map(|d| d.id.to_string()).unwrap_or_default();
        self.store.enqueue_webhook(&outbox).await?;
        self.webhook_wake.notify_one();
        Ok(TestEvent { event_id: outbox.event.id.to_string(), delivery_id })
    }

    /// A page of the org's deliveries, newest first, with every attempt.
    pub async fn list_deliveries(&self, caller: &Management, query: &DeliveryQuery) -> ServiceResult<Page<DeliveryView>> {
        let page = PageRequest { limit: query.limit, cursor: query.cursor.clone() };
        let limit = page.limit()?;
        let status = query
            .status
            .as_deref()
            .map(|s| DeliveryStatus::parse(s).ok_or_else(|| ServiceError::invalid(format!("unknown delivery status {s:?}"))))
            .transpose()?;
        let filter = DeliveryFilter { status, before: page.position_as::<DeliveryId>()?, limit: limit + 1 };
        let deliveries = self.store.list_deliveries(caller.org_id(), &filter).await?;
        let page = Page::from_probe(deliveries, limit, |d| d.id.to_string());
        Ok(Page { data: page.data.into_iter().map(DeliveryView::from).collect(), next_cursor: page.next_cursor })
    }

    /// Makes a delivery pending again, now, with a fresh retry schedule.
    pub async fn retry_delivery(&self, caller: &Management, id: &str) -> ServiceResult<DeliveryView> {
        let id: DeliveryId = id.parse().map_err(|_| ServiceError::NotFound { what: "delivery" })?;
        let delivery = self.store.retry_delivery(caller.org_id(), id, self.clock.now()).await.map_err(|e| match e {
            StoreError::NotFound => ServiceError::NotFound { what: "delivery" },
            other => other.into(),
        })?;
        self.webhook_wake.notify_one();
        Ok(delivery.into())
    }
}
