//! Invitations, on the team page: an owner or admin makes a single-use link for a role and
//! approver groups, shown once on the answer page; open invitations can be withdrawn.

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::post;
use oakallow_domain::account::Role;

use super::team::{approver_levels, team_page};
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
    let to = format!("/orgs/{org}/team");
    let Some(role) = form.fields.get("role").and_then(Role::parse) else {
        return redirect_with(&state, &form.headers, &to, false, "Choose a role: member, admin or owner.");
    };
    match state.service.invite(&member, role, approver_levels(&form.fields)).await {
        Ok(created) => {
            let link = format!("{}/invites/{}", base_url(&form.headers), created.secret.expose());
            team_page(&state, &member, shell, Some(link)).await
        }
        Err(error) => after(&state, &form.headers, &to, Err::<(), _>(error), ""),
    }
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
