//! The notifications page: Slack, PagerDuty and e-mail for approvals, set through the same
//! service calls as `PATCH /v1/org/notifications` (owners and admins; members get the 403 page),
//! the Slack users linked to accounts, and the page a Slack user's link offer opens, where a
//! signed-in member links that Slack user to their own account.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use oakallow_service::ServiceError;
use oakallow_service::notify::{ChannelsPatch, ChannelsView, EmailChannel, PagerDutyChannel, SignedOffer, SlackChannel, SlackLinkOffer};
use oakallow_service::people::OrgMember;

use super::{form_member, text};
use crate::AppState;
use crate::dashboard::pages::{ErrorPage, Shell, after, org_page, render};
use crate::dashboard::web::{CheckedForm, Visitor};

/// Why members do not see this page.
const OWNERS_ONLY: &str = "Notification channels are managed by the org's owners and admins: they hold the Slack and PagerDuty secrets. Ask one of them for access.";

#[derive(Template)]
#[template(path = "ops_notifications.html")]
struct NotificationsPage {
    shell: Shell,
    org_id: String,
    view: ChannelsView,
    /// Each link with its time as shown.
    links: Vec<(oakallow_service::notify::SlackLinkView, String)>,
}

/// The 403 page for a member, or the error's page.
fn refused(error: &ServiceError) -> Response {
    match error {
        ServiceError::ForbiddenRole { .. } => ErrorPage::forbidden(OWNERS_ONLY).into_response(),
        other => ErrorPage::from_service(other).into_response(),
    }
}

/// `GET /orgs/{org}/notifications`.
pub(super) async fn page(State(state): State<AppState>, visitor: Visitor, headers: HeaderMap, Path(org): Path<String>) -> Response {
    let (member, shell) = match org_page(&state, &visitor, &org, "notifications", "Notifications", &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let loaded = async { state.service.notification_channels(&member.management()?).await };
    let view = match loaded.await {
        Ok(view) => view,
        Err(error) => return refused(&error),
    };
    let links = view.slack_links.iter().map(|link| (link.clone(), text::time(link.created_at))).collect();
    let page = NotificationsPage { shell, org_id: member.org_id().to_string(), view, links };
    render(&page, &page.shell)
}

/// `POST /orgs/{org}/notifications`: sets (`action=save`) or removes (`action=remove`) the channel
/// named by `channel`. A blank field is left out, so the service says what is missing.
pub(super) async fn save(State(state): State<AppState>, Path(org): Path<String>, form: CheckedForm) -> Response {
    let member = match form_member(&state, &form, &org).await {
        Ok(member) => member,
        Err(response) => return response,
    };
    let field = |name: &str| form.fields.get(name).map(str::to_owned);
    let remove = form.fields.get("action") == Some("remove");
    let mut patch = ChannelsPatch::default();
    let done = match form.fields.get("channel") {
        Some("slack") => {
            patch.slack = Some((!remove).then(|| SlackChannel {
                bot_token: field("bot_token"),
                channel: field("slack_channel"),
                webhook_url: field("webhook_url"),
                signing_secret: field("signing_secret").unwrap_or_default(),
            }));
            if remove { "Slack removed." } else { "Slack saved." }
        }
        Some("pagerduty") => {
            patch.pagerduty = Some((!remove).then(|| PagerDutyChannel { routing_key: field("routing_key").unwrap_or_default() }));
            if remove { "PagerDuty removed." } else { "PagerDuty saved." }
        }
        Some("email") => {
            let to =
                form.fields.get("to").unwrap_or("").split([',', '\n', ' ']).filter(|a| !a.trim().is_empty()).map(|a| a.trim().to_owned());
            patch.email = Some((!remove).then(|| EmailChannel { to: to.collect() }));
            if remove { "E-mail removed." } else { "E-mail saved." }
        }
        _ => return ErrorPage::from_service(&ServiceError::invalid("unknown channel")).into_response(),
    };
    let result = match member.management() {
        Ok(manager) => state.service.update_notification_channels(&manager, patch).await,
        Err(error) => return refused(&error),
    };
    after(&state, &form.headers, &notifications_url(&member), result, done)
}

/// `POST /orgs/{org}/notifications/slack-links/{team}/{user}/remove`.
pub(super) async fn unlink(
    State(state): State<AppState>,
    Path((org, team, user)): Path<(String, String, String)>,
    form: CheckedForm,
) -> Response {
    let member = match form_member(&state, &form, &org).await {
        Ok(member) => member,
        Err(response) => return response,
    };
    let result = match member.management() {
        Ok(manager) => state.service.unlink_slack_user(&manager, &team, &user).await,
        Err(error) => return refused(&error),
    };
    after(&state, &form.headers, &notifications_url(&member), result, "Slack user unlinked.")
}

fn notifications_url(member: &OrgMember) -> String {
    format!("/orgs/{}/notifications", member.org_id())
}

#[derive(Template)]
#[template(path = "ops_slack_link.html")]
struct LinkPage {
    shell: Shell,
    org_id: String,
    offer: SlackLinkOffer,
    signed: SignedOffer,
    /// The account the link would go to.
    account: String,
}

/// `GET /orgs/{org}/slack/link?team=&user=&expires=&sig=`: asks the signed-in member to confirm.
pub(super) async fn offer(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    Path(org): Path<String>,
    Query(signed): Query<SignedOffer>,
) -> Response {
    let (member, shell) = match org_page(&state, &visitor, &org, "approvals", "Link your Slack user", &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    match state.service.slack_link_offer(&member, &signed).await {
        Ok(offer) => {
            let account = format!("{} ({})", member.account.name, member.account.email);
            let page = LinkPage { shell, org_id: member.org_id().to_string(), offer, signed, account };
            render(&page, &page.shell)
        }
        Err(error) => ErrorPage::from_service(&error).into_response(),
    }
}

/// `POST /orgs/{org}/slack/link`: links the offer's Slack user to the signed-in member.
pub(super) async fn link(State(state): State<AppState>, Path(org): Path<String>, form: CheckedForm) -> Response {
    let member = match form_member(&state, &form, &org).await {
        Ok(member) => member,
        Err(response) => return response,
    };
    let field = |name: &str| form.fields.get(name).unwrap_or("").to_owned();
    let expires = form.fields.get("expires").and_then(|e| e.parse().ok()).unwrap_or(0);
    let signed = SignedOffer { team: field("team"), user: field("user"), expires, sig: field("sig") };
    let result = state.service.link_slack_user(&member, &signed).await;
    let to = format!("/orgs/{}/approvals", member.org_id());
    after(&state, &form.headers, &to, result, "Your Slack user is linked: its clicks now decide as you.")
}
