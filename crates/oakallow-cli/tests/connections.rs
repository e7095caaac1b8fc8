//! Anonymous clients cannot hold the real binary: a half-sent request header is cut off, the
//! server keeps answering `/v1/health` with more half-open connections than it has file
//! descriptors, and SIGTERM ends it even while clients hold connections half-open or keep a
//! request from finishing (the shutdown deadline).

#![expect(clippy::unwrap_used, reason = "tests: a failed step is a failed test")]

mod support;

use std::time::Duration;

use support::{Server, bootstrap};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The start of a request whose header never ends.
const HALF_HEADER: &[u8] = b"GET /v1/health HTTP/1.1\r\nHost: oakallow\r\nX-Slow: ";

/// How long a test waits for the server to do what it must.
const DEADLINE: Duration = Duration::from_secs(10);

fn address(server: &Server) -> String {
    server.base.trim_start_matches("http://").to_owned()
}

/// Waits for the server to close `stream` (EOF or reset); panics after [`DEADLINE`].
async fn closed_by_server(stream: &mut TcpStream) {
    let mut buffer = [0u8; 1024];
    let closed = tokio::time::timeout(DEADLINE, async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the server kept the connection open");
}

/// A connection on which one whole request was answered (so the server has surely accepted
/// it), then half of the next request's header was sent.
async fn half_open(address: &str) -> TcpStream {
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(b"GET /v1/health HTTP/1.1\r\nHost: oakallow\r\n\r\n").await.unwrap();
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") || !answer.ends_with(b"}") {
        let read = stream.read(&mut buffer).await.unwrap();
        assert!(read > 0, "the server closed before answering");
        answer.extend_from_slice(&buffer[..read]);
    }
    assert!(answer.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&answer));
    stream.write_all(HALF_HEADER).await.unwrap();
    stream
}

#[tokio::test]
async fn a_half_sent_header_is_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&["--data-dir", data.to_str().unwrap()], &[("OAKALLOW_SERVER__HEADER_READ_TIMEOUT_SECONDS", "1")]);
    let mut fresh = TcpStream::connect(address(&server)).await.unwrap();
    fresh.write_all(HALF_HEADER).await.unwrap();
    closed_by_server(&mut fresh).await;
    let mut kept_alive = half_open(&address(&server)).await;
    closed_by_server(&mut kept_alive).await;
    assert!(server.stop().success());
}

#[tokio::test]
async fn health_answers_with_more_half_open_connections_than_descriptors() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let env = [("OAKALLOW_SERVER__HEADER_READ_TIMEOUT_SECONDS", "600"), ("OAKALLOW_SERVER__IDLE_TIMEOUT_SECONDS", "600")];
    let server = Server::start_with_open_files(&["--data-dir", data.to_str().unwrap()], &env, 256);
    let mut held = Vec::new();
    for n in 0..400 {
        let connected = tokio::time::timeout(DEADLINE, TcpStream::connect(address(&server))).await;
        let mut stream = connected.unwrap_or_else(|_| panic!("connection {n} was not accepted")).unwrap();
        stream.write_all(HALF_HEADER).await.unwrap();
        held.push(stream);
    }
    let health = reqwest::Client::new().get(format!("{}/v1/health", server.base)).timeout(DEADLINE).send().await;
    let status = health.map(|response| response.status());
    assert_eq!(status.ok(), Some(reqwest::StatusCode::OK), "/v1/health answers while 400 connections are held half-open");
    assert!(server.stop().success());
    drop(held);
}

/// A connection whose request is in flight: the handler waits for a body that never comes.
async fn stuck_in_a_request(address: &str, key: &str) -> TcpStream {
    let mut stream = TcpStream::connect(address).await.unwrap();
    let head =
        format!("POST /v1/check HTTP/1.1\r\nHost: oakallow\r\nX-API-Key: {key}\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let mut buffer = [0u8; 1024];
    while !answer.ends_with(b"\r\n\r\n") {
        let read = stream.read(&mut buffer).await.unwrap();
        assert!(read > 0, "the server closed before asking for the body");
        answer.extend_from_slice(&buffer[..read]);
    }
    assert!(answer.starts_with(b"HTTP/1.1 100"), "{}", String::from_utf8_lossy(&answer));
    stream
}

#[tokio::test]
async fn sigterm_ends_the_server_despite_half_open_connections_and_stuck_requests() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let database = ["--data-dir", data.to_str().unwrap()];
    let keys = bootstrap(&database, "owner@example.com");
    let env = [
        ("OAKALLOW_SERVER__HEADER_READ_TIMEOUT_SECONDS", "600"),
        ("OAKALLOW_SERVER__BODY_READ_TIMEOUT_SECONDS", "600"),
        ("OAKALLOW_SERVER__SHUTDOWN_TIMEOUT_SECONDS", "1"),
    ];
    let server = Server::start(&database, &env);
    let mut fresh = TcpStream::connect(address(&server)).await.unwrap();
    fresh.write_all(HALF_HEADER).await.unwrap();
    // Connections are accepted in order: once a later one is answered, this one is accepted.
    let kept_alive = half_open(&address(&server)).await;
    let stuck = stuck_in_a_request(&address(&server), keys["standard_key"].as_str().unwrap()).await;
    assert!(server.stop().success(), "a clean exit within the shutdown deadline");
    drop((fresh, kept_alive, stuck));
}
