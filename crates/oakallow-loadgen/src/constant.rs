//! The baseline server's router: every POST, whatever its path, reads the request body and
//! answers 200 with the same constant JSON body. Anything else is 405. No middleware, no parsing:
//! the ceiling an axum service on this machine can reach.

use axum::Router;
use axum::body::Bytes;
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// A check answer of the usual size, used when no body is given.
pub const DEFAULT_BODY: &str = r#"{"check_id":"chk_0196d2a1c3f27e8b9a4c5d6e7f801234","permission":"allowed","resolved_from":"tenant_resource_tool","rule_id":"rul_0196d2a1c3f27e8b9a4c5d6e7f805678","tool":"tool042","tool_registered":true,"tenant":"tenant007","tenant_known":true,"resource":"resource12","method":"method3","approval_timeout_seconds":null,"token":null,"checked_at":"2026-11-30T09:00:00.123456Z"}"#;

/// The router answering `body` to every POST.
pub fn router(body: Bytes) -> Router {
    Router::new().fallback(move |method: Method, request: Bytes| {
        let body = body.clone();
        async move { answer(&method, request, body) }
    })
}

fn answer(method: &Method, _request: Bytes, body: Bytes) -> Response {
    if method != Method::POST {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}
