//! `/v1/org` (the caller's org settings and notification channels) and `/v1/orgs` (the
//! account's orgs).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use oakallow_domain::org::Org;
use oakallow_service::notify::{ChannelsPatch, ChannelsView};
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

/// The org's notification channels (Slack, PagerDuty, e-mail) without their secrets, the URL its
/// Slack app sends clicks to, and the Slack users linked to accounts.
#[utoipa::path(get, path = "/v1/org/notifications", operation_id = "get_notification_channels", tag = "org", security(("api_key" = ["management"]), ("bearer" = ["management"])),
    responses((status = 200, body = ChannelsView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn notifications(State(app): State<AppState>, ManagementKey(caller): ManagementKey) -> ApiResult<Json<ChannelsView>> {
    Ok(Json(app.service.notification_channels(&caller).await?))
}

/// Sets, replaces (an object) or removes (`null`) channels; a channel left out stays. Secrets
/// are never shown again. E-mail needs the instance's SMTP settings (else 409).
#[utoipa::path(patch, path = "/v1/org/notifications", operation_id = "update_notification_channels", tag = "org", request_body = ChannelsPatch, security(("api_key" = ["management"]), ("bearer" = ["management"])),
    responses((status = 200, body = ChannelsView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn update_notifications(
    State(app): State<AppState>,
    ManagementKey(caller): ManagementKey,
    JsonBody(patch): JsonBody<ChannelsPatch>,
) -> ApiResult<Json<ChannelsView>> {
    Ok(Json(app.service.update_notification_channels(&caller, patch).await?))
}

/// Removes a Slack user's link to an account: their clicks decide nothing until they link again.
#[utoipa::path(delete, path = "/v1/org/notifications/slack-links/{team_id}/{user_id}", operation_id = "unlink_slack_user", tag = "org",
    params(("team_id" = String, Path, description = "Slack workspace id"), ("user_id" = String, Path, description = "Slack user id")),
    security(("api_key" = ["management"]), ("bearer" = ["management"])),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn unlink_slack_user(
    State(app): State<AppState>,
    ManagementKey(caller): ManagementKey,
    Path((team_id, user_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    app.service.unlink_slack_user(&caller, &team_id, &user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
