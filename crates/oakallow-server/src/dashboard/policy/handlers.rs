//! The five pages of every kind: the list with its create form, creating, an object's page
//! with its edit form, saving, and deleting. Each calls the service method the API's handler
//! calls, with the member's caller; a refusal a person can correct shows the form again with
//! what they entered and the service's message.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use oakallow_service::ServiceError;
use oakallow_service::auth::Management;
use oakallow_service::page::PageRequest;
use oakallow_service::people::OrgMember;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::form::{Control, Group, body, fill_from_form, fill_from_view};
use super::kinds::{Kind, Names, PolicyPage};
use super::table::{Cell, Column, Row, cell};
use crate::AppState;
use crate::dashboard::pages::{ErrorPage, Flash, Shell, after, error_text, org_page, redirect_with, render};
use crate::dashboard::web::{CheckedForm, Fields, Visitor};

/// Objects per list page.
const PAGE_SIZE: u32 = 100;

/// `?cursor=` of a list.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ListQuery {
    cursor: Option<String>,
}

#[derive(Template)]
#[template(path = "policy_list.html")]
struct ListPage {
    shell: Shell,
    kind: &'static Kind,
    org: String,
    columns: &'static [Column],
    rows: Vec<Row>,
    next: Option<String>,
    paged: bool,
    create: Option<Vec<Group>>,
    readonly: bool,
}

#[derive(Template)]
#[template(path = "policy_edit.html")]
struct EditPage {
    shell: Shell,
    kind: &'static Kind,
    org: String,
    id: String,
    label: String,
    groups: Vec<Group>,
    readonly: bool,
}

