//! `/orgs/{org}/quickstart`: the org's id and copy-paste commands for a first run through the
//! API (a tool, a rule, a check, an approval and its long-poll), with this server's address.
//! An owner or admin can create a management and a standard key here; the answer page fills
//! them into the commands and shows them once. Otherwise the commands read the keys from
//! `$OAKALLOW_MGMT_KEY` and `$OAKALLOW_KEY`.

mod commands;

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use oakallow_domain::keys::KeyTier;
use oakallow_service::ServiceError;
use oakallow_service::auth::Management;
use oakallow_service::keys::{CreateKeyRequest, CreatedKey};
use oakallow_service::people::OrgMember;

use super::{base_url, form_member};
use crate::AppState;
use crate::dashboard::pages::after;
use crate::dashboard::pages::{Shell, org_page, render};
use crate::dashboard::web::{CheckedForm, Visitor};
use commands::{Command, Keys};

/// The quickstart routes.
pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/orgs/{org}/quickstart", get(page).post(create_keys))
}

/// The two keys made for the quickstart, shown once.
struct QuickstartKeys {
    management: CreatedKey,
    standard: CreatedKey,
}

#[derive(Template)]
#[template(path = "setup_quickstart.html")]
struct QuickstartPage {
    shell: Shell,
    org_id: String,
    keys: Option<QuickstartKeys>,
    commands: Vec<Command>,
}

impl QuickstartPage {
    fn new(shell: Shell, member: &OrgMember, headers: &HeaderMap, keys: Option<QuickstartKeys>) -> Self {
        let org_id = member.org_id().to_string();
        let filled = keys.as_ref().map(|k| Keys { management: k.management.key.clone(), standard: k.standard.key.clone() });
        let commands = commands::all(&base_url(headers), &org_id, filled.unwrap_or_else(Keys::placeholders));
        Self { shell, org_id, keys, commands }
    }
}

/// `GET /orgs/{org}/quickstart`.
async fn page(State(state): State<AppState>, visitor: Visitor, headers: HeaderMap, Path(org): Path<String>) -> Response {
    let (member, shell) = match org_page(&state, &visitor, &org, "quickstart", "Quickstart", &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let page = QuickstartPage::new(shell, &member, &headers, None);
    render(&page, &page.shell)
}

async fn quickstart_keys(state: &AppState, caller: &Management) -> Result<QuickstartKeys, ServiceError> {
    let key = |name: &str, tier| CreateKeyRequest { name: name.to_owned(), tier };
    let management = state.service.create_key(caller, key("quickstart management", KeyTier::Management)).await?;
    let standard = state.service.create_key(caller, key("quickstart agent", KeyTier::Standard)).await?;
    Ok(QuickstartKeys { management, standard })
}

/// `POST /orgs/{org}/quickstart`: a management and a standard key, shown on the answer page
/// (rendered, never redirected to) with the commands that use them.
async fn create_keys(State(state): State<AppState>, Path(org): Path<String>, form: CheckedForm) -> Response {
    let (member, shell) = match form_member(&state, &form, &org, "quickstart", "Quickstart").await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let created = match member.management() {
        Ok(caller) => quickstart_keys(&state, &caller).await,
        Err(error) => Err(error),
    };
    match created {
        Ok(keys) => {
            let page = QuickstartPage::new(shell, &member, &form.headers, Some(keys));
            render(&page, &page.shell)
        }
        Err(error) => after(&state, &form.headers, &format!("/orgs/{org}/quickstart"), Err::<(), _>(error), ""),
    }
}
