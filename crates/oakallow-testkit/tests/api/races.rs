//! Races provoked every time with the service's pause points: a key revoked while a request is
//! caching it stays revoked, and `PATCH /v1/org` never reverts a field another patch changed
//! meanwhile, on one node and across two nodes on one PostgreSQL.

use std::time::Duration;

use oakallow_domain::id::OrgId;
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

async fn a_patch_applies_to_the_org_as_it_is_when_written(app: TestApp) {
    let mut pause = app.service.pause_at(PausePoint::OrgPatchChecked);
    let slow = {
        let request =
            app.request(Method::PATCH, "/v1/org").header("X-API-Key", &app.keys.management).json(&json!({"approval_timeout_seconds": 900}));
        tokio::spawn(async move { request.send().await.unwrap().status() })
    };
    pause.reached().await;
    let (status, renamed) = app.patch("/v1/org", &app.keys.management, &json!({"name": "Renamed"})).await;
    assert_eq!((status, renamed["name"].as_str()), (StatusCode::OK, Some("Renamed")), "{renamed}");
    pause.release();
    assert_eq!(slow.await.unwrap(), StatusCode::OK);

    let (_, org) = app.get("/v1/org", &app.keys.management).await;
    assert_eq!((org["name"].as_str(), org["approval_timeout_seconds"].as_u64()), (Some("Renamed"), Some(900)), "{org}");
    let stored = app.store.org(app.keys.org_id.parse::<OrgId>().unwrap()).await.unwrap().unwrap();
    assert_eq!((stored.name.as_str(), stored.approval_timeout_seconds), ("Renamed", Some(900)));
}

#[tokio::test]
async fn concurrent_org_patches_keep_each_others_fields_sqlite() {
    a_patch_applies_to_the_org_as_it_is_when_written(TestApp::start_with(no_periodic_sync(Backend::Sqlite)).await).await;
}

#[tokio::test]
#[cfg_attr(not(postgres_tests), ignore = "needs PostgreSQL: set OAKALLOW_TEST_POSTGRES_URL when building the tests")]
async fn concurrent_org_patches_keep_each_others_fields_postgres() {
    a_patch_applies_to_the_org_as_it_is_when_written(TestApp::start_with(no_periodic_sync(Backend::Postgres)).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(postgres_tests), ignore = "needs PostgreSQL: set OAKALLOW_TEST_POSTGRES_URL when building the tests")]
async fn a_node_with_a_stale_org_does_not_revert_another_nodes_patch() {
    let options = no_periodic_sync(Backend::Postgres);
    let a = TestApp::start_with(options.clone()).await;
    let b = a.another_node(options.config).await;
    let (status, _) = b.get("/v1/org", &b.keys.management).await;
    assert_eq!(status, StatusCode::OK, "node B caches the org");
    // Node B does not hear of node A's change until the end of the test.
    let held = b.service.pause_at(PausePoint::OrgReload);

    let (status, renamed) = a.patch("/v1/org", &a.keys.management, &json!({"name": "Renamed on A"})).await;
    assert_eq!(status, StatusCode::OK, "{renamed}");
    let (status, patched) = b.patch("/v1/org", &b.keys.management, &json!({"approval_timeout_seconds": 900})).await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!((patched["name"].as_str(), patched["approval_timeout_seconds"].as_u64()), (Some("Renamed on A"), Some(900)));

    let stored = a.store.org(a.keys.org_id.parse::<OrgId>().unwrap()).await.unwrap().unwrap();
    assert_eq!((stored.name.as_str(), stored.approval_timeout_seconds), ("Renamed on A", Some(900)), "both patches are kept");
    drop(held);
}
