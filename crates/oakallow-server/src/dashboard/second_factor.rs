//! Second factors in the dashboard: the sign-in step that asks for a code or a passkey (run by
//! `passkeys.js`, its ceremony bound to the pending cookie), and the account page's TOTP enrolment (QR code drawn here as SVG, served as a `data:` image so the CSP needs
//! no inline content), removal and recovery codes (shown once, on the answer to the form).

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use oakallow_service::ServiceError;
use oakallow_service::people::second_factor::{RecoveryCodes, SecondFactorKinds};
use oakallow_service::people::sign_in_step::PENDING_SECONDS;

use super::auth::{Next, form_token, safe_next, signed_in, with_cookie};
use super::pages::{ErrorPage, Shell, after, error_text, redirect_with, render};
use super::web::{CheckedForm, Visitor, cookie, set_cookie, urlencoding};
use crate::AppState;

/// The cookie of a sign-in waiting for its second factor.
const PENDING_COOKIE: &str = "oak_pending";

/// The second-factor routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/sign-in/second-factor", get(code_page).post(finish))
        .route("/sign-in/second-factor/passkey/options", post(passkey_options))
        .route("/account/step-up/passkey/options", post(step_up_options))
        .route("/account/totp", post(start))
        .route("/account/totp/confirm", post(confirm))
        .route("/account/totp/remove", post(remove))
        .route("/account/recovery-codes", post(regenerate))
}

/// The QR code of `text` as a `data:` URL of an SVG image.
pub(crate) fn qr_data_url(text: &str) -> String {
    let Ok(code) = qrcode::QrCode::new(text.as_bytes()) else { return String::new() };
    let svg = code.render::<qrcode::render::svg::Color<'_>>().min_dimensions(200, 200).quiet_zone(true).build();
    format!("data:image/svg+xml;base64,{}", STANDARD.encode(svg))
}

/// The answer to a password that was right for an account with a second factor: the pending
/// cookie, and on to the page that asks for the code.
pub(crate) fn ask_for_code(state: &AppState, headers: &HeaderMap, pending: &str, next: &str) -> Response {
    let mut response = Redirect::to(&format!("/sign-in/second-factor?next={}", urlencoding(next))).into_response();
    let max_age = u64::try_from(PENDING_SECONDS).unwrap_or(300);
    response.headers_mut().append(header::SET_COOKIE, set_cookie(state, headers, PENDING_COOKIE, pending, Some(max_age)));
    response
}

#[derive(Template)]
#[template(path = "sign_in_second_factor.html")]
struct CodePage {
    shell: Shell,
    next: String,
    error: Option<String>,
    /// Which second factors the account has, so the page offers those.
    factors: SecondFactorKinds,
}

/// The second factors the pending step in `headers` can be finished with; `None` if there is
/// no live step.
async fn pending_factors(state: &AppState, headers: &HeaderMap) -> Option<SecondFactorKinds> {
    let pending = cookie(headers, PENDING_COOKIE)?;
    state.service.pending_sign_in_factors(pending).await.ok().flatten()
}

async fn code_form(
    state: &AppState,
    headers: &HeaderMap,
    visitor: Option<&Visitor>,
    next: String,
    error: (StatusCode, String),
) -> Response {
    // A step that ended meanwhile still gets the code form, whose answer then says so.
    let factors = pending_factors(state, headers).await.unwrap_or(SecondFactorKinds { code: true, passkey: false });
    let (token, set) = form_token(state, headers, visitor);
    let shell = Shell::bare("Second factor", token, headers);
    let page = CodePage { shell, next, error: Some(error.1), factors };
    let mut response = with_cookie(render(&page, &page.shell), set);
    *response.status_mut() = error.0;
    response
}

/// `GET /sign-in/second-factor`: the code form and the passkey button (those the account can
/// use), while the pending step is live.
async fn code_page(State(state): State<AppState>, headers: HeaderMap, visitor: Option<Visitor>, Query(next): Query<Next>) -> Response {
    let Some(factors) = pending_factors(&state, &headers).await else { return Redirect::to("/sign-in").into_response() };
    let (token, set) = form_token(&state, &headers, visitor.as_ref());
    let shell = Shell::bare("Second factor", token, &headers);
    let page = CodePage { shell, next: safe_next(next.next.as_deref()), error: None, factors };
    with_cookie(render(&page, &page.shell), set)
}

/// `POST /sign-in/second-factor/passkey/options`: the options to confirm the pending step's
/// account with one of its passkeys.
async fn passkey_options(State(state): State<AppState>, form: CheckedForm) -> Response {
    let pending = cookie(&form.headers, PENDING_COOKIE).unwrap_or("");
    super::passkeys::options(state.service.start_pending_passkey(pending).await)
}

