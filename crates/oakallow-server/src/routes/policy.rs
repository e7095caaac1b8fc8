//! `/v1/policy`: the whole policy as one document.

use axum::Json;
use axum::extract::State;
use oakallow_domain::policy::PolicyDocument;
use oakallow_service::policy_doc::PolicyApplied;
use oakallow_service::simulate::{SimulateRequest, Simulation};
use serde::Deserialize;

use crate::AppState;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{JsonBody, JsonOrYaml, ManagementKey, QueryParams, ReaderKey};

/// `?dry_run=` of `PUT /v1/policy`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ApplyQuery {
    /// Only report what would change.
    pub dry_run: Option<bool>,
}

/// Exports the org's policy.
#[utoipa::path(get, path = "/v1/policy", operation_id = "export_policy", tag = "policy", security(("api_key" = ["management", "standard"]), ("bearer" = ["management", "standard"])),
    responses((status = 200, body = PolicyDocument), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn export(State(app): State<AppState>, ReaderKey(caller): ReaderKey) -> ApiResult<Json<PolicyDocument>> {
    Ok(Json(app.service.export_policy(&caller).await?))
}

/// Applies a policy document (JSON, or YAML with a YAML content type) in one transaction.
#[utoipa::path(put, path = "/v1/policy", operation_id = "apply_policy", tag = "policy", params(ApplyQuery),
    request_body(content((PolicyDocument = "application/json"), (PolicyDocument = "application/yaml"))),
    security(("api_key" = ["management"]), ("bearer" = ["management"])),
    responses((status = 200, body = PolicyApplied), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody)))]
pub async fn apply(
    State(app): State<AppState>,
    ManagementKey(caller): ManagementKey,
    QueryParams(query): QueryParams<ApplyQuery>,
    JsonOrYaml(document): JsonOrYaml<PolicyDocument>,
) -> ApiResult<Json<PolicyApplied>> {
    Ok(Json(app.service.apply_policy(&caller, document, query.dry_run.unwrap_or(false)).await?))
}

/// Decides the org's recorded checks in a window again under a candidate policy: what the
/// change would have done to real traffic. Nothing is written.
#[utoipa::path(post, path = "/v1/policy/simulate", operation_id = "simulate_policy", tag = "policy", request_body = SimulateRequest,
    security(("api_key" = ["management", "standard"]), ("bearer" = ["management", "standard"])),
    responses((status = 200, body = Simulation), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn simulate(
    State(app): State<AppState>,
    ReaderKey(caller): ReaderKey,
    JsonBody(request): JsonBody<SimulateRequest>,
) -> ApiResult<Json<Simulation>> {
    Ok(Json(app.service.simulate_policy(&caller, request).await?))
}
