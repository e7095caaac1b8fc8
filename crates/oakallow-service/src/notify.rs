//! Notification channels: where an org's approvals are announced besides its webhook (Slack,
//! PagerDuty, e-mail), how they are set (`GET`/`PATCH /v1/org/notifications`), and the
//! deliveries each approval event makes. Deliveries go through the webhook outbox, in the
//! transaction of the event, and the webhook worker sends them with the same retries.
//!
//! The settings are one document per org, kept with their secrets (a Slack bot token and signing
//! secret, an incoming webhook URL, a PagerDuty routing key), which are never shown again.

mod interactions;
mod messages;
pub(crate) mod send;

use oakallow_domain::Timestamp;
use oakallow_domain::id::OrgId;
use oakallow_store::{SlackLink, StoreError, StoredChannels};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::json;

use crate::Service;
use crate::auth::Management;
use crate::error::{ServiceError, ServiceResult};
use crate::webhooks::guard;

pub use interactions::{SignedOffer, SlackLinkOffer, SlackReply};

/// Most e-mail addresses one org's approvals are sent to.
pub const MAX_EMAIL_RECIPIENTS: usize = 10;

/// Longest secret or token accepted, in characters.
const MAX_SECRET_CHARS: usize = 256;

/// An org's channels as stored (secrets included).
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Channels {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) slack: Option<SlackChannel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) pagerduty: Option<PagerDutyChannel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) email: Option<EmailChannel>,
}

/// Slack: a bot token and a channel (messages are posted, then updated), or an incoming webhook
/// (messages are posted; a change is posted as a new message), and the app's signing secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SlackChannel {
    /// A bot token (`xoxb-…`) with `chat:write`; with `channel`. Never shown again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^[!-~]{1,256}$")]
    pub bot_token: Option<String>,
    /// The channel id (`C…`) messages are posted to, with `bot_token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^[A-Z0-9]{1,64}$")]
    pub channel: Option<String>,
    /// An incoming webhook URL, instead of a bot token; it must pass the same guard as webhook
    /// URLs. Never shown again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^https?://[!-~]{1,248}$")]
    pub webhook_url: Option<String>,
    /// The Slack app's signing secret, which signs its interactive callbacks. Never shown again.
    #[schema(pattern = "^[!-~]{1,256}$")]
    pub signing_secret: String,
}

/// PagerDuty: an Events API v2 integration, for approvals of critical-risk tools.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PagerDutyChannel {
    /// The integration's routing key. Never shown again.
    #[schema(pattern = "^[!-~]{1,256}$")]
    pub routing_key: String,
}

/// E-mail: addresses told of every new approval.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailChannel {
    /// 1 to 10 addresses.
    #[schema(min_items = 1, max_items = 10)]
    pub to: Vec<String>,
}

impl std::fmt::Debug for Channels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Secrets never reach a log.
        f.debug_struct("Channels")
            .field("slack", &self.slack.is_some())
            .field("pagerduty", &self.pagerduty.is_some())
            .field("email", &self.email.as_ref().map(|e| e.to.len()))
            .finish()
    }
}

impl SlackChannel {
    /// `bot` or `webhook`.
    fn mode(&self) -> &'static str {
        if self.bot_token.is_some() { "bot" } else { "webhook" }
    }
}

/// Body of `PATCH /v1/org/notifications`: each channel left out stays as it is, `null` removes
/// it, and an object replaces it whole.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelsPatch {
    /// Slack.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<SlackChannel>, nullable)]
    pub slack: Option<Option<SlackChannel>>,
    /// PagerDuty.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<PagerDutyChannel>, nullable)]
    pub pagerduty: Option<Option<PagerDutyChannel>>,
    /// E-mail.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<EmailChannel>, nullable)]
    pub email: Option<Option<EmailChannel>>,
}

impl std::fmt::Debug for SlackChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackChannel").field("mode", &self.mode()).field("channel", &self.channel).finish_non_exhaustive()
    }
}

impl std::fmt::Debug for PagerDutyChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PagerDutyChannel(…)")
    }
}

impl std::fmt::Debug for EmailChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailChannel").field("recipients", &self.to.len()).finish()
    }
}

/// A field that is present (`null` included) is `Some`; a missing one is `None` (by `default`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(deserializer: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

