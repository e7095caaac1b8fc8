//! The hooked store's notification channels: every [`NotificationStore`] call goes straight to
//! the real store.

use async_trait::async_trait;
use oakallow_domain::audit::ActivityRecord;
use oakallow_domain::id::{ApprovalId, OrgId};
use oakallow_store::{NotificationStore, SlackLink, SlackMessage, StoreResult, StoredChannels};

use super::HookedStore;

#[async_trait]
impl NotificationStore for HookedStore {
    async fn notification_channels(&self, org: OrgId) -> StoreResult<Option<StoredChannels>> {
        self.inner.notification_channels(org).await
    }

    async fn set_notification_channels(&self, org: OrgId, channels: &StoredChannels, activity: ActivityRecord) -> StoreResult<()> {
        self.inner.set_notification_channels(org, channels, activity).await
    }

    async fn slack_link(&self, org: OrgId, team_id: &str, user_id: &str) -> StoreResult<Option<SlackLink>> {
        self.inner.slack_link(org, team_id, user_id).await
    }

    async fn put_slack_link(&self, link: &SlackLink, activity: ActivityRecord) -> StoreResult<()> {
        self.inner.put_slack_link(link, activity).await
    }

    async fn delete_slack_link(&self, org: OrgId, team_id: &str, user_id: &str, activity: ActivityRecord) -> StoreResult<()> {
        self.inner.delete_slack_link(org, team_id, user_id, activity).await
    }

    async fn slack_links(&self, org: OrgId) -> StoreResult<Vec<SlackLink>> {
        self.inner.slack_links(org).await
    }

    async fn slack_message(&self, org: OrgId, approval: ApprovalId) -> StoreResult<Option<SlackMessage>> {
        self.inner.slack_message(org, approval).await
    }

    async fn put_slack_message(&self, message: &SlackMessage) -> StoreResult<()> {
        self.inner.put_slack_message(message).await
    }
}
