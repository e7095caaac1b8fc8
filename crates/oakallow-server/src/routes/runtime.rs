//! Runtime endpoints of the agent's standard key: `POST /v1/check`, `POST /v1/validate`,
//! `POST /v1/tools/discover`.

use axum::Json;
use axum::extract::State;
use oakallow_service::check::{CheckRequest, CheckResponse, ValidateRequest, ValidateResponse};
use oakallow_service::discover::{DiscoverRequest, DiscoverResponse};

use crate::AppState;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{JsonBody, StandardKey};

/// Decides whether a tool call may run.
#[utoipa::path(post, path = "/v1/check", operation_id = "check", tag = "runtime", request_body = CheckRequest,
    security(("api_key" = ["standard"]), ("bearer" = ["standard"])),
    responses((status = 200, body = CheckResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 402, body = ErrorBody, description = "insufficient_credits: the account's credit is used up; nothing was done"),
        (status = 403, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn check(
    State(app): State<AppState>,
    StandardKey(caller): StandardKey,
    JsonBody(request): JsonBody<CheckRequest>,
) -> ApiResult<Json<CheckResponse>> {
    Ok(Json(app.service.check(&caller, request).await?))
}

/// Validates params against a tool's JSON Schema.
#[utoipa::path(post, path = "/v1/validate", operation_id = "validate", tag = "runtime", request_body = ValidateRequest,
    security(("api_key" = ["standard"]), ("bearer" = ["standard"])),
    responses((status = 200, body = ValidateResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 402, body = ErrorBody, description = "insufficient_credits: the account's credit is used up; nothing was done"),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 413, body = ErrorBody)))]
pub async fn validate(
    State(app): State<AppState>,
    StandardKey(caller): StandardKey,
    JsonBody(request): JsonBody<ValidateRequest>,
) -> ApiResult<Json<ValidateResponse>> {
    Ok(Json(app.service.validate(&caller, request).await?))
}

/// An MCP gateway reports the tools it found upstream: unknown ones become drafts (at most 50
/// per hour and 500 in all per org), and every one gets the permission a call would get now.
#[utoipa::path(post, path = "/v1/tools/discover", operation_id = "discover_tools", tag = "runtime", request_body = DiscoverRequest,
    security(("api_key" = ["standard"]), ("bearer" = ["standard"])),
    responses((status = 200, body = DiscoverResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody)))]
pub async fn discover(
    State(app): State<AppState>,
    StandardKey(caller): StandardKey,
    JsonBody(request): JsonBody<DiscoverRequest>,
) -> ApiResult<Json<DiscoverResponse>> {
    Ok(Json(app.service.discover_tools(&caller, request).await?))
}
