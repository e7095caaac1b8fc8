//! The way in: `/` sends each visitor where they belong; the org switcher; new orgs; the
//! overview; the visitor's own account (password, second factor, passkeys, sessions).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use oakallow_domain::account::Session;
use oakallow_service::people::overview::Overview;
use oakallow_service::people::passkeys::PasskeyView;
use oakallow_service::people::second_factor::SecondFactorStatus;
use serde::Deserialize;

use super::pages::{ErrorPage, Shell, after, org_page, render};
use super::web::{CheckedForm, SESSION_COOKIE, Visitor, set_cookie};
use crate::AppState;

/// `GET /`: the first org's overview, a new org, or the sign-in or first sign-up page.
pub(crate) async fn root(State(state): State<AppState>, visitor: Option<Visitor>) -> Response {
    let Some(visitor) = visitor else {
        return match state.service.sign_up_mode().await {
            Ok(None) => Redirect::to("/sign-up").into_response(),
            Ok(Some(_)) => Redirect::to("/sign-in").into_response(),
            Err(error) => ErrorPage::from_service(&error).into_response(),
        };
    };
    match state.service.my_orgs(&visitor.signed_in).await {
        Ok(orgs) => match orgs.first() {
            Some(first) => Redirect::to(&format!("/orgs/{}/", first.org.id)).into_response(),
            None => Redirect::to("/orgs/new").into_response(),
        },
        Err(error) => ErrorPage::from_service(&error).into_response(),
    }
}

/// `?org=` of the switcher.
#[derive(Debug, Deserialize)]
pub(crate) struct Switch {
    org: String,
}

/// `GET /switch?org=`: the chosen org's overview (a plain link, so it works without scripts).
pub(crate) async fn switch(Query(switch): Query<Switch>) -> Response {
    match oakallow_domain::id::OrgId::parse(&switch.org) {
        Some(org) => Redirect::to(&format!("/orgs/{org}/")).into_response(),
        None => ErrorPage::not_found().into_response(),
    }
}

#[derive(Template)]
#[template(path = "org_new.html")]
struct NewOrgPage {
    shell: Shell,
}

/// `GET /orgs/new`.
pub(crate) async fn new_org_page(visitor: Visitor, headers: HeaderMap) -> Response {
    let mut shell = Shell::bare("New organization", visitor.csrf(), &headers);
    shell.account = Some(visitor.signed_in.account.name.clone());
    let page = NewOrgPage { shell };
    render(&page, &page.shell)
}

/// `POST /orgs/new`: the visitor owns the new org.
pub(crate) async fn create_org(State(state): State<AppState>, form: CheckedForm) -> Response {
    let Some(visitor) = &form.visitor else { return Redirect::to("/sign-in").into_response() };
    match state.service.create_org_as(&visitor.signed_in, form.fields.get("name").unwrap_or("")).await {
        Ok(org) => Redirect::to(&format!("/orgs/{}/quickstart", org.id)).into_response(),
        Err(error) => after(&state, &form.headers, "/orgs/new", Err::<(), _>(error), ""),
    }
}

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewPage {
    shell: Shell,
    overview: Overview,
    org_id: String,
}

/// `GET /orgs/{org}/`.
pub(crate) async fn overview(State(state): State<AppState>, visitor: Visitor, headers: HeaderMap, Path(org): Path<String>) -> Response {
    let (member, shell) = match org_page(&state, &visitor, &org, "overview", "Overview", &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    match state.service.overview(&member).await {
        Ok(overview) => {
            let page = OverviewPage { shell, overview, org_id: member.org_id().to_string() };
            render(&page, &page.shell)
        }
        Err(error) => ErrorPage::from_service(&error).into_response(),
    }
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    shell: Shell,
    email: String,
    sessions: Vec<Session>,
    current: String,
    factor: SecondFactorStatus,
    /// The enrolment's QR code (a `data:` URL), while one waits.
    qr: String,
    passkeys: Vec<PasskeyView>,
}

/// `GET /account`.
pub(crate) async fn account(State(state): State<AppState>, visitor: Visitor, headers: HeaderMap) -> Response {
    let loaded = async {
        Ok::<_, oakallow_service::ServiceError>((
            state.service.sessions(&visitor.signed_in).await?,
            state.service.second_factor_status(&visitor.signed_in).await?,
        ))
    };
    let (sessions, factor) = match loaded.await {
        Ok(loaded) => loaded,
        Err(error) => return ErrorPage::from_service(&error).into_response(),
    };
    let qr = factor.enrolling.as_ref().map(|e| super::second_factor::qr_data_url(&e.uri)).unwrap_or_default();
    let passkeys = match state.service.passkeys(&visitor.signed_in).await {
        Ok(passkeys) => passkeys,
        Err(error) => return ErrorPage::from_service(&error).into_response(),
    };
    let mut shell = Shell::bare("Your account", visitor.csrf(), &headers);
    shell.account = Some(visitor.signed_in.account.name.clone());
    let (email, current) = (visitor.signed_in.account.email.clone(), visitor.signed_in.session_id.to_string());
    let page = AccountPage { shell, email, sessions, current, factor, qr, passkeys };
    render(&page, &page.shell)
}

/// `POST /account/password`: every session ends, this one too; the visitor signs in again.
pub(crate) async fn change_password(State(state): State<AppState>, form: CheckedForm) -> Response {
    let Some(visitor) = &form.visitor else { return Redirect::to("/sign-in").into_response() };
    let result = state.service.change_password(&visitor.signed_in, form.fields.raw("current"), form.fields.raw("new")).await;
    if result.is_err() {
        return after(&state, &form.headers, "/account", result, "");
    }
    let mut response = Redirect::to("/sign-in").into_response();
    response.headers_mut().append(axum::http::header::SET_COOKIE, set_cookie(&state, &form.headers, SESSION_COOKIE, "", Some(0)));
    response
}

/// `POST /account/delete` with the password and `confirm=delete`: the account is deleted (see
/// `oakallow_service::people::lifecycle`) and the browser is signed out; a refusal (wrong
/// password, an org that would be stranded) goes back to the account page saying why.
pub(crate) async fn delete_account(State(state): State<AppState>, form: CheckedForm) -> Response {
    let Some(visitor) = &form.visitor else { return Redirect::to("/sign-in").into_response() };
    if form.fields.raw("confirm").trim() != "delete" {
        return after(
            &state,
            &form.headers,
            "/account",
            Err::<(), _>(oakallow_service::ServiceError::invalid("type delete to confirm")),
            "",
        );
    }
    let result = state.service.delete_own_account(&visitor.signed_in, form.fields.raw("password")).await;
    if result.is_err() {
        return after(&state, &form.headers, "/account", result, "");
    }
    let mut response = Redirect::to("/sign-in").into_response();
    response.headers_mut().append(axum::http::header::SET_COOKIE, set_cookie(&state, &form.headers, SESSION_COOKIE, "", Some(0)));
    response
}

/// `POST /account/sessions/{id}/revoke`.
pub(crate) async fn revoke_session(State(state): State<AppState>, Path(id): Path<String>, form: CheckedForm) -> Response {
    let Some(visitor) = &form.visitor else { return Redirect::to("/sign-in").into_response() };
    let result = state.service.revoke_session(&visitor.signed_in, &id).await;
    after(&state, &form.headers, "/account", result, "That session is signed out.")
}
