//! `POST /mcp` on `oakallow serve`: oakallow itself as an MCP server (Streamable HTTP), so an
//! agent can ask about its own permissions and approvals in the protocol it already speaks.
//!
//! The HTTP server authenticates the API key before a request reaches this module (401 with the
//! error envelope otherwise) and hands over the [`Caller`] in the request's extensions. Each tool
//! runs the same service call as its REST endpoint, so answers, billing and audit entries are the
//! REST API's: the result's `structuredContent` is the REST body, and a refusal is a tool error
//! whose `structuredContent` is the REST error envelope.

use std::sync::Arc;

use axum::http::request::Parts;
use oakallow_domain::approval::ApprovalStatus;
use oakallow_service::approvals::{ApprovalQuery, ApprovalRequest};
use oakallow_service::auth::Caller;
use oakallow_service::check::CheckRequest;
use oakallow_service::manage::Tools;
use oakallow_service::page::PageRequest;
use oakallow_service::{Service, ServiceError};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, JsonObject, ListToolsResult, PaginatedRequestParams,
    ServerConfig, Tool, ToolAnnotations,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// Where the endpoint is mounted.
pub const PATH: &str = "/mcp";

/// The `/mcp` endpoint as a router for the HTTP server to mount (behind its key check).
pub fn router(service: Arc<Service>) -> axum::Router {
    // Stateless, one JSON answer per request: any node of a cluster can answer any request. The
    // bearer key is what stops DNS rebinding here, so every Host is accepted (a deployed server
    // has its own name).
    let config = StreamableHttpServerConfig::default().with_legacy_session_mode(false).with_json_response(true).disable_allowed_hosts();
    let endpoint = StreamableHttpService::new(
        move || Ok(Endpoint { service: Arc::clone(&service) }),
        Arc::new(NeverSessionManager::default()),
        config,
    );
    axum::Router::new().route_service(PATH, endpoint)
}

#[derive(Clone)]
struct Endpoint {
    service: Arc<Service>,
}

/// Arguments of `check_approval_status`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusArgs {
    id: String,
    #[serde(default)]
    wait: Option<u32>,
}

/// Arguments of `list_pending_approvals`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PendingArgs {
    #[serde(default)]
    tool: Option<String>,
    #[serde(default)]
    tenant: Option<String>,
    #[serde(default)]
    limit: Option<u32>,
    #[serde(default)]
    cursor: Option<String>,
}

/// Arguments of `list_my_tools`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PageArgs {
    #[serde(default)]
    limit: Option<u32>,
    #[serde(default)]
    cursor: Option<String>,
}

/// Arguments of `request_approval`: the REST body plus the `Idempotency-Key` header's value.
#[derive(Deserialize)]
struct ApprovalArgs {
    #[serde(default)]
    idempotency_key: Option<String>,
    #[serde(flatten)]
    request: Value,
}

fn parse<T: DeserializeOwned>(arguments: &JsonObject) -> Result<T, ServiceError> {
    oakallow_domain::json::from_value(Value::Object(arguments.clone()))
        .map_err(|e| ServiceError::invalid(format!("invalid arguments: {e}")))
}

/// The REST answer as a tool result.
fn answer(body: impl serde::Serialize) -> CallToolResult {
    let body = serde_json::to_value(body).unwrap_or(Value::Null);
    let mut result = CallToolResult::success(vec![ContentBlock::text(body.to_string())]);
    result.structured_content = Some(body);
    result
}

/// The REST error envelope as a tool error.
fn refusal(error: &ServiceError) -> CallToolResult {
    let envelope = json!({ "error": { "code": error.code(), "message": error.to_string(), "details": error.details() } });
    let mut result = CallToolResult::error(vec![ContentBlock::text(envelope.to_string())]);
    result.structured_content = Some(envelope);
    result
}

fn schema(value: Value) -> Arc<JsonObject> {
    Arc::new(value.as_object().cloned().unwrap_or_default())
}

fn tool(name: &'static str, description: &'static str, input: Value, read_only: bool) -> Tool {
    let mut hints = ToolAnnotations::default();
    hints.read_only_hint = Some(read_only);
    hints.destructive_hint = Some(false);
    hints.open_world_hint = Some(false);
    let mut tool = Tool::new(name, description, schema(input));
    tool.annotations = Some(hints);
    tool
}

fn name_schema() -> Value {
    json!({ "type": "string", "minLength": 1, "maxLength": 200 })
}

