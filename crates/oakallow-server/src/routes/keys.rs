//! `/v1/keys`: the org's standard and approver keys.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use oakallow_domain::org::ApiKey;
use oakallow_service::keys::{CreateKeyRequest, CreatedKey};
use oakallow_service::page::Page;

use super::ListQuery;
use crate::AppState;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{IdPath, JsonBody, ManagementKey, QueryParams};

/// Lists the org's keys (never the raw keys).
#[utoipa::path(get, path = "/v1/keys", operation_id = "list_keys", tag = "keys", params(ListQuery), security(("api_key" = ["management"]), ("bearer" = ["management"])),
    responses((status = 200, body = Page<ApiKey>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(
    State(app): State<AppState>,
    ManagementKey(caller): ManagementKey,
    QueryParams(query): QueryParams<ListQuery>,
) -> ApiResult<Json<Page<ApiKey>>> {
    Ok(Json(app.service.list_keys(&caller, &query.page()).await?))
}

/// Creates a standard or approver key; the raw key is in this answer only.
#[utoipa::path(post, path = "/v1/keys", operation_id = "create_key", tag = "keys", request_body = CreateKeyRequest, security(("api_key" = ["management"]), ("bearer" = ["management"])),
    responses((status = 201, body = CreatedKey), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn create(
    State(app): State<AppState>,
    ManagementKey(caller): ManagementKey,
    JsonBody(request): JsonBody<CreateKeyRequest>,
) -> ApiResult<(StatusCode, Json<CreatedKey>)> {
    Ok((StatusCode::CREATED, Json(app.service.create_key(&caller, request).await?)))
}

/// Reads one key.
#[utoipa::path(get, path = "/v1/keys/{id}", operation_id = "get_key", tag = "keys", params(("id" = String, Path)), security(("api_key" = ["management"]), ("bearer" = ["management"])),
    responses((status = 200, body = ApiKey), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(State(app): State<AppState>, ManagementKey(caller): ManagementKey, IdPath(id): IdPath) -> ApiResult<Json<ApiKey>> {
    Ok(Json(app.service.get_key(&caller, &id).await?))
}

/// Revokes a key; it is refused from the next request on, on every node.
#[utoipa::path(delete, path = "/v1/keys/{id}", operation_id = "revoke_key", tag = "keys", params(("id" = String, Path)), security(("api_key" = ["management"]), ("bearer" = ["management"])),
    responses((status = 200, body = ApiKey), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke(State(app): State<AppState>, ManagementKey(caller): ManagementKey, IdPath(id): IdPath) -> ApiResult<Json<ApiKey>> {
    Ok(Json(app.service.revoke_key(&caller, &id).await?))
}
