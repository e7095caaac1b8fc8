//! The oakallow calls the gateway makes, with the agent's standard key.

use std::time::Duration;

use oakallow_client::{
    Approval, ApprovalRequest, Call, Check, CheckRequest, Client, ClientError, Execution, ExecutionLog, ExecutionResult,
};
use serde_json::{Map, Value, json};

/// The oakallow server the gateway asks, for one tenant.
#[derive(Debug, Clone)]
pub(crate) struct Oakallow {
    client: Client,
    tenant: Option<String>,
}

/// A tool as an upstream server describes it, in the shape `POST /v1/tools/discover` reads.
pub(crate) fn discovered(name: &str, tool: &rmcp::model::Tool) -> Value {
    let mut entry = json!({ "name": name });
    if let Some(description) = &tool.description {
        entry["description"] = json!(description);
    }
    if let Some(hints) = &tool.annotations {
        let mut annotations = Map::new();
        for (ours, value) in [
            ("read_only", hints.read_only_hint),
            ("destructive", hints.destructive_hint),
            ("idempotent", hints.idempotent_hint),
            ("open_world", hints.open_world_hint),
        ] {
            if let Some(value) = value {
                annotations.insert(ours.to_owned(), Value::Bool(value));
            }
        }
        entry["annotations"] = Value::Object(annotations);
    }
    entry["parameters_schema"] = Value::Object(tool.input_schema.as_ref().clone());
    entry
}

impl Oakallow {
    pub(crate) fn new(url: &str, key: &str, tenant: Option<String>) -> Self {
        Self { client: Client::new(url, key), tenant }
    }

    /// The upstream call as oakallow sees it: the tool, this gateway's tenant, the arguments.
    fn call(&self, tool: &str, params: &Map<String, Value>) -> Call {
        Call { tool: tool.to_owned(), tenant: self.tenant.clone(), params: Some(Value::Object(params.clone())), ..Call::default() }
    }

    /// `POST /v1/tools/discover` in reports of at most 100 tools (bodies stay far below the
    /// server's 1 MiB), answering the statuses in order.
    pub(crate) async fn discover(&self, tools: Vec<Value>) -> Result<Vec<Value>, ClientError> {
        let mut statuses = Vec::with_capacity(tools.len());
        for chunk in tools.chunks(100) {
            let answer = self.client.discover(self.tenant.as_deref(), chunk).await?;
            statuses.extend(answer["tools"].as_array().cloned().unwrap_or_default());
        }
        Ok(statuses)
    }

    /// `POST /v1/check` for one call, minting the token inline when it is allowed.
    pub(crate) async fn check(&self, tool: &str, params: &Map<String, Value>, context: &Value) -> Result<Check, ClientError> {
        let request = CheckRequest { call: self.call(tool, params), context: Some(context.clone()), reference_id: None, mint_token: true };
        self.client.check(&request).await
    }

    /// `POST /v1/approvals` for the call a check answered `requires_approval` (with an
    /// idempotency key, so it is retried safely).
    pub(crate) async fn request_approval(
        &self,
        tool: &str,
        params: &Map<String, Value>,
        reason: &str,
        check_id: &str,
        context: &Value,
    ) -> Result<Approval, ClientError> {
        let request = ApprovalRequest {
            call: self.call(tool, params),
            reason: reason.to_owned(),
            context: Some(context.clone()),
            reference_id: None,
            check_id: Some(check_id.to_owned()),
            timeout_seconds: None,
        };
        self.client.request_approval(&request, None).await
    }

    /// `GET /v1/approvals/{id}?wait=N` (N ≤ 60: one billed poll; 0 reads it at once).
    pub(crate) async fn approval(&self, id: &str, wait_seconds: u64) -> Result<Approval, ClientError> {
        self.client.get_approval(id, Some(Duration::from_secs(wait_seconds))).await
    }

    /// `POST /v1/approvals/{id}/cancel`.
    pub(crate) async fn cancel_approval(&self, id: &str) -> Result<Approval, ClientError> {
        self.client.cancel_approval(id).await
    }

    /// `POST /v1/tokens` for an approved approval.
    pub(crate) async fn token_for_approval(&self, approval_id: &str) -> Result<String, ClientError> {
        Ok(self.client.mint_token_for_approval(approval_id, None).await?.token)
    }

    /// `POST /v1/executions`: what the upstream did with an authorized call.
    pub(crate) async fn log_execution(
        &self,
        token: &str,
        tool: &str,
        params: &Map<String, Value>,
        outcome: &Outcome,
        duration_ms: u64,
    ) -> Result<Execution, ClientError> {
        let log = ExecutionLog {
            call: self.call(tool, params),
            token: Some(token.to_owned()),
            result: outcome.result,
            duration_ms,
            output: None,
            error: outcome.error.clone(),
        };
        self.client.log_execution(&log).await
    }
}

/// How a forwarded call ended, as `POST /v1/executions` records it.
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    /// `success`, `failed` (the tool answered an error) or `error` (the upstream could not
    /// answer).
    pub(crate) result: ExecutionResult,
    /// The error text, at most 1,000 characters.
    pub(crate) error: Option<String>,
}
