//! The operations pages: the approvals queue (live), activity, webhooks and billing. Each
//! handler makes a caller from the visitor's membership and calls the service method the API
//! calls; the service decides who may.

mod activity;
mod approvals;
mod billing;
mod live;
mod names;
mod notifications;
mod pending;
mod text;
mod webhooks;

use axum::Router;
use axum::response::{IntoResponse, Response};
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
        .route("/orgs/{org}/activity", get(activity::page))
        .route("/orgs/{org}/activity/export", get(activity::export))
        .route("/orgs/{org}/webhooks", get(webhooks::page).post(webhooks::save))
        .route("/orgs/{org}/webhooks/secret", post(webhooks::rotate))
        .route("/orgs/{org}/webhooks/test", post(webhooks::test))
        .route("/orgs/{org}/webhooks/deliveries/{id}/retry", post(webhooks::retry))
        .route("/orgs/{org}/notifications", get(notifications::page).post(notifications::save))
        .route("/orgs/{org}/notifications/slack-links/{team}/{user}/remove", post(notifications::unlink))
        .route("/orgs/{org}/slack/link", get(notifications::offer).post(notifications::link))
        .route("/orgs/{org}/billing", get(billing::page))
        .route("/orgs/{org}/billing/checkout", post(billing::checkout))
        .route("/orgs/{org}/billing/purchases/{id}/refund", post(billing::refund))
}

/// The member behind a checked form, in org `org`: the sign-in page for nobody, the 404 page
/// for an org the visitor is not in.
async fn form_member(state: &AppState, form: &CheckedForm, org: &str) -> Result<OrgMember, Response> {
    let visitor = form.signed_in()?;
    state.service.member(&visitor.signed_in, org).await.map_err(|error| ErrorPage::from_service(&error).into_response())
}
