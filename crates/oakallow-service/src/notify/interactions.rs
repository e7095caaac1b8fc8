//! Slack's interactive callbacks (`POST /integrations/slack/{org}/interactions`) and linking a
//! Slack user to an account.
//!
//! A click is trusted only once its signature verifies with the org's signing secret (within
//! five minutes). It decides only as the account the Slack user is linked to, with that
//! account's approver groups and the org's second-factor rule, and never for a critical-risk
//! tool: those are decided in the dashboard, which asks for a fresh second factor. Whatever
//! happens, the person is told through Slack's `response_url`, by the outbox; a decision also
//! updates the message (see `messages`).
//!
//! A link is made by the person: an unlinked click is answered with a link to the dashboard,
//! signed with a key derived from the signing secret and working for an hour; signed in (with
//! their second factor, if they have one), they confirm it. So nobody can link a Slack user they
//! are not, nor link a Slack user to an account that is not theirs.

use std::time::Duration;

use oakallow_domain::approval::Verdict;
use oakallow_domain::audit::{ActivityRecord, ActivityType, Actor, ActorKind};
use oakallow_domain::id::{ApprovalId, OrgId};
use oakallow_domain::secret::constant_time_eq;
use oakallow_domain::slack::{self, is_id};
use oakallow_domain::token::hmac_sha256;
use oakallow_domain::{RiskLevel, Timestamp};
use oakallow_store::{DeliveryChannel, SlackLink};
use serde::Deserialize;
use serde_json::json;

use super::messages::{APPROVE, DENY, channel_entry, escape};
use super::{Channels, SlackChannel};
use crate::Service;
use crate::approvals::Decision;
use crate::error::{ServiceError, ServiceResult};
use crate::people::OrgMember;

/// How long a link offered in Slack works.
pub const LINK_LIFETIME: Duration = Duration::from_secs(3600);

/// What Slack gets back for a verified request: always 200 (Slack ignores the body of an
/// acknowledgement of `block_actions`; the person is answered through `response_url`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlackReply {
    /// The click decided the approval.
    Decided,
    /// The click decided nothing; the person is told why.
    Refused,
    /// Nothing to do (a link button's click, or another kind of interaction).
    Ignored,
}

/// A link offer as its URL carries it (`?team=&user=&expires=&sig=`), to be checked.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SignedOffer {
    /// Slack workspace id.
    pub team: String,
    /// Slack user id.
    pub user: String,
    /// Unix seconds after which it no longer works.
    pub expires: i64,
    /// Hex HMAC-SHA256 (see `offer_signature`).
    pub sig: String,
}

/// A link offered to a Slack user, as the dashboard shows it before it is confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackLinkOffer {
    /// Slack workspace id.
    pub team_id: String,
    /// Slack user id.
    pub user_id: String,
    /// Until when the offer works.
    pub expires_at: Timestamp,
}

#[derive(Deserialize)]
struct Interaction {
    #[serde(rename = "type")]
    kind: String,
    user: Option<SlackUser>,
    team: Option<SlackTeam>,
    #[serde(default)]
    actions: Vec<Action>,
    response_url: Option<String>,
}

#[derive(Deserialize)]
struct SlackUser {
    id: String,
    team_id: Option<String>,
}

#[derive(Deserialize)]
struct SlackTeam {
    id: String,
}

#[derive(Deserialize)]
struct Action {
    action_id: String,
    value: Option<String>,
}

/// The signature of a link offer: HMAC-SHA256 keyed with a key derived from the signing secret
/// (so it is never a signature Slack could have made), over the org, the user and the expiry.
fn offer_signature(signing_secret: &str, org: OrgId, team: &str, user: &str, expires: i64) -> [u8; 32] {
    let key = hmac_sha256(signing_secret.as_bytes(), b"oakallow slack link offer");
    hmac_sha256(&key, format!("{org}:{team}:{user}:{expires}").as_bytes())
}

fn bad_request(message: &str) -> ServiceError {
    ServiceError::invalid(message.to_owned())
}

impl Service {
    /// The org's Slack settings, or 404 (an unknown org and an org without Slack alike).
    async fn slack_of(&self, org: OrgId) -> ServiceResult<SlackChannel> {
        let Channels { slack, .. } = self.channels(org).await?;
        slack.ok_or(ServiceError::NotFound { what: "Slack integration" })
    }