/// Answer of `GET` and `PATCH /v1/org/notifications`: the channels without their secrets.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ChannelsView {
    /// Slack, if set.
    pub slack: Option<SlackView>,
    /// PagerDuty, if set.
    pub pagerduty: Option<PagerDutyView>,
    /// E-mail, if set.
    pub email: Option<EmailChannel>,
    /// Where the Slack app's interactivity requests go (its "Request URL").
    pub slack_interactions_url: String,
    /// Slack users linked to accounts of the org, oldest first.
    pub slack_links: Vec<SlackLinkView>,
    /// Last change, if ever set.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub updated_at: Option<Timestamp>,
}

/// Slack as shown.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SlackView {
    /// `bot` (posted, then updated with `chat.update`) or `webhook` (an incoming webhook).
    pub mode: &'static str,
    /// The channel id, with a bot token.
    pub channel: Option<String>,
}

/// PagerDuty as shown.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PagerDutyView {
    /// Always true: a routing key is set (and never shown).
    pub configured: bool,
}

/// A Slack user linked to an account.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SlackLinkView {
    /// Slack workspace id.
    pub team_id: String,
    /// Slack user id.
    pub user_id: String,
    /// The account the user decides as.
    pub account_id: String,
    /// When the link was made.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

impl From<SlackLink> for SlackLinkView {
    fn from(link: SlackLink) -> Self {
        Self { team_id: link.team_id, user_id: link.user_id, account_id: link.account_id.to_string(), created_at: link.created_at }
    }
}

/// Reads a stored settings document.
pub(crate) fn parse_channels(settings: &str) -> Result<Channels, String> {
    serde_json::from_str(settings).map_err(|e| format!("the org's notification channels cannot be read: {e}"))
}

/// Refuses a secret that is not 1 to [`MAX_SECRET_CHARS`] printable ASCII characters without
/// spaces (what Slack's and PagerDuty's tokens, secrets, keys and URLs are made of).
fn check_secret(field: &str, value: &str) -> ServiceResult<()> {
    if (1..=MAX_SECRET_CHARS).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_graphic()) {
        return Ok(());
    }
    Err(ServiceError::InvalidRequest {
        message: format!("{field} must be 1 to {MAX_SECRET_CHARS} printable ASCII characters without spaces"),
        details: json!({ "field": field }),
    })
}

fn invalid_field(field: &str, message: impl Into<String>) -> ServiceError {
    ServiceError::InvalidRequest { message: message.into(), details: json!({ "field": field }) }
}

impl Service {
    /// The org's channels as stored (none set: all off). A document that cannot be read fails
    /// closed: nothing is announced on a channel and the caller gets 503.
    pub(crate) async fn channels(&self, org: OrgId) -> ServiceResult<Channels> {
        Ok(self.stored_channels(org).await?.0)
    }

    async fn stored_channels(&self, org: OrgId) -> ServiceResult<(Channels, Option<Timestamp>)> {
        match self.store.notification_channels(org).await? {
            None => Ok((Channels::default(), None)),
            Some(stored) => match parse_channels(&stored.settings) {
                Ok(channels) => Ok((channels, Some(stored.updated_at))),
                Err(error) => {
                    tracing::error!(%error, %org, "the org's notification channels cannot be read");
                    Err(ServiceError::Unavailable)
                }
            },
        }
    }

    /// The org's channels, without their secrets, and its Slack links.
    pub async fn notification_channels(&self, caller: &Management) -> ServiceResult<ChannelsView> {
        self.channels_view(caller.org_id()).await
    }

    async fn channels_view(&self, org: OrgId) -> ServiceResult<ChannelsView> {
        let (channels, updated_at) = self.stored_channels(org).await?;
        let links = self.store.slack_links(org).await?;
        Ok(ChannelsView {
            slack: channels.slack.as_ref().map(|s| SlackView { mode: s.mode(), channel: s.channel.clone() }),
            pagerduty: channels.pagerduty.as_ref().map(|_| PagerDutyView { configured: true }),
            email: channels.email.clone(),
            slack_interactions_url: self.slack_interactions_url(org),
            slack_links: links.into_iter().map(SlackLinkView::from).collect(),
            updated_at,
        })
    }

    /// Where the Slack app of `org` sends its interactivity requests.
    pub fn slack_interactions_url(&self, org: OrgId) -> String {
        self.public_link(&format!("/integrations/slack/{org}/interactions"))
    }

