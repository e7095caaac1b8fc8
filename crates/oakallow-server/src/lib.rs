//! oakallow's HTTP API: routes, tier extractors, the error envelope and the OpenAPI document,
//! all built from the same handler definitions so the document cannot drift from the routes.

mod connections;
mod dashboard;
pub mod error;
pub mod extract;
mod openapi;
pub mod routes;

use std::future::Future;
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderName, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use oakallow_service::Service;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use crate::connections::ConnectionLimits;
use crate::error::ApiError;
use crate::extract::{AnyKey, MAX_BODY_BYTES, MAX_POLICY_BODY_BYTES};
use crate::routes::{activity, approvals, billing, keys, manage, org, policy, runtime, system, tokens, webhooks};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The use cases.
    pub service: Arc<Service>,
}

fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(system::health))
        .routes(routes!(system::openapi))
        .routes(routes!(runtime::check))
        .routes(routes!(runtime::validate))
        .routes(routes!(runtime::discover))
        .routes(routes!(manage::tools::list, manage::tools::create))
        .routes(routes!(manage::tools::get, manage::tools::update, manage::tools::delete))
        .routes(routes!(manage::categories::list, manage::categories::create))
        .routes(routes!(manage::categories::get, manage::categories::update, manage::categories::delete))
        .routes(routes!(manage::tenants::list, manage::tenants::create))
        .routes(routes!(manage::tenants::get, manage::tenants::update, manage::tenants::delete))
        .routes(routes!(manage::resources::list, manage::resources::create))
        .routes(routes!(manage::resources::get, manage::resources::update, manage::resources::delete))
        .routes(routes!(manage::methods::list, manage::methods::create))
        .routes(routes!(manage::methods::get, manage::methods::update, manage::methods::delete))
        .routes(routes!(manage::rules::list, manage::rules::create))
        .routes(routes!(manage::rules::get, manage::rules::update, manage::rules::delete))
        .routes(routes!(keys::list, keys::create))
        .routes(routes!(keys::get, keys::revoke))
        .routes(routes!(org::get, org::update))
        .routes(routes!(org::list, org::create))
        .routes(routes!(org::notifications, org::update_notifications))
        .routes(routes!(org::unlink_slack_user))
        .routes(policy_routes())
        .routes(simulate_routes())
        .routes(routes!(activity::list))
        .routes(routes!(activity::verify))
        .routes(routes!(activity::export))
        .routes(routes!(activity::get))
        .routes(routes!(approvals::create, approvals::list))
        .routes(routes!(approvals::create_alias))
        .routes(routes!(approvals::get))
        .routes(routes!(approvals::cancel))
        .routes(routes!(approvals::decide))
        .routes(routes!(tokens::mint))
        .routes(routes!(tokens::mint_alias))
        .routes(routes!(tokens::verify))
        .routes(routes!(tokens::signing_keys))
        .routes(routes!(tokens::execution))
        .routes(routes!(webhooks::rotate))
        .routes(routes!(webhooks::test))
        .routes(routes!(webhooks::deliveries))
        .routes(routes!(webhooks::retry))
        .routes(routes!(billing::get))
        .routes(routes!(billing::ledger))
}

/// `/v1/policy`, whose documents may be larger than other bodies (a backup must re-apply).
fn policy_routes() -> utoipa_axum::router::UtoipaMethodRouter<AppState> {
    let (schemas, paths, router) = routes!(policy::export, policy::apply);
    (schemas, paths, router.layer(DefaultBodyLimit::max(MAX_POLICY_BODY_BYTES)))
}

/// `/v1/policy/simulate`, whose candidate document may be as large as an applied one.
fn simulate_routes() -> utoipa_axum::router::UtoipaMethodRouter<AppState> {
    let (schemas, paths, router) = routes!(policy::simulate);
    (schemas, paths, router.layer(DefaultBodyLimit::max(MAX_POLICY_BODY_BYTES)))
}

/// The OpenAPI 3.1 document of the whole API.
pub fn openapi() -> utoipa::openapi::OpenApi {
    static DOCUMENT: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();
    DOCUMENT
        .get_or_init(|| {
            let mut document = api().split_for_parts().1;
            openapi::finish(&mut document);
            document
        })
        .clone()
}

/// An unknown route: the error envelope for API clients; an HTML page for a browser asking for
/// a page outside `/v1`.
async fn no_route(
    axum::extract::State(state): axum::extract::State<AppState>,
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
) -> Response {
    routes::metrics::count_unrouted(&state.service, &method, StatusCode::NOT_FOUND);
    let wants_html =
        headers.get(axum::http::header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|accept| accept.contains("text/html"));
    if wants_html && !uri.path().starts_with("/v1/") {
        return dashboard::pages::ErrorPage::not_found().into_response();
    }
    ApiError::no_route().into_response()
}

async fn wrong_method(axum::extract::State(state): axum::extract::State<AppState>, method: axum::http::Method) -> ApiError {
    routes::metrics::count_unrouted(&state.service, &method, StatusCode::METHOD_NOT_ALLOWED);
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this endpoint does not accept that method")
}

fn panicked(_: Box<dyn std::any::Any + Send>) -> Response {
    tracing::error!("a request handler panicked");
    ApiError::internal().into_response()
}

/// A router mounted beside the API at a path (the CLI mounts `POST /mcp` this way, which keeps the
/// MCP SDK out of this crate). Every request to it must carry an API key of any tier, refused
/// with the error envelope otherwise; the authenticated [`oakallow_service::auth::Caller`] is in
/// the request's extensions.
pub type Mounted = (&'static str, Router);

/// Authenticates a request to a [`Mounted`] router and hands it the caller.
async fn require_key(AnyKey(caller): AnyKey, mut request: Request, next: Next) -> Response {
    request.extensions_mut().insert(caller);
    next.run(request).await
}

/// The whole HTTP application on `service`, with `mounted` routers beside the API.
pub fn app(service: Arc<Service>, mounted: Vec<Mounted>) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    let state = AppState { service };
    let (mut router, _) = api().split_for_parts();
    if !mounted.is_empty() {
        // Only the mounted routes get this key check: the API's handlers check their own tier.
        let beside = mounted.into_iter().fold(Router::new(), |beside, (path, mounted)| beside.route_service(path, mounted));
        router = router.merge(beside.route_layer(axum::middleware::from_fn_with_state(state.clone(), require_key)));
    }
    if state.service.metrics_enabled() {
        router = router.merge(routes::metrics::routes());
    }
    router
        .merge(dashboard::routes())
        .merge(routes::stripe::routes())
        .merge(routes::slack::routes())
        .route_layer(routes::metrics::CountRequests { service: Arc::clone(&state.service) })
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(CatchPanicLayer::custom(panicked))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request| {
            let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
            tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id = %id)
        }))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}

/// Serves the API on `listener`, within `limits`, until `shutdown` completes; then stops the
/// service's background work, answers waiting long-polls, and finishes the requests in flight
/// (dropping whatever is left after `limits.shutdown_timeout`).
pub async fn serve(
    listener: TcpListener,
    service: Arc<Service>,
    mounted: Vec<Mounted>,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send,
) {
    let router = app(Arc::clone(&service), mounted);
    connections::run(listener, router, limits, shutdown, || service.stop()).await;
}