    /// Handles one interactive callback: `timestamp` and `signature` are Slack's headers, `body`
    /// the raw form body (`payload=<json>`).
    pub async fn slack_interaction(
        &self,
        org: &str,
        timestamp: Option<&str>,
        signature: Option<&str>,
        body: &[u8],
    ) -> ServiceResult<SlackReply> {
        let org: OrgId = org.parse().map_err(|_| ServiceError::NotFound { what: "Slack integration" })?;
        let slack = self.slack_of(org).await?;
        let now = self.clock.now();
        slack::verify(&slack.signing_secret, timestamp.unwrap_or(""), signature.unwrap_or(""), body, now.unix_seconds())
            .map_err(|error| ServiceError::invalid(error.to_string()))?;
        let payload = url::form_urlencoded::parse(body).find(|(name, _)| name == "payload").map(|(_, value)| value.into_owned());
        let payload = payload.ok_or_else(|| bad_request("the body has no payload field"))?;
        let interaction: Interaction =
            serde_json::from_str(&payload).map_err(|_| bad_request("the payload is not an interaction Slack sends"))?;
        if interaction.kind != "block_actions" {
            return Ok(SlackReply::Ignored);
        }
        let Some(action) = interaction.actions.first() else { return Ok(SlackReply::Ignored) };
        let verdict = match action.action_id.as_str() {
            APPROVE => Verdict::Approved,
            DENY => Verdict::Denied,
            _ => return Ok(SlackReply::Ignored),
        };
        let user = interaction.user.as_ref().ok_or_else(|| bad_request("the payload names no user"))?;
        let team = interaction.team.as_ref().map(|t| t.id.clone()).or_else(|| user.team_id.clone());
        let team = team.filter(|t| is_id(t)).ok_or_else(|| bad_request("the payload names no workspace"))?;
        if !is_id(&user.id) {
            return Err(bad_request("the payload's user id is not a Slack id"));
        }
        let approval = action.value.as_deref().and_then(ApprovalId::parse);
        let click = Click { org, team: &team, user: &user.id, verdict, approval, signing_secret: &slack.signing_secret };
        let (reply, answer) = self.decide_click(&click, now).await?;
        if let Some(text) = answer {
            self.respond(org, interaction.response_url.as_deref(), &text, now).await?;
        }
        Ok(reply)
    }

    /// Decides a verified click, or says why it decides nothing.
    async fn decide_click(&self, click: &Click<'_>, now: Timestamp) -> ServiceResult<(SlackReply, Option<String>)> {
        let refused = |text: String| Ok((SlackReply::Refused, Some(text)));
        let Some(link) = self.store.slack_link(click.org, click.team, click.user).await? else {
            let url = self.link_offer_url(click, now);
            return refused(format!(
                "Your Slack user is not linked to an oakallow account, so this click decided nothing. \
                 <{url}|Link it to your account> (you sign in to oakallow); the link works for an hour."
            ));
        };
        let account = link.account_id;
        let membership = self.store.membership(click.org, account).await?;
        let active = self.store.account_status(account).await?.is_some_and(|s| s.disabled_at.is_none() && s.deleted_at.is_none());
        let Some(membership) = membership.filter(|_| active) else {
            return refused("The oakallow account your Slack user is linked to may not decide approvals in this org.".into());
        };
        let Some(id) = click.approval else { return refused("This approval does not exist in the org.".into()) };
        let Some(approval) = self.store.approval(click.org, id).await? else {
            return refused("This approval does not exist in the org.".into());
        };
        let runtime = self.org_runtime(click.org).await?;
        let critical = runtime.policy.tool_by_name(&approval.tool).is_some_and(|t| t.risk_level == RiskLevel::Critical);
        if critical {
            let url = self.public_link(&format!("/orgs/{}/approvals/{id}", click.org));
            return refused(format!(
                "{} is a critical-risk tool: it is decided in the dashboard, which asks for a fresh second factor. <{url}|Open the approval>.",
                escape(&approval.tool)
            ));
        }
        if runtime.org.require_second_factor_for_approvers && !self.has_second_factor(account).await? {
            return refused("This org asks approvers for a second factor: add one to your oakallow account first.".into());
        }
        let actor = Actor { kind: ActorKind::User, id: account.to_string(), label: format!("{account} via Slack") };
        let decision = Decision { verdict: click.verdict, by: account.to_string(), note: None, levels: Some(membership.approver) };
        match self.decide(actor, click.org, id, decision).await {
            Ok(_) => Ok((SlackReply::Decided, None)),
            Err(ServiceError::ForbiddenRole { .. }) => {
                refused(format!("You are not in the approver group of level {} of this approval.", approval.level))
            }
            Err(ServiceError::ApprovalNotPending { status }) => refused(format!("This approval is {status} already.")),
            Err(ServiceError::Conflict { message, .. }) => refused(escape(&message)),
            Err(other) => Err(other),
        }
    }

