//! The load loop against the baseline router on port 0: every request is answered and counted,
//! and a status that is not 2xx is an error.
#![expect(clippy::unwrap_used, reason = "tests: a failed step is a failed test")]

use std::time::Duration;

use axum::body::Bytes;
use oakallow_loadgen::constant::router;
use oakallow_loadgen::http::Request;
use oakallow_loadgen::run::{Plan, run};

async fn serve() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router(Bytes::from_static(b"{\"ok\":true}"))).await });
    addr
}

fn plan(addr: std::net::SocketAddr, method: &str, requests: u64) -> Plan {
    let bodies: [&[u8]; 2] = [b"{\"a\":1}", b"{\"b\":2}"];
    Plan {
        addr,
        requests: bodies.iter().map(|body| Request::new(method, &addr.to_string(), "/v1/check", &[], body)).collect(),
        connections: 4,
        warmup: Duration::ZERO,
        duration: Duration::from_secs(600),
        max_requests: Some(requests),
        timeout: Duration::from_secs(30),
    }
}

#[tokio::test]
async fn every_request_is_answered_and_measured() {
    let addr = serve().await;
    let outcome = run(plan(addr, "POST", 500)).await.unwrap();
    assert_eq!((outcome.responses(), outcome.errors(), outcome.latencies.len()), (500, 0, 500));
    assert_eq!(outcome.statuses.get(&200), Some(&500));
}

#[tokio::test]
async fn statuses_that_are_not_2xx_are_errors() {
    let addr = serve().await;
    let outcome = run(plan(addr, "PUT", 50)).await.unwrap();
    assert_eq!((outcome.responses(), outcome.errors(), outcome.io_errors), (50, 50, 0));
    assert_eq!(outcome.statuses.get(&405), Some(&50));
}

#[tokio::test]
async fn a_closed_port_counts_failed_round_trips() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let outcome = run(plan(addr, "POST", 8)).await.unwrap();
    assert_eq!((outcome.responses(), outcome.io_errors), (0, 8));
    assert!(outcome.first_error.is_some());
}
