//! The web dashboard (PRODUCT.md section 11): server-rendered pages from the same binary, for
//! people. Every page goes through the same service methods as the API, with a caller made
//! from the visitor's membership (see `oakallow_service::people`), so who may do what is
//! decided in one place. Works without JavaScript; `app.js` only adds copy buttons and the
//! live approvals queue. Assets are compiled into the binary.

mod auth;
mod builder;
mod email_sign_in;
mod home;
mod ops;
pub(crate) mod pages;
mod passkeys;
mod policy;
mod second_factor;
mod setup;
pub(crate) mod web;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::AppState;

/// Every dashboard route.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home::root))
        .route("/assets/app.css", get(stylesheet))
        .route("/assets/app.js", get(script))
        .route("/assets/passkeys.js", get(passkeys_script))
        .route("/sign-in", get(auth::sign_in_page).post(auth::sign_in))
        .route("/sign-in/email", post(email_sign_in::request_code))
        .route("/sign-in/code", post(email_sign_in::sign_in_with_code))
        .route("/sign-in/email/{secret}", get(email_sign_in::link_page).post(email_sign_in::sign_in_with_link))
        .route("/sign-up", get(auth::sign_up_page).post(auth::sign_up))
        .route("/sign-out", post(auth::sign_out))
        .route("/invites/{secret}", get(auth::invite_page).post(auth::accept_invite))
        .route("/switch", get(home::switch))
        .route("/account", get(home::account))
        .route("/account/password", post(home::change_password))
        .route("/account/sessions/{id}/revoke", post(home::revoke_session))
        .route("/account/delete", post(home::delete_account))
        .merge(second_factor::routes())
        .route("/orgs/new", get(home::new_org_page).post(home::create_org))
        .route("/orgs/{org}/", get(home::overview))
        .merge(setup::routes())
        .merge(policy::routes())
        .merge(ops::routes())
        .merge(builder::routes())
        .merge(passkeys::routes())
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Revalidated at most every 5 minutes; the files change only with the binary.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

async fn stylesheet() -> Response {
    asset(include_str!("../../assets/app.css"), "text/css; charset=utf-8")
}

async fn script() -> Response {
    asset(include_str!("../../assets/app.js"), "text/javascript; charset=utf-8")
}

async fn passkeys_script() -> Response {
    asset(include_str!("../../assets/passkeys.js"), "text/javascript; charset=utf-8")
}
