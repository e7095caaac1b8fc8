//! The webhooks page: where events go and which, the signing secret (rotated, then shown
//! once), a test event, and the delivery log with retry. All of it needs management, as the
//! API does: members get the 403 page, which says why.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use oakallow_domain::org::WEBHOOK_EVENTS;
use oakallow_service::ServiceError;
use oakallow_service::people::OrgMember;
use oakallow_service::webhooks::{DeliveryQuery, DeliveryView};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{form_member, text};
use crate::AppState;
use crate::dashboard::pages::{ErrorPage, Shell, after, org_page, render};
use crate::dashboard::web::{CheckedForm, Visitor, urlencoding};

/// Deliveries per page.
const PAGE: u32 = 25;

/// Why members do not see this page.
const OWNERS_ONLY: &str = "Webhooks are managed by the org's owners and admins: the settings hold the signing secret, and the delivery log shows every event sent. Ask one of them for access.";

/// `?cursor=` of the delivery log.
#[derive(Debug, Default, Deserialize)]
pub(super) struct LogQuery {
    cursor: Option<String>,
}

/// A delivery as the log shows it.
struct DeliveryRow {
    view: DeliveryView,
    created: String,
    next_attempt: Option<String>,
}

#[derive(Template)]
#[template(path = "ops_webhooks.html")]
struct WebhooksPage {
    shell: Shell,
    org_id: String,
    url: String,
    /// Every event type and whether it is sent.
    events: Vec<(&'static str, bool)>,
    /// A secret just made, shown this once.
    new_secret: Option<String>,
    deliveries: Vec<DeliveryRow>,
    next: Option<String>,
}

/// The 403 page for a member, or the error's page.
fn refused(error: &ServiceError) -> Response {
    match error {
        ServiceError::ForbiddenRole { .. } => ErrorPage::forbidden(OWNERS_ONLY).into_response(),
        other => ErrorPage::from_service(other).into_response(),
    }
}

async fn load(state: &AppState, member: &OrgMember, shell: Shell, cursor: Option<String>, new_secret: Option<String>) -> Response {
    let loaded = async {
        let manager = member.management()?;
        let org = state.service.get_org(&manager).await?;
        let query = DeliveryQuery { status: None, limit: Some(PAGE), cursor: cursor.filter(|c| !c.is_empty()) };
        Ok::<_, ServiceError>((org, state.service.list_deliveries(&manager, &query).await?))
    };
    let (org, page) = match loaded.await {
        Ok(loaded) => loaded,
        Err(error) => return refused(&error),
    };
    let sent = |event: &str| org.webhook_events.as_ref().is_none_or(|events| events.iter().any(|e| e == event));
    let deliveries = page
        .data
        .into_iter()
        .map(|view| DeliveryRow { created: text::time(view.created_at), next_attempt: view.next_attempt_at.map(text::time), view })
        .collect();
    let page = WebhooksPage {
        shell,
        org_id: org.id.to_string(),
        url: org.webhook_url.unwrap_or_default(),
        events: WEBHOOK_EVENTS.iter().map(|e| (*e, sent(e))).collect(),
        new_secret,
        deliveries,
        next: page.next_cursor.map(|cursor| format!("?cursor={}", urlencoding(&cursor))),
    };
    render(&page, &page.shell)
}

/// `GET /orgs/{org}/webhooks`.
pub(super) async fn page(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    Path(org): Path<String>,
    Query(query): Query<LogQuery>,
) -> Response {
    match org_page(&state, &visitor, &org, "webhooks", "Webhooks", &headers).await {
        Ok((member, shell)) => load(&state, &member, shell, query.cursor, None).await,
        Err(response) => response,
    }
}

/// `POST /orgs/{org}/webhooks`: the URL (blank removes it) and the event types. Every box
/// ticked means every type, including types added later.
pub(super) async fn save(State(state): State<AppState>, Path(org): Path<String>, form: CheckedForm) -> Response {
    let member = match form_member(&state, &form, &org).await {
        Ok(member) => member,
        Err(response) => return response,
    };
    let chosen = form.fields.all("events");
    let events = if WEBHOOK_EVENTS.iter().all(|e| chosen.contains(e)) { Value::Null } else { json!(chosen) };
    let mut fields = Map::new();
    fields.insert("webhook_url".into(), form.fields.get("webhook_url").map_or(Value::Null, |url| json!(url)));
    fields.insert("webhook_events".into(), events);
    let result = match member.management() {
        Ok(manager) => state.service.update_org(&manager, fields).await,
        Err(error) => return refused(&error),
    };
    after(&state, &form.headers, &webhooks_url(&member), result, "Webhook settings saved.")
}

/// `POST /orgs/{org}/webhooks/secret`: a new secret, shown on the page this answer is (it is
/// never shown again, so it is not put in a redirect).
pub(super) async fn rotate(State(state): State<AppState>, Path(org): Path<String>, form: CheckedForm) -> Response {
    let Some(visitor) = &form.visitor else { return axum::response::Redirect::to("/sign-in").into_response() };
    let (member, mut shell) = match org_page(&state, visitor, &org, "webhooks", "Webhooks", &form.headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let rotated = match member.management() {
        Ok(manager) => state.service.rotate_webhook_secret(&manager).await,
        Err(error) => return refused(&error),
    };
    match rotated {
        Ok(rotated) => {
            shell.flash = None;
            load(&state, &member, shell, None, Some(rotated.secret)).await
        }
        Err(error) => after(&state, &form.headers, &webhooks_url(&member), Err::<(), _>(error), ""),
    }
}

/// `POST /orgs/{org}/webhooks/test`: a `webhook.test` event to the URL.
pub(super) async fn test(State(state): State<AppState>, Path(org): Path<String>, form: CheckedForm) -> Response {
    let member = match form_member(&state, &form, &org).await {
        Ok(member) => member,
        Err(response) => return response,
    };
    let result = match member.management() {
        Ok(manager) => state.service.test_webhook(&manager).await,
        Err(error) => return refused(&error),
    };
    after(&state, &form.headers, &webhooks_url(&member), result, "Test event queued; its delivery is in the log below.")
}

/// `POST /orgs/{org}/webhooks/deliveries/{id}/retry`: 404 page for another org's delivery.
pub(super) async fn retry(State(state): State<AppState>, Path((org, id)): Path<(String, String)>, form: CheckedForm) -> Response {
    let member = match form_member(&state, &form, &org).await {
        Ok(member) => member,
        Err(response) => return response,
    };
    let result = match member.management() {
        Ok(manager) => state.service.retry_delivery(&manager, &id).await,
        Err(error) => return refused(&error),
    };
    match result {
        Err(error @ ServiceError::NotFound { .. }) => ErrorPage::from_service(&error).into_response(),
        result => after(&state, &form.headers, &webhooks_url(&member), result, "Delivery queued again."),
    }
}

fn webhooks_url(member: &OrgMember) -> String {
    format!("/orgs/{}/webhooks", member.org_id())
}

/// The badge colour of a delivery status: delivered reads as approved, failed as denied.
fn status_class(status: &str) -> &'static str {
    match status {
        "delivered" => "approved",
        "failed" => "denied",
        _ => "pending",
    }
}
