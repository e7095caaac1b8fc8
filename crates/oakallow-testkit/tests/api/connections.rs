//! The server's connections: idle and slow clients are cut off, a full server makes room by
//! closing the connection that has waited on its client longest (for a header, a body, the next
//! request), and refuses with 503 when it is working on every connection.

use std::time::Duration;

use oakallow_domain::audit::ActivityType;
use oakallow_server::ConnectionLimits;
use oakallow_store::ActivityFilter;
use oakallow_testkit::{Backend, TestApp, TestOptions, wait_until};
use reqwest::StatusCode;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a test waits for the server to do what it must.
const DEADLINE: Duration = Duration::from_secs(10);

/// A limit short enough to wait for.
const SHORT: Duration = Duration::from_millis(300);

/// A limit no test reaches.
const LONG: Duration = Duration::from_secs(600);

async fn app_with(limits: ConnectionLimits) -> TestApp {
    let mut options = TestOptions::new(Backend::Sqlite);
    options.connections = limits;
    TestApp::start_with(options).await
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.base.trim_start_matches("http://")).await.unwrap()
}

/// Reads until `stream` holds `wanted` or the server closes it; answers what arrived.
async fn read_until(stream: &mut TcpStream, wanted: Option<&[u8]>) -> Vec<u8> {
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    let read = tokio::time::timeout(DEADLINE, async {
        loop {
            if wanted.is_some_and(|wanted| received.windows(wanted.len()).any(|w| w == wanted)) {
                return;
            }
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the server neither sent {wanted:?} nor closed the connection; got {}", String::from_utf8_lossy(&received));
    received
}

/// A connection with a request in flight: its header was sent and the handler is waiting for
/// a body that never comes (the server's `100 Continue` says the handler asked for it).
async fn awaiting_body(app: &TestApp) -> TcpStream {
    let mut stream = connect(app).await;
    let head = format!(
        "POST /v1/check HTTP/1.1\r\nHost: oakallow\r\nX-API-Key: {}\r\nContent-Type: application/json\r\n\
         Content-Length: 100\r\nExpect: 100-continue\r\n\r\n{{\"tool\":",
        app.keys.standard
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let answer = read_until(&mut stream, Some(b"100 Continue\r\n\r\n")).await;
    assert!(answer.starts_with(b"HTTP/1.1 100"), "{}", String::from_utf8_lossy(&answer));
    stream
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed() {
    let app = app_with(ConnectionLimits { idle_timeout: SHORT, header_read_timeout: LONG, ..ConnectionLimits::default() }).await;
    let mut stream = connect(&app).await;
    stream.write_all(b"GET /v1/health HTTP/1.1\r\nHost: oakallow\r\n\r\n").await.unwrap();
    let answer = read_until(&mut stream, Some(b"}}")).await;
    assert!(answer.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&answer));
    assert_eq!(read_until(&mut stream, None).await, b"", "closed once idle, with nothing more sent");
}

#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_is_refused() {
    let app = app_with(ConnectionLimits { body_read_timeout: SHORT, ..ConnectionLimits::default() }).await;
    let mut stream = awaiting_body(&app).await;
    let answer = read_until(&mut stream, None).await;
    assert!(answer.starts_with(b"HTTP/1.1 400"), "{}", String::from_utf8_lossy(&answer));
}

#[tokio::test]
async fn a_full_server_closes_the_connection_that_waited_longest() {
    let app = app_with(ConnectionLimits { max_connections: 4, header_read_timeout: LONG, ..ConnectionLimits::default() }).await;
    let mut waiting = Vec::new();
    for _ in 0..4 {
        let mut stream = connect(&app).await;
        stream.write_all(b"GET /v1/health HTTP/1.1\r\nHost: oakallow\r\n").await.unwrap();
        waiting.push(stream);
    }
    let (status, _) = app.call(reqwest::Method::GET, "/v1/health", None, None).await;
    assert_eq!(status, StatusCode::OK, "a new client is served");
    assert_eq!(read_until(&mut waiting[0], None).await, b"", "the first half-open connection made room");
}

#[tokio::test]
async fn a_request_stuck_on_its_body_makes_room_too() {
    let app = app_with(ConnectionLimits { max_connections: 2, body_read_timeout: LONG, ..ConnectionLimits::default() }).await;
    let mut stuck = [awaiting_body(&app).await, awaiting_body(&app).await];
    let (status, _) = app.call(reqwest::Method::GET, "/v1/health", None, None).await;
    assert_eq!(status, StatusCode::OK, "a new client is served");
    assert_eq!(read_until(&mut stuck[0], None).await, b"", "the request stuck longest made room");
}

#[tokio::test]
async fn a_server_working_on_every_connection_refuses_with_503() {
    let app = app_with(ConnectionLimits { max_connections: 2, ..ConnectionLimits::default() }).await;
    let (status, approval) = app.post("/v1/approvals", &app.keys.standard, &json!({ "tool": "deploy", "reason": "r" })).await;
    assert_eq!(status, StatusCode::CREATED, "{approval}");
    let head = format!(
        "GET /v1/approvals/{}?wait=60 HTTP/1.1\r\nHost: oakallow\r\nX-API-Key: {}\r\n\r\n",
        approval["id"].as_str().unwrap(),
        app.keys.standard
    );
    let mut waiting = Vec::new();
    for _ in 0..2 {
        let mut stream = connect(&app).await;
        stream.write_all(head.as_bytes()).await.unwrap();
        waiting.push(stream);
    }
    // A standard key's poll is recorded before it waits: two entries, two long-polls waiting.
    let org = app.keys.org_id.parse().unwrap();
    let polled = ActivityFilter { kind: Some(ActivityType::ApprovalPolled), limit: 10, ..ActivityFilter::default() };
    wait_until("both long-polls wait", DEADLINE, async || app.store.list_activity(org, &polled).await.unwrap().len() == 2).await;
    let mut refused = connect(&app).await;
    let answer = String::from_utf8(read_until(&mut refused, None).await).unwrap();
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("retry-after: 1\r\n") && answer.contains(r#""code":"unavailable""#), "{answer}");
    drop(waiting);
}
