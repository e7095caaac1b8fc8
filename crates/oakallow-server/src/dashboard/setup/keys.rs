//! `/orgs/{org}/keys`: the org's API keys (their prefixes only), a form that creates one and
//! shows its raw key on the answer page, once, and revocation. Owners and admins only: the
//! service refuses members, and the page shows them neither the list nor the forms.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use oakallow_domain::keys::KeyTier;
use oakallow_domain::org::ApiKey;
use oakallow_service::ServiceError;
use oakallow_service::auth::Management;
use oakallow_service::keys::{CreateKeyRequest, CreatedKey};
use oakallow_service::page::PageRequest;
use serde::Deserialize;

use super::{after, form_member, refused, short_time};
use crate::AppState;
use crate::dashboard::pages::{Shell, org_page, redirect_with, render};
use crate::dashboard::web::{CheckedForm, Visitor};

/// The keys routes.
pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/orgs/{org}/keys", get(page).post(create)).route("/orgs/{org}/keys/{id}/revoke", post(revoke))
}

/// Keys listed per page.
const PER_PAGE: u32 = 100;

/// One key as the table shows it.
struct KeyRow {
    id: String,
    name: String,
    tier: &'static str,
    prefix: String,
    created: String,
    revoked: Option<String>,
}

impl From<ApiKey> for KeyRow {
    fn from(key: ApiKey) -> Self {
        Self {
            id: key.id.to_string(),
            name: key.name,
            tier: key.tier.as_str(),
            prefix: key.prefix,
            created: short_time(key.created_at),
            revoked: key.revoked_at.map(short_time),
        }
    }
}

/// The org's keys, one page of them, for those who may see them.
#[derive(Default)]
struct Listing {
    rows: Vec<KeyRow>,
    next: Option<String>,
}

#[derive(Template)]
#[template(path = "setup_keys.html")]
struct KeysPage {
    shell: Shell,
    org_id: String,
    listing: Option<Listing>,
    created: Option<CreatedKey>,
}

/// `?cursor=` of the keys page.
#[derive(Debug, Deserialize)]
struct More {
    cursor: Option<String>,
}

async fn listing(state: &AppState, caller: &Management, cursor: Option<String>) -> Result<Listing, ServiceError> {
    let page = state.service.list_keys(caller, &PageRequest { limit: Some(PER_PAGE), cursor }).await?;
    Ok(Listing { rows: page.data.into_iter().map(KeyRow::from).collect(), next: page.next_cursor })
}

/// `GET /orgs/{org}/keys`.
async fn page(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    Path(org): Path<String>,
    Query(more): Query<More>,
) -> Response {
    let (member, shell) = match org_page(&state, &visitor, &org, "keys", "API keys", &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let listing = match member.management() {
        Ok(caller) => match listing(&state, &caller, more.cursor).await {
            Ok(listing) => Some(listing),
            Err(error) => return refused(&error),
        },
        Err(_) => None,
    };
    let page = KeysPage { shell, org_id: member.org_id().to_string(), listing, created: None };
    render(&page, &page.shell)
}

/// `POST /orgs/{org}/keys`: the page again, with the new raw key shown this once (rendered,
/// not redirected to, so that it is never in a URL, a cookie or the browser's cache).
async fn create(State(state): State<AppState>, Path(org): Path<String>, form: CheckedForm) -> Response {
    let (member, shell) = match form_member(&state, &form, &org, "keys", "API keys").await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let caller = match member.management() {
        Ok(caller) => caller,
        Err(error) => return refused(&error),
    };
    let to = format!("/orgs/{org}/keys");
    let Some(tier) = form.fields.get("tier").and_then(KeyTier::parse) else {
        return redirect_with(&state, &form.headers, &to, false, "Choose the key's tier: standard, approver or management.");
    };
    let request = CreateKeyRequest { name: form.fields.get("name").unwrap_or("").to_owned(), tier };
    let created = match state.service.create_key(&caller, request).await {
        Ok(created) => created,
        Err(error) => return after(&state, &form.headers, &to, Err::<(), _>(error), ""),
    };
    let listing = match listing(&state, &caller, None).await {
        Ok(listing) => listing,
        Err(error) => return refused(&error),
    };
    let page = KeysPage { shell, org_id: member.org_id().to_string(), listing: Some(listing), created: Some(created) };
    render(&page, &page.shell)
}

/// `POST /orgs/{org}/keys/{id}/revoke`: refused from the next request on.
async fn revoke(State(state): State<AppState>, Path((org, id)): Path<(String, String)>, form: CheckedForm) -> Response {
    let member = match form_member(&state, &form, &org, "keys", "API keys").await {
        Ok((member, _)) => member,
        Err(response) => return response,
    };
    let result = match member.management() {
        Ok(caller) => state.service.revoke_key(&caller, &id).await,
        Err(error) => Err(error),
    };
    let done = match &result {
        Ok(key) => format!("Key {} ({}) is revoked; it no longer works.", key.name, key.prefix),
        Err(_) => String::new(),
    };
    after(&state, &form.headers, &format!("/orgs/{org}/keys"), result, &done)
}
