//! `GET /metrics`: the Prometheus text page, routed only when `[metrics] enabled` (otherwise
//! this path is an unknown route). With a token configured, a scrape must send `Authorization: Bearer <token>`;
//! anything else is a 401 envelope. Not an API key route, so not in the OpenAPI document.
//!
//! Also here: the two layers that count every HTTP request by method and route pattern.

use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::AppState;
use crate::error::ApiError;

/// The route, merged beside the API.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/metrics", get(page))
}

async fn page(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if !app.service.metrics_enabled() {
        return ApiError::no_route().into_response();
    }
    let bearer = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    match app.service.metrics_page(bearer).await {
        Ok(text) => {
            let mut response = text.into_response();
            response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(error) => ApiError::from(error).into_response(),
    }
}

/// Inside the router, on every route: hands the matched route pattern on to [`count_request`]
/// through the response (the outer layer runs before routing, so it cannot see the match).
pub(crate) async fn keep_route(request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().cloned();
    let mut response = next.run(request).await;
    if let Some(route) = route {
        response.extensions_mut().insert(route);
    }
    response
}

/// Outside the router: counts the request, its status and the time to its response head.
pub(crate) async fn count_request(State(app): State<AppState>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let started = Instant::now();
    let response = next.run(request).await;
    let route = response.extensions().get::<MatchedPath>().map(MatchedPath::as_str);
    app.service.metrics().request_answered(method.as_str(), route, response.status().as_u16(), started.elapsed());
    response
}
