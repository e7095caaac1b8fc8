//! The gateway as the MCP client sees it: the upstreams' tools, minus what oakallow switches off,
//! and every `tools/call` through check → (approval) → token → forward → execution log.
//!
//! Every way a call can fail short of the upstream's answer is a tool error (`isError: true`)
//! that says what happened, and nothing is forwarded: oakallow unreachable, a refusal, a denial,
//! a wait that ran out. Only an unknown tool name is a protocol error (`-32602`), as the MCP
//! specification asks.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use oakallow_client::{Approval, ApprovalStatus, ClientError, ExecutionResult, Permission};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ListToolsResult, PaginatedRequestParams,
    ProgressNotificationParam, ProgressToken, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, Peer, RoleServer, ServerHandler};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use super::api::{Oakallow, Outcome, discovered};
use super::upstream::Upstream;

/// The `_meta` key that carries the execution token to the upstream server, which may verify it
/// with `POST /v1/tokens/verify` (or offline with the org's Ed25519 key).
pub const TOKEN_META_KEY: &str = "oakallow/execution_token";
/// The `_meta` key a client may use to tell the approver why the agent wants the call.
pub const REASON_META_KEY: &str = "oakallow/reason";
/// How often a waiting call tells the client it is still waiting.
const HEARTBEAT: Duration = Duration::from_secs(10);
/// Longest error text kept in the execution log.
const MAX_ERROR_CHARS: usize = 1000;

/// Where a tool name the client sees leads.
#[derive(Debug, Clone)]
struct Route {
    upstream: usize,
    tool: String,
}

struct Inner {
    oakallow: Oakallow,
    upstreams: Vec<Upstream>,
    approval_wait: Duration,
    routes: RwLock<HashMap<String, Route>>,
    /// Approvals that were still pending when a call gave up waiting, by the call's fingerprint:
    /// the same call made again picks up the same approval instead of asking twice.
    waiting: Mutex<HashMap<String, String>>,
}

/// The gateway: an MCP server over the upstreams. Cheap to clone (one per HTTP session).
#[derive(Clone)]
pub(crate) struct Gateway {
    inner: Arc<Inner>,
}

/// A tool error with a message for the agent and the facts as structured content.
fn refusal(message: String, facts: Value) -> CallToolResult {
    let mut result = CallToolResult::error(vec![ContentBlock::text(message)]);
    result.structured_content = Some(json!({ "oakallow": facts }));
    result
}

/// oakallow did not give an answer the gateway can act on: fail closed.
fn unanswered(tool: &str, error: &ClientError) -> CallToolResult {
    match error {
        ClientError::Api { code, message, details, .. } if code == "invalid_params" => refusal(
            format!("Invalid arguments for {tool}: {}", invalid_params_text(details)),
            json!({ "error": { "code": code, "message": message, "details": details } }),
        ),
        ClientError::Api { status, code, message, details, .. } => refusal(
            format!("oakallow refused the call to {tool} ({status} {code}: {message}); it was not run."),
            json!({ "error": { "code": code, "message": message, "details": details } }),
        ),
        ClientError::Transport(error) => refusal(
            format!("oakallow could not be reached ({error}); the call to {tool} was not run."),
            json!({ "error": { "code": "oakallow_unreachable", "message": error.to_string() } }),
        ),
        ClientError::Invalid(why) => refusal(
            format!("The call to {tool} could not be put to oakallow ({why}); it was not run."),
            json!({ "error": { "code": "invalid_request", "message": why } }),
        ),
    }
}

fn invalid_params_text(details: &Value) -> String {
    let errors = details["errors"].as_array().map(Vec::as_slice).unwrap_or_default();
    let parts: Vec<String> = errors
        .iter()
        .map(|e| format!("{} {}", e["path"].as_str().unwrap_or(""), e["message"].as_str().unwrap_or("")).trim().to_owned())
        .collect();
    if parts.is_empty() { "the arguments do not match the tool's schema".to_owned() } else { parts.join("; ") }
}