    /// The dashboard link that offers to link the clicking Slack user to whoever opens it.
    fn link_offer_url(&self, click: &Click<'_>, now: Timestamp) -> String {
        let expires = now.unix_seconds() + i64::try_from(LINK_LIFETIME.as_secs()).unwrap_or(i64::MAX);
        let signature = hex::encode(offer_signature(click.signing_secret, click.org, click.team, click.user, expires));
        self.public_link(&format!(
            "/orgs/{}/slack/link?team={}&user={}&expires={expires}&sig={signature}",
            click.org, click.team, click.user
        ))
    }

    /// Queues an ephemeral answer to the person who clicked, through the `response_url` Slack
    /// gave, if it is one of Slack's (see `ChannelsConfig::slack_response_url_prefix`).
    async fn respond(&self, org: OrgId, response_url: Option<&str>, text: &str, now: Timestamp) -> ServiceResult<()> {
        let prefix = &self.config.channels.slack_response_url_prefix;
        let Some(url) = response_url.filter(|url| url.starts_with(prefix.as_str()) && url.len() <= 2048) else {
            tracing::warn!(%org, "a Slack click came without a response_url of Slack's; its answer is not sent");
            return Ok(());
        };
        let body = json!({
            "op": "respond",
            "response_url": url,
            "message": { "response_type": "ephemeral", "replace_original": false, "text": text },
        });
        let entry = channel_entry(org, "slack.response", DeliveryChannel::Slack, "slack:response_url", &body, now);
        self.store.enqueue_webhook(&entry).await?;
        self.webhook_wake.notify_one();
        Ok(())
    }

    /// Checks a link offer opened by a signed-in member: it must be signed with the org's current
    /// signing secret and not have expired.
    pub async fn slack_link_offer(&self, member: &OrgMember, signed: &SignedOffer) -> ServiceResult<SlackLinkOffer> {
        let refused = || ServiceError::invalid("this link is not valid or has expired: click the button in Slack again for a new one");
        let SignedOffer { team, user, expires, sig } = signed;
        let org = member.org_id();
        let slack = self.slack_of(org).await?;
        let given = hex::decode(sig).map_err(|_| refused())?;
        let expected = offer_signature(&slack.signing_secret, org, team, user, *expires);
        if !is_id(team) || !is_id(user) || !constant_time_eq(&expected, &given) || *expires < self.clock.now().unix_seconds() {
            return Err(refused());
        }
        Ok(SlackLinkOffer {
            team_id: team.clone(),
            user_id: user.clone(),
            expires_at: Timestamp::from_micros(expires.saturating_mul(1_000_000)),
        })
    }

    /// Links the Slack user of a valid offer to the signed-in member's account.
    pub async fn link_slack_user(&self, member: &OrgMember, signed: &SignedOffer) -> ServiceResult<SlackLinkOffer> {
        let offer = self.slack_link_offer(member, signed).await?;
        let now = self.clock.now();
        let link = SlackLink {
            org_id: member.org_id(),
            team_id: offer.team_id.clone(),
            user_id: offer.user_id.clone(),
            account_id: member.account.id,
            created_at: now,
        };
        let mut record = ActivityRecord::new(member.org_id(), now, ActivityType::ConfigChanged, member.clone().approval_reader().actor());
        record.details = Some(
            json!({ "action": "linked", "kind": "slack_user", "team_id": link.team_id, "user_id": link.user_id, "account_id": link.account_id }),
        );
        self.store.put_slack_link(&link, record).await?;
        Ok(offer)
    }
}

/// A verified click.
struct Click<'a> {
    org: OrgId,
    team: &'a str,
    user: &'a str,
    verdict: Verdict,
    approval: Option<ApprovalId>,
    signing_secret: &'a str,
}
