//! Races provoked every time with the service's pause points: a key revoked while a request is
//! caching it stays revoked.

use std::time::Duration;

use oakallow_service::pauses::PausePoint;
use oakallow_testkit::{Backend, TestApp, TestOptions};
use reqwest::{Method, StatusCode};
use serde_json::json;

/// Options whose periodic cache check never runs during a test, so it cannot hide a stale cache.
fn no_periodic_sync(backend: Backend) -> TestOptions {
    let mut options = TestOptions::new(backend);
    options.config.sync_interval = Duration::from_secs(3600);
    options
}

#[tokio::test]
async fn a_key_revoked_while_a_request_caches_it_stays_revoked() {
    let app = TestApp::start_with(no_periodic_sync(Backend::Sqlite)).await;
    let (status, created) = app.post("/v1/keys", &app.keys.management, &json!({"name": "agent", "tier": "standard"})).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (key, id) = (created["key"].as_str().unwrap().to_owned(), created["id"].as_str().unwrap().to_owned());

    // The management key is cached by now, so the held lookup is the new key's.
    let mut pause = app.service.pause_at(PausePoint::KeyLookedUp);
    let in_flight = {
        let request = app.request(Method::POST, "/v1/check").header("X-API-Key", &key).json(&json!({"tool": "anything"}));
        tokio::spawn(async move { request.send().await.unwrap().status() })
    };
    pause.reached().await;
    let (status, revoked) = app.delete(&format!("/v1/keys/{id}"), &app.keys.management).await;
    assert!(status.is_success(), "{status} {revoked}");
    pause.release();
    // That request overlapped the revocation, so either answer is right for it.
    in_flight.await.unwrap();

    assert_eq!(app.check_with(&key).await, StatusCode::UNAUTHORIZED, "refused from the next request on");
}