/// The five tools, with input schemas matching the REST bodies.
fn tools() -> Vec<Tool> {
    let object = json!({ "type": "object" });
    let page = json!({
        "limit": { "type": "integer", "minimum": 1, "maximum": 500 },
        "cursor": { "type": "string" },
    });
    vec![
        tool(
            "list_my_tools",
            "The tools registered in this key's org (as GET /v1/tools). Free.",
            json!({ "type": "object", "properties": page, "additionalProperties": false }),
            true,
        ),
        tool(
            "check_permission",
            "Asks whether a tool call may run (as POST /v1/check): allowed, requires_approval or disabled. Billed like the REST call.",
            json!({
                "type": "object",
                "properties": {
                    "tool": name_schema(), "tenant": name_schema(), "resource": name_schema(), "method": name_schema(),
                    "params": object, "context": object, "reference_id": { "type": "string" }, "mint_token": { "type": "boolean" },
                },
                "required": ["tool"], "additionalProperties": false,
            }),
            false,
        ),
        tool(
            "request_approval",
            "Asks a person to approve one call (as POST /v1/approvals); idempotency_key works as the Idempotency-Key header.",
            json!({
                "type": "object",
                "properties": {
                    "tool": name_schema(), "tenant": name_schema(), "resource": name_schema(), "method": name_schema(),
                    "params": object, "reason": { "type": "string", "minLength": 1 }, "context": object,
                    "reference_id": { "type": "string" }, "timeout_seconds": { "type": "integer", "minimum": 1 },
                    "check_id": { "type": "string" }, "idempotency_key": { "type": "string" },
                },
                "required": ["tool", "reason"], "additionalProperties": false,
            }),
            false,
        ),
        tool(
            "check_approval_status",
            "Reads an approval (as GET /v1/approvals/{id}); wait (≤ 60 s) holds the answer until it is decided.",
            json!({
                "type": "object",
                "properties": { "id": { "type": "string" }, "wait": { "type": "integer", "minimum": 0, "maximum": 60 } },
                "required": ["id"], "additionalProperties": false,
            }),
            true,
        ),
        tool(
            "list_pending_approvals",
            "Approvals still waiting for a decision, newest first (as GET /v1/approvals?status=pending).",
            json!({
                "type": "object",
                "properties": { "tool": name_schema(), "tenant": name_schema(), "limit": page["limit"], "cursor": page["cursor"] },
                "additionalProperties": false,
            }),
            true,
        ),
    ]
}

impl Endpoint {
    async fn run(&self, caller: Caller, name: &str, arguments: &JsonObject) -> Result<CallToolResult, ServiceError> {
        let service = &self.service;
        Ok(match name {
            "list_my_tools" => {
                let reader = caller.reader()?;
                let args: PageArgs = parse(arguments)?;
                answer(service.list_objects::<Tools>(&reader, &PageRequest { limit: args.limit, cursor: args.cursor }).await?)
            }
            "check_permission" => {
                let standard = caller.standard()?;
                answer(service.check(&standard, parse::<CheckRequest>(arguments)?).await?)
            }
            "request_approval" => {
                let standard = caller.standard()?;
                let args: ApprovalArgs = parse(arguments)?;
                let request: ApprovalRequest = oakallow_domain::json::from_value(args.request)
                    .map_err(|e| ServiceError::invalid(format!("invalid arguments: {e}")))?;
                let (view, _replayed) = service.create_approval(&standard, request, args.idempotency_key).await?;
                answer(view)
            }
            "check_approval_status" => {
                let reader = caller.approval_reader()?;
                let args: StatusArgs = parse(arguments)?;
                answer(service.get_approval(&reader, &args.id, args.wait).await?)
            }
            "list_pending_approvals" => {
                let reader = caller.approval_reader()?;
                let args: PendingArgs = parse(arguments)?;
                let query = ApprovalQuery {
                    status: Some(ApprovalStatus::Pending),
                    tool: args.tool,
                    tenant: args.tenant,
                    limit: args.limit,
                    cursor: args.cursor,
                };
                answer(service.list_approvals(&reader, &query).await?)
            }
            _ => return Err(ServiceError::NotFound { what: "tool" }),
        })
    }
}

impl ServerHandler for Endpoint {
    fn get_info(&self) -> ServerConfig {
        crate::server_config("oakallow", "Ask oakallow about your own permissions and approvals. Answers are those of the REST API.")
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(tools()))
    }

    async fn call_tool(&self, request: CallToolRequestParams, context: RequestContext<RoleServer>) -> Result<CallToolResponse, McpError> {
        if !tools().iter().any(|t| t.name == request.name) {
            return Err(McpError::invalid_params(format!("unknown tool: {}", request.name), None));
        }
        // Fail closed: without the authenticated caller the HTTP server attached, nothing runs.
        let caller = context
            .extensions
            .get::<Parts>()
            .and_then(|parts| parts.extensions.get::<Caller>())
            .cloned()
            .ok_or_else(|| McpError::internal_error("the request carries no authenticated API key", None))?;
        let arguments = request.arguments.unwrap_or_default();
        let result = match self.run(caller, &request.name, &arguments).await {
            Ok(result) => result,
            Err(error) => refusal(&error),
        };
        Ok(CallToolResponse::Complete(result))
    }
}
