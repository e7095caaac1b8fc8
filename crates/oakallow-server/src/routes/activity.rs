//! `/v1/activity`: the audit trail.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use oakallow_domain::audit::ActivityEntry;
use oakallow_service::activity::{ActivityQuery, ChainVerification, ExportQuery};
use oakallow_service::page::Page;

use crate::AppState;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{IdPath, QueryParams, ReaderKey};

/// Lists entries, newest first.
#[utoipa::path(get, path = "/v1/activity", operation_id = "list_activity", tag = "activity", params(ActivityQuery), security(("api_key" = ["management", "standard"]), ("bearer" = ["management", "standard"])),
    responses((status = 200, body = Page<ActivityEntry>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(
    State(app): State<AppState>,
    ReaderKey(caller): ReaderKey,
    QueryParams(query): QueryParams<ActivityQuery>,
) -> ApiResult<Json<Page<ActivityEntry>>> {
    Ok(Json(app.service.list_activity(&caller, &query).await?))
}

/// Recomputes the org's hash chain and names the first broken entry.
#[utoipa::path(get, path = "/v1/activity/verify", operation_id = "verify_activity", tag = "activity", security(("api_key" = ["management", "standard"]), ("bearer" = ["management", "standard"])),
    responses((status = 200, body = ChainVerification), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn verify(State(app): State<AppState>, ReaderKey(caller): ReaderKey) -> ApiResult<Json<ChainVerification>> {
    Ok(Json(app.service.verify_activity(&caller).await?))
}

/// Reads one entry.
#[utoipa::path(get, path = "/v1/activity/{id}", operation_id = "get_activity", tag = "activity", params(("id" = String, Path)), security(("api_key" = ["management", "standard"]), ("bearer" = ["management", "standard"])),
    responses((status = 200, body = ActivityEntry), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(State(app): State<AppState>, ReaderKey(caller): ReaderKey, IdPath(id): IdPath) -> ApiResult<Json<ActivityEntry>> {
    Ok(Json(app.service.get_activity(&caller, &id).await?))
}

/// Streams the org's activity, oldest first, as JSON lines, CSV or CEF; `follow=true` keeps
/// streaming new entries.
#[utoipa::path(get, path = "/v1/activity/export", operation_id = "export_activity", tag = "activity", params(ExportQuery), security(("api_key" = ["management", "standard"]), ("bearer" = ["management", "standard"])),
    responses((status = 200, description = "Every entry, oldest first: JSON lines (`format=jsonl`), CSV (`format=csv`) or ArcSight CEF events, one a line (`format=cef`)",
            content((String = "application/x-ndjson"), (String = "text/csv"), (String = "text/plain"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn export(
    State(app): State<AppState>,
    ReaderKey(caller): ReaderKey,
    QueryParams(query): QueryParams<ExportQuery>,
) -> ApiResult<Response> {
    let (format, lines) = app.service.export_activity(&caller, &query)?;
    let body = Body::from_stream(lines.map(|chunk| {
        chunk.map_err(|error| {
            tracing::warn!(code = error.code(), "activity export stopped early");
            std::io::Error::other(error.code())
        })
    }));
    let disposition = format!("attachment; filename=\"activity.{}\"", format.extension());
    Ok(([(CONTENT_TYPE, format.content_type().to_owned()), (CONTENT_DISPOSITION, disposition)], body).into_response())
}
