//! `POST /v1/check` and `POST /v1/validate`: the permission decision and params validation.
//! The decision comes from the in-memory resolver; the response is sent only after the check's
//! record and activity entry are committed (group commit).

use oakallow_domain::approval::effective_timeout;
use oakallow_domain::audit::{ActivityRecord, ActivityType};
use oakallow_domain::canonical::object_sha256;
use oakallow_domain::id::CheckId;
use oakallow_domain::json;
use oakallow_domain::org::Org;
use oakallow_domain::policy::{CheckInput, MAX_REFERENCE_LEN, Tool, check_name};
use oakallow_domain::token::DEFAULT_TTL_SECONDS;
use oakallow_domain::{Permission, ResolvedFrom, Timestamp};
use oakallow_store::{CheckRecord, RuntimeWrite};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::auth::Standard;
use crate::billing::billable;
use crate::error::{ParamError, ServiceError, ServiceResult};
use crate::orgs_cache::OrgRuntime;
use crate::tokens::TokenSubject;
use crate::{Service, redact, schema};

/// Body of `POST /v1/check`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    /// Tool name.
    #[schema(value_type = oakallow_domain::policy::text::Name)]
    pub tool: String,
    /// Tenant `external_id`.
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
    /// The call's params (an object), validated against the tool's schema.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub params: Option<Map<String, Value>>,
    /// Free-form context kept in the audit trail.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub context: Option<Map<String, Value>>,
    /// The caller's own reference for this call.
    #[serde(default)]
    #[schema(value_type = Option<oakallow_domain::policy::text::Reference>)]
    pub reference_id: Option<String>,
    /// Mint an execution token inline when the answer is `allowed`.
    #[serde(default)]
    pub mint_token: bool,
}

/// Answer of `POST /v1/check`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CheckResponse {
    /// Id of this check (for minting a token or auditing).
    #[schema(value_type = String)]
    pub check_id: CheckId,
    /// The decision.
    pub permission: Permission,
    /// The step of the resolution chain that decided.
    pub resolved_from: ResolvedFrom,
    /// The deciding rule, for rule levels.
    pub rule_id: Option<String>,
    /// Tool name asked about.
    pub tool: String,
    /// The tool is registered in the org.
    pub tool_registered: bool,
    /// Tenant asked about.
    pub tenant: Option<String>,
    /// The tenant exists in the org.
    pub tenant_known: bool,
    /// Resource asked about.
    pub resource: Option<String>,
    /// Method asked about.
    pub method: Option<String>,
    /// For `requires_approval`: how long an approval would wait.
    pub approval_timeout_seconds: Option<u32>,
    /// Execution token (valid 300 s), when `mint_token` was asked for and the answer is `allowed`.
    pub token: Option<String>,
    /// When the check was made.
    #[schema(value_type = String, format = DateTime)]
    pub checked_at: Timestamp,
}

/// Body of `POST /v1/validate`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidateRequest {
    /// Tool name.
    #[schema(value_type = oakallow_domain::policy::text::Name)]
    pub tool: String,
    /// The params to validate.
    #[schema(value_type = Object)]
    pub params: Map<String, Value>,
}

/// Answer of `POST /v1/validate`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ValidateResponse {
    /// The params satisfy the tool's schema (always true for a tool without one).
    pub valid: bool,
    /// Every failing path.
    pub errors: Vec<ParamError>,
}

/// Checks the caller's own `reference_id` (of a check or an approval): any text of at most
/// [`MAX_REFERENCE_LEN`] characters without NUL.
pub(crate) fn check_reference_id(value: Option<&str>) -> ServiceResult<()> {
    if value.is_some_and(|r| r.chars().count() > MAX_REFERENCE_LEN || r.contains('\0')) {
        return Err(ServiceError::invalid(format!("reference_id must be at most {MAX_REFERENCE_LEN} characters, without NUL characters")));
    }
    Ok(())
}

/// Checks a name given in a runtime call.
pub(crate) fn check_runtime_name(field: &str, value: Option<&str>) -> ServiceResult<()> {
    match value {
        Some(value) => check_name(field, value).map_err(ServiceError::from),
        None => Ok(()),
    }
}

/// Checks a JSON object given in a runtime call (params, context): it may nest at most
/// [`json::MAX_DEPTH`] levels, like every JSON value the API keeps.
pub(crate) fn check_runtime_object(field: &str, value: Option<&Map<String, Value>>) -> ServiceResult<()> {
    let Some(members) = value else { return Ok(()) };
    for member in members.values() {
        if json::depth(member) >= json::MAX_DEPTH {
            return Err(ServiceError::invalid(format!("{field} nests deeper than {} levels", json::MAX_DEPTH)));
        }
    }
    Ok(())
}

/// Validates params against the tool's schema: `Ok(errors)`; a stored schema that no longer
/// compiles fails closed.
pub(crate) fn param_errors(runtime: &OrgRuntime, tool: &Tool, params: &Map<String, Value>) -> ServiceResult<Vec<ParamError>> {
    match runtime.validator(tool.id) {
        None => Ok(Vec::new()),
        Some(Ok(validator)) => Ok(schema::validate(validator, &Value::Object(params.clone()), runtime.org.redact_pii)),
        Some(Err(reason)) => {
            tracing::error!(tool = %tool.id, %reason, "stored parameters_schema does not compile");
            Err(ServiceError::Internal)
        }
    }
}