/// `GET /orgs/{org}/{kind}`: the org's objects, and the create form for those who may.
pub(crate) async fn list<P: PolicyPage>(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    Path(org): Path<String>,
    Query(query): Query<ListQuery>,
) -> Response {
    let (member, shell) = match context::<P>(&state, &visitor, &org, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    shown(list_page::<P>(&state, &member, shell, query.cursor, None).await, StatusCode::OK)
}

/// `POST /orgs/{org}/{kind}`: creates an object from the form.
pub(crate) async fn create<P: PolicyPage>(State(state): State<AppState>, Path(org): Path<String>, form: CheckedForm) -> Response {
    let (member, mut shell, caller, groups) = match configuring::<P>(&state, &org, &form).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let created = match spec_of::<P>(&groups) {
        Ok(spec) => state.service.create_object::<P>(&caller, spec).await,
        Err(error) => Err(error),
    };
    let error = match created {
        Ok(view) => return done::<P>(&state, &form.headers, &member, &json_of(&view), "created"),
        Err(error) => error,
    };
    let Some(status) = correctable(&error) else { return ErrorPage::from_service(&error).into_response() };
    shell.flash = Some(Flash { kind: "error", text: error_text(&error) });
    shown(list_page::<P>(&state, &member, shell, None, Some(groups)).await, status)
}

/// `GET /orgs/{org}/{kind}/{id}`: one object, in its edit form (read-only for members).
pub(crate) async fn edit<P: PolicyPage>(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    Path((org, id)): Path<(String, String)>,
) -> Response {
    let (member, shell) = match context::<P>(&state, &visitor, &org, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    shown(edit_page::<P>(&state, &member, shell, &id, None).await, StatusCode::OK)
}

/// `POST /orgs/{org}/{kind}/{id}`: saves the edit form as a merge patch of every field.
pub(crate) async fn update<P: PolicyPage>(
    State(state): State<AppState>,
    Path((org, id)): Path<(String, String)>,
    form: CheckedForm,
) -> Response {
    let (member, mut shell, caller, groups) = match configuring::<P>(&state, &org, &form).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let saved = match body(&groups, true) {
        Ok(patch) => state.service.update_object::<P>(&caller, &id, patch).await,
        Err(message) => Err(ServiceError::invalid(message)),
    };
    let error = match saved {
        Ok(view) => return done::<P>(&state, &form.headers, &member, &json_of(&view), "saved"),
        Err(error) => error,
    };
    let Some(status) = correctable(&error) else { return ErrorPage::from_service(&error).into_response() };
    shell.flash = Some(Flash { kind: "error", text: error_text(&error) });
    shown(edit_page::<P>(&state, &member, shell, &id, Some(&form.fields)).await, status)
}

/// `POST /orgs/{org}/{kind}/{id}/delete`: deletes it; with `cascade` ticked, also what refers
/// to it.
pub(crate) async fn delete<P: PolicyPage>(
    State(state): State<AppState>,
    Path((org, id)): Path<(String, String)>,
    form: CheckedForm,
) -> Response {
    let Some(visitor) = &form.visitor else { return Redirect::to("/sign-in").into_response() };
    let member = match state.service.member(&visitor.signed_in, &org).await {
        Ok(member) => member,
        Err(error) => return ErrorPage::from_service(&error).into_response(),
    };
    let caller = match member.management() {
        Ok(caller) => caller,
        Err(error) => return ErrorPage::from_service(&error).into_response(),
    };
    let cascade = !P::PAGE.cascade.is_empty() && form.fields.checked("cascade");
    let list = list_href::<P>(&member);
    match state.service.delete_object::<P>(&caller, &id, cascade).await {
        Ok(()) => redirect_with(&state, &form.headers, &list, true, &format!("The {} was deleted.", P::PAGE.one)),
        Err(error) if correctable(&error).is_some() => after(&state, &form.headers, &format!("{list}/{id}"), Err::<(), _>(error), ""),
        Err(error) => ErrorPage::from_service(&error).into_response(),
    }
}

/// The member and the page's shell, or the page that says why not.
async fn context<P: PolicyPage>(
    state: &AppState,
    visitor: &Visitor,
    org: &str,
    headers: &HeaderMap,
) -> Result<(OrgMember, Shell), Response> {
    org_page(state, visitor, org, P::PAGE.section, P::PAGE.title, headers).await
}

/// For a create or save: the member, the shell, their management caller (403 for members)
/// and the form filled with what they sent.
async fn configuring<P: PolicyPage>(
    state: &AppState,
    org: &str,
    form: &CheckedForm,
) -> Result<(OrgMember, Shell, Management, Vec<Group>), Response> {
    let visitor = form.signed_in()?;
    let (member, shell) = context::<P>(state, visitor, org, &form.headers).await?;
    let caller = member.management().map_err(|error| ErrorPage::from_service(&error).into_response())?;
    let names = names::<P>(state, &member).await.map_err(|error| ErrorPage::from_service(&error).into_response())?;
    let mut groups = P::form(&names);
    fill_from_form(&mut groups, &form.fields);
    Ok((member, shell, caller, groups))
}

async fn list_page<P: PolicyPage>(
    state: &AppState,
    member: &OrgMember,
    shell: Shell,
    cursor: Option<String>,
    create: Option<Vec<Group>>,
) -> Result<ListPage, ServiceError> {
    let paged = cursor.is_some();
    let page = state.service.list_objects::<P>(&member.reader(), &PageRequest { limit: Some(PAGE_SIZE), cursor }).await?;
    let list = list_href::<P>(member);
    let rows = page.data.iter().map(|view| row::<P>(&list, &json_of(view))).collect();
    let next = page.next_cursor.map(|cursor| format!("{list}?cursor={cursor}"));
    let create = match create {
        Some(groups) => Some(groups),
        None if member.role().can_configure() => Some(P::form(&names::<P>(state, member).await?)),
        None => None,
    };
    let org = member.org_id().to_string();
    Ok(ListPage { shell, kind: P::PAGE, org, columns: P::COLUMNS, rows, next, paged, create, readonly: false })
}

async fn edit_page<P: PolicyPage>(
    state: &AppState,
    member: &OrgMember,
    shell: Shell,
    id: &str,
    entered: Option<&Fields>,
) -> Result<EditPage, ServiceError> {
    let view = json_of(&state.service.get_object::<P>(&member.reader(), id).await?);
    let mut groups = P::form(&names::<P>(state, member).await?);
    fill_from_view(&mut groups, &view);
    if let Some(fields) = entered {
        fill_from_form(&mut groups, fields);
    }
    let (org, id) = (member.org_id().to_string(), text(&view, "id"));
    Ok(EditPage { shell, kind: P::PAGE, org, id, label: text(&view, P::PAGE.label_key), groups, readonly: !member.role().can_configure() })
}

/// A page rendered with `status`, or the error page.
fn shown(page: Result<impl Template + HasShell, ServiceError>, status: StatusCode) -> Response {
    match page {
        Ok(page) => {
            let mut response = render(&page, page.shell());
            *response.status_mut() = status;
            response
        }
        Err(error) => ErrorPage::from_service(&error).into_response(),
    }
}

/// A page with a shell.
trait HasShell {
    fn shell(&self) -> &Shell;
}

impl HasShell for ListPage {
    fn shell(&self) -> &Shell {
        &self.shell
    }
}

impl HasShell for EditPage {
    fn shell(&self) -> &Shell {
        &self.shell
    }
}

/// Back to the list, saying what was done to which object.
fn done<P: PolicyPage>(state: &AppState, headers: &HeaderMap, member: &OrgMember, view: &Value, what: &str) -> Response {
    let text = format!("{} {} {what}.", P::PAGE.heading, text(view, P::PAGE.label_key));
    redirect_with(state, headers, &list_href::<P>(member), true, &text)
}

/// The status of a form shown again after a refusal a person can correct; `None` for the
/// others, which get the error page (403, 404, …).
fn correctable(error: &ServiceError) -> Option<StatusCode> {
    match error {
        ServiceError::InvalidRequest { .. } | ServiceError::InvalidParams { .. } => Some(StatusCode::BAD_REQUEST),
        ServiceError::Conflict { .. } => Some(StatusCode::CONFLICT),
        _ => None,
    }
}

/// The spec a create form makes, read by the same strict parser as the API's bodies.
fn spec_of<P: PolicyPage>(groups: &[Group]) -> Result<P::Spec, ServiceError> {
    let body = body(groups, false).map_err(ServiceError::invalid)?;
    oakallow_domain::json::from_value(Value::Object(body)).map_err(|e| ServiceError::invalid(format!("invalid body: {e}")))
}

/// The org's names, if the kind's form needs them.
async fn names<P: PolicyPage>(state: &AppState, member: &OrgMember) -> Result<Names, ServiceError> {
    if !P::PAGE.needs_names {
        return Ok(Names::default());
    }
    Ok(Names::of(&state.service.export_policy(&member.reader()).await?))
}

fn list_href<P: PolicyPage>(member: &OrgMember) -> String {
    format!("/orgs/{}/{}", member.org_id(), P::PAGE.section)
}

fn row<P: PolicyPage>(list: &str, view: &Value) -> Row {
    let cells = P::COLUMNS.iter().map(|column| cell(column, view)).collect();
    Row { href: format!("{list}/{}", text(view, "id")), label: text(view, P::PAGE.label_key), cells }
}

fn json_of(view: &impl Serialize) -> Value {
    serde_json::to_value(view).unwrap_or(Value::Null)
}

fn text(view: &Value, key: &str) -> String {
    view.get(key).and_then(Value::as_str).unwrap_or_default().to_owned()
}
