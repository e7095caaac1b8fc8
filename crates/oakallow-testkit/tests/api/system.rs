//! Health, request ids, unknown routes and the OpenAPI document.

use oakallow_testkit::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::json;

/// The committed OpenAPI document.
const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");

#[tokio::test]
async fn health_answers_without_a_key() {
    let app = TestApp::sqlite().await;
    let (status, body) = app.call(Method::GET, "/v1/health", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"status": "ok", "version": env!("CARGO_PKG_VERSION"), "database": {"backend": "sqlite", "status": "ok"}}));
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = TestApp::sqlite().await;
    let response = app.request(Method::GET, "/v1/health").send().await.unwrap();
    let id = response.headers().get("x-request-id").unwrap().to_str().unwrap().to_owned();
    assert!(id.len() >= 32, "{id}");
    let response = app.request(Method::GET, "/v1/nope").header("x-request-id", "trace-me-123").send().await.unwrap();
    assert_eq!(response.headers().get("x-request-id").unwrap(), "trace-me-123");
    let response = app.request(Method::POST, "/v1/check").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers().contains_key("x-request-id"));
}

#[tokio::test]
async fn the_committed_openapi_document_matches_the_code() {
    let generated = serde_json::to_string_pretty(&oakallow_server::openapi()).unwrap() + "\n";
    if std::env::var("OAKALLOW_UPDATE_OPENAPI").as_deref() == Ok("1") {
        std::fs::write(COMMITTED, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(COMMITTED).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/openapi.json is out of date; regenerate it with `cargo run -p oakallow-cli -- openapi > docs/openapi.json` \
         (or run this test with OAKALLOW_UPDATE_OPENAPI=1)"
    );
    let app = TestApp::sqlite().await;
    let (status, served) = app.call(Method::GET, "/v1/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(served, serde_json::from_str::<serde_json::Value>(&committed).unwrap());
    assert_eq!(served["openapi"].as_str().map(|v| v.starts_with("3.1")), Some(true));
    for path in ["/v1/check", "/v1/validate", "/v1/tools/{id}", "/v1/policy", "/v1/activity/verify", "/v1/keys/{id}", "/v1/orgs"] {
        assert!(served["paths"].get(path).is_some(), "{path} is documented");
    }
}
