//! `/v1/approvals`: asking for, waiting on, listing, cancelling and deciding approvals.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use oakallow_service::approvals::{ApprovalQuery, ApprovalRequest, ApprovalView, DecideRequest};
use oakallow_service::page::Page;
use serde::Deserialize;

use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApprovalReaderKey, ApproverKey, IdPath, JsonBody, QueryParams, StandardKey};

/// `?wait=` of `GET /v1/approvals/{id}`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WaitQuery {
    /// Hold the request until the approval leaves `pending`, at most this many seconds (≤ 60).
    #[param(maximum = 60)]
    pub wait: Option<u32>,
}

/// The `Idempotency-Key` header: visible ASCII, and given once (a proxy and this server could
/// each pick a different one of several).
fn idempotency_key(headers: &HeaderMap) -> ApiResult<Option<String>> {
    let mut values = headers.get_all("idempotency-key").iter();
    let (first, second) = (values.next(), values.next());
    if second.is_some() {
        return Err(ApiError::invalid("Idempotency-Key must be given once"));
    }
    first.map(|value| value.to_str().map(str::to_owned).map_err(|_| ApiError::invalid("Idempotency-Key must be visible ASCII"))).transpose()
}

/// Asks a person to decide about one call. Honors `Idempotency-Key` for 24 hours.
#[utoipa::path(post, path = "/v1/approvals", operation_id = "create_approval", tag = "approvals", request_body = ApprovalRequest,
    params(("Idempotency-Key" = Option<oakallow_domain::policy::text::IdempotencyKey>, Header, description = "Same key within 24 h: the same approval, no duplicate")),
    security(("api_key" = ["standard"]), ("bearer" = ["standard"])),
    responses((status = 201, body = ApprovalView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 402, body = ErrorBody, description = "insufficient_credits: the account's credit is used up; nothing was done"),
        (status = 403, body = ErrorBody, description = "forbidden_tier, or tool_disabled"), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(app): State<AppState>,
    StandardKey(caller): StandardKey,
    headers: HeaderMap,
    JsonBody(request): JsonBody<ApprovalRequest>,
) -> ApiResult<Response> {
    let key = idempotency_key(&headers)?;
    let (view, replayed) = app.service.create_approval(&caller, request, key).await?;
    let mut response = (StatusCode::CREATED, Json(view)).into_response();
    if replayed {
        response.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// The same as `POST /v1/approvals`.
#[utoipa::path(post, path = "/v1/approvals/request", operation_id = "request_approval", tag = "approvals", request_body = ApprovalRequest,
    params(("Idempotency-Key" = Option<oakallow_domain::policy::text::IdempotencyKey>, Header, description = "Same key within 24 h: the same approval, no duplicate")),
    security(("api_key" = ["standard"]), ("bearer" = ["standard"])),
    responses((status = 201, body = ApprovalView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 402, body = ErrorBody, description = "insufficient_credits: the account's credit is used up; nothing was done"),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_alias(
    state: State<AppState>,
    caller: StandardKey,
    headers: HeaderMap,
    body: JsonBody<ApprovalRequest>,
) -> ApiResult<Response> {
    create(state, caller, headers, body).await
}

/// Reads an approval; `?wait=N` long-polls until it is decided, cancelled or expired.
#[utoipa::path(get, path = "/v1/approvals/{id}", operation_id = "get_approval", tag = "approvals", params(("id" = String, Path), WaitQuery),
    security(("api_key" = ["standard", "approver"]), ("bearer" = ["standard", "approver"])),
    responses((status = 200, body = ApprovalView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 402, body = ErrorBody, description = "insufficient_credits: the account's credit is used up; nothing was done"),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(app): State<AppState>,
    ApprovalReaderKey(caller): ApprovalReaderKey,
    IdPath(id): IdPath,
    QueryParams(query): QueryParams<WaitQuery>,
) -> ApiResult<Json<ApprovalView>> {
    Ok(Json(app.service.get_approval(&caller, &id, query.wait).await?))
}

/// Lists approvals, newest first.
#[utoipa::path(get, path = "/v1/approvals", operation_id = "list_approvals", tag = "approvals", params(ApprovalQuery), security(("api_key" = ["standard", "approver"]), ("bearer" = ["standard", "approver"])),
    responses((status = 200, body = Page<ApprovalView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(
    State(app): State<AppState>,
    ApprovalReaderKey(caller): ApprovalReaderKey,
    QueryParams(query): QueryParams<ApprovalQuery>,
) -> ApiResult<Json<Page<ApprovalView>>> {
    Ok(Json(app.service.list_approvals(&caller, &query).await?))
}

/// The requester withdraws a pending approval.
#[utoipa::path(post, path = "/v1/approvals/{id}/cancel", operation_id = "cancel_approval", tag = "approvals", params(("id" = String, Path)), security(("api_key" = ["standard"]), ("bearer" = ["standard"])),
    responses((status = 200, body = ApprovalView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn cancel(State(app): State<AppState>, StandardKey(caller): StandardKey, IdPath(id): IdPath) -> ApiResult<Json<ApprovalView>> {
    Ok(Json(app.service.cancel_approval(&caller, &id).await?))
}

/// A person decides (approver key, with `decided_by`).
#[utoipa::path(post, path = "/v1/approvals/{id}/decide", operation_id = "decide_approval", tag = "approvals", params(("id" = String, Path)), request_body = DecideRequest,
    security(("api_key" = ["approver"]), ("bearer" = ["approver"])),
    responses((status = 200, body = ApprovalView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn decide(
    State(app): State<AppState>,
    ApproverKey(caller): ApproverKey,
    IdPath(id): IdPath,
    JsonBody(request): JsonBody<DecideRequest>,
) -> ApiResult<Json<ApprovalView>> {
    Ok(Json(app.service.decide_approval(&caller, &id, request).await?))
}
