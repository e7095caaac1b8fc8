//! Conformance cases of notification channels: settings kept exactly per org, Slack links per
//! org (replaced, removed once, gone with an erased account), Slack messages per approval, and
//! a delivery's channel kept through the outbox.

use std::sync::Arc;

use oakallow_domain::audit::ActivityType;
use oakallow_domain::id::{ApprovalId, DeliveryId, EventId};

use super::{T0, new_org, record, signed_up, t};
use crate::{
    ClaimLimit, DeliveryChannel, DeliveryLease, NewDelivery, Outbox, SlackLink, SlackMessage, Store, StoreError, StoredChannels,
    WebhookEvent,
};

/// Settings, links and messages are each org's own, kept exactly, and written with their audit
/// entry; a notification delivery keeps its channel.
pub async fn notification_channels_are_kept_per_org(store: Arc<dyn Store>) {
    let (org, other) = (new_org(store.as_ref(), "n@example.com").await, new_org(store.as_ref(), "o@example.com").await);
    assert_eq!(store.notification_channels(org.id).await.unwrap(), None);
    let settings = StoredChannels { settings: r#"{"slack":{"bot_token":"xoxb-1 ✓","channel":"C1"}}"#.into(), updated_at: t(5) };
    store.set_notification_channels(org.id, &settings, record(org.id, ActivityType::ConfigChanged)).await.unwrap();
    assert_eq!(store.notification_channels(org.id).await.unwrap(), Some(settings.clone()));
    assert_eq!(store.notification_channels(other.id).await.unwrap(), None, "another org's settings are not this one's");
    let replaced = StoredChannels { settings: "{}".into(), updated_at: t(6) };
    store.set_notification_channels(org.id, &replaced, record(org.id, ActivityType::ConfigChanged)).await.unwrap();
    assert_eq!(store.notification_channels(org.id).await.unwrap(), Some(replaced));

    let (ann, bob) = (signed_up(store.as_ref(), "ann@example.com").await, signed_up(store.as_ref(), "bob@example.com").await);
    let link = SlackLink { org_id: org.id, team_id: "T1".into(), user_id: "U1".into(), account_id: ann.id, created_at: t(7) };
    store.put_slack_link(&link, record(org.id, ActivityType::ConfigChanged)).await.unwrap();
    assert_eq!(store.slack_link(org.id, "T1", "U1").await.unwrap(), Some(link.clone()));
    assert_eq!(store.slack_link(other.id, "T1", "U1").await.unwrap(), None, "a link is the org's own");
    assert_eq!(store.slack_link(org.id, "T2", "U1").await.unwrap(), None, "and the workspace's own");
    let relinked = SlackLink { account_id: bob.id, created_at: t(8), ..link.clone() };
    store.put_slack_link(&relinked, record(org.id, ActivityType::ConfigChanged)).await.unwrap();
    let second = SlackLink { user_id: "U2".into(), account_id: ann.id, created_at: t(9), ..link.clone() };
    store.put_slack_link(&second, record(org.id, ActivityType::ConfigChanged)).await.unwrap();
    assert_eq!(store.slack_links(org.id).await.unwrap(), vec![relinked.clone(), second.clone()], "replaced, oldest first");
    assert!(store.slack_links(other.id).await.unwrap().is_empty());
    store.delete_slack_link(org.id, "T1", "U1", record(org.id, ActivityType::ConfigChanged)).await.unwrap();
    assert!(matches!(
        store.delete_slack_link(org.id, "T1", "U1", record(org.id, ActivityType::ConfigChanged)).await,
        Err(StoreError::NotFound)
    ));
    store.erase_account(ann.id, &[], t(10)).await.unwrap();
    assert!(store.slack_links(org.id).await.unwrap().is_empty(), "an erased account's links go with it");

    let approval = ApprovalId::generate();
    let message = SlackMessage { org_id: org.id, approval_id: approval, channel: "C1".into(), ts: "1700000000.000100".into() };
    store.put_slack_message(&message).await.unwrap();
    assert_eq!(store.slack_message(org.id, approval).await.unwrap(), Some(message.clone()));
    assert_eq!(store.slack_message(other.id, approval).await.unwrap(), None);
    let moved = SlackMessage { ts: "1700000001.000200".into(), ..message };
    store.put_slack_message(&moved).await.unwrap();
    assert_eq!(store.slack_message(org.id, approval).await.unwrap(), Some(moved));

    let id = EventId::generate();
    let event = WebhookEvent { id, org_id: org.id, kind: "approval.created".into(), payload: "{}".into(), created_at: T0 };
    let delivery = NewDelivery {
        id: DeliveryId::generate(),
        channel: DeliveryChannel::Slack,
        url: "slack:chat.postMessage".into(),
        next_attempt_at: T0,
    };
    store.enqueue_webhook(&Outbox { event, delivery: Some(delivery) }).await.unwrap();
    let lease = DeliveryLease { id: oakallow_domain::id::LeaseId::generate(), until: T0.plus_seconds(30) };
    let claimed = store.claim_deliveries(T0, lease, ClaimLimit::total(10)).await.unwrap();
    assert_eq!(
        claimed.iter().map(|c| (c.delivery.channel, c.delivery.url.as_str())).collect::<Vec<_>>(),
        [(DeliveryChannel::Slack, "slack:chat.postMessage")]
    );
}
