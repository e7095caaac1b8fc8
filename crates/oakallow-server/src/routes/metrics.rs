//! `GET /metrics`: the Prometheus text page, routed only when `[metrics] enabled` (otherwise
//! this path is an unknown route). With a token configured, a scrape must send `Authorization: Bearer <token>`;
//! anything else is a 401 envelope. Not an API key route, so not in the OpenAPI document.
//!
//! Also here: the layer that counts every HTTP request by method and route pattern.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use oakallow_service::Service;
use tower::Layer;

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

/// Counts each request of a matched route: its method, route pattern, status and the time to
/// its response head. Applied with `Router::route_layer`, so the route pattern is in the
/// request; a plain tower layer (no boxing, no per-request clone of the route), because it runs
/// on every check.
#[derive(Clone)]
pub(crate) struct CountRequests {
    pub(crate) service: Arc<Service>,
}

impl<S> Layer<S> for CountRequests {
    type Service = Counted<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Counted { inner, service: Arc::clone(&self.service) }
    }
}

/// A route's service, counted.
#[derive(Clone)]
pub(crate) struct Counted<S> {
    inner: S,
    service: Arc<Service>,
}

impl<S, B> tower::Service<axum::http::Request<B>> for Counted<S>
where
    S: tower::Service<axum::http::Request<B>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = CountedFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: axum::http::Request<B>) -> Self::Future {
        let started = Instant::now();
        let method = request.method().clone();
        let route = request.extensions().get::<MatchedPath>().cloned();
        CountedFuture { inner: self.inner.call(request), started, method, route, service: Arc::clone(&self.service) }
    }
}

pin_project_lite::pin_project! {
    /// The route's answer; counted when it is ready.
    pub(crate) struct CountedFuture<F> {
        #[pin]
        inner: F,
        started: Instant,
        method: Method,
        route: Option<MatchedPath>,
        service: Arc<Service>,
    }
}

impl<F, E> Future for CountedFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let answer = std::task::ready!(this.inner.poll(cx));
        if let Ok(response) = &answer {
            let route = this.route.as_ref().map(MatchedPath::as_str);
            this.service.metrics().request_answered(this.method.as_str(), route, response.status().as_u16(), this.started.elapsed());
        }
        Poll::Ready(answer)
    }
}

/// Counts an answer given outside any route (an unknown path): no time is measured for it.
pub(crate) fn count_unrouted(service: &Service, method: &Method, status: StatusCode) {
    service.metrics().request_answered(method.as_str(), None, status.as_u16(), Duration::ZERO);
}
