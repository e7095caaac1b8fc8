//! The oakallow calls the gateway makes, with the agent's standard key.

use oakallow_client::{Client, ClientError};
use reqwest::Method;
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

    /// `POST /v1/tools/discover` in reports of at most 100 tools (bodies stay far below the
    /// server's 1 MiB), answering the statuses in order.
    pub(crate) async fn discover(&self, tools: Vec<Value>) -> Result<Vec<Value>, ClientError> {
        let mut statuses = Vec::with_capacity(tools.len());
        for chunk in tools.chunks(100) {
            let body = json!({ "tenant": self.tenant, "tools": chunk });
            let answer: Value = self.client.call(Method::POST, "/v1/tools/discover", Some(&body)).await?;
            statuses.extend(answer["tools"].as_array().cloned().unwrap_or_default());
        }
        Ok(statuses)
    }

    /// `POST /v1/check` for one call, minting the token inline when it is allowed.
    pub(crate) async fn check(&self, tool: &str, params: &Map<String, Value>, context: &Value) -> Result<Value, ClientError> {
        let body = json!({ "tool": tool, "tenant": self.tenant, "params": params, "context": context, "mint_token": true });
        self.client.call(Method::POST, "/v1/check", Some(&body)).await
    }

    /// `POST /v1/approvals` for the call a check answered `requires_approval`.
    pub(crate) async fn request_approval(
        &self,
        tool: &str,
        params: &Map<String, Value>,
        reason: &str,
        check_id: &str,
        context: &Value,
    ) -> Result<Value, ClientError> {
        let body =
            json!({ "tool": tool, "tenant": self.tenant, "params": params, "reason": reason, "check_id": check_id, "context": context });
        self.client.call(Method::POST, "/v1/approvals", Some(&body)).await
    }

    /// `GET /v1/approvals/{id}?wait=N` (N ≤ 60: one billed poll).
    pub(crate) async fn approval(&self, id: &str, wait_seconds: u64) -> Result<Value, ClientError> {
        let path = format!("/v1/approvals/{id}?wait={}", wait_seconds.min(60));
        self.client.call::<Value, Value>(Method::GET, &path, None).await
    }

    /// `POST /v1/approvals/{id}/cancel`.
    pub(crate) async fn cancel_approval(&self, id: &str) -> Result<Value, ClientError> {
        self.client.call(Method::POST, &format!("/v1/approvals/{id}/cancel"), Some(&json!({}))).await
    }

    /// `POST /v1/tokens` for an approved approval.
    pub(crate) async fn token_for_approval(&self, approval_id: &str) -> Result<String, ClientError> {
        let answer: Value = self.client.call(Method::POST, "/v1/tokens", Some(&json!({ "approval_id": approval_id }))).await?;
        Ok(answer["token"].as_str().unwrap_or_default().to_owned())
    }

    /// `POST /v1/executions`: what the upstream did with an authorized call.
    pub(crate) async fn log_execution(
        &self,
        token: &str,
        tool: &str,
        params: &Map<String, Value>,
        outcome: &Outcome,
        duration_ms: u64,
    ) -> Result<Value, ClientError> {
        let mut body = json!({
            "token": token, "tool": tool, "tenant": self.tenant, "params": params,
            "result": outcome.result, "duration_ms": duration_ms,
        });
        if let Some(error) = &outcome.error {
            body["error"] = json!(error);
        }
        self.client.call(Method::POST, "/v1/executions", Some(&body)).await
    }
}

/// How a forwarded call ended, as `POST /v1/executions` records it.
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    /// `success`, `failed` (the tool answered an error) or `error` (the upstream could not
    /// answer).
    pub(crate) result: &'static str,
    /// The error text, at most 1,000 characters.
    pub(crate) error: Option<String>,
}
