//! The operations pages: the approvals queue (live). Each
//! handler makes a caller from the visitor's membership and calls the service method the API
//! calls; the service decides who may.

mod approvals;
mod live;
mod pending;
mod text;

use axum::Router;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use oakallow_service::people::OrgMember;

use super::pages::ErrorPage;
use super::web::CheckedForm;
use crate::AppState;

/// The operations pages' routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/orgs/{org}/approvals", get(approvals::queue))
        .route("/orgs/{org}/approvals/live", get(live::live))
        .route("/orgs/{org}/approvals/{id}", get(approvals::detail))
        .route("/orgs/{org}/approvals/{id}/decide", post(approvals::decide))
}

/// The member behind a checked form, in org `org`: the sign-in page for nobody, the 404 page
/// for an org the visitor is not in.
async fn form_member(state: &AppState, form: &CheckedForm, org: &str) -> Result<OrgMember, Response> {
    let Some(visitor) = &form.visitor else { return Err(Redirect::to("/sign-in").into_response()) };
    state.service.member(&visitor.signed_in, org).await.map_err(|error| ErrorPage::from_service(&error).into_response())
}
