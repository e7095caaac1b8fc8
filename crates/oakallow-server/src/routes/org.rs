//! `/v1/org` (the caller's org settings) and `/v1/orgs` (the account's orgs).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use oakallow_domain::org::Org;
use oakallow_service::org::{CreateOrgRequest, CreatedOrg, OrgPatch, OrgSummary};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::AppState;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{JsonBody, ManagementKey};

/// The org's settings.
#[utoipa::path(get, path = "/v1/org", operation_id = "get_org", tag = "org", security(("api_key" = ["management"]), ("bearer" = ["management"])),
    responses((status = 200, body = Org), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn get(State(app): State<AppState>, ManagementKey(caller): ManagementKey) -> ApiResult<Json<Org>> {
    Ok(Json(app.service.get_org(&caller).await?))
}

/// Changes some settings; `null` clears (or resets to the default).
#[utoipa::path(patch, path = "/v1/org", operation_id = "update_org", tag = "org", request_body = OrgPatch, security(("api_key" = ["management"]), ("bearer" = ["management"])),
    responses((status = 200, body = Org), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn update(
    State(app): State<AppState>,
    ManagementKey(caller): ManagementKey,
    JsonBody(fields): JsonBody<Map<String, Value>>,
) -> ApiResult<Json<Org>> {
    Ok(Json(app.service.update_org(&caller, fields).await?))
}

/// The account's orgs, without their settings.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrgList {
    /// Orgs, oldest first.
    pub data: Vec<OrgSummary>,
}

/// Lists the orgs of the account that owns the caller's org: id, name and creation time of
/// each; an org's settings are shown to its own keys only (`GET /v1/org`).
#[utoipa::path(get, path = "/v1/orgs", operation_id = "list_orgs", tag = "org", security(("api_key" = ["management"]), ("bearer" = ["management"])),
    responses((status = 200, body = OrgList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(State(app): State<AppState>, ManagementKey(caller): ManagementKey) -> ApiResult<Json<OrgList>> {
    Ok(Json(OrgList { data: app.service.list_orgs(&caller).await? }))
}

/// Creates a sibling org; its management key is in this answer only.
#[utoipa::path(post, path = "/v1/orgs", operation_id = "create_org", tag = "org", request_body = CreateOrgRequest, security(("api_key" = ["management"]), ("bearer" = ["management"])),
    responses((status = 201, body = CreatedOrg), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn create(
    State(app): State<AppState>,
    ManagementKey(caller): ManagementKey,
    JsonBody(request): JsonBody<CreateOrgRequest>,
) -> ApiResult<(StatusCode, Json<CreatedOrg>)> {
    Ok((StatusCode::CREATED, Json(app.service.create_org(&caller, request).await?)))
}
