//! Endpoints without a key: health and the OpenAPI document.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use oakallow_service::Health;

use crate::AppState;

/// Liveness and database reachability.
#[utoipa::path(get, path = "/v1/health", operation_id = "health", tag = "system",
    responses((status = 200, body = Health), (status = 503, body = Health)))]
pub async fn health(State(app): State<AppState>) -> (StatusCode, Json<Health>) {
    let health = app.service.health().await;
    let status = if health.status == "ok" { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(health))
}

/// The OpenAPI 3.1 description of this API.
#[utoipa::path(get, path = "/v1/openapi.json", operation_id = "openapi_document", tag = "system", responses((status = 200, description = "OpenAPI 3.1 document", content_type = "application/json")))]
pub async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(crate::openapi())
}
