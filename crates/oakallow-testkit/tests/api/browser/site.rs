//! A tiny site for the browser harness's own tests: one page that loads the dashboard's real
//! `app.css` and `app.js`, an event stream the test feeds, and an echo of form posts.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::sse::{Event, Sse};
use axum::response::{Html, IntoResponse};
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc};

/// The dashboard's assets.
const ASSETS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../oakallow-server/assets");

/// The page: a field with its label, a copy button, and a live approvals list.
const PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Harness</title>
<link rel="stylesheet" href="/app.css"><script src="/app.js" defer></script></head>
<body><main class="main">
<h1 id="title">Harness</h1>
<div class="field"><label for="note">Note</label><textarea id="note" name="note"></textarea></div>
<div class="secret"><code id="secret">oak_std_copied</code>
<button class="copy" type="button" data-copy="secret">Copy</button></div>
<section data-live-approvals data-src="/events"><p id="initial">No approvals yet.</p></section>
</main></body></html>"#;

/// One event for the page's stream: its type and data.
pub type Message = (&'static str, String);

/// The running site.
pub struct Site {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    events: mpsc::UnboundedSender<Message>,
    connected: Arc<Notify>,
}

#[derive(Clone)]
struct Shared {
    events: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Message>>>,
    connected: Arc<Notify>,
}

impl Site {
    /// Serves the site on a free loopback port until the test ends.
    pub async fn start() -> Self {
        let (events, receiver) = mpsc::unbounded_channel();
        let connected = Arc::new(Notify::new());
        let shared = Shared { events: Arc::new(tokio::sync::Mutex::new(receiver)), connected: Arc::clone(&connected) };
        let router = Router::new()
            .route("/page", get(page))
            .route("/app.css", get(|| asset("app.css", "text/css")))
            .route("/app.js", get(|| asset("app.js", "text/javascript")))
            .route("/events", get(stream))
            .route("/echo", post(echo))
            .with_state(shared);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        Self { base, events, connected }
    }

    /// Waits until the page's event stream is open (events sent before would be lost).
    pub async fn stream_opened(&self) {
        tokio::time::timeout(std::time::Duration::from_secs(10), self.connected.notified()).await.expect("the page opened no event stream");
    }

    /// Sends an event of type `kind` to the open stream.
    pub fn send(&self, kind: &'static str, data: &str) {
        self.events.send((kind, data.to_owned())).unwrap();
    }
}

/// The page, with a session cookie as a dashboard would set it.
async fn page() -> impl IntoResponse {
    ([(header::SET_COOKIE, "session=abc; Path=/; HttpOnly; SameSite=Lax")], Html(PAGE))
}

async fn asset(name: &str, content_type: &'static str) -> impl IntoResponse {
    let body = std::fs::read_to_string(format!("{ASSETS}/{name}")).unwrap();
    ([(header::CONTENT_TYPE, content_type)], body)
}

/// The events the test sends, in order, to the one page that listens.
async fn stream(State(shared): State<Shared>) -> Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>> {
    let receiver = Arc::clone(&shared.events).lock_owned().await;
    shared.connected.notify_one();
    Sse::new(futures_util::stream::unfold(receiver, |mut receiver| async move {
        let (kind, data) = receiver.recv().await?;
        Some((Ok(Event::default().event(kind).data(data)), receiver))
    }))
}

/// What a form post carried: its body and its Cookie header.
async fn echo(headers: HeaderMap, body: Bytes) -> Html<String> {
    let cookie = headers.get(header::COOKIE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let escape = |text: &str| text.replace('&', "&amp;").replace('<', "&lt;");
    let (body, cookie) = (escape(&String::from_utf8_lossy(&body)), escape(cookie));
    Html(format!(r#"<!doctype html><title>Echo</title><pre id="body">{body}</pre><pre id="cookie">[{cookie}]</pre>"#))
}
