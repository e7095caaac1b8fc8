//! The storage contract for notification channels: each org's channel settings (one JSON
//! document the service reads and writes; the store keeps it exactly), the Slack users linked to
//! accounts, and the Slack message posted for each approval. Part of [`crate::Store`].

use async_trait::async_trait;
use oakallow_domain::Timestamp;
use oakallow_domain::audit::ActivityRecord;
use oakallow_domain::id::{AccountId, ApprovalId, OrgId};

use crate::StoreResult;

/// An org's channel settings as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredChannels {
    /// The settings document (JSON, secrets included).
    pub settings: String,
    /// Last change.
    pub updated_at: Timestamp,
}

impl std::fmt::Debug for StoredChannels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The document holds secrets: it never reaches a log.
        f.debug_struct("StoredChannels").field("updated_at", &self.updated_at).finish_non_exhaustive()
    }
}

/// A Slack user linked to an account of the org.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackLink {
    /// The org.
    pub org_id: OrgId,
    /// Slack workspace id (`T…`).
    pub team_id: String,
    /// Slack user id (`U…`).
    pub user_id: String,
    /// The account the Slack user acts as.
    pub account_id: AccountId,
    /// When the link was made.
    pub created_at: Timestamp,
}

/// The Slack message posted about an approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackMessage {
    /// The org.
    pub org_id: OrgId,
    /// The approval.
    pub approval_id: ApprovalId,
    /// Slack channel id the message is in.
    pub channel: String,
    /// The message's `ts` (its id in the channel).
    pub ts: String,
}

/// Storage of notification channels. Each method is one transaction.
#[async_trait]
pub trait NotificationStore: Send + Sync + 'static {
    /// The org's channel settings, if it ever set any.
    async fn notification_channels(&self, org: OrgId) -> StoreResult<Option<StoredChannels>>;

    /// Replaces the org's channel settings and writes `activity` with them.
    async fn set_notification_channels(&self, org: OrgId, channels: &StoredChannels, activity: ActivityRecord) -> StoreResult<()>;

    /// The link of a Slack user in the org.
    async fn slack_link(&self, org: OrgId, team_id: &str, user_id: &str) -> StoreResult<Option<SlackLink>>;

    /// Links a Slack user to an account (replacing the user's earlier link) and writes `activity`.
    async fn put_slack_link(&self, link: &SlackLink, activity: ActivityRecord) -> StoreResult<()>;

    /// Removes a Slack user's link and writes `activity`; [`crate::StoreError::NotFound`] if there
    /// was none.
    async fn delete_slack_link(&self, org: OrgId, team_id: &str, user_id: &str, activity: ActivityRecord) -> StoreResult<()>;

    /// Every link of the org, oldest first.
    async fn slack_links(&self, org: OrgId) -> StoreResult<Vec<SlackLink>>;

    /// The message posted about an approval.
    async fn slack_message(&self, org: OrgId, approval: ApprovalId) -> StoreResult<Option<SlackMessage>>;

    /// Records the message posted about an approval (replacing an earlier one).
    async fn put_slack_message(&self, message: &SlackMessage) -> StoreResult<()>;
}
