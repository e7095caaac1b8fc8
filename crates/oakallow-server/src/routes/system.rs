//! Endpoints without a key: health and the OpenAPI document.

use std::sync::OnceLock;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderName, StatusCode};
use oakallow_service::Health;

use crate::AppState;
use crate::error::{ApiError, ApiResult};

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
pub async fn openapi() -> ApiResult<([(HeaderName, &'static str); 1], Bytes)> {
    // Written once: the endpoint needs no key, so serving it must cost next to nothing.
    static TEXT: OnceLock<Bytes> = OnceLock::new();
    let text = TEXT.get_or_init(|| Bytes::from(serde_json::to_vec(&crate::openapi()).unwrap_or_default()));
    if text.is_empty() {
        return Err(ApiError::internal());
    }
    Ok(([(CONTENT_TYPE, "application/json")], text.clone()))
}