/// `POST /account/step-up/passkey/options`: the options to confirm the signed-in account with
/// one of its passkeys before a decision that needs a fresh second factor.
async fn step_up_options(State(state): State<AppState>, form: CheckedForm) -> Response {
    let Some(visitor) = &form.visitor else { return super::passkeys::options(Err(ServiceError::Unauthenticated)) };
    super::passkeys::options(state.service.start_step_up_passkey(&visitor.signed_in).await)
}

/// `POST /sign-in/second-factor` with a `code`, or a passkey's answer in `credential`: a right
/// one makes the session; the pending cookie goes.
async fn finish(State(state): State<AppState>, form: CheckedForm) -> Response {
    let next = safe_next(form.fields.get("next"));
    let pending = cookie(&form.headers, PENDING_COOKIE).unwrap_or("").to_owned();
    let credential = form.fields.get("credential");
    match state.service.finish_sign_in(&pending, form.fields.raw("code"), credential).await {
        Ok(session) => {
            let mut response = signed_in(&state, &form, session, &next).await;
            response.headers_mut().append(header::SET_COOKIE, set_cookie(&state, &form.headers, PENDING_COOKIE, "", Some(0)));
            response
        }
        Err(ServiceError::NotFound { .. }) => {
            redirect_with(&state, &form.headers, "/sign-in", false, "That sign-in expired or was finished. Sign in again.")
        }
        Err(error @ ServiceError::InvalidRequest { .. }) => {
            let text = match credential {
                Some(_) => format!("{} Try the passkey again.", error_text(&error)),
                None => "That code is not right. Type the current code from your app, or an unused recovery code.".to_owned(),
            };
            code_form(&state, &form.headers, form.visitor.as_ref(), next, (StatusCode::UNAUTHORIZED, text)).await
        }
        Err(error @ ServiceError::RateLimited { .. }) => {
            let mut response =
                code_form(&state, &form.headers, form.visitor.as_ref(), next, (StatusCode::TOO_MANY_REQUESTS, error_text(&error))).await;
            response.headers_mut().insert(header::RETRY_AFTER, axum::http::HeaderValue::from_static("60"));
            response
        }
        Err(error) => ErrorPage::from_service(&error).into_response(),
    }
}

/// `POST /account/totp`: a new secret waiting for its first code (shown on the account page).
async fn start(State(state): State<AppState>, form: CheckedForm) -> Response {
    let visitor = match form.signed_in() {
        Ok(visitor) => visitor,
        Err(response) => return response,
    };
    let result = state.service.start_totp(&visitor.signed_in).await;
    after(&state, &form.headers, "/account#second-factor", result, "Scan the code with your app, then type the code it shows.")
}

#[derive(Template)]
#[template(path = "account_codes.html")]
struct CodesPage {
    shell: Shell,
    codes: Vec<String>,
}

fn codes_page(form: &CheckedForm, visitor: &Visitor, codes: RecoveryCodes) -> Response {
    let mut shell = Shell::bare("Recovery codes", visitor.csrf(), &form.headers);
    shell.account = Some(visitor.signed_in.account.name.clone());
    let page = CodesPage { shell, codes: codes.0 };
    render(&page, &page.shell)
}

/// `POST /account/totp/confirm`: a right code activates TOTP; the recovery codes, once.
async fn confirm(State(state): State<AppState>, form: CheckedForm) -> Response {
    let visitor = match form.signed_in() {
        Ok(visitor) => visitor,
        Err(response) => return response,
    };
    match state.service.confirm_totp(&visitor.signed_in, form.fields.raw("code")).await {
        Ok(codes) => codes_page(&form, visitor, codes),
        Err(error) => after(&state, &form.headers, "/account#second-factor", Err::<(), _>(error), ""),
    }
}

/// `POST /account/totp/remove` with a current code or the password.
async fn remove(State(state): State<AppState>, form: CheckedForm) -> Response {
    let visitor = match form.signed_in() {
        Ok(visitor) => visitor,
        Err(response) => return response,
    };
    let result = state.service.remove_totp(&visitor.signed_in, form.fields.raw("proof")).await;
    after(&state, &form.headers, "/account#second-factor", result, "TOTP and the recovery codes are removed.")
}

/// `POST /account/recovery-codes` with a current code: new codes, the old ones void.
async fn regenerate(State(state): State<AppState>, form: CheckedForm) -> Response {
    let visitor = match form.signed_in() {
        Ok(visitor) => visitor,
        Err(response) => return response,
    };
    match state.service.regenerate_recovery_codes(&visitor.signed_in, form.fields.raw("code")).await {
        Ok(codes) => codes_page(&form, visitor, codes),
        Err(error) => after(&state, &form.headers, "/account#second-factor", Err::<(), _>(error), ""),
    }
}
