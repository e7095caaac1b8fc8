//! The API Builder (`/orgs/{org}/builder`): compose a whole policy in a form and get it as a
//! policy document (YAML) and as seed scripts in curl, Python and TypeScript that apply it with
//! `PUT /v1/policy`. The page writes nothing: it is a GET form whose state is its query string,
//! so a composition is a link, and any member may use it. The document is checked exactly as a
//! dry run of `PUT /v1/policy` would check it, and shown as `GET /v1/policy` will export it
//! once applied; an invalid one shows its errors and no scripts.

mod document;
mod form;
mod scripts;
mod view;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use oakallow_domain::policy::PolicyDocument;
use oakallow_service::ServiceError;
use oakallow_service::people::OrgMember;

use super::pages::{ErrorPage, error_text, org_page, render};
use super::web::Visitor;
use crate::AppState;
use form::Composition;
use view::{BuilderPage, Output};

/// The builder's route.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/orgs/{org}/builder", get(page))
}

/// Query pairs, as the form sends them.
type Pairs = Vec<(String, String)>;

/// `GET /orgs/{org}/builder[?…]`: the form, filled from the query string (or, with
/// `from=current`, from the org's policy), and what it composes.
async fn page(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    Path(org): Path<String>,
    query: Result<Query<Pairs>, QueryRejection>,
) -> Response {
    let (member, shell) = match org_page(&state, &visitor, &org, "builder", "API Builder", &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let Ok(Query(pairs)) = query else {
        return ErrorPage::new(StatusCode::BAD_REQUEST, "That link to the builder could not be read.").into_response();
    };
    let composition = if pairs.iter().any(|(key, value)| key == "from" && value == "current") {
        match state.service.export_policy(&member.reader()).await {
            Ok(current) => document::composition_of(&current),
            Err(error) => return ErrorPage::from_service(&error).into_response(),
        }
    } else {
        Composition::from_query(&pairs)
    };
    let checked = match check(&state, &member, &composition).await {
        Ok(checked) => checked,
        Err(response) => return response,
    };
    let (errors, output) = match checked {
        Checked::Nothing => (Vec::new(), None),
        Checked::Invalid(errors) => (errors, None),
        Checked::Valid(document) => match Output::new(&document, &composition, &super::web::base_url(&headers), member.org_id()) {
            Some(output) => (Vec::new(), Some(output)),
            None => return ErrorPage::from_service(&ServiceError::Internal).into_response(),
        },
    };
    let page = BuilderPage::new(shell, &member, &composition, blank_rows(&pairs), errors, output);
    render(&page, &page.shell)
}

/// What the form composes, as the API sees it.
enum Checked {
    /// An empty form (no document: applying it would delete the whole policy).
    Nothing,
    /// Why `PUT /v1/policy` would refuse it.
    Invalid(Vec<String>),
    /// The policy as `GET /v1/policy` will export it once applied.
    Valid(PolicyDocument),
}

async fn check(state: &AppState, member: &OrgMember, composition: &Composition) -> Result<Checked, Response> {
    if composition.is_empty() {
        return Ok(Checked::Nothing);
    }
    let document = match document::document_of(composition) {
        Ok(document) => document,
        Err(errors) => return Ok(Checked::Invalid(errors)),
    };
    match state.service.preview_policy(&member.reader(), document).await {
        Ok(preview) => Ok(Checked::Valid(preview)),
        Err(error @ (ServiceError::Unavailable | ServiceError::Internal)) => Err(ErrorPage::from_service(&error).into_response()),
        Err(error) => Ok(Checked::Invalid(vec![error_text(&error)])),
    }
}

/// Blank rows per section: the largest `rows=N` sent (the "add rows" button), 1 to 20.
fn blank_rows(pairs: &Pairs) -> usize {
    pairs.iter().filter(|(key, _)| key == "rows").filter_map(|(_, value)| value.parse::<usize>().ok()).max().unwrap_or(1).clamp(1, 20)
}
