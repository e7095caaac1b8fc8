//! Signing in with a code sent by e-mail (when e-mail is configured): ask for a code, then enter
//! it; or open the link from the same e-mail and confirm with one click. The link's page only
//! shows a button: mail scanners that fetch links must not spend the code.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use oakallow_service::ServiceError;
use oakallow_service::people::sign_in_step::SignInStep;

use super::auth::{form_token, safe_next, signed_in, with_cookie};
use super::pages::{ErrorPage, Shell, render};
use super::web::{CheckedForm, Visitor};
use crate::AppState;

#[derive(Template)]
#[template(path = "sign_in_code.html")]
struct CodePage {
    shell: Shell,
    next: String,
    email: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "sign_in_link.html")]
struct LinkPage {
    shell: Shell,
    secret: String,
}

fn code_page(state: &AppState, form: &CheckedForm, status: StatusCode, error: Option<String>) -> Response {
    let (token, set) = form_token(state, &form.headers, form.visitor.as_ref());
    let shell = Shell::bare("Enter your sign-in code", token, &form.headers);
    let email = form.fields.get("email").unwrap_or("").trim().to_owned();
    let page = CodePage { shell, next: safe_next(form.fields.get("next")), email, error };
    let mut response = with_cookie(render(&page, &page.shell), set);
    *response.status_mut() = status;
    if status == StatusCode::TOO_MANY_REQUESTS {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
    }
    response
}

fn too_many() -> (StatusCode, Option<String>) {
    (StatusCode::TOO_MANY_REQUESTS, Some("Too many attempts. Wait a minute, then try again.".to_owned()))
}

/// `POST /sign-in/email`: e-mails a code if an account has the address; the page (the same
/// either way) asks for it.
pub(crate) async fn request_code(State(state): State<AppState>, form: CheckedForm) -> Response {
    let email = form.fields.get("email").unwrap_or("");
    let (status, error) = match state.service.request_sign_in_code(email, &form.address).await {
        Ok(()) => (StatusCode::OK, None),
        Err(ServiceError::RateLimited { .. }) => too_many(),
        Err(error) => return ErrorPage::from_service(&error).into_response(),
    };
    code_page(&state, &form, status, error)
}

/// `POST /sign-in/code`: signs in with the e-mail and its code.
pub(crate) async fn sign_in_with_code(State(state): State<AppState>, form: CheckedForm) -> Response {
    let (email, code) = (form.fields.get("email").unwrap_or(""), form.fields.raw("code"));
    let (status, error) = match state.service.sign_in_with_code(email, code, &form.address).await {
        Ok(SignInStep::Done(session)) => return signed_in(&state, &form, session, &safe_next(form.fields.get("next"))).await,
        Ok(SignInStep::SecondFactor(pending)) => {
            return super::second_factor::ask_for_code(&state, &form.headers, pending.expose(), &safe_next(form.fields.get("next")));
        }
        Err(ServiceError::Unauthenticated) => (
            StatusCode::UNAUTHORIZED,
            Some("That code is not right, or it was used, replaced or has expired. Ask for a new one if needed.".to_owned()),
        ),
        Err(ServiceError::RateLimited { .. }) => too_many(),
        Err(error) => return ErrorPage::from_service(&error).into_response(),
    };
    code_page(&state, &form, status, error)
}

/// `GET /sign-in/email/{secret}`: a button that signs in (nothing is spent by opening the link).
pub(crate) async fn link_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    visitor: Option<Visitor>,
    Path(secret): Path<String>,
) -> Response {
    if !state.service.email_enabled() {
        return ErrorPage::not_found().into_response();
    }
    let (token, set) = form_token(&state, &headers, visitor.as_ref());
    let shell = Shell::bare("Sign in", token, &headers);
    let page = LinkPage { shell, secret };
    let mut response = with_cookie(render(&page, &page.shell), set);
    // The secret is in the URL: keep it out of the Referer of anything the page loads.
    response.headers_mut().insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

/// `POST /sign-in/email/{secret}`: signs in with the link (spending its code).
pub(crate) async fn sign_in_with_link(State(state): State<AppState>, Path(secret): Path<String>, form: CheckedForm) -> Response {
    match state.service.sign_in_with_link(&secret).await {
        Ok(SignInStep::Done(session)) => signed_in(&state, &form, session, "/").await,
        Ok(SignInStep::SecondFactor(pending)) => super::second_factor::ask_for_code(&state, &form.headers, pending.expose(), "/"),
        Err(ServiceError::Unauthenticated) => {
            ErrorPage::new(StatusCode::NOT_FOUND, "This sign-in link was used, replaced by a newer one, or has expired.").into_response()
        }
        Err(error) => ErrorPage::from_service(&error).into_response(),
    }
}
