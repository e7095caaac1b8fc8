//! Passkeys in the dashboard: adding, listing and removing them on the account page, and
//! signing in with one. `passkeys.js` asks the server for a ceremony's options (a CSRF-checked
//! POST answering WebAuthn JSON), runs it in the browser, and submits the form it belongs to
//! with the browser's answer in its `credential` field; the server's answer is an ordinary page.
//!
//! Registration is bound to the session; a sign-in to the form's CSRF token, which the server
//! only accepts together with the cookie it derives from (the pre-sign-in cookie, or the session
//! of a browser that is signed in already), so only the browser that asked can finish it.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Json, Redirect, Response};
use axum::routing::post;
use oakallow_service::ServiceError;
use serde_json::{Value, json};

use super::auth::{safe_next, sign_in_refused, signed_in};
use super::pages::{after, error_text, redirect_with};
use super::web::CheckedForm;
use crate::AppState;

/// The passkey routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/account/passkeys", post(add))
        .route("/account/passkeys/options", post(add_options))
        .route("/account/passkeys/{id}/remove", post(remove))
        .route("/sign-in/passkey", post(sign_in))
        .route("/sign-in/passkey/options", post(sign_in_options))
}

/// A ceremony's options as JSON, or `{"error": …}` with the refusal's status.
pub(crate) fn options(result: Result<Value, ServiceError>) -> Response {
    match result {
        Ok(options) => Json(options).into_response(),
        Err(error) => {
            let status = match &error {
                ServiceError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
                ServiceError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
                ServiceError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
                ServiceError::Unauthenticated => StatusCode::UNAUTHORIZED,
                ServiceError::NotFound { .. } => StatusCode::NOT_FOUND,
                _ => StatusCode::BAD_REQUEST,
            };
            let mut response = (status, Json(json!({ "error": error_text(&error) }))).into_response();
            if status == StatusCode::TOO_MANY_REQUESTS {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
            }
            response
        }
    }
}

/// What a form without the browser's answer gets: passkeys need the script.
const NO_ANSWER: &str = "Passkeys need JavaScript and a browser that supports them.";

/// `POST /account/passkeys/options`: the options to create a passkey.
async fn add_options(State(state): State<AppState>, form: CheckedForm) -> Response {
    let Some(visitor) = &form.visitor else {
        return options(Err(ServiceError::Unauthenticated));
    };
    options(state.service.start_passkey_registration(&visitor.signed_in).await)
}

/// `POST /account/passkeys`: keeps the passkey the browser created, under the given name; back
/// to the account page saying so, or why not, as the account page's other forms do.
async fn add(State(state): State<AppState>, form: CheckedForm) -> Response {
    let Some(visitor) = &form.visitor else { return Redirect::to("/sign-in").into_response() };
    let Some(credential) = form.fields.get("credential") else {
        return redirect_with(&state, &form.headers, "/account", false, NO_ANSWER);
    };
    let name = form.fields.get("name").unwrap_or("");
    let result = state.service.finish_passkey_registration(&visitor.signed_in, name, credential).await;
    after(&state, &form.headers, "/account", result, "Passkey added. You can sign in with it now.")
}

/// `POST /account/passkeys/{id}/remove`: 404 unless it is the visitor's.
async fn remove(State(state): State<AppState>, Path(id): Path<String>, form: CheckedForm) -> Response {
    let Some(visitor) = &form.visitor else { return Redirect::to("/sign-in").into_response() };
    let result = state.service.remove_passkey(&visitor.signed_in, &id).await;
    after(&state, &form.headers, "/account", result, "Passkey removed. It no longer signs you in.")
}

/// `POST /sign-in/passkey/options`: the options to sign in with any passkey of this site.
async fn sign_in_options(State(state): State<AppState>, form: CheckedForm) -> Response {
    options(state.service.start_passkey_sign_in(form.fields.raw("_csrf"), &form.address).await)
}

/// `POST /sign-in/passkey`: a new session for the account whose passkey answered.
async fn sign_in(State(state): State<AppState>, form: CheckedForm) -> Response {
    let next = safe_next(form.fields.get("next"));
    let Some(credential) = form.fields.get("credential") else {
        return sign_in_refused(&state, &form, StatusCode::BAD_REQUEST, NO_ANSWER.to_owned());
    };
    match state.service.finish_passkey_sign_in(form.fields.raw("_csrf"), credential, &form.address).await {
        Ok(session) => signed_in(&state, &form, session, &next).await,
        Err(error) => {
            let (status, message) = match &error {
                ServiceError::Unauthenticated => {
                    (StatusCode::UNAUTHORIZED, "That passkey is not registered here, or it could not be verified.".to_owned())
                }
                ServiceError::RateLimited { .. } => {
                    (StatusCode::TOO_MANY_REQUESTS, "Too many failed sign-ins. Wait a minute, then try again.".to_owned())
                }
                ServiceError::InvalidRequest { .. } => (StatusCode::BAD_REQUEST, error_text(&error)),
                other => return super::pages::ErrorPage::from_service(other).into_response(),
            };
            sign_in_refused(&state, &form, status, message)
        }
    }
}
