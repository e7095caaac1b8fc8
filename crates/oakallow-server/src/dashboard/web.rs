//! The dashboard's side of HTTP: cookies, the signed-in extractor, CSRF-checked forms, and
//! the headers every page carries.
//!
//! Cookies: `oak_session` (the session secret), `oak_pre` (a random value before sign-in, from
//! which the sign-in and sign-up forms' CSRF token is derived) and `oak_flash` (a one-shot
//! message after a redirect). All are `HttpOnly; SameSite=Lax; Path=/`, and `Secure` when the
//! request came over TLS through a proxy that says so (`X-Forwarded-Proto: https`) or the
//! operator turned it on.
//!
//! Every POST must carry the CSRF token of its session in `_csrf` (compared in constant time)
//! and, if the browser sends `Origin`, come from this host; otherwise 403 and nothing is done.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, OptionalFromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use oakallow_domain::secret::constant_time_eq;
use oakallow_service::people::SignedIn;
use oakallow_service::people::sessions::{csrf_token, pre_session_csrf_token};

use super::pages::ErrorPage;
use crate::AppState;

/// The session cookie.
pub(crate) const SESSION_COOKIE: &str = "oak_session";
/// The pre-sign-in CSRF cookie.
pub(crate) const PRE_COOKIE: &str = "oak_pre";
/// The one-shot message cookie.
pub(crate) const FLASH_COOKIE: &str = "oak_flash";

/// The value of cookie `name` in the request, if sent.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// Whether cookies must be `Secure`: the operator said so, or a proxy says the browser used TLS.
fn secure(state: &AppState, headers: &HeaderMap) -> bool {
    state.service.secure_cookies() || headers.get("x-forwarded-proto").is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"))
}

/// Where the browser reached this server (`http://host:port`), for the links, commands and
/// return addresses the dashboard hands out: the `Host` header, and `https` when a proxy says
/// the browser used TLS. A host that is not a plain name, address and port is never copied into
/// them (it could break out of a shell command people paste); the default address stands in.
pub(crate) fn base_url(headers: &HeaderMap) -> String {
    let Some(host) = headers.get(axum::http::header::HOST).and_then(|v| v.to_str().ok()).filter(|h| plain_host(h)) else {
        return "http://127.0.0.1:8080".to_owned();
    };
    let https = headers.get("x-forwarded-proto").is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
    format!("{}://{host}", if https { "https" } else { "http" })
}

fn plain_host(host: &str) -> bool {
    !host.is_empty() && host.len() <= 255 && host.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
}

/// A `Set-Cookie` value; `max_age` 0 deletes the cookie, `None` makes it last the browser session.
pub(crate) fn set_cookie(state: &AppState, headers: &HeaderMap, name: &str, value: &str, max_age: Option<u64>) -> HeaderValue {
    let mut text = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if let Some(age) = max_age {
        text.push_str(&format!("; Max-Age={age}"));
    }
    if secure(state, headers) {
        text.push_str("; Secure");
    }
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("oak_invalid=; Max-Age=0"))
}

/// The client's address as the sign-in throttle counts it.
pub(crate) fn client_address(parts: &Parts) -> String {
    parts.extensions.get::<ConnectInfo<SocketAddr>>().map_or_else(|| "unknown".to_owned(), |ConnectInfo(addr)| addr.ip().to_string())
}

/// A signed-in visitor: who, and the session secret (for the CSRF token). Pages that need it
/// send everyone else to the sign-in page.
#[derive(Debug, Clone)]
pub(crate) struct Visitor {
    /// Who is signed in.
    pub(crate) signed_in: SignedIn,
    /// The session cookie's value.
    secret: String,
}

impl Visitor {
    /// The CSRF token this visitor's forms carry.
    pub(crate) fn csrf(&self) -> String {
        csrf_token(&self.secret)
    }
}

impl FromRequestParts<AppState> for Visitor {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Some(secret) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(to_sign_in(parts));
        };
        match state.service.signed_in(secret).await {
            Ok(signed_in) => Ok(Self { signed_in, secret: secret.to_owned() }),
            Err(oakallow_service::ServiceError::Unauthenticated) => Err(to_sign_in(parts)),
            Err(error) => Err(ErrorPage::from_service(&error).into_response()),
        }
    }
}

