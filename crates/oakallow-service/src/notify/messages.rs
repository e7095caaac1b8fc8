//! What each channel is sent about an approval, as outbox entries written with the approval
//! event: the Slack message (posted when the approval is created, updated on every later
//! change), the PagerDuty event (triggered for a critical-risk tool, resolved when the approval
//! is decided, expires or is cancelled) and the e-mail (sent when it is created).
//!
//! Everything an agent wrote (reason, params, names) is data: in Slack's mrkdwn it is escaped,
//! so it cannot mention people, link anywhere or look like oakallow's own words; params are shown
//! as plain text. Every text is cut to the limit Slack and PagerDuty document.

use oakallow_domain::approval::{Approval, ApprovalStatus, Verdict};
use oakallow_domain::audit::ActorKind;
use oakallow_domain::canonical::to_canonical_string;
use oakallow_domain::id::{AccountId, DeliveryId, EventId, OrgId};
use oakallow_domain::{RiskLevel, Timestamp};
use oakallow_store::{DeliveryChannel, NewDelivery, Outbox, WebhookEvent};
use serde_json::{Value, json};

use super::Channels;
use crate::Service;
use crate::error::ServiceResult;
use crate::orgs_cache::OrgRuntime;

/// The action id of the approve button.
pub(crate) const APPROVE: &str = "oakallow_approve";
/// The action id of the deny button.
pub(crate) const DENY: &str = "oakallow_deny";
/// The action id of the link button of a critical-risk tool (Slack reports its clicks too).
pub(crate) const OPEN: &str = "oakallow_open";

/// Most characters of the params shown in a message.
const PARAMS_CHARS: usize = 1000;

/// What a message says about an approval besides the approval itself.
pub(crate) struct Subject<'a> {
    pub(crate) approval: &'a Approval,
    pub(crate) risk: RiskLevel,
    /// The approval's page in the dashboard.
    pub(crate) url: String,
    /// Who decided the last level, as people know them (an account's name, or the name an
    /// approver key gave).
    pub(crate) decided_by: Option<String>,
}

impl Subject<'_> {
    fn critical(&self) -> bool {
        self.risk == RiskLevel::Critical
    }
}

/// Text for Slack's mrkdwn: `&`, `<` and `>` escaped as Slack documents, so no text becomes a
/// link, a mention or a channel-wide ping.
pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// At most `max` characters of `text`, with `…` at the end when cut.
pub(crate) fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

fn headline(subject: &Subject<'_>, now: Timestamp) -> String {
    let approval = subject.approval;
    let state = match approval.status_at(now) {
        ApprovalStatus::Pending if approval.level > 1 => "Second approval needed",
        ApprovalStatus::Pending => "Approval needed",
        ApprovalStatus::Approved => "Approved",
        ApprovalStatus::Denied => "Denied",
        ApprovalStatus::Expired => "Expired",
        ApprovalStatus::Cancelled => "Cancelled",
    };
    format!("{state}: {}", approval.tool)
}

fn field(label: &str, value: &str) -> Value {
    json!({ "type": "mrkdwn", "text": cut(&format!("*{label}*\n{}", escape(value)), 2000) })
}

