//! Webhooks: signatures checked by an independent implementation (the `standardwebhooks` PyPI
//! package) and by recomputing ours, retries through an outage and a restart with the same
//! `webhook-id`, the delivery log, and the SSRF guard.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use oakallow_testkit::receiver::Receiver;
use oakallow_testkit::{Backend, TestApp, TestOptions};
use reqwest::StatusCode;
use serde_json::json;

use crate::workflow::{assert_oakallow_signature, connect_webhooks};

/// Verifies a delivery with the `standardwebhooks` Python package (the test using it is
/// compiled as ignored where the package is missing; CI installs it).
fn verify_with_standardwebhooks(secret: &str, body: &[u8], headers: &[(&str, &str)]) -> Result<(), String> {
    let script = r#"
import json, sys
from standardwebhooks.webhooks import Webhook
case = json.load(sys.stdin)
try:
    Webhook(case["secret"]).verify(case["body"].encode(), case["headers"])
    print("ok")
except Exception as error:
    print("refused: %r" % (error,))
"#;
    let case = json!({
        "secret": secret,
        "body": String::from_utf8(body.to_vec()).unwrap(),
        "headers": headers.iter().map(|(k, v)| ((*k).to_owned(), json!(v))).collect::<serde_json::Map<_, _>>(),
    });
    let mut child = Command::new("python3").args(["-c", script]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(case.to_string().as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    let answer = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if answer == "ok" { Ok(()) } else { Err(answer) }
}

#[tokio::test]
#[cfg_attr(not(python_standardwebhooks), ignore = "needs the standardwebhooks Python package: pip install standardwebhooks")]
async fn signatures_verify_with_an_independent_implementation() {
    let app = TestApp::start_with(TestOptions::new(Backend::Sqlite)).await;
    let receiver = Receiver::start().await;
    let secret = connect_webhooks(&app, &receiver).await;
    assert!(secret.starts_with("whsec_"));
    let (status, test) = app.post("/v1/webhooks/test", &app.keys.management, &json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{test}");
    let received = receiver.wait_for(1, Duration::from_secs(10)).await.remove(0);
    assert_eq!(received.header("webhook-id"), test["event_id"].as_str().unwrap());
    assert_eq!(received.json()["type"], "webhook.test");
    assert_oakallow_signature(&received, &secret);

    let headers = [
        ("webhook-id", received.header("webhook-id")),
        ("webhook-timestamp", received.header("webhook-timestamp")),
        ("webhook-signature", received.header("webhook-signature")),
    ];
    assert_eq!(verify_with_standardwebhooks(&secret, &received.body, &headers), Ok(()), "standardwebhooks accepts our delivery");
    let mut tampered = received.body.to_vec();
    tampered[5] ^= 1;
    assert!(verify_with_standardwebhooks(&secret, &tampered, &headers).is_err(), "and refuses a changed body");
    let (status, rotated) = app.post("/v1/org/webhook-secret/rotate", &app.keys.management, &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let other = rotated["secret"].as_str().unwrap();
    assert!(verify_with_standardwebhooks(other, &received.body, &headers).is_err(), "and another secret");
}

#[tokio::test]
async fn an_outage_and_a_restart_lose_nothing() {
    let app = TestApp::start_with(TestOptions::new(Backend::Sqlite).manual_clock()).await;
    let receiver = Receiver::start().await;
    connect_webhooks(&app, &receiver).await;
    receiver.refuse_next(3);
    let (_, test) = app.post("/v1/webhooks/test", &app.keys.management, &json!({})).await;
    let event_id = test["event_id"].as_str().unwrap().to_owned();

    receiver.wait_for(1, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(receiver.received().len(), 1, "no retry before its time");
    app.advance(5);
    receiver.wait_for(2, Duration::from_secs(10)).await;

    // A restart between attempts: the outbox is in the database.
    let app = app.restart().await;
    app.advance(29);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(receiver.received().len(), 2, "the second retry waits 30 s");
    app.advance(1);
    receiver.wait_for(3, Duration::from_secs(10)).await;
    app.advance(120);
    let all = receiver.wait_for(4, Duration::from_secs(10)).await;

    assert!(all.iter().all(|r| r.header("webhook-id") == event_id), "the same webhook-id on every attempt");
    assert_eq!(all.iter().map(|r| r.answered).collect::<Vec<_>>(), [503, 503, 503, 204]);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (_, deliveries) = app.get("/v1/webhooks/deliveries", &app.keys.management).await;
    let delivery = &deliveries["data"][0];
    assert_eq!(
        (delivery["status"].as_str(), delivery["attempts"].as_u64(), delivery["event_id"].as_str()),
        (Some("delivered"), Some(4), Some(event_id.as_str()))
    );
    let codes: Vec<u64> = delivery["attempt_log"].as_array().unwrap().iter().map(|a| a["status_code"].as_u64().unwrap()).collect();
    assert_eq!(codes, [503, 503, 503, 204]);
    assert_eq!(receiver.received().len(), 4, "delivered once, not again");

    // A manual retry delivers again, now, with the same event id.
    let (status, retried) =
        app.post(&format!("/v1/webhooks/deliveries/{}/retry", delivery["id"].as_str().unwrap()), &app.keys.management, &json!({})).await;
    assert_eq!((status, retried["status"].as_str()), (StatusCode::OK, Some("pending")));
    let all = receiver.wait_for(5, Duration::from_secs(10)).await;
    assert_eq!(all[4].header("webhook-id"), event_id);
}

#[tokio::test]
async fn a_delivery_fails_after_the_last_retry() {
    let mut options = TestOptions::new(Backend::Sqlite).manual_clock();
    options.config.webhooks.retry_schedule_seconds = vec![5, 30];
    let app = TestApp::start_with(options).await;
    let receiver = Receiver::start().await;
    connect_webhooks(&app, &receiver).await;
    receiver.refuse_next(10);
    app.post("/v1/webhooks/test", &app.keys.management, &json!({})).await;
    receiver.wait_for(1, Duration::from_secs(10)).await;
    app.advance(5);
    receiver.wait_for(2, Duration::from_secs(10)).await;
    app.advance(30);
    receiver.wait_for(3, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    app.advance(100_000);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(receiver.received().len(), 3);
    let (_, failed) = app.get("/v1/webhooks/deliveries?status=failed", &app.keys.management).await;
    assert_eq!(failed["data"][0]["attempts"], 3);
    assert_eq!(failed["data"][0]["next_attempt_at"], serde_json::Value::Null);
}

#[tokio::test]
async fn events_follow_the_orgs_subscription() {
    let app = TestApp::start_with(TestOptions::new(Backend::Sqlite)).await;
    let receiver = Receiver::start().await;
    connect_webhooks(&app, &receiver).await;
    app.patch("/v1/org", &app.keys.management, &json!({"webhook_events": ["approval.decided"]})).await;
    app.create("/v1/tools", json!({"name": "t"})).await;
    let (_, approval) = app.post("/v1/approvals", &app.keys.standard, &json!({"tool": "t", "reason": "r"})).await;
    let id = approval["id"].as_str().unwrap();
    app.post(&format!("/v1/approvals/{id}/decide"), &app.keys.approver, &json!({"decision": "denied", "decided_by": "bob"})).await;
    let received = receiver.wait_for(1, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(receiver.received().len(), 1, "approval.created was not subscribed");
    assert_eq!(received[0].header("x-oakallow-event"), "approval.decided");
}

#[tokio::test]
async fn private_destinations_are_refused_unless_allowed() {
    let mut options = TestOptions::new(Backend::Sqlite);
    options.config.webhooks.allow_private_targets = false;
    let app = TestApp::start_with(options).await;
    for url in [
        "http://127.0.0.1:9/hook",
        "http://127.1.2.3/hook",
        "http://10.0.0.5/hook",
        "http://172.16.3.4/hook",
        "http://192.168.1.1/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://100.64.0.1/",
        "http://0.0.0.0/",
        "http://[::1]/hook",
        "http://[::]/hook",
        "http://[fe80::1]/hook",
        "http://[fd00::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[::ffff:169.254.169.254]/hook",
        "http://localhost:9/hook",
        "http://user:pass@example.com/hook",
    ] {
        let (status, body) = app.patch("/v1/org", &app.keys.management, &json!({"webhook_url": url})).await;
        assert_eq!((status, body["error"]["details"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("webhook_url")), "{url}: {body}");
    }
    let (_, org) = app.get("/v1/org", &app.keys.management).await;
    assert_eq!(org["webhook_url"], serde_json::Value::Null, "nothing was saved");

    // A private destination that got into the database anyway is refused at delivery time.
    let receiver = Receiver::start().await;
    let mut stored = app.store.org(app.keys.org_id.parse().unwrap()).await.unwrap().unwrap();
    stored.webhook_url = Some(receiver.url.replace("127.0.0.1", "localhost"));
    let record = oakallow_domain::audit::ActivityRecord::new(
        stored.id,
        app.now(),
        oakallow_domain::audit::ActivityType::ConfigChanged,
        oakallow_domain::audit::Actor { kind: oakallow_domain::audit::ActorKind::System, id: "test".into(), label: "test".into() },
    );
    app.store.update_org(&stored, stored.updated_at, Some("whsec_dGVzdHRlc3R0ZXN0dGVzdHRlc3R0ZXN0dGVzdHRlc3Q="), record).await.unwrap();
    let app = app.restart().await;
    app.post("/v1/webhooks/test", &app.keys.management, &json!({})).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(receiver.received().is_empty(), "nothing reached the private destination");
    let (_, deliveries) = app.get("/v1/webhooks/deliveries", &app.keys.management).await;
    let error = deliveries["data"][0]["attempt_log"][0]["error"].as_str().unwrap_or_default().to_owned();
    assert!(error.contains("private or internal address"), "{deliveries}");

    // With private targets allowed, the same destination is fine.
    let allowed = TestApp::start_with(TestOptions::new(Backend::Sqlite)).await;
    let (status, _) =
        allowed.patch("/v1/org", &allowed.keys.management, &json!({"webhook_url": receiver.url.replace("127.0.0.1", "localhost")})).await;
    assert_eq!(status, StatusCode::OK);
}
