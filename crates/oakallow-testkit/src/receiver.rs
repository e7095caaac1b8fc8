//! A webhook receiver for tests: an HTTP server on `127.0.0.1:0` that records every request it
//! gets, and can be told to refuse the next ones (an outage), to answer with a body, or to stop
//! answering entirely.

#![expect(clippy::unwrap_used, reason = "test support")]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    /// Its headers.
    pub headers: HeaderMap,
    /// Its raw body.
    pub body: Bytes,
    /// What the receiver answered.
    pub answered: u16,
}

impl Received {
    /// A header's value.
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

#[derive(Default)]
struct Inner {
    received: Mutex<Vec<Received>>,
    refuse_next: AtomicU32,
    answer: Mutex<Bytes>,
    arrived: Notify,
}

/// The running receiver.
pub struct Receiver {
    /// `http://127.0.0.1:<port>/hook`.
    pub url: String,
    inner: Arc<Inner>,
    _server: tokio::task::JoinHandle<()>,
}

async fn hook(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> (StatusCode, Bytes) {
    let refuse = inner.refuse_next.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
    let answer = inner.answer.lock().unwrap().clone();
    let status = match (refuse, answer.is_empty()) {
        (true, _) => StatusCode::SERVICE_UNAVAILABLE,
        (false, true) => StatusCode::NO_CONTENT,
        (false, false) => StatusCode::OK,
    };
    inner.received.lock().unwrap().push(Received { headers, body, answered: status.as_u16() });
    inner.arrived.notify_waiters();
    (status, if status == StatusCode::NO_CONTENT { Bytes::new() } else { answer })
}

impl Receiver {
    /// Starts a receiver.
    pub async fn start() -> Self {
        let inner = Arc::new(Inner::default());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let app = Router::new().route("/hook", post(hook)).with_state(Arc::clone(&inner));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, inner, _server: server }
    }

    /// Answers 503 to the next `n` requests.
    pub fn refuse_next(&self, n: u32) {
        self.inner.refuse_next.store(n, Ordering::SeqCst);
    }

    /// Answers every later request with `body` (200, or 503 while refusing) instead of an
    /// empty 204.
    pub fn answer_with(&self, body: impl Into<Bytes>) {
        *self.inner.answer.lock().unwrap() = body.into();
    }

    /// Every request so far.
    pub fn received(&self) -> Vec<Received> {
        self.inner.received.lock().unwrap().clone()
    }

    /// The requests accepted with a 2xx so far.
    pub fn accepted(&self) -> Vec<Received> {
        self.received().into_iter().filter(|r| r.answered < 300).collect()
    }

    /// Waits until at least `n` requests arrived (panics after `timeout`).
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let arrived = self.inner.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            let received = self.received();
            if received.len() >= n {
                return received;
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            assert!(!left.is_zero(), "expected {n} webhook requests, got {}", received.len());
            let _ = tokio::time::timeout(left, arrived).await;
        }
    }

    /// The accepted requests of one event type.
    pub fn events(&self, kind: &str) -> Vec<Received> {
        self.accepted().into_iter().filter(|r| r.header("x-oakallow-event") == kind).collect()
    }
}
