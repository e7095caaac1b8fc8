//! Webhook settings and the delivery log.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use oakallow_service::page::Page;
use oakallow_service::webhooks::{DeliveryQuery, DeliveryView, RotatedSecret, TestEvent};

use crate::AppState;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{IdPath, ManagementKey, QueryParams};

/// Replaces the webhook secret; the new one is in this answer only.
#[utoipa::path(post, path = "/v1/org/webhook-secret/rotate", operation_id = "rotate_webhook_secret", tag = "webhooks", security(("api_key" = ["management"]), ("bearer" = ["management"])),
    responses((status = 200, body = RotatedSecret), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn rotate(State(app): State<AppState>, ManagementKey(caller): ManagementKey) -> ApiResult<Json<RotatedSecret>> {
    Ok(Json(app.service.rotate_webhook_secret(&caller).await?))
}

/// Sends a `webhook.test` event.
#[utoipa::path(post, path = "/v1/webhooks/test", operation_id = "test_webhook", tag = "webhooks", security(("api_key" = ["management"]), ("bearer" = ["management"])),
    responses((status = 202, body = TestEvent), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "conflict: the org has no webhook_url")))]
pub async fn test(State(app): State<AppState>, ManagementKey(caller): ManagementKey) -> ApiResult<(StatusCode, Json<TestEvent>)> {
    Ok((StatusCode::ACCEPTED, Json(app.service.test_webhook(&caller).await?)))
}

/// Lists deliveries, newest first, with every attempt.
#[utoipa::path(get, path = "/v1/webhooks/deliveries", operation_id = "list_webhook_deliveries", tag = "webhooks", params(DeliveryQuery), security(("api_key" = ["management"]), ("bearer" = ["management"])),
    responses((status = 200, body = Page<DeliveryView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn deliveries(
    State(app): State<AppState>,
    ManagementKey(caller): ManagementKey,
    QueryParams(query): QueryParams<DeliveryQuery>,
) -> ApiResult<Json<Page<DeliveryView>>> {
    Ok(Json(app.service.list_deliveries(&caller, &query).await?))
}

/// Delivers again now, with a fresh retry schedule.
#[utoipa::path(post, path = "/v1/webhooks/deliveries/{id}/retry", operation_id = "retry_webhook_delivery", tag = "webhooks", params(("id" = String, Path)), security(("api_key" = ["management"]), ("bearer" = ["management"])),
    responses((status = 200, body = DeliveryView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn retry(State(app): State<AppState>, ManagementKey(caller): ManagementKey, IdPath(id): IdPath) -> ApiResult<Json<DeliveryView>> {
    Ok(Json(app.service.retry_delivery(&caller, &id).await?))
}
