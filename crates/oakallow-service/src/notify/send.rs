//! Sending one attempt of a notification delivery, for the webhook worker: the channel's settings
//! are read as they are now (a token changed meanwhile is used, a channel removed meanwhile
//! fails the attempt), and the request goes through the worker's guarded HTTP client.
//!
//! Slack's Web API answers 200 with `"ok": false` when it refuses, so an attempt there counts as
//! delivered only with `"ok": true`; a posted message's channel and `ts` are kept, so that later
//! changes update it. An update before the post is recorded fails, and is retried.

use std::time::Duration;

use oakallow_domain::id::{ApprovalId, OrgId};
use oakallow_store::{ClaimedDelivery, DeliveryChannel, SlackMessage, Store};
use reqwest::Url;
use serde_json::{Value, json};

use super::{Channels, SlackChannel, parse_channels};
use crate::config::{ChannelsConfig, EmailConfig};
use crate::people::mail;
use crate::webhooks::guard::literal_refusal;
use crate::webhooks::send::{describe, read_head};

/// Most bytes of a Slack Web API answer read (it echoes the whole message).
const SLACK_ANSWER_BYTES: usize = 256 * 1024;

/// What an attempt got.
pub(crate) struct Sent {
    /// The HTTP status, when there was one.
    pub(crate) status: Option<u16>,
    /// The start of the answer.
    pub(crate) head: Vec<u8>,
    /// Whether the channel took it.
    pub(crate) accepted: bool,
}

/// What sending to the channels needs.
pub(crate) struct Notifier<'a> {
    pub(crate) store: &'a dyn Store,
    pub(crate) client: &'a reqwest::Client,
    pub(crate) timeout: Duration,
    pub(crate) allow_private: bool,
    pub(crate) channels: &'a ChannelsConfig,
    pub(crate) email: Option<&'a EmailConfig>,
}

impl Notifier<'_> {
    /// Makes one attempt of a delivery to a notification channel.
    pub(crate) async fn send(&self, claimed: &ClaimedDelivery) -> Result<Sent, String> {
        let body: Value = serde_json::from_str(&claimed.payload).map_err(|_| "the stored message is not JSON".to_owned())?;
        let org = claimed.delivery.org_id;
        let stored = self.store.notification_channels(org).await.map_err(|e| format!("cannot read the org's channels: {e}"))?;
        let channels = stored.map(|s| parse_channels(&s.settings)).transpose()?.unwrap_or_default();
        let Channels { slack, pagerduty, email } = channels;
        match claimed.delivery.channel {
            DeliveryChannel::Slack => self.slack(org, &slack.ok_or("Slack is no longer set for the org")?, &body).await,
            DeliveryChannel::PagerDuty => {
                let pagerduty = pagerduty.ok_or("PagerDuty is no longer set for the org")?;
                let mut event = body;
                event["routing_key"] = json!(pagerduty.routing_key);
                self.accepted_on_2xx(&self.channels.pagerduty_events_url, &event).await
            }
            DeliveryChannel::Email => {
                email.ok_or("e-mail is no longer set for the org")?;
                self.email(&body).await
            }
            DeliveryChannel::Webhook => Err("a webhook delivery is not a notification".into()),
        }
    }

    async fn slack(&self, org: OrgId, slack: &SlackChannel, body: &Value) -> Result<Sent, String> {
        let op = body["op"].as_str().unwrap_or("");
        let message = &body["message"];
        if op == "respond" {
            let url = body["response_url"].as_str().unwrap_or("");
            if !url.starts_with(&self.channels.slack_response_url_prefix) {
                return Err("the response_url is not one of Slack's".into());
            }
            return self.accepted_on_2xx(url, message).await;
        }
        let (Some(token), Some(channel)) = (&slack.bot_token, &slack.channel) else {
            let url = slack.webhook_url.as_deref().ok_or("Slack has neither a bot token nor a webhook URL")?;
            return self.accepted_on_2xx(url, message).await;
        };
        let approval: ApprovalId =
            body["approval_id"].as_str().and_then(ApprovalId::parse).ok_or("the stored message names no approval")?;
        let api = self.channels.slack_api_url.trim_end_matches('/');
        let mut request = message.clone();
        let method = if op == "post" {
            request["channel"] = json!(channel);
            request["unfurl_links"] = json!(false);
            "chat.postMessage"
        } else {
            let posted = self.store.slack_message(org, approval).await.map_err(|e| format!("cannot read the posted message: {e}"))?;
            let posted = posted.ok_or("the approval's Slack message is not posted yet")?;
            request["channel"] = json!(posted.channel);
            request["ts"] = json!(posted.ts);
            "chat.update"
        };
        let sent = self.post(&format!("{api}/{method}"), &request, Some(token), SLACK_ANSWER_BYTES).await?;
        let answer: Value = serde_json::from_slice(&sent.head).unwrap_or(Value::Null);
        let ok = sent.status.is_some_and(|s| (200..300).contains(&s)) && answer["ok"] == json!(true);
        if ok && op == "post" {
            let (channel, ts) = (answer["channel"].as_str(), answer["ts"].as_str());
            let (Some(channel), Some(ts)) = (channel, ts) else { return Err("Slack's answer names no channel and ts".into()) };
            let message = SlackMessage { org_id: org, approval_id: approval, channel: channel.to_owned(), ts: ts.to_owned() };
            self.store.put_slack_message(&message).await.map_err(|e| format!("cannot keep the posted message: {e}"))?;
        }
        Ok(Sent { accepted: ok, ..sent })
    }

    /// POSTs to a destination that takes its credential in its URL or body, and says it took
    /// the request with any 2xx.
    async fn accepted_on_2xx(&self, url: &str, body: &Value) -> Result<Sent, String> {
        let sent = self.post(url, body, None, crate::webhooks::send::HEAD_BYTES).await?;
        Ok(Sent { accepted: sent.status.is_some_and(|s| (200..300).contains(&s)), ..sent })
    }

    /// POSTs JSON within the attempt timeout; `Err` when no answer came.
    async fn post(&self, url: &str, body: &Value, bearer: Option<&str>, head_bytes: usize) -> Result<Sent, String> {
        let url = Url::parse(url).map_err(|_| "the destination URL is not valid".to_owned())?;
        if let Some(reason) = literal_refusal(&url, self.allow_private) {
            return Err(reason);
        }
        let mut request = self.client.post(url).header("content-type", "application/json; charset=utf-8").body(body.to_string());
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        let exchange = async {
            let response = request.send().await.map_err(|e| describe(&e))?;
            let status = response.status().as_u16();
            Ok(Sent { status: Some(status), head: read_head(response, head_bytes).await, accepted: false })
        };
        tokio::time::timeout(self.timeout, exchange).await.unwrap_or_else(|_| Err("timed out".to_owned()))
    }

    async fn email(&self, body: &Value) -> Result<Sent, String> {
        let config = self.email.ok_or("this instance sends no e-mail")?;
        let (subject, text) = (body["subject"].as_str().unwrap_or(""), body["body"].as_str().unwrap_or(""));
        let recipients: Vec<&str> = body["to"].as_array().map(|to| to.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
        for to in &recipients {
            mail::send(config, to, subject, text.to_owned()).await.map_err(|e| e.to_string())?;
        }
        Ok(Sent { status: None, head: format!("sent to {} recipient(s)", recipients.len()).into_bytes(), accepted: true })
    }
}
