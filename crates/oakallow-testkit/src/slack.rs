//! Stand-ins for Slack and PagerDuty in tests: one HTTP server on `127.0.0.1:0` that answers as
//! Slack's Web API (`chat.postMessage`, `chat.update`), its incoming webhooks and `response_url`s,
//! and PagerDuty's Events API v2 do, checking the shapes they document, and records every request.

#![expect(clippy::unwrap_used, reason = "test support")]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// One request the server got.
#[derive(Debug, Clone)]
pub struct Call {
    /// The path, e.g. `/api/chat.postMessage`.
    pub path: String,
    /// Its headers.
    pub headers: HeaderMap,
    /// Its body as JSON.
    pub body: Value,
}

impl Call {
    /// A header's value.
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }
}

#[derive(Default)]
struct Inner {
    calls: Mutex<Vec<Call>>,
    arrived: Notify,
    next_ts: AtomicU64,
}

/// The running stand-in.
pub struct FakeSlack {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    inner: Arc<Inner>,
    _server: tokio::task::JoinHandle<()>,
}

/// Records a request; `Err` says why it is refused (answered 400).
fn record(inner: &Inner, path: String, headers: HeaderMap, body: &Bytes) -> Result<Value, &'static str> {
    let json: Value = serde_json::from_slice(body).map_err(|_| "invalid_json")?;
    inner.calls.lock().unwrap().push(Call { path, headers: headers.clone(), body: json.clone() });
    inner.arrived.notify_waiters();
    if !headers.get("content-type").and_then(|v| v.to_str().ok()).is_some_and(|c| c.starts_with("application/json")) {
        return Err("expected application/json");
    }
    Ok(json)
}

/// Slack's Web API: a bot token, and the documented required arguments, else `"ok": false`.
async fn web_api(State(inner): State<Arc<Inner>>, Path(method): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    let request = match record(&inner, format!("/api/{method}"), headers.clone(), &body) {
        Ok(request) => request,
        Err(reason) => return (StatusCode::BAD_REQUEST, reason).into_response(),
    };
    let authorized = headers.get("authorization").and_then(|v| v.to_str().ok()).is_some_and(|a| a.starts_with("Bearer xoxb-"));
    let answer = |error: &str| axum::Json(json!({ "ok": false, "error": error })).into_response();
    if !authorized {
        return answer("not_authed");
    }
    let Some(channel) = request["channel"].as_str() else { return answer("channel_not_found") };
    if request["text"].as_str().is_none() && request["blocks"].as_array().is_none() {
        return answer("no_text");
    }
    match method.as_str() {
        "chat.postMessage" => {
            let ts = format!("1700000000.{:06}", inner.next_ts.fetch_add(1, Ordering::SeqCst) + 1);
            axum::Json(
                json!({ "ok": true, "channel": channel, "ts": ts, "message": { "text": request["text"], "blocks": request["blocks"] } }),
            )
            .into_response()
        }
        "chat.update" => match request["ts"].as_str() {
            Some(ts) => axum::Json(json!({ "ok": true, "channel": channel, "ts": ts, "text": request["text"] })).into_response(),
            None => answer("message_not_found"),
        },
        _ => answer("unknown_method"),
    }
}

/// An incoming webhook or a `response_url`: `ok` as text, as Slack answers.
async fn hook(State(inner): State<Arc<Inner>>, Path(rest): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    match record(&inner, format!("/hooks/{rest}"), headers, &body) {
        Ok(_) => (StatusCode::OK, "ok").into_response(),
        Err(reason) => (StatusCode::BAD_REQUEST, reason).into_response(),
    }
}

/// PagerDuty's Events API v2: 202 for an event with a routing key, an action and a dedup key.
async fn events(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    let event = match record(&inner, "/pagerduty/v2/enqueue".into(), headers, &body) {
        Ok(event) => event,
        Err(reason) => return (StatusCode::BAD_REQUEST, reason).into_response(),
    };
    let valid = event["routing_key"].is_string()
        && matches!(event["event_action"].as_str(), Some("trigger" | "acknowledge" | "resolve"))
        && (event["event_action"] != "trigger"
            || (event["payload"]["summary"].is_string()
                && event["payload"]["source"].is_string()
                && event["payload"]["severity"].is_string()));
    if !valid {
        return (StatusCode::BAD_REQUEST, axum::Json(json!({ "status": "invalid event" }))).into_response();
    }
    (StatusCode::ACCEPTED, axum::Json(json!({ "status": "success", "message": "Event processed", "dedup_key": event["dedup_key"] })))
        .into_response()
}

impl FakeSlack {
    /// Starts the stand-in.
    pub async fn start() -> Self {
        let inner = Arc::new(Inner::default());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = Router::new()
            .route("/api/{method}", post(web_api))
            .route("/hooks/{*rest}", post(hook))
            .route("/pagerduty/v2/enqueue", post(events))
            .with_state(Arc::clone(&inner));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { base, inner, _server: server }
    }

    /// Every request to `path` so far.
    pub fn calls(&self, path: &str) -> Vec<Call> {
        self.inner.calls.lock().unwrap().iter().filter(|c| c.path == path).cloned().collect()
    }

    /// Waits until `path` got at least `n` requests and answers them (panics after `timeout`).
    pub async fn wait_for(&self, path: &str, n: usize, timeout: Duration) -> Vec<Call> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let arrived = self.inner.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            let calls = self.calls(path);
            if calls.len() >= n {
                return calls;
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            assert!(!left.is_zero(), "{path} got {} requests, not {n}, within {timeout:?}", calls.len());
            let _ = tokio::time::timeout(left, arrived).await;
        }
    }
}
