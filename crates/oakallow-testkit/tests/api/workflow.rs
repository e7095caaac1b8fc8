//! The whole runtime loop over HTTP: check → requires_approval → approval → signed webhook →
//! decision by an approver key → webhook → long-poll wakes → token → verified once → execution
//! logged → every step in the activity chain, in order, and the chain verifies.

use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use oakallow_testkit::receiver::{Received, Receiver};
use oakallow_testkit::{Backend, TestApp, TestOptions};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::Sha256;

/// Our own signature header, recomputed here from its definition.
pub fn assert_oakallow_signature(received: &Received, secret: &str) {
    let timestamp = received.header("x-oakallow-timestamp");
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(&received.body);
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(received.header("x-oakallow-signature"), expected);
    assert_eq!(received.header("x-oakallow-delivery"), received.header("webhook-id"));
    assert_eq!(received.header("webhook-timestamp"), timestamp);
}

/// Points the org's webhooks at `receiver` and answers the secret.
pub async fn connect_webhooks(app: &TestApp, receiver: &Receiver) -> String {
    let (status, org) = app.patch("/v1/org", &app.keys.management, &json!({"webhook_url": receiver.url})).await;
    assert_eq!(status, StatusCode::OK, "{org}");
    let (status, rotated) = app.post("/v1/org/webhook-secret/rotate", &app.keys.management, &json!({})).await;
    assert_eq!(status, StatusCode::OK);
    rotated["secret"].as_str().unwrap().to_owned()
}

async fn the_whole_loop(app: TestApp) {
    let receiver = Receiver::start().await;
    let secret = connect_webhooks(&app, &receiver).await;
    app.create(
        "/v1/tools",
        json!({"name": "wire_money", "default_permission": "requires_approval",
        "parameters_schema": {"type": "object", "properties": {"amount": {"type": "integer"}}, "required": ["amount"]}}),
    )
    .await;
    let params = json!({"amount": 250, "to": "ACME"});

    let check = app.check(json!({"tool": "wire_money", "params": params})).await;
    assert_eq!(check["permission"], "requires_approval");

    let request = json!({"tool": "wire_money", "params": params, "reason": "pay the invoice", "check_id": check["check_id"]});
    let (status, approval) = app.post("/v1/approvals", &app.keys.standard, &request).await;
    assert_eq!(status, StatusCode::CREATED, "{approval}");
    assert_eq!((approval["status"].as_str(), approval["level"].as_u64()), (Some("pending"), Some(1)));
    let id = approval["id"].as_str().unwrap().to_owned();

    let created = receiver.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(created[0].header("x-oakallow-event"), "approval.created");
    assert_oakallow_signature(&created[0], &secret);
    let body = created[0].json();
    assert_eq!((body["type"].as_str(), body["data"]["approval"]["id"].as_str()), (Some("approval.created"), Some(id.as_str())));
    assert_eq!(body["data"]["approval"]["reference"], approval["reference"]);

    // Long-poll on one task; decide on another.
    let poll = {
        let path = format!("{}/v1/approvals/{id}?wait=30", app.base);
        let key = app.keys.standard.clone();
        tokio::spawn(async move {
            let response = reqwest::Client::new().get(path).header("X-API-Key", key).send().await.unwrap();
            let body: Value = response.json().await.unwrap();
            (body, Instant::now())
        })
    };
    app.parked_long_polls(1).await;
    assert!(!poll.is_finished(), "the long-poll waits while the approval is pending");
    let decision = json!({"decision": "approved", "decided_by": "alice@example.com", "note": "ok to pay"});
    let (status, decided) = app.post(&format!("/v1/approvals/{id}/decide"), &app.keys.approver, &decision).await;
    let decided_at = Instant::now();
    assert_eq!((status, decided["status"].as_str()), (StatusCode::OK, Some("approved")), "{decided}");
    let (polled, woke_at) = poll.await.unwrap();
    assert_eq!(polled["status"], "approved");
    // How fast it wakes is measured by benchmarks, not asserted here.
    eprintln!("the long-poll woke {:?} after the decision", woke_at.saturating_duration_since(decided_at));

    let decided_hook = receiver.wait_for(2, Duration::from_secs(10)).await;
    assert_eq!(decided_hook[1].header("x-oakallow-event"), "approval.decided");
    let body = decided_hook[1].json();
    // The org redacts personal data (the default), the decider's address too.
    assert_eq!((body["data"]["decision"].as_str(), body["data"]["decided_by"].as_str()), (Some("approved"), Some("[REDACTED:email]")));
    assert_eq!(body["data"]["note"], "ok to pay");

    let (status, minted) = app.post("/v1/tokens", &app.keys.standard, &json!({"approval_id": id})).await;
    assert_eq!(status, StatusCode::CREATED, "{minted}");
    let token = minted["token"].as_str().unwrap();
    let (status, again) = app.post("/v1/tokens", &app.keys.standard, &json!({"approval_id": id})).await;
    assert_eq!(
        (status, again["error"]["details"]["reason"].as_str()),
        (StatusCode::CONFLICT, Some("already_used")),
        "one approval, one token"
    );

    let verify = json!({"token": token, "tool": "wire_money", "params": params});
    let (_, first) = app.post("/v1/tokens/verify", &app.keys.standard, &verify).await;
    assert_eq!((first["valid"].as_bool(), first["reason"].clone()), (Some(true), Value::Null), "{first}");
    let (_, second) = app.post("/v1/tokens/verify", &app.keys.standard, &verify).await;
    assert_eq!((second["valid"].as_bool(), second["reason"].as_str()), (Some(false), Some("used")));

    let execution = json!({"token": token, "tool": "wire_money", "params": params, "result": "success", "duration_ms": 42});
    let (status, logged) = app.post("/v1/executions", &app.keys.standard, &execution).await;
    assert_eq!((status, logged["authorized"].as_bool()), (StatusCode::CREATED, Some(true)), "{logged}");
    let (status, twice) = app.post("/v1/executions", &app.keys.standard, &execution).await;
    assert_eq!((status, twice["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("token_used")));

    let (_, activity) = app.get("/v1/activity?limit=100", &app.keys.management).await;
    let mut steps: Vec<&str> = activity["data"].as_array().unwrap().iter().rev().map(|e| e["type"].as_str().unwrap()).collect();
    steps.retain(|t| !matches!(*t, "config.changed" | "key.created"));
    assert_eq!(
        steps,
        [
            "permission.checked",
            "approval.created",
            "approval.polled",
            "approval.decided",
            "token.minted",
            "token.verified",
            "token.rejected",
            "execution.logged"
        ]
    );
    let (_, verified) = app.get("/v1/activity/verify", &app.keys.management).await;
    assert_eq!(verified["valid"], true, "{verified}");
    let (_, listed) = app.call(Method::GET, "/v1/approvals?status=approved", Some(&app.keys.approver), None).await;
    assert_eq!(listed["data"][0]["id"], id.as_str());
}

#[tokio::test]
async fn the_whole_loop_on_sqlite() {
    the_whole_loop(TestApp::start_with(TestOptions::new(Backend::Sqlite)).await).await;
}

#[tokio::test]
#[cfg_attr(not(postgres_tests), ignore = "needs PostgreSQL: set OAKALLOW_TEST_POSTGRES_URL when building the tests")]
async fn the_whole_loop_on_postgres() {
    the_whole_loop(TestApp::postgres().await).await;
}
