//! `/orgs/{org}/settings`: the org's name, default approval timeout, personal-data redaction
//! and token signing. Owners and admins change them through the same `update_org` as
//! `PATCH /v1/org`, sending only the fields they changed (so a concurrent change to another
//! field is kept); members read them. The switch "second factor required for approvers" (the
//! org setting `require_second_factor_for_approvers`) is its own form, through the same update.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use oakallow_domain::org::Org;
use serde_json::{Map, Value};

use super::{after, form_member, refused};
use crate::AppState;
use crate::dashboard::pages::{Shell, org_page, redirect_with, render};
use crate::dashboard::web::{CheckedForm, Fields, Visitor};

/// The settings routes.
pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/orgs/{org}/settings", get(page).post(save)).route("/orgs/{org}/settings/second-factor", post(save_second_factor))
}

#[derive(Template)]
#[template(path = "setup_settings.html")]
struct SettingsPage {
    shell: Shell,
    org: Org,
    /// Whether the org requires a second factor of everyone who approves.
    second_factor_required: bool,
}

/// `GET /orgs/{org}/settings`.
async fn page(State(state): State<AppState>, visitor: Visitor, headers: HeaderMap, Path(org): Path<String>) -> Response {
    let (member, shell) = match org_page(&state, &visitor, &org, "settings", "Settings", &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let second_factor_required = member.org.require_second_factor_for_approvers;
    let page = SettingsPage { shell, org: member.org, second_factor_required };
    render(&page, &page.shell)
}

/// The fields of the form that differ from `org`'s settings, as `PATCH /v1/org` takes them.
/// An empty timeout means the default (`null`); one that is not a number goes to the service
/// as sent, to be refused there with the API's message.
fn changes(org: &Org, fields: &Fields) -> Map<String, Value> {
    let mut patch = Map::new();
    let name = fields.get("name").unwrap_or("");
    if name != org.name {
        patch.insert("name".into(), name.into());
    }
    let timeout = match fields.get("approval_timeout_seconds") {
        None => Value::Null,
        Some(text) => text.parse::<u64>().map_or_else(|_| Value::from(text), Value::from),
    };
    if timeout != Value::from(org.approval_timeout_seconds) {
        patch.insert("approval_timeout_seconds".into(), timeout);
    }
    let redact = fields.checked("redact_pii");
    if redact != org.redact_pii {
        patch.insert("redact_pii".into(), redact.into());
    }
    if let Some(signing) = fields.get("token_signing").filter(|s| *s != org.token_signing.as_str()) {
        patch.insert("token_signing".into(), signing.into());
    }
    patch
}

/// `POST /orgs/{org}/settings`.
async fn save(State(state): State<AppState>, Path(org): Path<String>, form: CheckedForm) -> Response {
    let member = match form_member(&state, &form, &org, "settings", "Settings").await {
        Ok((member, _)) => member,
        Err(response) => return response,
    };
    let caller = match member.management() {
        Ok(caller) => caller,
        Err(error) => return refused(&error),
    };
    let to = format!("/orgs/{org}/settings");
    let patch = changes(&member.org, &form.fields);
    if patch.is_empty() {
        return redirect_with(&state, &form.headers, &to, true, "Nothing changed.");
    }
    let result = state.service.update_org(&caller, patch).await;
    after(&state, &form.headers, &to, result, "Settings saved.")
}

/// `POST /orgs/{org}/settings/second-factor`: turns "second factor required for approvers" on or
/// off (owners and admins).
async fn save_second_factor(State(state): State<AppState>, Path(org): Path<String>, form: CheckedForm) -> Response {
    let member = match form_member(&state, &form, &org, "settings", "Settings").await {
        Ok((member, _)) => member,
        Err(response) => return response,
    };
    let required = form.fields.checked("second_factor_required");
    let result = state.service.set_second_factor_required(&member, required).await;
    let done = if required { "Approvers now need a second factor to decide." } else { "Approvers no longer need a second factor." };
    after(&state, &form.headers, &format!("/orgs/{org}/settings"), result, done)
}