/// The Block Kit message about an approval as it stands at `now`: buttons while it is pending
/// (a link to the dashboard instead, for a critical-risk tool), the outcome once it is not.
pub(crate) fn slack_message(subject: &Subject<'_>, now: Timestamp) -> Value {
    let approval = subject.approval;
    let headline = headline(subject, now);
    let mut fields = vec![field("Tool", &approval.tool), field("Risk", subject.risk.as_str())];
    fields.push(field("Tenant", approval.tenant.as_deref().unwrap_or("-")));
    if let Some(resource) = &approval.resource {
        fields.push(field("Resource", resource));
    }
    if let Some(method) = &approval.method {
        fields.push(field("Method", method));
    }
    fields.push(field("Reference", &approval.reference));
    fields.push(json!({
        "type": "mrkdwn",
        "text": format!("*Expires*\n<!date^{}^{{date_short_pretty}} {{time}}|{}>", approval.expires_at.unix_seconds(), approval.expires_at),
    }));
    let mut blocks = vec![
        json!({ "type": "header", "text": { "type": "plain_text", "text": cut(&headline, 150), "emoji": false } }),
        json!({ "type": "section", "fields": fields }),
        json!({ "type": "section", "text": { "type": "mrkdwn", "text": cut(&format!("*Reason*\n{}", escape(&approval.reason)), 3000) } }),
    ];
    if let Some(params) = &approval.params {
        let shown = cut(&to_canonical_string(params), PARAMS_CHARS);
        blocks.push(json!({ "type": "section", "text": { "type": "plain_text", "text": format!("Params: {shown}"), "emoji": false } }));
    }
    let status = approval.status_at(now);
    if status == ApprovalStatus::Pending {
        blocks.push(actions(subject));
    }
    let mut context = vec![format!("oakallow approval `{}` · level {} of {}", approval.id, approval.level, approval.required_levels)];
    if status == ApprovalStatus::Pending && subject.critical() {
        context.push("Critical-risk tool: it is decided in the dashboard, with a fresh second factor.".into());
    }
    if let (Some(by), true) = (&subject.decided_by, matches!(status, ApprovalStatus::Approved | ApprovalStatus::Denied)) {
        context.push(format!("Decided by {}", escape(by)));
    }
    if let Some(decision) = approval.decisions.last().filter(|_| status == ApprovalStatus::Pending) {
        let verdict = if decision.decision == Verdict::Approved { "approved" } else { "denied" };
        context.push(format!("Level {} {verdict}", decision.level));
    }
    if let Some(note) = &approval.note {
        context.push(format!("Note: {}", escape(note)));
    }
    let elements: Vec<Value> = context.iter().map(|text| json!({ "type": "mrkdwn", "text": cut(text, 3000) })).collect();
    blocks.push(json!({ "type": "context", "elements": elements }));
    json!({ "text": cut(&format!("{headline} ({})", approval.reference), 3000), "blocks": blocks })
}

fn actions(subject: &Subject<'_>) -> Value {
    let id = subject.approval.id.to_string();
    let button =
        |action: &str, text: &str| json!({ "type": "button", "action_id": action, "text": { "type": "plain_text", "text": text } });
    let elements = if subject.critical() {
        let mut open = button(OPEN, "Decide in the dashboard");
        open["url"] = json!(subject.url);
        vec![open]
    } else {
        let mut approve = button(APPROVE, "Approve");
        approve["style"] = json!("primary");
        approve["value"] = json!(id);
        let mut deny = button(DENY, "Deny");
        deny["style"] = json!("danger");
        deny["value"] = json!(id);
        vec![approve, deny]
    };
    json!({ "type": "actions", "block_id": "oakallow_decision", "elements": elements })
}

/// The PagerDuty event about an approval (without the routing key, added when it is sent):
/// a trigger while it is pending, a resolve once it is not. Deduplicated by approval.
pub(crate) fn pagerduty_event(subject: &Subject<'_>, now: Timestamp) -> Value {
    let approval = subject.approval;
    let dedup_key = format!("oakallow-{}", approval.id);
    if approval.status_at(now) != ApprovalStatus::Pending {
        return json!({ "event_action": "resolve", "dedup_key": dedup_key });
    }
    let summary = format!("Approval needed for critical-risk tool {} ({})", approval.tool, approval.reference);
    json!({
        "event_action": "trigger",
        "dedup_key": dedup_key,
        "payload": {
            "summary": cut(&summary, 1024),
            "source": "oakallow",
            "severity": "critical",
            "component": approval.tool,
            "group": approval.tenant,
            "class": "approval",
            "custom_details": {
                "approval_id": approval.id,
                "reference": approval.reference,
                "tenant": approval.tenant,
                "resource": approval.resource,
                "method": approval.method,
                "reason": approval.reason,
                "expires_at": approval.expires_at,
            },
        },
        "client": "oakallow",
        "client_url": subject.url,
        "links": [{ "href": subject.url, "text": "Decide in oakallow" }],
    })
}

/// The e-mail about a new approval: its subject and plain-text body.
pub(crate) fn email(subject: &Subject<'_>) -> (String, String) {
    let approval = subject.approval;
    let title = cut(&format!("Approval needed: {} ({})", approval.tool, approval.reference), 200).replace(['\r', '\n'], " ");
    let mut body = format!(
        "An agent asks to run {tool} and waits for a person to decide.\n\n\
         Tool:      {tool} (risk: {risk})\nTenant:    {tenant}\nReference: {reference}\nExpires:   {expires}\n\nReason:\n{reason}\n",
        tool = approval.tool,
        risk = subject.risk.as_str(),
        tenant = approval.tenant.as_deref().unwrap_or("-"),
        reference = approval.reference,
        expires = approval.expires_at,
        reason = approval.reason,
    );
    if let Some(params) = &approval.params {
        body.push_str(&format!("\nParams:\n{}\n", cut(&to_canonical_string(params), PARAMS_CHARS)));
    }
    body.push_str(&format!("\nDecide in the dashboard: {}\n", subject.url));
    (title, body)
}

