//! `POST /v1/executions`: the agent reports what happened when it ran a tool. With a token, the
//! token must cover this very call (tool, tenant, resource and method exactly, and params if
//! given), it is consumed if nothing consumed it yet, and it allows exactly one execution;
//! without one, the execution is logged as not authorized.

use oakallow_domain::Timestamp;
use oakallow_domain::audit::{ActivityRecord, ActivityType};
use oakallow_domain::canonical::object_sha256;
use oakallow_domain::id::ExecutionId;
use oakallow_domain::json::{self, MAX_EXACT_INTEGER};
use oakallow_domain::policy::check_text;
use oakallow_domain::token_scope::CallScope;
use oakallow_store::{ExecutionRecord, RuntimeWrite};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::auth::Standard;
use crate::billing::billable;
use crate::check::{check_runtime_name, check_runtime_object};
use crate::error::{ServiceError, ServiceResult};
use crate::{Service, redact};
pub use oakallow_domain::execution::ExecutionResult;
use oakallow_domain::token_scope::Rejection;

/// Body of `POST /v1/executions`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecutionRequest {
    /// The token that authorized the call.
    #[serde(default)]
    pub token: Option<String>,
    /// Tool name.
    #[schema(value_type = oakallow_domain::policy::text::Name)]
    pub tool: String,
    /// Tenant external id.
    #[serde(default)]
    #[schema(value_type = Option<oakallow_domain::policy::text::Name>)]
    pub tenant: Option<String>,
    /// Resource name.
    #[serde(default)]
    #[schema(value_type = Option<oakallow_domain::policy::text::Name>)]
    pub resource: Option<String>,
    /// Method name.
    #[serde(default)]
    #[schema(value_type = Option<oakallow_domain::policy::text::Name>)]
    pub method: Option<String>,
    /// The params used.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub params: Option<Map<String, Value>>,
    /// `success`, `failed` or `error`.
    pub result: ExecutionResult,
    /// How long the call took, in milliseconds (0 … 2^53 − 1, so that every client reads it
    /// exactly and every store keeps it).
    #[schema(maximum = 9_007_199_254_740_991_u64)]
    pub duration_ms: u64,
    /// What the tool answered: any JSON value.
    #[serde(default)]
    pub output: Option<Value>,
    /// The error, for `failed` and `error`.
    #[serde(default)]
    #[schema(value_type = Option<oakallow_domain::policy::text::Text>)]
    pub error: Option<String>,
}

/// A logged execution.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ExecutionView {
    /// Its id.
    pub id: String,
    /// Whether a valid token came with it.
    pub authorized: bool,
    /// The token's id.
    pub token_jti: Option<String>,
    /// Tool name.
    pub tool: String,
    /// Outcome.
    pub result: ExecutionResult,
    /// Reported duration.
    pub duration_ms: u64,
    /// When it was logged.
    #[schema(value_type = String, format = DateTime)]
    pub logged_at: Timestamp,
}

/// Refuses a duration beyond [`MAX_EXACT_INTEGER`]: it would not read back exactly.
fn check_duration(duration_ms: u64) -> ServiceResult<()> {
    if duration_ms <= MAX_EXACT_INTEGER {
        return Ok(());
    }
    Err(ServiceError::InvalidRequest {
        message: format!("duration_ms must be at most {MAX_EXACT_INTEGER}"),
        details: json!({ "field": "duration_ms" }),
    })
}

impl Service {
    /// Logs an execution.
    pub async fn log_execution(&self, caller: &Standard, request: ExecutionRequest) -> ServiceResult<ExecutionView> {
        check_runtime_name("tool", Some(&request.tool))?;
        check_runtime_name("tenant", request.tenant.as_deref())?;
        check_runtime_name("resource", request.resource.as_deref())?;
        check_runtime_name("method", request.method.as_deref())?;
        check_text("error", request.error.as_deref())?;
        check_duration(request.duration_ms)?;
        check_runtime_object("params", request.params.as_ref())?;
        if let Some(output) = &request.output {
            json::check_depth("output", output).map_err(ServiceError::invalid)?;
        }
        let org = caller.org_id();
        let now = self.clock.now();
        let jti = match &request.token {
            Some(text) => Some(self.authorizing_token(caller, text, &request, now).await?),
            None => None,
        };
        let runtime = self.org_runtime(org).await?;
        let execution = ExecutionRecord {
            id: ExecutionId::generate(),
            org_id: org,
            tool: request.tool.clone(),
            tenant: request.tenant.clone(),
            resource: request.resource.clone(),
            method: request.method.clone(),
            params: redact::object(&runtime.org, request.params.as_ref()),
            result: request.result.as_str().to_owned(),
            duration_ms: request.duration_ms,
            output: redact::value(&runtime.org, request.output.as_ref()),
            error: request.error.as_deref().map(|e| redact::text(&runtime.org, e)),
            token_jti: jti.clone(),
            authorized: jti.is_some(),
            created_at: now,
        };
        let mut activity = ActivityRecord::new(org, now, ActivityType::ExecutionLogged, caller.actor());
        activity.tool = Some(execution.tool.clone());
        activity.tenant.clone_from(&execution.tenant);
        activity.resource.clone_from(&execution.resource);
        activity.method.clone_from(&execution.method);
        activity.params.clone_from(&execution.params);
        activity.result = Some(execution.result.clone());
        activity.duration_ms = Some(execution.duration_ms);
        activity.token_jti.clone_from(&jti);
        activity.details = Some(json!({ "execution_id": execution.id, "authorized": execution.authorized, "error": execution.error }));
        let view = ExecutionView {
            id: execution.id.to_string(),
            authorized: execution.authorized,
            token_jti: jti,
            tool: execution.tool.clone(),
            result: request.result,
            duration_ms: execution.duration_ms,
            logged_at: now,
        };
        if !self.committer.commit(RuntimeWrite::Execution { execution, activity: billable(activity) }, self.charge(&runtime.org)).await? {
            return Err(ServiceError::TokenUsed);
        }
        Ok(view)
    }

    /// The id of a token that authorizes this execution, or why it does not. A token that was
    /// accepted by a verification before it expired still covers its one execution.
    async fn authorizing_token(&self, caller: &Standard, text: &str, request: &ExecutionRequest, now: Timestamp) -> ServiceResult<String> {
        let refused = |reason: Rejection| ServiceError::NotAuthorized {
            reason: reason.as_str().to_owned(),
            message: format!("the token does not authorize this execution ({})", reason.as_str()),
        };
        let params_sha256 = request.params.as_ref().map(|params| object_sha256(Some(params)));
        // The logged call is exactly what the token covers: a tenant, resource or method left
        // out here means the call had none, so the token must have none either.
        let call = CallScope {
            tool: Some(&request.tool),
            tenant: Some(request.tenant.as_deref()),
            resource: Some(request.resource.as_deref()),
            method: Some(request.method.as_deref()),
            params_sha256: params_sha256.as_deref(),
        };
        let claims = match self.check_token(caller.org_id(), text, &call, now).await? {
            Ok(claims) => claims,
            Err((Rejection::Expired, Some(claims))) => {
                let consumed_in_time = self.store.token(caller.org_id(), &claims.jti).await?.is_some_and(|t| t.consumed_at.is_some());
                if !consumed_in_time {
                    return Err(refused(Rejection::Expired));
                }
                claims
            }
            Err((reason, _)) => return Err(refused(reason)),
        };
        if self.store.token(caller.org_id(), &claims.jti).await?.is_none() {
            return Err(refused(Rejection::Used));
        }
        Ok(claims.jti)
    }
}
