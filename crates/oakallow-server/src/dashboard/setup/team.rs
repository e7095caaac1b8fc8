//! `/orgs/{org}/team`: the members with their roles and approver groups; owners and admins
//! change roles and groups and remove members, everyone may leave. The service decides who may
//! grant what (only owners touch owners; an org keeps an owner); the page only hides what the
//! visitor's role cannot do. The invitations on the same page are in [`super::invites`].

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use oakallow_domain::account::{ApproverLevels, Invite, Membership, Role};
use oakallow_domain::org::Account;
use oakallow_service::people::OrgMember;

use super::{after, form_member, refused, short_time};
use crate::AppState;
use crate::dashboard::pages::{Shell, org_page, redirect_with, render};
use crate::dashboard::web::{CheckedForm, Fields, Visitor};

/// The team routes.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/orgs/{org}/team", get(page))
        .route("/orgs/{org}/team/leave", post(leave))
        .route("/orgs/{org}/team/{account}/change", post(change))
        .route("/orgs/{org}/team/{account}/remove", post(remove))
}

/// One member as the table shows them.
struct MemberRow {
    account_id: String,
    name: String,
    email: String,
    role: &'static str,
    approver: ApproverLevels,
    /// The visitor themselves.
    me: bool,
    /// Whether the visitor's role lets them change this member.
    editable: bool,
}

/// One open invitation.
struct InviteRow {
    id: String,
    role: &'static str,
    approver: ApproverLevels,
    created: String,
    expires: String,
}

impl From<Invite> for InviteRow {
    fn from(invite: Invite) -> Self {
        Self {
            id: invite.id.to_string(),
            role: invite.role.as_str(),
            approver: invite.approver,
            created: short_time(invite.created_at),
            expires: short_time(invite.expires_at),
        }
    }
}

#[derive(Template)]
#[template(path = "setup_team.html")]
struct TeamPage {
    shell: Shell,
    org_id: String,
    members: Vec<MemberRow>,
    /// The roles the visitor may give (none for a member).
    grantable: Vec<&'static str>,
    /// Open invitations, for those who may see them.
    invites: Option<Vec<InviteRow>>,
    /// A link just made, shown this once.
    invite_link: Option<String>,
    /// What became of e-mailing that link, if it was e-mailed.
    invite_mail: Option<InviteMail>,
    /// Whether invitations can be e-mailed (e-mail is configured).
    email_invites: bool,
}

/// What became of e-mailing an invitation link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct InviteMail {
    /// Whether the mail server took it.
    pub(super) sent: bool,
    /// What the inviter is told.
    pub(super) message: String,
}

/// The roles `viewer` may give: owners any, admins up to admin, members none.
fn grantable(viewer: Role) -> Vec<Role> {
    match viewer {
        Role::Owner => Role::ALL.to_vec(),
        Role::Admin => vec![Role::Member, Role::Admin],
        Role::Member => Vec::new(),
    }
}

fn member_row(viewer: &OrgMember, account: Account, membership: &Membership) -> MemberRow {
    let role = membership.role;
    MemberRow {
        account_id: account.id.to_string(),
        me: account.id == viewer.account.id,
        name: account.name,
        email: account.email,
        role: role.as_str(),
        approver: membership.approver,
        editable: grantable(viewer.role()).contains(&role),
    }
}

/// The team page for `member`, with an invitation link made just now, if any.
pub(super) async fn team_page(
    state: &AppState,
    member: &OrgMember,
    shell: Shell,
    invite_link: Option<String>,
    invite_mail: Option<InviteMail>,
) -> Response {
    let members = match state.service.team(member).await {
        Ok(members) => members.into_iter().map(|m| member_row(member, m.account, &m.membership)).collect(),
        Err(error) => return refused(&error),
    };
    let invites = if member.role().can_configure() {
        match state.service.invites(member).await {
            Ok(invites) => Some(invites.into_iter().map(InviteRow::from).collect()),
            Err(error) => return refused(&error),
        }
    } else {
        None
    };
    let grantable = grantable(member.role()).into_iter().map(Role::as_str).collect();
    let email_invites = state.service.email_enabled();
    let org_id = member.org_id().to_string();
    let page = TeamPage { shell, org_id, members, grantable, invites, invite_link, invite_mail, email_invites };
    render(&page, &page.shell)
}

/// `GET /orgs/{org}/team`.
async fn page(State(state): State<AppState>, visitor: Visitor, headers: HeaderMap, Path(org): Path<String>) -> Response {
    match org_page(&state, &visitor, &org, "team", "Team", &headers).await {
        Ok((member, shell)) => team_page(&state, &member, shell, None, None).await,
        Err(response) => response,
    }
}

/// The approver groups ticked in a form.
pub(super) fn approver_levels(fields: &Fields) -> ApproverLevels {
    ApproverLevels { level1: fields.checked("approves_level1"), level2: fields.checked("approves_level2") }
}

/// `POST /orgs/{org}/team/{account}/change`: role and approver groups.
async fn change(State(state): State<AppState>, Path((org, account)): Path<(String, String)>, form: CheckedForm) -> Response {
    let member = match form_member(&state, &form, &org, "team", "Team").await {
        Ok((member, _)) => member,
        Err(response) => return response,
    };
    let to = format!("/orgs/{org}/team");
    let Some(role) = form.fields.get("role").and_then(Role::parse) else {
        return redirect_with(&state, &form.headers, &to, false, "Choose a role: member, admin or owner.");
    };
    let result = state.service.change_member(&member, &account, role, approver_levels(&form.fields)).await;
    after(&state, &form.headers, &to, result, "Saved. The change applies from their next page.")
}

/// `POST /orgs/{org}/team/{account}/remove`.
async fn remove(State(state): State<AppState>, Path((org, account)): Path<(String, String)>, form: CheckedForm) -> Response {
    let member = match form_member(&state, &form, &org, "team", "Team").await {
        Ok((member, _)) => member,
        Err(response) => return response,
    };
    let result = state.service.remove_member(&member, &account).await;
    after(&state, &form.headers, &format!("/orgs/{org}/team"), result, "Removed from the organization.")
}

/// `POST /orgs/{org}/team/leave`: the visitor leaves (unless they are its last owner).
async fn leave(State(state): State<AppState>, Path(org): Path<String>, form: CheckedForm) -> Response {
    let member = match form_member(&state, &form, &org, "team", "Team").await {
        Ok((member, _)) => member,
        Err(response) => return response,
    };
    match state.service.remove_member(&member, &member.account.id.to_string()).await {
        Ok(()) => redirect_with(&state, &form.headers, "/", true, &format!("You left {}.", member.org.name)),
        Err(error) => after(&state, &form.headers, &format!("/orgs/{org}/team"), Err::<(), _>(error), ""),
    }
}