/// Identifies a call (tool and arguments) without keeping the arguments.
fn fingerprint(tool: &str, arguments: &Map<String, Value>) -> String {
    let text = serde_json::to_string(&json!([tool, arguments])).unwrap_or_default();
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// The text of a tool error, for the execution log.
fn error_text(result: &CallToolResult) -> String {
    let text: String = result
        .content
        .iter()
        .filter_map(|block| match block {
            ContentBlock::Text(text) => Some(text.text.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let text = if text.is_empty() { "the tool answered an error".to_owned() } else { text };
    text.chars().take(MAX_ERROR_CHARS).collect()
}

/// Tells the client, if it asked for progress, that the call is still waiting.
struct Progress {
    to: Option<(Peer<RoleServer>, ProgressToken)>,
    sent: u32,
}

impl Progress {
    async fn say(&mut self, message: &str) {
        if let Some((peer, token)) = &self.to {
            let note = ProgressNotificationParam::new(token.clone(), f64::from(self.sent)).with_message(message);
            // A client that went away gets no progress; the cancellation ends the wait.
            let _ = peer.notify_progress(note).await;
            self.sent += 1;
        }
    }
}

/// How a wait for a person ended.
enum Waited {
    Decided(Box<Approval>),
    OutOfTime,
    Cancelled,
    Failed(ClientError),
}

impl Gateway {
    pub(crate) fn new(oakallow: Oakallow, upstreams: Vec<Upstream>, approval_wait: Duration) -> Self {
        let inner = Inner { oakallow, upstreams, approval_wait, routes: RwLock::default(), waiting: Mutex::default() };
        Self { inner: Arc::new(inner) }
    }
}

impl Inner {
    /// Every upstream tool under the name the client sees: its own, or `upstream__tool` when
    /// another upstream has a tool of the same name. Remembers the routes.
    async fn upstream_tools(&self) -> anyhow::Result<Vec<(String, Tool)>> {
        let mut listed = Vec::new();
        for (index, upstream) in self.upstreams.iter().enumerate() {
            for tool in upstream.tools().await? {
                listed.push((index, tool));
            }
        }
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (_, tool) in &listed {
            *seen.entry(tool.name.to_string()).or_default() += 1;
        }
        let mut routes = HashMap::new();
        let mut tools = Vec::with_capacity(listed.len());
        for (index, tool) in listed {
            let own = tool.name.to_string();
            let name = if seen[&own] > 1 { format!("{}__{own}", self.upstreams[index].name) } else { own.clone() };
            routes.insert(name.clone(), Route { upstream: index, tool: own });
            tools.push((name, tool));
        }
        if let Ok(mut current) = self.routes.write() {
            *current = routes;
        }
        Ok(tools)
    }

    async fn route(&self, name: &str) -> Result<Route, McpError> {
        let known = self.routes.read().ok().and_then(|routes| routes.get(name).cloned());
        if let Some(route) = known {
            return Ok(route);
        }
        self.upstream_tools().await.map_err(|e| McpError::internal_error(format!("{e:#}"), None))?;
        let routes = self.routes.read().map_err(|_| McpError::internal_error("the tool routes are unavailable", None))?;
        routes.get(name).cloned().ok_or_else(|| McpError::invalid_params(format!("unknown tool: {name}"), None))
    }

    async fn call(&self, mut request: CallToolRequestParams, context: RequestContext<RoleServer>) -> Result<CallToolResult, McpError> {
        let name = request.name.to_string();
        let route = self.route(&name).await?;
        let arguments = request.arguments.clone().unwrap_or_default();
        let meta = request.meta.take().unwrap_or_else(|| context.meta.clone());
        let call_context = json!({ "mcp": { "upstream": self.upstreams[route.upstream].name, "tool": route.tool } });
        let mut progress = Progress { to: meta.get_progress_token().map(|token| (context.peer.clone(), token)), sent: 0 };
        let key = fingerprint(&name, &arguments);

        let resumed = self.waiting.lock().ok().and_then(|waiting| waiting.get(&key).cloned());
        let approval = match resumed {
            Some(id) => match self.oakallow.approval(&id, 0).await {
                Ok(approval) => approval,
                Err(error) => {
                    self.forget(&key);
                    return Ok(unanswered(&name, &error));
                }
            },
            None => {
                let check = match self.oakallow.check(&name, &arguments, &call_context).await {
                    Ok(check) => check,
                    Err(error) => return Ok(unanswered(&name, &error)),
                };
                match check.permission {
                    Permission::Allowed => {
                        // Fail closed: an allowed answer without its token authorizes nothing.
                        let Some(token) = check.token.clone().filter(|token| !token.is_empty()) else {
                            let facts = serde_json::to_value(&check).unwrap_or_default();
                            return Ok(refusal(format!("oakallow allowed {name} but minted no token; the call was not run."), facts));
                        };
                        return Ok(self.forward(&route, &name, request, meta, &arguments, &token).await);
                    }
                    Permission::Disabled => {
                        let how = check.resolved_from.as_str();
                        return Ok(refusal(
                            format!("oakallow refused: {name} is disabled ({how}); the call was not run."),
                            json!({ "permission": "disabled", "resolved_from": how, "check_id": check.check_id }),
                        ));
                    }
                    Permission::RequiresApproval => {}
                }
                let reason = meta
                    .get(REASON_META_KEY)
                    .and_then(Value::as_str)
                    .map_or_else(|| format!("An agent asked to run {name} through the MCP gateway."), str::to_owned);
                match self.oakallow.request_approval(&name, &arguments, &reason, &check.check_id, &call_context).await {
                    Ok(approval) => approval,
                    Err(error) => return Ok(unanswered(&name, &error)),
                }
            }
        };
        let (id, reference) = (approval.id.clone(), approval.reference.clone());
        if let Ok(mut waiting) = self.waiting.lock() {
            waiting.insert(key.clone(), id.clone());
        }
        let waited = match approval.status {
            ApprovalStatus::Pending => self.wait(&id, &reference, &name, &mut progress, &context.ct).await,
            _ => Waited::Decided(Box::new(approval)),
        };
        let facts = |status: &str| json!({ "approval_id": id, "reference": reference, "status": status });
        let decided = match waited {
            Waited::Decided(decided) => decided,
            Waited::OutOfTime => {
                return Ok(refusal(
                    format!(
                        "Still waiting for a person to approve {name}: approval {id}, reference {reference}. The call was not run. \
                         Ask the user to decide it in oakallow, then make the same call again: it picks up this approval."
                    ),
                    facts("pending"),
                ));
            }
            Waited::Cancelled => {
                self.forget(&key);
                // The client gave up; withdraw the request so nobody approves a call no one waits for.
                let _ = self.oakallow.cancel_approval(&id).await;
                return Ok(refusal(format!("The call to {name} was cancelled; approval {id} was withdrawn."), facts("cancelled")));
            }
            Waited::Failed(error) => return Ok(unanswered(&name, &error)),
        };
        self.forget(&key);
        let status = decided.status.as_str();
        match decided.status {
            ApprovalStatus::Approved => match self.oakallow.token_for_approval(&id).await {
                Ok(token) if !token.is_empty() => Ok(self.forward(&route, &name, request, meta, &arguments, &token).await),
                Ok(_) => Ok(refusal(format!("oakallow minted no token for approval {id}; the call to {name} was not run."), facts(status))),
                Err(error) => Ok(unanswered(&name, &error)),
            },
            ApprovalStatus::Denied => {
                let by = decided.decided_by.as_deref().unwrap_or("an approver");
                let note = decided.note.as_deref().unwrap_or("no note");
                Ok(refusal(
                    format!("{by} denied the call to {name} (approval {id}, reference {reference}): {note}"),
                    json!({
                        "approval_id": id, "reference": reference, "status": status, "note": decided.note, "decided_by": decided.decided_by,
                    }),
                ))
            }
            _ => Ok(refusal(
                format!("Approval {id} (reference {reference}) for {name} ended {status}; the call was not run."),
                facts(status),
            )),
        }
    }

    fn forget(&self, key: &str) {
        if let Ok(mut waiting) = self.waiting.lock() {
            waiting.remove(key);
        }
    }

    /// Long-polls the approval until a person decides, the gateway's limit passes, or the
    /// client cancels; says it is waiting at once and then every [`HEARTBEAT`].
    async fn wait(&self, id: &str, reference: &str, tool: &str, progress: &mut Progress, cancelled: &CancellationToken) -> Waited {
        let message = format!("Waiting for a person to approve {tool}: approval {id}, reference {reference}.");
        let deadline = Instant::now() + self.approval_wait;
        let mut heartbeat = tokio::time::interval(HEARTBEAT);
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Waited::OutOfTime;
            }
            let poll = self.oakallow.approval(id, remaining.as_secs().clamp(1, 60));
            tokio::pin!(poll);
            let answer = loop {
                tokio::select! {
                    answer = &mut poll => break answer,
                    _ = heartbeat.tick() => progress.say(&message).await,
                    () = cancelled.cancelled() => return Waited::Cancelled,
                }
            };
            match answer {
                Ok(approval) if approval.status != ApprovalStatus::Pending => return Waited::Decided(Box::new(approval)),
                Ok(_) => {}
                Err(error) => return Waited::Failed(error),
            }
        }
    }

    /// Sends an authorized call to its upstream with the token in `_meta`, and logs what
    /// happened. The upstream's answer goes back as it came.
    async fn forward(
        &self,
        route: &Route,
        name: &str,
        mut request: CallToolRequestParams,
        mut meta: rmcp::model::RequestMetaObject,
        arguments: &Map<String, Value>,
        token: &str,
    ) -> CallToolResult {
        request.name = route.tool.clone().into();
        // Progress belongs to this hop: the upstream's would name a token the client never sent.
        meta.remove("progressToken");
        meta.insert(TOKEN_META_KEY.to_owned(), Value::String(token.to_owned()));
        request.meta = Some(meta);
        let started = Instant::now();
        let answered = self.upstreams[route.upstream].call(request).await;
        let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let (outcome, result) = match answered {
            Ok(result) if result.is_error == Some(true) => {
                (Outcome { result: ExecutionResult::Failed, error: Some(error_text(&result)) }, result)
            }
            Ok(result) => (Outcome { result: ExecutionResult::Success, error: None }, result),
            Err(error) => {
                let text: String = error.to_string().chars().take(MAX_ERROR_CHARS).collect();
                let result = refusal(
                    format!("The upstream server failed to run {name}: {text}"),
                    json!({ "error": { "code": "upstream_failed", "message": text } }),
                );
                (Outcome { result: ExecutionResult::Error, error: Some(text) }, result)
            }
        };
        if let Err(error) = self.oakallow.log_execution(token, name, arguments, &outcome, duration_ms).await {
            tracing::warn!(tool = name, %error, "the execution could not be logged in oakallow");
        }
        result
    }
}

impl ServerHandler for Gateway {
    fn get_info(&self) -> ServerConfig {
        crate::server_config(
            "oakallow-mcp-proxy",
            "Every tool call is checked by oakallow first. Some calls wait for a person to approve them; \
             a refusal, a denial or a wait that ran out comes back as a tool error that says why.",
        )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        let inner = &self.inner;
        let tools = inner.upstream_tools().await.map_err(|e| McpError::internal_error(format!("{e:#}"), None))?;
        let report = tools.iter().map(|(name, tool)| discovered(name, tool)).collect();
        let statuses = inner.oakallow.discover(report).await.map_err(|error| {
            McpError::internal_error(format!("oakallow could not say which tools may be used, so none are listed: {error}"), None)
        })?;
        if statuses.len() != tools.len() {
            return Err(McpError::internal_error("oakallow answered for a different number of tools; none are listed", None));
        }
        let visible = tools
            .into_iter()
            .zip(statuses)
            .filter(|(_, status)| status["permission"] != "disabled")
            .map(|((name, mut tool), _)| {
                tool.name = name.into();
                tool
            })
            .collect();
        Ok(ListToolsResult::with_all_items(visible))
    }

    async fn call_tool(&self, request: CallToolRequestParams, context: RequestContext<RoleServer>) -> Result<CallToolResponse, McpError> {
        self.inner.call(request, context).await.map(CallToolResponse::Complete)
    }
}
