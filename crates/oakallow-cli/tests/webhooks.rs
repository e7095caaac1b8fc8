//! Webhook delivery by the real binary: deliveries go straight to their destination, never
//! through a proxy named in the environment (a proxy would resolve and reach the destination
//! itself, out of sight of the SSRF guard).

#![expect(clippy::unwrap_used, reason = "tests: a failed step is a failed test")]

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use oakallow_testkit::receiver::Receiver;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{Server, bootstrap};

/// An HTTP proxy that records the first line of every connection it gets and answers 204.
struct FakeProxy {
    url: String,
    seen: Arc<Mutex<Vec<String>>>,
}

impl FakeProxy {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut line = String::new();
                let _ = BufReader::new(&stream).read_line(&mut line);
                log.lock().unwrap().push(line.trim_end().to_owned());
                let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n");
            }
        });
        Self { url, seen }
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

async fn call(base: &str, method: Method, path: &str, key: &str, body: &Value) -> (StatusCode, Value) {
    let response =
        reqwest::Client::new().request(method, format!("{base}{path}")).header("X-API-Key", key).json(body).send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Polls the delivery log until its newest delivery has an attempt recorded (at most 10 s).
async fn first_recorded_delivery(base: &str, key: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, listed) = call(base, Method::GET, "/v1/webhooks/deliveries", key, &Value::Null).await;
        assert_eq!(status, StatusCode::OK, "{listed}");
        if listed["data"][0]["attempts"].as_u64().unwrap_or(0) > 0 {
            return listed["data"][0].clone();
        }
        assert!(Instant::now() < deadline, "no attempt was recorded within 10 s: {listed}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn deliveries_ignore_proxy_variables() {
    let proxy = FakeProxy::start();
    let receiver = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let database = ["--data-dir", data.to_str().unwrap()];
    let keys = bootstrap(&database, "owner@example.com");
    let key = keys["management_key"].as_str().unwrap();
    let mut env = vec![("OAKALLOW_WEBHOOKS__ALLOW_PRIVATE_TARGETS", "true"), ("NO_PROXY", ""), ("no_proxy", "")];
    for variable in ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"] {
        env.push((variable, proxy.url.as_str()));
    }
    let server = Server::start(&database, &env);

    let (status, org) = call(&server.base, Method::PATCH, "/v1/org", key, &json!({"webhook_url": receiver.url})).await;
    assert_eq!(status, StatusCode::OK, "{org}");
    let (status, test) = call(&server.base, Method::POST, "/v1/webhooks/test", key, &json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{test}");
    let delivery = first_recorded_delivery(&server.base, key).await;

    assert_eq!(proxy.seen(), Vec::<String>::new(), "the delivery went through the proxy of the environment");
    assert_eq!((delivery["status"].as_str(), delivery["last_status"].as_u64()), (Some("delivered"), Some(204)), "{delivery}");
    let received = receiver.received();
    assert_eq!(received.len(), 1, "the receiver got the delivery directly");
    assert_eq!(received[0].header("webhook-id"), test["event_id"].as_str().unwrap());
    assert!(server.stop().success());
}