/// An outbox entry for one channel: its own event (the body the channel is sent) and delivery.
/// `destination` names where it goes without any secret.
pub(crate) fn channel_entry(org: OrgId, kind: &str, channel: DeliveryChannel, destination: &str, body: &Value, now: Timestamp) -> Outbox {
    let event = WebhookEvent { id: EventId::generate(), org_id: org, kind: kind.to_owned(), payload: body.to_string(), created_at: now };
    let delivery = NewDelivery { id: DeliveryId::generate(), channel, url: destination.to_owned(), next_attempt_at: now };
    Outbox { event, delivery: Some(delivery) }
}

/// The Slack body of a post or an update: what to do, about which approval, and the message.
pub(crate) fn slack_body(op: &str, approval: &Approval, message: Value) -> Value {
    json!({ "op": op, "approval_id": approval.id, "message": message })
}

impl Service {
    /// The outbox entries of the org's `channels` for an approval event of `kind` about
    /// `approval` (as it is after the event), written in the event's transaction.
    pub(crate) async fn approval_outbox(
        &self,
        runtime: &OrgRuntime,
        channels: &Channels,
        kind: &str,
        approval: &Approval,
        now: Timestamp,
    ) -> ServiceResult<Vec<Outbox>> {
        if *channels == Channels::default() {
            return Ok(Vec::new());
        }
        let risk = runtime.policy.tool_by_name(&approval.tool).map_or(RiskLevel::default(), |tool| tool.risk_level);
        let url = self.public_link(&format!("/orgs/{}/approvals/{}", approval.org_id, approval.id));
        let decided_by = self.decider_name(approval).await?;
        let subject = Subject { approval, risk, url, decided_by };
        let created = kind == "approval.created";
        let mut outbox = Vec::new();
        if let Some(slack) = &channels.slack {
            let message = slack_message(&subject, now);
            let op = if created { "post" } else { "update" };
            let destination = match (slack.bot_token.is_some(), created) {
                (true, true) => "slack:chat.postMessage",
                (true, false) => "slack:chat.update",
                (false, _) => "slack:incoming-webhook",
            };
            outbox.push(channel_entry(approval.org_id, kind, DeliveryChannel::Slack, destination, &slack_body(op, approval, message), now));
        }
        let announces_change = created || approval.status_at(now) != ApprovalStatus::Pending;
        if channels.pagerduty.is_some() && subject.critical() && announces_change {
            let event = pagerduty_event(&subject, now);
            outbox.push(channel_entry(approval.org_id, kind, DeliveryChannel::PagerDuty, "pagerduty:events-v2", &event, now));
        }
        if let (Some(email), Some(config), true) = (&channels.email, &self.config.email, created) {
            // Links in e-mails point where the operator said e-mails should link.
            let url = format!("{}/orgs/{}/approvals/{}", crate::people::mail::dashboard_url(config), approval.org_id, approval.id);
            let (title, body) = self::email(&Subject { url, ..subject });
            let message = json!({ "to": email.to, "subject": title, "body": body });
            let destination = format!("email:{} recipient(s)", email.to.len());
            outbox.push(channel_entry(approval.org_id, kind, DeliveryChannel::Email, &destination, &message, now));
        }
        Ok(outbox)
    }

    /// The name of whoever decided the approval's last level: a member's current name (their
    /// decisions are recorded by account id), or the name an approver key gave.
    async fn decider_name(&self, approval: &Approval) -> ServiceResult<Option<String>> {
        let Some(last) = approval.decisions.last() else { return Ok(None) };
        let member = last.decider.as_ref().filter(|d| d.kind == ActorKind::User).and_then(|d| d.id.parse::<AccountId>().ok());
        match member {
            Some(account) => Ok(Some(self.store.account(account).await?.map_or_else(|| last.decided_by.clone(), |a| a.name))),
            None => Ok(Some(last.decided_by.clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outside_text_cannot_mention_or_link() {
        assert_eq!(escape("<!channel> & <https://x.example|click>"), "&lt;!channel&gt; &amp; &lt;https://x.example|click&gt;");
        assert_eq!(cut("abcdef", 4), "abc…");
        assert_eq!(cut("ééé", 3), "ééé");
    }
}
