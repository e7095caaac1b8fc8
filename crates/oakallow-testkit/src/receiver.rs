//! A webhook receiver for tests: an HTTP server on `127.0.0.1:0` that records every request it
//! gets, and can be told to refuse the next ones (an outage) or how to answer (a body of its
//! choosing, or a huge one whose streaming it reports).

#![expect(clippy::unwrap_used, reason = "test support")]

use std::convert::Infallible;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};

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

/// How the receiver answers the requests it does not refuse.
#[derive(Debug, Clone, Default)]
pub enum Reply {
    /// 204 without a body.
    #[default]
    NoContent,
    /// This status and body.
    Body(u16, Bytes),
    /// 200 with a body of this many bytes, streamed; see [`Receiver::wait_for_stream_end`].
    Huge(usize),
}

/// How a streamed [`Reply::Huge`] body ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamEnd {
    /// Bytes handed to the connection before the end.
    pub sent: usize,
    /// Whether the whole body was handed over (false: the client hung up first).
    pub complete: bool,
}

#[derive(Default)]
struct Inner {
    received: Mutex<Vec<Received>>,
    refuse_next: AtomicU32,
    arrived: Notify,
    reply: Mutex<Reply>,
    stream_ends: Mutex<Vec<StreamEnd>>,
    stream_ended: Notify,
    held: watch::Sender<bool>,
}

/// While it lives, the receiver holds every request open without answering (the sender's
/// attempt stays in flight); dropping it answers them.
pub struct Hold {
    inner: Arc<Inner>,
}

impl Drop for Hold {
    fn drop(&mut self) {
        self.inner.held.send_replace(false);
    }
}

/// The state of a streamed huge body; dropping it (at the end, or when the client hangs up)
/// reports how far it got.
struct Streaming {
    left: usize,
    sent: usize,
    inner: Arc<Inner>,
}

impl Drop for Streaming {
    fn drop(&mut self) {
        self.inner.stream_ends.lock().unwrap().push(StreamEnd { sent: self.sent, complete: self.left == 0 });
        self.inner.stream_ended.notify_waiters();
    }
}

fn huge_body(inner: Arc<Inner>, size: usize) -> Body {
    let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
    let state = Streaming { left: size, sent: 0, inner };
    Body::from_stream(futures_util::stream::unfold(state, move |mut state| {
        let chunk = chunk.clone();
        async move {
            let n = state.left.min(chunk.len());
            if n == 0 {
                return None;
            }
            state.left -= n;
            state.sent += n;
            Some((Ok::<_, Infallible>(chunk.slice(..n)), state))
        }
    }))
}

/// The running receiver.
pub struct Receiver {
    /// `http://127.0.0.1:<port>/hook`.
    pub url: String,
    inner: Arc<Inner>,
    _server: tokio::task::JoinHandle<()>,
}

async fn hook(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    let refuse = inner.refuse_next.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
    let reply = if refuse { Reply::Body(503, Bytes::new()) } else { inner.reply.lock().unwrap().clone() };
    let (status, response) = match reply {
        Reply::NoContent => (StatusCode::NO_CONTENT, StatusCode::NO_CONTENT.into_response()),
        Reply::Body(status, bytes) => {
            let status = StatusCode::from_u16(status).unwrap();
            (status, (status, bytes).into_response())
        }
        Reply::Huge(size) => (StatusCode::OK, (StatusCode::OK, huge_body(Arc::clone(&inner), size)).into_response()),
    };
    inner.received.lock().unwrap().push(Received { headers, body, answered: status.as_u16() });
    inner.arrived.notify_waiters();
    let _ = inner.held.subscribe().wait_for(|held| !*held).await;
    response
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

    /// Holds requests open, unanswered, until the [`Hold`] is dropped (they are recorded as
    /// they arrive).
    pub fn hold(&self) -> Hold {
        self.inner.held.send_replace(true);
        Hold { inner: Arc::clone(&self.inner) }
    }

    /// Answers the requests it does not refuse with `reply` from now on.
    pub fn reply_with(&self, reply: Reply) {
        *self.inner.reply.lock().unwrap() = reply;
    }

    /// Answers every later request it does not refuse with 200 and `body`.
    pub fn answer_with(&self, body: impl Into<Bytes>) {
        self.reply_with(Reply::Body(200, body.into()));
    }

    /// Waits until a streamed [`Reply::Huge`] body has ended, and says how (panics after
    /// `timeout`).
    pub async fn wait_for_stream_end(&self, timeout: Duration) -> StreamEnd {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let ended = self.inner.stream_ended.notified();
            tokio::pin!(ended);
            ended.as_mut().enable();
            if let Some(end) = self.inner.stream_ends.lock().unwrap().first() {
                return *end;
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            assert!(!left.is_zero(), "no streamed body ended within {timeout:?}");
            let _ = tokio::time::timeout(left, ended).await;
        }
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
