//! Rate limits: a key that floods is answered 429 with `Retry-After` (and nothing is done or
//! billed) while another org's calls keep succeeding; a key may hold only so many long-polls;
//! verifications of one org share one walk of its chain instead of each walking it, an org runs
//! only so many exports at once, and health checks (which need no key) share one database probe.

use std::time::Duration;

use futures_util::future::join_all;
use oakallow_service::rate_limits::Rate;
use oakallow_testkit::{Backend, StoreHooks, TestApp, TestOptions, wait_until};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn entries(app: &TestApp, filter: &str) -> usize {
    let (status, page) = app.get(&format!("/v1/activity?limit=500{filter}"), &app.keys.management).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["data"].as_array().unwrap().len()
}

#[tokio::test]
async fn a_flooding_key_gets_429_with_retry_after_while_another_org_keeps_working() {
    // Time stands still, so the flooding key gets exactly its burst and nothing more.
    let mut options = TestOptions::new(Backend::Sqlite).manual_clock();
    options.config.rate_limits.per_key = Rate { per_second: 10, burst: 20 };
    let app = TestApp::start_with(options).await;
    let other = app.another_org("other@example.com").await;
    let before = entries(&app, "&type=permission.checked").await;

    let app = &app;
    let flood = (0..100).map(|n| async move {
        let request = app.request(Method::POST, "/v1/check").header("X-API-Key", &app.keys.standard);
        let response = request.json(&json!({ "tool": format!("tool-{n}") })).send().await.unwrap();
        let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
        (response.status(), retry_after, response.json::<Value>().await.unwrap())
    });
    let body = json!({ "tool": "deploy" });
    let others = (0..15).map(|_| app.post("/v1/check", &other.standard, &body));
    let (flood, others) = tokio::join!(join_all(flood), join_all(others));

    for (status, body) in &others {
        assert_eq!(*status, StatusCode::OK, "the other org is served during the flood: {body}");
    }
    let admitted = flood.iter().filter(|(status, ..)| *status == StatusCode::OK).count();
    assert_eq!(admitted, 20, "the flooding key gets its burst");
    for (status, retry_after, body) in flood.iter().filter(|(status, ..)| *status != StatusCode::OK) {
        assert_eq!(*status, StatusCode::TOO_MANY_REQUESTS, "{body}");
        assert_eq!(retry_after.as_deref(), Some("1"), "{body}");
        assert_eq!(
            (body["error"]["code"].as_str(), body["error"]["details"]["retry_after_seconds"].as_u64()),
            (Some("rate_limited"), Some(1))
        );
    }
    assert_eq!(entries(app, "&type=permission.checked").await, before + 20, "a refused call does nothing");

    app.advance(1);
    assert_eq!(app.check_with(&app.keys.standard).await, StatusCode::OK, "served again after Retry-After");
}

#[tokio::test]
async fn a_key_holds_only_so_many_long_polls() {
    let mut options = TestOptions::new(Backend::Sqlite);
    options.config.rate_limits.long_polls_per_key = 2;
    let app = TestApp::start_with(options).await;
    let (status, approval) = app.post("/v1/approvals", &app.keys.standard, &json!({ "tool": "deploy", "reason": "r" })).await;
    assert_eq!(status, StatusCode::CREATED, "{approval}");
    let path = format!("/v1/approvals/{}", approval["id"].as_str().unwrap());
    let waiting_path = format!("{path}?wait=60");
    let long_poll = || app.get(&waiting_path, &app.keys.standard);

    let waiting = join_all([long_poll(), long_poll()]);
    let refused = async {
        // A standard key's poll is recorded before it waits: two entries, two waiting polls.
        wait_until("both long-polls wait", Duration::from_secs(10), async || entries(&app, "&type=approval.polled").await == 2).await;
        let refused = long_poll().await;
        let (status, short) = app.get(&path, &app.keys.standard).await;
        assert_eq!(status, StatusCode::OK, "a poll that does not wait is not capped: {short}");
        let (status, cancelled) = app.post(&format!("{path}/cancel"), &app.keys.standard, &json!({})).await;
        assert_eq!(status, StatusCode::OK, "{cancelled}");
        refused
    };
    let (waited, (status, body)) = tokio::join!(waiting, refused);
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited")), "{body}");
    for (status, body) in waited {
        assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("cancelled")), "{body}");
    }
    assert_eq!(long_poll().await.0, StatusCode::OK, "the places are given back");
}

