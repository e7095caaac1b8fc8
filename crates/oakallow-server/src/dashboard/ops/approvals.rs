//! The approvals queue: pending first (live, see [`super::live`]), then the history; one
//! approval's page; and deciding, as the signed-in member, through
//! [`oakallow_service::Service::decide_as_member`], which checks the approver group.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use oakallow_domain::approval::{ApprovalStatus, Verdict};
use oakallow_service::ServiceError;
use oakallow_service::approvals::{ApprovalQuery, ApprovalView};
use oakallow_service::people::second_factor::{STEP_UP_REQUIRED, SecondFactorKinds};
use serde::Deserialize;

use super::names::Names;
use super::pending::{PendingItem, PendingList, risks};
use super::{form_member, text};
use crate::AppState;
use crate::dashboard::pages::{ErrorPage, Shell, after, error_text, org_page, redirect_with, render};
use crate::dashboard::web::{CheckedForm, Visitor, urlencoding};

/// History rows per page.
const HISTORY_PAGE: u32 = 25;

/// `?status=&cursor=` of the queue's history.
#[derive(Debug, Default, Deserialize)]
pub(super) struct HistoryQuery {
    status: Option<String>,
    cursor: Option<String>,
}

/// A decided, expired or cancelled approval in the history.
struct HistoryRow {
    view: ApprovalView,
    requested: String,
    ended: Option<String>,
}

#[derive(Template)]
#[template(path = "ops_approvals.html")]
struct QueuePage {
    shell: Shell,
    org_id: String,
    pending: PendingList,
    history: Vec<HistoryRow>,
    status: String,
    next: Option<String>,
    /// The org requires a second factor of approvers and the visitor, an approver, has none.
    needs_second_factor: bool,
}

