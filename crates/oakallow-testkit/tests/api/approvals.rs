//! Approvals under a manual clock: timeouts and their overrides and clamps, expiry at the
//! deadline on every read, no decision or token afterwards, `approval.expired` sent once,
//! two-level approvals (by two approver identities), cancellation, and `Idempotency-Key`.

use std::time::Duration;

use oakallow_domain::Timestamp;
use oakallow_testkit::receiver::Receiver;
use oakallow_testkit::{Backend, TestApp, TestOptions};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::workflow::connect_webhooks;

fn seconds_between(approval: &Value) -> i64 {
    let at = |field: &str| Timestamp::parse_rfc3339(approval[field].as_str().unwrap()).unwrap();
    (at("expires_at").micros() - at("created_at").micros()) / 1_000_000
}

pub(crate) async fn ask(app: &TestApp, body: Value) -> Value {
    let (status, approval) = app.post("/v1/approvals", &app.keys.standard, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{approval}");
    approval
}

/// A manual clock and a sweeper that never runs by itself (the test sweeps).
fn still_time() -> TestOptions {
    let mut options = TestOptions::new(Backend::Sqlite).manual_clock();
    options.config.sweep_interval = Duration::from_secs(3600);
    options
}

#[tokio::test]
async fn timeouts_default_override_and_clamp() {
    let app = TestApp::start_with(still_time()).await;
    app.create("/v1/tools", json!({"name": "plain"})).await;
    app.create("/v1/tools", json!({"name": "quick", "approval_timeout_seconds": 300})).await;
    assert_eq!(seconds_between(&ask(&app, json!({"tool": "plain", "reason": "r"})).await), 3600, "default one hour");
    assert_eq!(seconds_between(&ask(&app, json!({"tool": "quick", "reason": "r"})).await), 300, "the tool's timeout");
    app.expect(StatusCode::OK, Method::PATCH, "/v1/org", &app.keys.management, Some(&json!({"approval_timeout_seconds": 900}))).await;
    assert_eq!(seconds_between(&ask(&app, json!({"tool": "plain", "reason": "r"})).await), 900, "the org's timeout");
    assert_eq!(seconds_between(&ask(&app, json!({"tool": "quick", "reason": "r"})).await), 300, "the tool's beats the org's");
    assert_eq!(
        seconds_between(&ask(&app, json!({"tool": "quick", "reason": "r", "timeout_seconds": 120})).await),
        120,
        "the request's beats both"
    );
    assert_eq!(seconds_between(&ask(&app, json!({"tool": "plain", "reason": "r", "timeout_seconds": 5})).await), 60, "clamped up to 60 s");
    assert_eq!(
        seconds_between(&ask(&app, json!({"tool": "plain", "reason": "r", "timeout_seconds": 99_999_999})).await),
        604_800,
        "clamped down to 7 days"
    );
    let check = app.check(json!({"tool": "quick"})).await;
    assert_eq!(check["approval_timeout_seconds"], 300);
}

#[tokio::test]
async fn expiry_at_the_deadline_on_every_read_and_announced_once() {
    let app = TestApp::start_with(still_time()).await;
    let receiver = Receiver::start().await;
    connect_webhooks(&app, &receiver).await;
    app.create("/v1/tools", json!({"name": "t"})).await;
    let approval = ask(&app, json!({"tool": "t", "reason": "r", "timeout_seconds": 60})).await;
    let id = approval["id"].as_str().unwrap();
    let path = format!("/v1/approvals/{id}");

    app.advance(59);
    assert_eq!(app.get(&path, &app.keys.standard).await.1["status"], "pending");
    app.advance(1);
    for key in [&app.keys.standard, &app.keys.approver] {
        let (_, read) = app.get(&path, key).await;
        assert_eq!(
            (read["status"].as_str(), read["decided_at"].clone()),
            (Some("expired"), approval["expires_at"].clone()),
            "expired on read at the deadline"
        );
    }
    let (_, listed) = app.call(Method::GET, "/v1/approvals?status=pending", Some(&app.keys.approver), None).await;
    assert_eq!(listed["data"], json!([]));
    let (_, listed) = app.call(Method::GET, "/v1/approvals?status=expired", Some(&app.keys.approver), None).await;
    assert_eq!(listed["data"][0]["id"], id);

    let (status, refused) =
        app.post(&format!("{path}/decide"), &app.keys.approver, &json!({"decision": "approved", "decided_by": "alice"})).await;
    assert_eq!((status, refused["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("approval_not_pending")));
    assert_eq!(refused["error"]["details"]["status"], "expired");
    let (status, _) = app.post(&format!("{path}/cancel"), &app.keys.standard, &json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, refused) = app.post("/v1/tokens", &app.keys.standard, &json!({"approval_id": id})).await;
    assert_eq!((status, refused["error"]["details"]["reason"].as_str()), (StatusCode::CONFLICT, Some("approval_expired")));

    assert_eq!(app.service.sweep_expired_approvals().await.unwrap(), 1);
    assert_eq!(app.service.sweep_expired_approvals().await.unwrap(), 0, "marked once");
    receiver.wait_for(2, Duration::from_secs(10)).await;
    app.webhook_pass().await;
    assert_eq!(receiver.events("approval.expired").len(), 1, "announced once");
    let (_, expired) = app.get("/v1/activity?type=approval.expired", &app.keys.management).await;
    assert_eq!(expired["data"].as_array().unwrap().len(), 1);
    let (status, _) =
        app.post(&format!("{path}/decide"), &app.keys.approver, &json!({"decision": "approved", "decided_by": "alice"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "still refused after the sweep");
}

#[tokio::test]
async fn the_background_sweeper_announces_each_expiry_once() {
    let mut options = TestOptions::new(Backend::Sqlite).manual_clock();
    options.config.sweep_interval = Duration::from_millis(20);
    let app = TestApp::start_with(options).await;
    let receiver = Receiver::start().await;
    connect_webhooks(&app, &receiver).await;
    app.create("/v1/tools", json!({"name": "t"})).await;
    for _ in 0..3 {
        ask(&app, json!({"tool": "t", "reason": "r", "timeout_seconds": 60})).await;
    }
    app.advance(61);
    receiver.wait_for(6, Duration::from_secs(10)).await;
    // Every approval is stored expired now, so no sweep can announce one again.
    let (_, expired) = app.get("/v1/activity?type=approval.expired", &app.keys.management).await;
    assert_eq!(expired["data"].as_array().unwrap().len(), 3);
    app.webhook_pass().await;
    assert_eq!(receiver.events("approval.expired").len(), 3);
    assert_eq!(receiver.events("approval.created").len(), 3);
}

/// A new approver key of the app's org: its raw text and id.
pub(crate) async fn another_approver(app: &TestApp) -> (String, String) {
    let (status, created) = app.post("/v1/keys", &app.keys.management, &json!({"name": "second approver", "tier": "approver"})).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    (created["key"].as_str().unwrap().to_owned(), created["id"].as_str().unwrap().to_owned())
}

/// The id of a key of the app's org.
pub(crate) async fn key_id(app: &TestApp, raw: &str) -> String {
    app.key_id(raw).await
}

/// Decides approval `id` with `key`, as `by`.
pub(crate) async fn decide_with(app: &TestApp, key: &str, id: &str, decision: &str, by: &str) -> (StatusCode, Value) {
    let body = json!({"decision": decision, "decided_by": by, "note": format!("{by}: {decision}")});
    app.post(&format!("/v1/approvals/{id}/decide"), key, &body).await
}

#[tokio::test]
async fn two_levels_need_two_different_people() {
    let app = TestApp::start_with(still_time()).await;
    let receiver = Receiver::start().await;
    connect_webhooks(&app, &receiver).await;
    app.create("/v1/tools", json!({"name": "wire", "requires_second_approval": true})).await;
    let (second_key, second_id) = another_approver(&app).await;
    let first_id = key_id(&app, &app.keys.approver).await;
    let alice = &app.keys.approver;

    let approval = ask(&app, json!({"tool": "wire", "reason": "payroll"})).await;
    assert_eq!((approval["level"].as_u64(), approval["required_levels"].as_u64()), (Some(1), Some(2)));
    let id = approval["id"].as_str().unwrap().to_owned();
    let (_, first) = decide_with(&app, alice, &id, "approved", "alice").await;
    assert_eq!((first["status"].as_str(), first["level"].as_u64()), (Some("pending"), Some(2)), "{first}");
    let (status, same) = decide_with(&app, alice, &id, "approved", "alice").await;
    assert_eq!((status, same["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("conflict")), "the same person cannot approve twice");
    let (_, minted) = app.post("/v1/tokens", &app.keys.standard, &json!({"approval_id": id})).await;
    assert_eq!(minted["error"]["details"]["reason"], "not_approved", "one level is not enough");
    let (_, denied) = decide_with(&app, &second_key, &id, "denied", "bob").await;
    assert_eq!(
        (denied["status"].as_str(), denied["decided_by"].as_str(), denied["note"].as_str()),
        (Some("denied"), Some("bob"), Some("bob: denied"))
    );
    let deciders: Vec<&Value> = denied["decisions"].as_array().unwrap().iter().map(|d| &d["decider"]).collect();
    assert_eq!(deciders, [&json!({"kind": "key", "id": first_id}), &json!({"kind": "key", "id": second_id})], "{denied}");

    let second = ask(&app, json!({"tool": "wire", "reason": "payroll"})).await;
    let second_approval = second["id"].as_str().unwrap().to_owned();
    decide_with(&app, alice, &second_approval, "approved", "alice").await;
    let (_, approved) = decide_with(&app, &second_key, &second_approval, "approved", "bob").await;
    assert_eq!(approved["status"], "approved");
    let (status, _) = app.post("/v1/tokens", &app.keys.standard, &json!({"approval_id": second_approval})).await;
    assert_eq!(status, StatusCode::CREATED);

    let third = ask(&app, json!({"tool": "wire", "reason": "payroll"})).await;
    let (_, denied_first) = decide_with(&app, alice, third["id"].as_str().unwrap(), "denied", "carol").await;
    assert_eq!((denied_first["status"].as_str(), denied_first["level"].as_u64()), (Some("denied"), Some(1)), "level 1 may deny");

    receiver.wait_for(8, Duration::from_secs(10)).await;
    assert_eq!(receiver.events("approval.escalated").len(), 2);
    assert_eq!(receiver.events("approval.decided").len(), 3);
    let escalated = receiver.events("approval.escalated")[0].json();
    assert_eq!((escalated["data"]["decided_by"].as_str(), escalated["data"]["approval"]["level"].as_u64()), (Some("alice"), Some(2)));
    assert_eq!(escalated["data"]["decider"], json!({"kind": "key", "id": first_id}), "the webhook names the verified decider");
}

#[tokio::test]
async fn deciding_needs_an_approver_and_a_name() {
    let app = TestApp::start_with(still_time()).await;
    app.create("/v1/tools", json!({"name": "t"})).await;
    let approval = ask(&app, json!({"tool": "t", "reason": "r"})).await;
    let path = format!("/v1/approvals/{}/decide", approval["id"].as_str().unwrap());
    let body = json!({"decision": "approved", "decided_by": "alice"});
    for key in [&app.keys.standard, &app.keys.management] {
        let (status, _) = app.post(&path, key, &body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "the agent's own key can never approve");
    }
    let (status, _) = app.post(&path, &app.keys.approver, &json!({"decision": "approved"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "decided_by is required");
    let (status, _) = app.post(&path, &app.keys.approver, &json!({"decision": "maybe", "decided_by": "a"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = app.get(&format!("/v1/approvals/{}", approval["id"].as_str().unwrap()), &app.keys.management).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "management keys do not call approval endpoints");
}

#[tokio::test]
async fn create_is_idempotent_and_refuses_disabled_tools() {
    let app = TestApp::start_with(still_time()).await;
    app.create("/v1/tools", json!({"name": "t"})).await;
    app.create("/v1/tools", json!({"name": "off", "enabled": false})).await;
    let body = json!({"tool": "t", "reason": "r", "params": {"a": 1}});
    let send = |body: Value, key: &'static str| {
        let request =
            app.request(Method::POST, "/v1/approvals").header("X-API-Key", &app.keys.standard).header("Idempotency-Key", key).json(&body);
        async move {
            let response = request.send().await.unwrap();
            let replayed = response.headers().contains_key("idempotent-replayed");
            (response.status(), replayed, response.json::<Value>().await.unwrap())
        }
    };
    let (status, replayed, first) = send(body.clone(), "key-1").await;
    assert_eq!((status, replayed), (StatusCode::CREATED, false));
    let (status, replayed, again) = send(body.clone(), "key-1").await;
    assert_eq!((status, replayed, &again["id"]), (StatusCode::CREATED, true, &first["id"]), "the same approval");
    let (status, _, conflict) = send(json!({"tool": "t", "reason": "other"}), "key-1").await;
    assert_eq!((status, conflict["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("conflict")));
    let (_, created) = app.get("/v1/activity?type=approval.created", &app.keys.management).await;
    assert_eq!(created["data"].as_array().unwrap().len(), 1, "no duplicate");
    app.advance(24 * 3600);
    let (_, _, later) = send(body.clone(), "key-1").await;
    assert_ne!(later["id"], first["id"], "after 24 hours the key is new again");

    let before = app.get("/v1/activity?limit=500", &app.keys.management).await.1["data"].as_array().unwrap().len();
    let (status, refused) = app.post("/v1/approvals", &app.keys.standard, &json!({"tool": "off", "reason": "r"})).await;
    assert_eq!((status, refused["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("tool_disabled")));
    app.create("/v1/rules", json!({"tool": "t", "permission": "disabled"})).await;
    let (status, _) = app.post("/v1/approvals/request", &app.keys.standard, &json!({"tool": "t", "reason": "r"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a rule that disables is re-resolved too (alias path)");
    let after = app.get("/v1/activity?limit=500", &app.keys.management).await.1["data"].as_array().unwrap().len();
    assert_eq!(after, before + 1, "only the rule's config.changed: nothing created");
}

#[tokio::test]
async fn the_requester_can_cancel_and_waiters_wake() {
    let app = TestApp::start_with(TestOptions::new(Backend::Sqlite)).await;
    app.create("/v1/tools", json!({"name": "t"})).await;
    let approval = ask(&app, json!({"tool": "t", "reason": "r"})).await;
    let id = approval["id"].as_str().unwrap().to_owned();
    let poll = {
        let request = app.request(Method::GET, &format!("/v1/approvals/{id}?wait=20")).header("X-API-Key", &app.keys.approver);
        tokio::spawn(async move { request.send().await.unwrap().json::<Value>().await.unwrap() })
    };
    app.parked_long_polls(1).await;
    let (status, cancelled) = app.post(&format!("/v1/approvals/{id}/cancel"), &app.keys.standard, &json!({})).await;
    assert_eq!((status, cancelled["status"].as_str()), (StatusCode::OK, Some("cancelled")));
    let woke = tokio::time::timeout(Duration::from_secs(10), poll).await.expect("the long-poll woke").unwrap();
    assert_eq!(woke["status"], "cancelled");
    let (status, _) = app.post(&format!("/v1/approvals/{id}/cancel"), &app.keys.standard, &json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = app.get(&format!("/v1/approvals/{id}?wait=61"), &app.keys.standard).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // A long-poll of an approval that is no longer pending is answered without waiting (well
    // before its 60 s).
    let path = format!("/v1/approvals/{id}?wait=60");
    let (status, quick) = tokio::time::timeout(Duration::from_secs(30), app.get(&path, &app.keys.standard))
        .await
        .expect("a decided approval answers at once");
    assert_eq!((status, quick["status"].as_str()), (StatusCode::OK, Some("cancelled")));
}

#[tokio::test]
async fn stopping_the_server_answers_waiting_long_polls() {
    let app = TestApp::start_with(TestOptions::new(Backend::Sqlite)).await;
    app.create("/v1/tools", json!({"name": "t"})).await;
    let approval = ask(&app, json!({"tool": "t", "reason": "r"})).await;
    let poll = {
        let request = app
            .request(Method::GET, &format!("/v1/approvals/{}?wait=60", approval["id"].as_str().unwrap()))
            .header("X-API-Key", &app.keys.approver);
        tokio::spawn(async move { request.send().await.unwrap().json::<Value>().await.unwrap() })
    };
    app.parked_long_polls(1).await;
    // Stopping answers the long-poll at once, well before its minute.
    tokio::time::timeout(Duration::from_secs(30), app.stop()).await.expect("stopping does not wait for the long-poll's minute");
    let answered = tokio::time::timeout(Duration::from_secs(30), poll).await.expect("the long-poll was answered").unwrap();
    assert_eq!(answered["status"], "pending");
}
