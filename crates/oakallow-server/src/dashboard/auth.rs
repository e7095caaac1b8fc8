//! Signing up, in and out, and joining an org through an invitation link.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use oakallow_domain::secret::random_bytes;
use oakallow_service::ServiceError;
use oakallow_service::config::SignUpMode;
use oakallow_service::people::sessions::{NewSession, SignUp, pre_session_csrf_token};
use oakallow_service::people::sign_in_step::SignInStep;
use serde::Deserialize;

use super::pages::{ErrorPage, Shell, error_text, render};
use super::web::{CheckedForm, PRE_COOKIE, SESSION_COOKIE, Visitor, cookie, set_cookie};
use crate::AppState;

/// `?next=` of the sign-in page: where to go after signing in (a path on this site only).
#[derive(Debug, Deserialize)]
pub(crate) struct Next {
    pub(crate) next: Option<String>,
}

pub(crate) fn safe_next(next: Option<&str>) -> String {
    next.filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.contains('\\')).unwrap_or("/").to_owned()
}

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    shell: Shell,
    next: String,
    email: String,
    error: Option<String>,
    /// Whether "E-mail me a sign-in code" is offered (e-mail is configured).
    email_codes: bool,
}

#[derive(Template)]
#[template(path = "sign_up.html")]
struct SignUpPage {
    shell: Shell,
    first: bool,
    open: bool,
    invite: Option<InviteSummary>,
    email: String,
    name: String,
    org_name: String,
    error: Option<String>,
}

/// What an invitation link offers.
#[derive(Debug, Clone)]
struct InviteSummary {
    secret: String,
    org_name: String,
    role: &'static str,
}

/// The CSRF token the sign-in and sign-up forms carry: the session's, if the browser is signed
/// in already (that is what [`CheckedForm`] will expect), else the pre-sign-in cookie's (made,
/// with its `Set-Cookie`, if the browser has none).
pub(crate) fn form_token(state: &AppState, headers: &HeaderMap, visitor: Option<&Visitor>) -> (String, Option<HeaderValue>) {
    if let Some(visitor) = visitor {
        return (visitor.csrf(), None);
    }
    let (pre, set) = pre_session(state, headers);
    (pre_session_csrf_token(&pre), set)
}

/// The pre-sign-in cookie's value (made if the browser has none).
fn pre_session(state: &AppState, headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    if let Some(value) = cookie(headers, PRE_COOKIE).filter(|v| v.len() == 32) {
        return (value.to_owned(), None);
    }
    let value: String = random_bytes::<16>().unwrap_or_default().iter().map(|b| format!("{b:02x}")).collect();
    let header = set_cookie(state, headers, PRE_COOKIE, &value, None);
    (value, Some(header))
}

pub(crate) fn with_cookie(mut response: Response, cookie: Option<HeaderValue>) -> Response {
    if let Some(cookie) = cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// `GET /sign-in`.
pub(crate) async fn sign_in_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    visitor: Option<Visitor>,
    Query(next): Query<Next>,
) -> Response {
    let (token, set) = form_token(&state, &headers, visitor.as_ref());
    let shell = Shell::bare("Sign in", token, &headers);
    let email_codes = state.service.email_enabled();
    let page = SignInPage { next: safe_next(next.next.as_deref()), email: String::new(), error: None, shell, email_codes };
    with_cookie(render(&page, &page.shell), set)
}

