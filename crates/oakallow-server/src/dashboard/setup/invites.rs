//! Invitations, on the team page: an owner or admin makes a single-use link for a role and
//! approver groups, shown once on the answer page and, when e-mail is configured and an address
//! is given, e-mailed to it (the address is not stored); open invitations can be withdrawn.

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::post;
use oakallow_domain::account::Role;

use super::team::{InviteMail, approver_levels, team_page};
use super::{base_url, form_member};
use crate::AppState;
use crate::dashboard::pages::after;
use crate::dashboard::pages::redirect_with;
use crate::dashboard::web::CheckedForm;

/// The invitation routes.
pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/orgs/{org}/team/invites", post(create)).route("/orgs/{org}/team/invites/{id}/withdraw", post(withdraw))
}

/// `POST /orgs/{org}/team/invites`: the team page with the new link, shown this once
/// (rendered, not redirected to, so that it is in no URL, cookie or cache).
async fn create(State(state): State<AppState>, Path(org): Path<String>, form: CheckedForm) -> Response {
    let (member, shell) = match form_member(&state, &form, &org, "team", "Team").await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let Some(role) = form.fields.get("role").and_then(Role::parse) else {
        return redirect_with(&state, &form.headers, &format!("/orgs/{org}/team"), false, "Choose a role: member, admin or owner.");
    };
    let to = form.fields.get("email").map(str::trim).filter(|e| !e.is_empty() && state.service.email_enabled());
    if let Some(address) = to
        && oakallow_service::bootstrap::normalize_email(address).is_err()
    {
        return redirect_with(&state, &form.headers, &format!("/orgs/{org}/team"), false, "That e-mail address is not valid.");
    }
    let created = match state.service.invite(&member, role, approver_levels(&form.fields)).await {
        Ok(created) => created,
        Err(error) => return after(&state, &form.headers, &format!("/orgs/{org}/team"), Err::<(), _>(error), ""),
    };
    let mail = match to {
        Some(address) => Some(match state.service.email_invite(&member, &created, address).await {
            Ok(Ok(())) => InviteMail { sent: true, message: format!("The link was e-mailed to {address}.") },
            Ok(Err(failed)) => InviteMail { sent: false, message: format!("Not e-mailed: {failed}. Copy the link and send it yourself.") },
            Err(error) => InviteMail { sent: false, message: format!("Not e-mailed: {}.", crate::dashboard::pages::error_text(&error)) },
        }),
        None => None,
    };
    let link = format!("{}/invites/{}", base_url(&form.headers), created.secret.expose());
    team_page(&state, &member, shell, Some(link), mail).await
}

/// `POST /orgs/{org}/team/invites/{id}/withdraw`: the link stops working.
async fn withdraw(State(state): State<AppState>, Path((org, id)): Path<(String, String)>, form: CheckedForm) -> Response {
    let member = match form_member(&state, &form, &org, "team", "Team").await {
        Ok((member, _)) => member,
        Err(response) => return response,
    };
    let result = state.service.withdraw_invite(&member, &id).await;
    after(&state, &form.headers, &format!("/orgs/{org}/team"), result, "Invitation withdrawn; its link no longer works.")
}