    /// `path` (starting with `/`) on the public address people reach oakallow at
    /// (`accounts.public_url`), for links in Slack and PagerDuty.
    pub(crate) fn public_link(&self, path: &str) -> String {
        format!("{}{path}", self.config.accounts.public_url.as_str().trim_end_matches('/'))
    }

    /// Sets, replaces or removes channels (owners, admins and management keys). Each given
    /// channel is checked whole; an incoming webhook URL passes the same guard as webhook URLs.
    pub async fn update_notification_channels(&self, caller: &Management, patch: ChannelsPatch) -> ServiceResult<ChannelsView> {
        let org = caller.org_id();
        let (mut channels, _) = self.stored_channels(org).await?;
        if let Some(slack) = patch.slack {
            if let Some(slack) = &slack {
                self.check_slack(slack).await?;
            }
            channels.slack = slack;
        }
        if let Some(pagerduty) = patch.pagerduty {
            if let Some(pagerduty) = &pagerduty {
                check_secret("pagerduty.routing_key", &pagerduty.routing_key)?;
            }
            channels.pagerduty = pagerduty;
        }
        if let Some(email) = patch.email {
            if let Some(email) = &email {
                self.check_email(email)?;
            }
            channels.email = email;
        }
        let settings = serde_json::to_string(&channels).map_err(|_| ServiceError::Unavailable)?;
        let summary = json!({
            "slack": channels.slack.as_ref().map(SlackChannel::mode),
            "pagerduty": channels.pagerduty.is_some(),
            "email_recipients": channels.email.as_ref().map_or(0, |e| e.to.len()),
        });
        let record = self.config_changed(caller, json!({ "action": "updated", "kind": "notification_channels", "channels": summary }));
        let stored = StoredChannels { settings, updated_at: self.clock.now() };
        self.store.set_notification_channels(org, &stored, record).await?;
        self.channels_view(org).await
    }

    async fn check_slack(&self, slack: &SlackChannel) -> ServiceResult<()> {
        check_secret("slack.signing_secret", &slack.signing_secret)?;
        match (&slack.bot_token, &slack.channel, &slack.webhook_url) {
            (Some(token), Some(channel), None) => {
                check_secret("slack.bot_token", token)?;
                if !oakallow_domain::slack::is_id(channel) {
                    return Err(invalid_field("slack.channel", "slack.channel must be a Slack channel id such as C0123ABCD"));
                }
                Ok(())
            }
            (None, None, Some(url)) => {
                check_secret("slack.webhook_url", url)?;
                guard::check_destination("slack.webhook_url", url, self.config.webhooks.allow_private_targets)
                    .await
                    .map_err(|reason| invalid_field("slack.webhook_url", reason))
            }
            _ => Err(invalid_field("slack", "slack takes either bot_token and channel, or webhook_url")),
        }
    }

    fn check_email(&self, email: &EmailChannel) -> ServiceResult<()> {
        if self.config.email.is_none() {
            return Err(ServiceError::Conflict {
                message: "this instance sends no e-mail: set email.smtp_url in its configuration first".into(),
                details: json!({ "field": "email" }),
            });
        }
        if !(1..=MAX_EMAIL_RECIPIENTS).contains(&email.to.len()) {
            return Err(invalid_field("email.to", format!("email.to must list 1 to {MAX_EMAIL_RECIPIENTS} addresses")));
        }
        for address in &email.to {
            if address.parse::<lettre::Address>().is_err() || address.len() > MAX_SECRET_CHARS {
                return Err(invalid_field("email.to", format!("{address:?} is not an e-mail address")));
            }
        }
        Ok(())
    }

    /// Removes a Slack user's link (owners, admins and management keys).
    pub async fn unlink_slack_user(&self, caller: &Management, team_id: &str, user_id: &str) -> ServiceResult<()> {
        let details = json!({ "action": "unlinked", "kind": "slack_user", "team_id": team_id, "user_id": user_id });
        let record = self.config_changed(caller, details);
        self.store.delete_slack_link(caller.org_id(), team_id, user_id, record).await.map_err(|e| match e {
            StoreError::NotFound => ServiceError::NotFound { what: "Slack link" },
            other => other.into(),
        })
    }
}