impl Service {
    /// Decides whether the agent may run a tool call.
    pub async fn check(&self, caller: &Standard, request: CheckRequest) -> ServiceResult<CheckResponse> {
        check_runtime_name("tool", Some(&request.tool))?;
        check_runtime_name("tenant", request.tenant.as_deref())?;
        check_runtime_name("resource", request.resource.as_deref())?;
        check_runtime_name("method", request.method.as_deref())?;
        check_runtime_object("params", request.params.as_ref())?;
        check_runtime_object("context", request.context.as_ref())?;
        check_reference_id(request.reference_id.as_deref())?;
        let runtime = self.org_runtime(caller.org_id()).await?;
        let input = CheckInput {
            tool: &request.tool,
            tenant: request.tenant.as_deref(),
            resource: request.resource.as_deref(),
            method: request.method.as_deref(),
        };
        let decision = runtime.policy.resolve(input);
        if let (Some(tool), Some(params)) = (decision.tool, &request.params) {
            let errors = param_errors(&runtime, tool, params)?;
            if !errors.is_empty() {
                return Err(ServiceError::InvalidParams { errors });
            }
        }
        let now = self.clock.now();
        let check_id = CheckId::generate();
        let params_hash = object_sha256(request.params.as_ref());
        let approval_timeout_seconds = (decision.permission == Permission::RequiresApproval)
            .then(|| effective_timeout(None, decision.tool.and_then(|t| t.approval_timeout_seconds), runtime.org.approval_timeout_seconds));
        let check = CheckRecord {
            id: check_id,
            org_id: caller.org_id(),
            tool: request.tool.clone(),
            tenant: request.tenant.clone(),
            resource: request.resource.clone(),
            method: request.method.clone(),
            permission: decision.permission,
            resolved_from: decision.resolved_from,
            params_sha256: params_hash.clone(),
            created_at: now,
        };
        let token = if request.mint_token && decision.permission == Permission::Allowed {
            let subject = TokenSubject {
                src: check_id.to_string(),
                tool: &request.tool,
                tenant: request.tenant.as_deref(),
                resource: request.resource.as_deref(),
                method: request.method.as_deref(),
                params_sha256: &params_hash,
            };
            Some(self.issue_token(caller, subject, DEFAULT_TTL_SECONDS, now).await?)
        } else {
            None
        };
        let mut activity = ActivityRecord::new(caller.org_id(), now, ActivityType::PermissionChecked, caller.actor());
        activity.tool = Some(request.tool.clone());
        activity.tenant = request.tenant.clone();
        activity.resource = request.resource.clone();
        activity.method = request.method.clone();
        activity.permission = Some(decision.permission);
        activity.resolved_from = Some(decision.resolved_from);
        activity.rule_id = decision.rule_id;
        activity.check_id = Some(check_id);
        activity.params = redact::object(&runtime.org, request.params.as_ref());
        activity.details = Some(check_details(&runtime.org, &request, decision.tool_registered(), decision.tenant_known));
        let response = CheckResponse {
            check_id,
            permission: decision.permission,
            resolved_from: decision.resolved_from,
            rule_id: decision.rule_id.map(|id| id.to_string()),
            tool: request.tool,
            tool_registered: decision.tool_registered(),
            tenant: request.tenant,
            tenant_known: decision.tenant_known,
            resource: request.resource,
            method: request.method,
            approval_timeout_seconds,
            token: token.as_ref().map(|(text, ..)| text.clone()),
            checked_at: now,
        };
        let token = token.map(|(_, minted, _)| minted);
        self.committer.commit(RuntimeWrite::Check { check, activity: billable(activity), token }, self.charge(&runtime.org)).await?;
        self.metrics.check_answered(response.permission, response.resolved_from);
        Ok(response)
    }

    /// Validates params against a registered tool's schema.
    pub async fn validate(&self, caller: &Standard, request: ValidateRequest) -> ServiceResult<ValidateResponse> {
        check_runtime_name("tool", Some(&request.tool))?;
        check_runtime_object("params", Some(&request.params))?;
        let runtime = self.org_runtime(caller.org_id()).await?;
        let tool = runtime.policy.tool_by_name(&request.tool).ok_or_else(|| ServiceError::ToolNotFound { name: request.tool.clone() })?;
        let errors = param_errors(&runtime, tool, &request.params)?;
        let mut activity = ActivityRecord::new(caller.org_id(), self.clock.now(), ActivityType::ParamsValidated, caller.actor());
        activity.tool = Some(request.tool.clone());
        activity.params = redact::object(&runtime.org, Some(&request.params));
        activity.result = Some(if errors.is_empty() { "valid" } else { "invalid" }.to_owned());
        if !errors.is_empty() {
            activity.details = Some(json!({ "errors": errors }));
        }
        self.committer.commit(RuntimeWrite::Activity(billable(activity)), self.charge(&runtime.org)).await?;
        Ok(ValidateResponse { valid: errors.is_empty(), errors })
    }
}

/// What else a check's audit entry keeps.
fn check_details(org: &Org, request: &CheckRequest, tool_registered: bool, tenant_known: bool) -> Value {
    let mut details = json!({ "tool_registered": tool_registered, "tenant_known": tenant_known });
    if let Some(context) = redact::object(org, request.context.as_ref()) {
        details["context"] = context;
    }
    if let Some(reference) = &request.reference_id {
        details["reference_id"] = Value::String(redact::text(org, reference));
    }
    details
}