#[tokio::test]
async fn verifications_that_arrive_during_a_walk_share_the_next_walk() {
    let hooks = StoreHooks::new();
    let app = TestApp::start_with(TestOptions::new(Backend::Sqlite).hooked(&hooks)).await;
    let reader = app.service.authenticate(&app.keys.management).await.unwrap().reader().unwrap();
    let mut held = hooks.hold_next_walk();
    let first = app.service.verify_activity(&reader);
    let later = async {
        held.entered().await;
        // Every later call has arrived (and waits for the org's turn) before the walk ends.
        let later = join_all((0..10).map(|_| app.service.verify_activity(&reader)));
        let release = async {
            tokio::task::yield_now().await;
            held.release();
        };
        tokio::join!(later, release).0
    };
    let (first, later) = tokio::join!(first, later);
    assert!(first.unwrap().valid);
    assert!(later.into_iter().all(|answer| answer.unwrap().valid));
    assert_eq!(hooks.walks(), 2, "eleven verifications, two walks of the chain");
}

#[tokio::test]
async fn made_up_keys_cost_a_lookup_each_only_within_the_lookup_budget() {
    let mut options = TestOptions::new(Backend::Sqlite).manual_clock();
    options.config.rate_limits.key_lookups = Rate { per_second: 1, burst: 5 };
    let app = TestApp::start_with(options).await;
    assert_eq!(app.check_with(&app.keys.standard).await, StatusCode::OK, "the first use of a key looks it up");
    let made_up: Vec<String> = (0..8).map(|n| format!("oak_live_{n:032x}")).collect();
    let mut statuses = Vec::new();
    for key in &made_up {
        statuses.push(app.check_with(key).await);
    }
    let unauthenticated = StatusCode::UNAUTHORIZED;
    assert_eq!(statuses[..4], [unauthenticated; 4], "looked up and not found");
    assert_eq!(statuses[4..], [StatusCode::TOO_MANY_REQUESTS; 4], "beyond the lookup budget, refused before any lookup");
    assert_eq!(app.check_with(&made_up[0]).await, unauthenticated, "a key already found unknown costs no lookup");
    assert_eq!(app.check_with(&app.keys.standard).await, StatusCode::OK, "a key in use is not held up");
    assert_eq!(app.check_with(&app.keys.approver).await, StatusCode::TOO_MANY_REQUESTS, "a key not seen yet waits for the budget");
    app.advance(1);
    assert_eq!(app.check_with(&app.keys.approver).await, StatusCode::FORBIDDEN, "and is looked up once it refills");
}

#[tokio::test]
async fn a_flood_of_health_checks_probes_the_database_once_at_a_time() {
    let hooks = StoreHooks::new();
    let app = TestApp::start_with(TestOptions::new(Backend::Sqlite).hooked(&hooks)).await;
    let mut held = hooks.hold_next_ping();
    let first = app.service.health();
    let later = async {
        held.entered().await;
        let later = join_all((0..20).map(|_| app.service.health()));
        let release = async {
            tokio::task::yield_now().await;
            held.release();
        };
        tokio::join!(later, release).0
    };
    let (first, later) = tokio::join!(first, later);
    assert_eq!(first.status, "ok");
    assert!(later.iter().all(|health| health.status == "ok"));
    assert!(hooks.pings() <= 2, "21 health checks, {} database probes", hooks.pings());
}

#[tokio::test]
async fn an_org_runs_only_so_many_exports_at_once() {
    let app = TestApp::sqlite().await;
    let reader = app.service.authenticate(&app.keys.management).await.unwrap().reader().unwrap();
    let query = oakallow_service::activity::ExportQuery::default();
    let running = [app.service.export_activity(&reader, &query).unwrap(), app.service.export_activity(&reader, &query).unwrap()];
    let third = app.service.export_activity(&reader, &query).map(|_| ());
    assert_eq!(third, Err(oakallow_service::ServiceError::RateLimited { retry_after_seconds: 1 }), "two exports are running");
    let other = app.another_org("other@example.com").await;
    let other_reader = app.service.authenticate(&other.management).await.unwrap().reader().unwrap();
    assert!(app.service.export_activity(&other_reader, &query).is_ok(), "another org has its own");
    drop(running);
    for _ in 0..3 {
        let (status, _) = app.get("/v1/activity/export", &app.keys.management).await;
        assert_eq!(status, StatusCode::OK, "an export that ended gave its place back");
    }
}