/// `POST /sign-in`: a new session (a new id, whatever cookie came in), then where `next` says.
pub(crate) async fn sign_in(State(state): State<AppState>, form: CheckedForm) -> Response {
    let email = form.fields.get("email").unwrap_or("").to_owned();
    let next = safe_next(form.fields.get("next"));
    match state.service.sign_in(&email, form.fields.raw("password"), &form.address).await {
        Ok(SignInStep::Done(session)) => signed_in(&state, &form, session, &next).await,
        Ok(SignInStep::SecondFactor(pending)) => super::second_factor::ask_for_code(&state, &form.headers, pending.expose(), &next),
        Err(error) => {
            let (status, message) = match &error {
                ServiceError::Unauthenticated => (StatusCode::UNAUTHORIZED, "That email and password do not match an account.".to_owned()),
                ServiceError::RateLimited { .. } => {
                    (StatusCode::TOO_MANY_REQUESTS, "Too many failed sign-ins. Wait a minute, then try again.".to_owned())
                }
                other => return ErrorPage::from_service(other).into_response(),
            };
            let (token, set) = form_token(&state, &form.headers, form.visitor.as_ref());
            let shell = Shell::bare("Sign in", token, &form.headers);
            let page = SignInPage { next, email, error: Some(message), shell, email_codes: state.service.email_enabled() };
            let mut response = with_cookie(render(&page, &page.shell), set);
            *response.status_mut() = status;
            if status == StatusCode::TOO_MANY_REQUESTS {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
            }
            response
        }
    }
}

/// Ends the session the browser came with (if any), sets the new one, and redirects.
pub(crate) async fn signed_in(state: &AppState, form: &CheckedForm, session: NewSession, next: &str) -> Response {
    if let Some(previous) = &form.visitor {
        let _ = state.service.sign_out(&previous.signed_in).await;
    }
    let mut response = Redirect::to(next).into_response();
    let cookie = set_cookie(state, &form.headers, SESSION_COOKIE, session.secret.expose(), None);
    response.headers_mut().append(header::SET_COOKIE, cookie);
    response
}

/// `POST /sign-out`: the session stops working everywhere, and the cookie is dropped.
pub(crate) async fn sign_out(State(state): State<AppState>, form: CheckedForm) -> Response {
    if let Some(visitor) = &form.visitor
        && let Err(error) = state.service.sign_out(&visitor.signed_in).await
    {
        return ErrorPage::from_service(&error).into_response();
    }
    let mut response = Redirect::to("/sign-in").into_response();
    response.headers_mut().append(header::SET_COOKIE, set_cookie(&state, &form.headers, SESSION_COOKIE, "", Some(0)));
    response
}

async fn invite_summary(state: &AppState, secret: Option<&str>) -> Result<Option<InviteSummary>, ServiceError> {
    let Some(secret) = secret else { return Ok(None) };
    let (invite, org) = state.service.usable_invite(secret).await?;
    Ok(Some(InviteSummary { secret: secret.to_owned(), org_name: org.name, role: invite.role.as_str() }))
}

/// `?invite=` of the sign-up page.
#[derive(Debug, Deserialize)]
pub(crate) struct InviteQuery {
    invite: Option<String>,
}

/// `GET /sign-up`.
pub(crate) async fn sign_up_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    visitor: Option<Visitor>,
    Query(query): Query<InviteQuery>,
) -> Response {
    let invite = match invite_summary(&state, query.invite.as_deref()).await {
        Ok(invite) => invite,
        Err(error) => return ErrorPage::from_service(&error).into_response(),
    };
    sign_up_form(&state, &headers, visitor.as_ref(), invite, None, (String::new(), String::new(), "My org".into())).await
}

async fn sign_up_form(
    state: &AppState,
    headers: &HeaderMap,
    visitor: Option<&Visitor>,
    invite: Option<InviteSummary>,
    error: Option<String>,
    (email, name, org_name): (String, String, String),
) -> Response {
    let mode = match state.service.sign_up_mode().await {
        Ok(mode) => mode,
        Err(error) => return ErrorPage::from_service(&error).into_response(),
    };
    let (token, set) = form_token(state, headers, visitor);
    let shell = Shell::bare("Create your account", token, headers);
    let page = SignUpPage { shell, first: mode.is_none(), open: mode == Some(SignUpMode::Open), invite, email, name, org_name, error };
    let status = if page.error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    let mut response = with_cookie(render(&page, &page.shell), set);
    *response.status_mut() = status;
    response
}

