//! Webhook events as the outbox stores them: the exact body to send, and a delivery when the org
//! has a destination subscribed to the event type.

use oakallow_domain::Timestamp;
use oakallow_domain::id::{DeliveryId, EventId};
use oakallow_domain::org::Org;
use oakallow_store::{DeliveryChannel, NewDelivery, Outbox, WebhookEvent};
use serde_json::{Value, json};

/// The outbox entry for an event of `kind` about `data` in `org`, at `now`.
pub(crate) fn outbox(org: &Org, kind: &str, data: Value, now: Timestamp) -> Outbox {
    let id = EventId::generate();
    let body = json!({ "id": id, "type": kind, "created_at": now, "org_id": org.id, "data": data });
    let event = WebhookEvent { id, org_id: org.id, kind: kind.to_owned(), payload: body.to_string(), created_at: now };
    let subscribed = org.webhook_events.as_ref().is_none_or(|events| events.iter().any(|e| e == kind));
    let delivery = match &org.webhook_url {
        Some(url) if subscribed || kind == "webhook.test" => {
            Some(NewDelivery { id: DeliveryId::generate(), channel: DeliveryChannel::Webhook, url: url.clone(), next_attempt_at: now })
        }
        _ => None,
    };
    Outbox { event, delivery }
}