impl OptionalFromRequestParts<AppState> for Visitor {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Option<Self>, Self::Rejection> {
        Ok(<Self as FromRequestParts<AppState>>::from_request_parts(parts, state).await.ok())
    }
}

fn to_sign_in(parts: &Parts) -> Response {
    let next = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let target = if parts.method == axum::http::Method::GET && next.starts_with('/') && !next.starts_with("//") {
        format!("/sign-in?next={}", urlencoding(next))
    } else {
        "/sign-in".to_owned()
    };
    Redirect::to(&target).into_response()
}

/// Percent-encodes everything but unreserved characters.
pub(crate) fn urlencoding(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A submitted form's fields, in order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Fields(Vec<(String, String)>);

impl Fields {
    /// The first value of `name`, trimmed; `None` if absent or blank.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim()).filter(|v| !v.is_empty())
    }

    /// The first value of `name` exactly as sent (passwords), or "".
    pub(crate) fn raw(&self, name: &str) -> &str {
        self.0.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str())
    }

    /// Whether a checkbox `name` was ticked.
    pub(crate) fn checked(&self, name: &str) -> bool {
        self.0.iter().any(|(k, v)| k == name && v != "false")
    }

    /// Every value of `name` (multi-selects, repeated checkboxes).
    pub(crate) fn all(&self, name: &str) -> Vec<&str> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect()
    }
}

/// A POSTed form whose CSRF token and origin were checked: from a signed-in visitor (their
/// session's token), or, for the sign-in and sign-up forms, from any browser (the token of its
/// `oak_pre` cookie).
pub(crate) struct CheckedForm {
    /// The fields.
    pub(crate) fields: Fields,
    /// The signed-in visitor, if any.
    pub(crate) visitor: Option<Visitor>,
    /// The client's address.
    pub(crate) address: String,
    /// The request headers (for cookies set in the answer).
    pub(crate) headers: HeaderMap,
}

impl CheckedForm {
    /// The signed-in visitor who sent the form, or the redirect to the sign-in page.
    #[expect(clippy::result_large_err, reason = "the refusal is the answer itself, as for every dashboard extractor")]
    pub(crate) fn signed_in(&self) -> Result<&Visitor, Response> {
        self.visitor.as_ref().ok_or_else(|| Redirect::to("/sign-in").into_response())
    }
}

impl FromRequest<AppState> for CheckedForm {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        if !same_origin(&parts.headers) {
            return Err(ErrorPage::forbidden("This form was sent from another site. Nothing was changed.").into_response());
        }
        let visitor = match cookie(&parts.headers, SESSION_COOKIE) {
            Some(_) => <Visitor as FromRequestParts<AppState>>::from_request_parts(&mut parts, state).await.ok(),
            None => None,
        };
        let expected = match (&visitor, cookie(&parts.headers, PRE_COOKIE)) {
            (Some(visitor), _) => Some(visitor.csrf()),
            (None, Some(pre)) => Some(pre_session_csrf_token(pre)),
            (None, None) => None,
        };
        let address = client_address(&parts);
        let headers = parts.headers.clone();
        let request = Request::from_parts(parts, body);
        let axum::Form(fields) = axum::Form::<Vec<(String, String)>>::from_request(request, state)
            .await
            .map_err(|_| ErrorPage::new(StatusCode::BAD_REQUEST, "That form could not be read.").into_response())?;
        let fields = Fields(fields);
        let sent = fields.raw("_csrf");
        if !expected.is_some_and(|token| constant_time_eq(token.as_bytes(), sent.as_bytes())) {
            return Err(ErrorPage::forbidden("This form has expired or did not come from this dashboard. Reload the page and try again.")
                .into_response());
        }
        Ok(Self { fields, visitor, address, headers })
    }
}

/// A browser that sends `Origin` must be on this host (defence in depth behind the token).
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else { return true };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    origin.split_once("://").is_some_and(|(_, rest)| rest == host)
}

/// Headers every dashboard answer carries: no caching of personal pages, no framing, scripts
/// and styles only from this server.
pub(crate) fn page_headers(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ),
    );
}