/// `GET /orgs/{org}/approvals`.
pub(super) async fn queue(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    Path(org): Path<String>,
    Query(query): Query<HistoryQuery>,
) -> Response {
    let (member, shell) = match org_page(&state, &visitor, &org, "approvals", "Approvals", &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let status = query.status.as_deref().and_then(ApprovalStatus::parse).filter(|s| *s != ApprovalStatus::Pending);
    let history =
        ApprovalQuery { status, limit: Some(HISTORY_PAGE), cursor: query.cursor.filter(|c| !c.is_empty()), ..ApprovalQuery::default() };
    let loaded = async {
        let pending = PendingList::load(&state.service, &member, visitor.csrf()).await?;
        let page = state.service.list_approvals(&member.approval_reader(), &history).await?;
        let blocked = state.service.blocked_without_second_factor(&member).await?;
        Ok::<_, ServiceError>((pending, page, Names::load(&state.service, &member).await?, blocked))
    };
    let (pending, page, names, needs_second_factor) = match loaded.await {
        Ok(loaded) => loaded,
        Err(error) => return ErrorPage::from_service(&error).into_response(),
    };
    let status = status.map(ApprovalStatus::as_str).unwrap_or_default().to_owned();
    let next = page.next_cursor.map(|cursor| format!("?status={status}&cursor={}", urlencoding(&cursor)));
    let history = page.data.into_iter().filter(|v| v.status != ApprovalStatus::Pending).map(|v| history_row(names.approval(v))).collect();
    let page = QueuePage { shell, org_id: member.org_id().to_string(), pending, history, status, next, needs_second_factor };
    render(&page, &page.shell)
}

impl QueuePage {
    /// Whether the history shows only `status` ("" for every outcome).
    fn shows(&self, status: &str) -> bool {
        self.status == status
    }
}

fn history_row(view: ApprovalView) -> HistoryRow {
    HistoryRow { requested: text::time(view.created_at), ended: view.decided_at.map(text::time), view }
}

#[derive(Template)]
#[template(path = "ops_approval.html")]
struct DetailPage {
    shell: Shell,
    org_id: String,
    csrf: String,
    item: PendingItem,
    context: Option<String>,
    ended: Option<String>,
}

/// `GET /orgs/{org}/approvals/{id}`: 404 for another org's approval.
pub(super) async fn detail(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    Path((org, id)): Path<(String, String)>,
) -> Response {
    let (member, shell) = match org_page(&state, &visitor, &org, "approvals", "Approval", &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let loaded = async {
        let view = state.service.get_approval(&member.approval_reader(), &id, None).await?;
        let view = Names::load(&state.service, &member).await?.approval(view);
        let risks = risks(&state.service, &member, [view.tool.as_str()].into()).await?;
        Ok::<_, ServiceError>(PendingItem::new(view, &member, &risks))
    };
    let item = match loaded.await {
        Ok(item) => item,
        Err(error) => return ErrorPage::from_service(&error).into_response(),
    };
    let context = item.view.context.as_ref().map(text::compact);
    let ended = item.view.decided_at.map(text::time);
    let page = DetailPage { shell, org_id: member.org_id().to_string(), csrf: visitor.csrf(), item, context, ended };
    render(&page, &page.shell)
}

/// `POST /orgs/{org}/approvals/{id}/decide` with `decision=approved|denied` and `note`. A
/// member outside the approver group of the level gets the 403 page, another org's approval
/// the 404 page; a decision that came too late goes back to the queue saying why.
pub(super) async fn decide(State(state): State<AppState>, Path((org, id)): Path<(String, String)>, form: CheckedForm) -> Response {
    let member = match form_member(&state, &form, &org).await {
        Ok(member) => member,
        Err(response) => return response,
    };
    let verdict = match form.fields.get("decision") {
        Some("approved") => Verdict::Approved,
        Some("denied") => Verdict::Denied,
        _ => return ErrorPage::new(StatusCode::BAD_REQUEST, "Choose Approve or Deny.").into_response(),
    };
    let note = form.fields.get("note").map(str::to_owned);
    let queue = format!("/orgs/{}/approvals", member.org_id());
    let step_up =
        StepUp { org_id: member.org_id().to_string(), id: id.clone(), decision: verdict.as_str(), note: note.clone().unwrap_or_default() };
    let code = form.fields.get("code").filter(|c| !c.trim().is_empty());
    let credential = form.fields.get("credential");
    if code.is_some() || credential.is_some() {
        let Some(visitor) = &form.visitor else { return ErrorPage::not_found().into_response() };
        if let Err(error) = state.service.step_up(&visitor.signed_in, code, credential).await {
            return match error {
                ServiceError::InvalidRequest { .. } | ServiceError::RateLimited { .. } => {
                    step_up.page(&state, &form, Some(error_text(&error))).await
                }
                other => ErrorPage::from_service(&other).into_response(),
            };
        }
    }
    match state.service.decide_as_member(&member, &id, verdict, note).await {
        Ok(view) => redirect_with(&state, &form.headers, &queue, true, &decided(&view, verdict)),
        Err(ServiceError::ForbiddenRole { required }) if required == STEP_UP_REQUIRED => step_up.page(&state, &form, None).await,
        Err(error @ (ServiceError::ForbiddenRole { .. } | ServiceError::NotFound { .. })) => {
            ErrorPage::from_service(&error).into_response()
        }
        Err(error) => after(&state, &form.headers, &queue, Err::<(), _>(error), ""),
    }
}

/// What the queue says after a decision.
fn decided(view: &ApprovalView, verdict: Verdict) -> String {
    if view.status == ApprovalStatus::Pending {
        format!("{}: level {} approved; it now waits for level {}.", view.reference, view.level.saturating_sub(1), view.level)
    } else {
        format!("{} {}.", view.reference, verdict.as_str())
    }
}

/// The step-up form: the decision as it was sent, waiting for a fresh second factor (a code, or
/// a passkey through `passkeys.js`).
struct StepUp {
    org_id: String,
    id: String,
    decision: &'static str,
    note: String,
}

#[derive(Template)]
#[template(path = "ops_step_up_page.html")]
struct StepUpPage<'a> {
    shell: Shell,
    form: &'a StepUp,
    csrf: String,
    error: Option<String>,
    factors: SecondFactorKinds,
}

impl StepUp {
    /// 403 with the form: the decision needs the second factor again (the step-up window ran out).
    async fn page(&self, state: &AppState, form: &CheckedForm, error: Option<String>) -> Response {
        let Some(visitor) = &form.visitor else { return ErrorPage::not_found().into_response() };
        let factors = match state.service.second_factor_kinds(visitor.signed_in.account.id).await {
            Ok(factors) => factors,
            Err(error) => return ErrorPage::from_service(&error).into_response(),
        };
        let mut shell = Shell::bare("Confirm with your second factor", visitor.csrf(), &form.headers);
        shell.account = Some(visitor.signed_in.account.name.clone());
        let page = StepUpPage { shell, form: self, csrf: visitor.csrf(), error, factors };
        let mut response = render(&page, &page.shell);
        *response.status_mut() = StatusCode::FORBIDDEN;
        response
    }
}