/// `POST /sign-up`: the account, signed in, with its first org (or the invited org).
pub(crate) async fn sign_up(State(state): State<AppState>, form: CheckedForm) -> Response {
    let fields = &form.fields;
    let invite = fields.get("invite").map(str::to_owned);
    let entered = (
        fields.get("email").unwrap_or("").to_owned(),
        fields.get("name").unwrap_or("").to_owned(),
        fields.get("org_name").unwrap_or("My org").to_owned(),
    );
    let request =
        SignUp { email: entered.0.clone(), name: entered.1.clone(), password: fields.raw("password").to_owned(), invite: invite.clone() };
    let session = match state.service.sign_up(request, &form.address).await {
        Ok(session) => session,
        Err(error @ (ServiceError::InvalidRequest { .. } | ServiceError::Conflict { .. } | ServiceError::ForbiddenRole { .. })) => {
            let summary = invite_summary(&state, invite.as_deref()).await.ok().flatten();
            return sign_up_form(&state, &form.headers, form.visitor.as_ref(), summary, Some(error_text(&error)), entered).await;
        }
        Err(error) => return ErrorPage::from_service(&error).into_response(),
    };
    let next = if invite.is_some() {
        "/".to_owned()
    } else {
        match state.service.create_org_as(&session.signed_in, &entered.2).await {
            Ok(org) => format!("/orgs/{}/quickstart", org.id),
            Err(_) => "/orgs/new".to_owned(),
        }
    };
    signed_in(&state, &form, session, &next).await
}

#[derive(Template)]
#[template(path = "invite.html")]
struct InvitePage {
    shell: Shell,
    invite: InviteSummary,
}

/// `GET /invites/{secret}`: a signed-in visitor may accept; anyone else signs in or up first.
pub(crate) async fn invite_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(secret): Path<String>,
    visitor: Option<Visitor>,
) -> Response {
    let invite = match invite_summary(&state, Some(&secret)).await {
        Ok(Some(invite)) => invite,
        Ok(None) | Err(_) => {
            return ErrorPage::new(StatusCode::NOT_FOUND, "This invitation link was used, withdrawn or has expired.").into_response();
        }
    };
    let Some(visitor) = visitor else {
        return Redirect::to(&format!("/sign-up?invite={}", invite.secret)).into_response();
    };
    let mut shell = Shell::bare("Join an organization", visitor.csrf(), &headers);
    shell.account = Some(visitor.signed_in.account.name.clone());
    let page = InvitePage { shell, invite };
    render(&page, &page.shell)
}

/// `POST /invites/{secret}`: joins the org.
pub(crate) async fn accept_invite(State(state): State<AppState>, Path(secret): Path<String>, form: CheckedForm) -> Response {
    let Some(visitor) = form.visitor else { return Redirect::to("/sign-in").into_response() };
    match state.service.accept_invite(&visitor.signed_in, &secret).await {
        Ok(membership) => {
            super::pages::redirect_with(&state, &form.headers, &format!("/orgs/{}/", membership.org_id), true, "Welcome to the team.")
        }
        Err(_) => ErrorPage::new(StatusCode::NOT_FOUND, "This invitation link was used, withdrawn or has expired.").into_response(),
    }
}

/// The sign-in page again after a refused sign-in of another kind (a passkey, say): `message`,
/// with `status`, and the email and `next` the form carried.
pub(crate) fn sign_in_refused(state: &AppState, form: &CheckedForm, status: StatusCode, message: String) -> Response {
    let (token, set) = form_token(state, &form.headers, form.visitor.as_ref());
    let shell = Shell::bare("Sign in", token, &form.headers);
    let email = form.fields.get("email").unwrap_or("").to_owned();
    let page = SignInPage {
        next: safe_next(form.fields.get("next")),
        email,
        error: Some(message),
        shell,
        email_codes: state.service.email_enabled(),
    };
    let mut response = with_cookie(render(&page, &page.shell), set);
    *response.status_mut() = status;
    if status == StatusCode::TOO_MANY_REQUESTS {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
    }
    response
}
