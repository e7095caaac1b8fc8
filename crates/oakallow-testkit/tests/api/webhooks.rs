//! Webhooks: signatures checked by an independent implementation (the `standardwebhooks` PyPI
//! package) and by recomputing ours, retries through an outage and a restart with the same
//! `webhook-id`, the delivery log, and the SSRF guard.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use axum::body::Bytes;
use oakallow_domain::id::LeaseId;
use oakallow_store::{AttemptResult, ClaimLimit, DeliveryAttempt, DeliveryLease};
use oakallow_testkit::receiver::{Receiver, Reply};
use oakallow_testkit::{Backend, TestApp, TestOptions};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Connection;

use crate::workflow::{assert_oakallow_signature, connect_webhooks};

/// Sends a `webhook.test` event and answers its event id.
async fn send_test_event(app: &TestApp) -> String {
    let (status, test) = app.post("/v1/webhooks/test", &app.keys.management, &json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{test}");
    test["event_id"].as_str().unwrap().to_owned()
}

/// The org's deliveries (`query` is the query string, e.g. `?status=failed`), newest first.
async fn deliveries(app: &TestApp, query: &str) -> Vec<Value> {
    let (status, listed) = app.get(&format!("/v1/webhooks/deliveries{query}"), &app.keys.management).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    listed["data"].as_array().unwrap().clone()
}

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
    let event_id = send_test_event(&app).await;

    receiver.wait_for(1, Duration::from_secs(10)).await;
    app.webhook_pass().await;
    assert_eq!(receiver.received().len(), 1, "no retry before its time");
    app.advance(5);
    receiver.wait_for(2, Duration::from_secs(10)).await;

    // A restart between attempts: the outbox is in the database.
    let app = app.restart().await;
    app.advance(29);
    app.webhook_pass().await;
    assert_eq!(receiver.received().len(), 2, "the second retry waits 30 s");
    app.advance(1);
    receiver.wait_for(3, Duration::from_secs(10)).await;
    app.advance(120);
    let all = receiver.wait_for(4, Duration::from_secs(10)).await;

    assert!(all.iter().all(|r| r.header("webhook-id") == event_id), "the same webhook-id on every attempt");
    assert_eq!(all.iter().map(|r| r.answered).collect::<Vec<_>>(), [503, 503, 503, 204]);
    app.webhook_pass().await;
    let delivery = deliveries(&app, "").await.remove(0);
    assert_eq!(
        (delivery["status"].as_str(), delivery["attempts"].as_u64(), delivery["event_id"].as_str()),
        (Some("delivered"), Some(4), Some(event_id.as_str()))
    );
    let codes: Vec<u64> = delivery["attempt_log"].as_array().unwrap().iter().map(|a| a["status_code"].as_u64().unwrap()).collect();
    assert_eq!(codes, [503, 503, 503, 204]);
    app.advance(100_000);
    app.webhook_pass().await;
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
    send_test_event(&app).await;
    receiver.wait_for(1, Duration::from_secs(10)).await;
    app.advance(5);
    receiver.wait_for(2, Duration::from_secs(10)).await;
    app.advance(30);
    receiver.wait_for(3, Duration::from_secs(10)).await;
    app.webhook_pass().await;
    app.advance(100_000);
    app.webhook_pass().await;
    assert_eq!(receiver.received().len(), 3);
    let failed = deliveries(&app, "?status=failed").await;
    assert_eq!(failed[0]["attempts"], 3);
    assert_eq!(failed[0]["next_attempt_at"], serde_json::Value::Null);
}

#[tokio::test]
async fn events_follow_the_orgs_subscription() {
    let app = TestApp::start_with(TestOptions::new(Backend::Sqlite)).await;
    let receiver = Receiver::start().await;
    connect_webhooks(&app, &receiver).await;
    let (status, org) = app.patch("/v1/org", &app.keys.management, &json!({"webhook_events": ["approval.decided"]})).await;
    assert_eq!(status, StatusCode::OK, "{org}");
    app.create("/v1/tools", json!({"name": "t"})).await;
    let (status, approval) = app.post("/v1/approvals", &app.keys.standard, &json!({"tool": "t", "reason": "r"})).await;
    assert_eq!(status, StatusCode::CREATED, "{approval}");
    let id = approval["id"].as_str().unwrap();
    let decision = json!({"decision": "denied", "decided_by": "bob"});
    let (status, decided) = app.post(&format!("/v1/approvals/{id}/decide"), &app.keys.approver, &decision).await;
    assert_eq!(status, StatusCode::OK, "{decided}");
    let received = receiver.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(received[0].header("x-oakallow-event"), "approval.decided");
    app.webhook_pass().await;
    let types: Vec<Value> = deliveries(&app, "").await.iter().map(|d| d["event_type"].clone()).collect();
    assert_eq!(types, [json!("approval.decided")], "approval.created was not subscribed, so it has no delivery");
    assert_eq!(receiver.received().len(), 1);
}

#[tokio::test]
async fn a_huge_answer_is_read_no_further_than_its_excerpt() {
    const HUGE: usize = 64 << 20;
    let mut options = TestOptions::new(Backend::Sqlite);
    // Long enough that no timeout cuts the reading short.
    options.config.webhooks.timeout = Duration::from_secs(300);
    let app = TestApp::start_with(options).await;
    let receiver = Receiver::start().await;
    connect_webhooks(&app, &receiver).await;
    receiver.reply_with(Reply::Huge(HUGE));
    send_test_event(&app).await;

    let end = receiver.wait_for_stream_end(Duration::from_secs(10)).await;
    assert!(!end.complete && end.sent < HUGE, "the worker read the whole {HUGE}-byte answer: {end:?}");
    app.webhook_pass().await;
    let delivery = deliveries(&app, "").await.remove(0);
    assert_eq!((delivery["status"].as_str(), delivery["last_status"].as_u64()), (Some("delivered"), Some(200)), "{delivery}");
    assert_eq!(delivery["attempt_log"][0]["response_excerpt"], "x".repeat(512), "the excerpt is the first 512 bytes");
}

/// A receiver answering with text the stores cannot hold as it is (NUL, which PostgreSQL refuses
/// in TEXT, and invalid UTF-8) gets its attempt recorded once, the same on both backends, and
/// is not sent the event again.
async fn receiver_text_is_recorded_the_same_on_every_backend(backend: Backend) {
    let app = TestApp::start_with(TestOptions::new(backend).manual_clock()).await;
    let receiver = Receiver::start().await;
    connect_webhooks(&app, &receiver).await;
    receiver.reply_with(Reply::Body(200, Bytes::from_static(b"ok\0done \xff\xfe \xe2\x9c\x93")));
    send_test_event(&app).await;
    receiver.wait_for(1, Duration::from_secs(10)).await;
    app.webhook_pass().await;

    let delivery = deliveries(&app, "").await.remove(0);
    assert_eq!((delivery["status"].as_str(), delivery["attempts"].as_u64()), (Some("delivered"), Some(1)), "{delivery}");
    assert_eq!(delivery["attempt_log"][0]["response_excerpt"], "ok\u{fffd}done \u{fffd}\u{fffd} \u{2713}");
    app.advance(100_000);
    app.webhook_pass().await;
    assert_eq!(receiver.received().len(), 1, "the delivery was sent again");
}

#[tokio::test]
async fn receiver_text_is_recorded_on_sqlite() {
    receiver_text_is_recorded_the_same_on_every_backend(Backend::Sqlite).await;
}

#[tokio::test]
#[cfg_attr(not(postgres_tests), ignore = "needs PostgreSQL: set OAKALLOW_TEST_POSTGRES_URL when building the tests")]
async fn receiver_text_is_recorded_on_postgres() {
    receiver_text_is_recorded_the_same_on_every_backend(Backend::Postgres).await;
}

/// Makes the database refuse every attempt whose response excerpt contains `refuse-me`, as a
/// store refuses text it cannot hold.
async fn refuse_stored_excerpts(app: &TestApp) {
    if let Some(file) = app.database.sqlite_file() {
        let db = rusqlite::Connection::open(file).unwrap();
        db.execute_batch(
            "CREATE TRIGGER refuse_excerpt BEFORE INSERT ON webhook_attempts WHEN instr(NEW.response_excerpt, 'refuse-me') > 0
             BEGIN SELECT RAISE(ABORT, 'refused'); END;",
        )
        .unwrap();
        return;
    }
    let mut db = sqlx::PgConnection::connect(app.database.postgres_url().unwrap()).await.unwrap();
    sqlx::raw_sql(
        "CREATE FUNCTION refuse_excerpt() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN IF strpos(NEW.response_excerpt, 'refuse-me') > 0 THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$;
         CREATE TRIGGER refuse_excerpt BEFORE INSERT ON webhook_attempts FOR EACH ROW EXECUTE FUNCTION refuse_excerpt();",
    )
    .execute(&mut db)
    .await
    .unwrap();
}

/// When the store refuses to record an attempt, the attempt is recorded without the receiver's
/// text, and the delivery moves on instead of being sent again whenever its lease runs out.
async fn an_attempt_the_store_refuses_is_recorded_without_its_text(backend: Backend) {
    let app = TestApp::start_with(TestOptions::new(backend).manual_clock()).await;
    let receiver = Receiver::start().await;
    connect_webhooks(&app, &receiver).await;
    refuse_stored_excerpts(&app).await;
    receiver.reply_with(Reply::Body(200, Bytes::from_static(b"refuse-me")));
    send_test_event(&app).await;
    receiver.wait_for(1, Duration::from_secs(10)).await;
    app.webhook_pass().await;

    let delivery = deliveries(&app, "").await.remove(0);
    assert_eq!((delivery["status"].as_str(), delivery["attempts"].as_u64()), (Some("delivered"), Some(1)), "{delivery}");
    let attempt = &delivery["attempt_log"][0];
    assert_eq!((attempt["status_code"].as_u64(), &attempt["response_excerpt"]), (Some(200), &Value::Null), "{attempt}");
    assert!(attempt["error"].as_str().unwrap_or_default().contains("could not be stored"), "{attempt}");
    app.advance(100_000);
    app.webhook_pass().await;
    assert_eq!(receiver.received().len(), 1, "the delivery was sent again");
}

#[tokio::test]
async fn an_attempt_the_store_refuses_moves_on_on_sqlite() {
    an_attempt_the_store_refuses_is_recorded_without_its_text(Backend::Sqlite).await;
}

#[tokio::test]
#[cfg_attr(not(postgres_tests), ignore = "needs PostgreSQL: set OAKALLOW_TEST_POSTGRES_URL when building the tests")]
async fn an_attempt_the_store_refuses_moves_on_on_postgres() {
    an_attempt_the_store_refuses_is_recorded_without_its_text(Backend::Postgres).await;
}

/// An attempt may take the whole configured timeout; while it is in flight no other worker (on
/// this node or another) claims the same delivery. An attempt that outlasts even its lease (a
/// paused process) is taken over, and its late outcome does not overwrite the newer attempt's.
async fn a_delivery_in_flight_is_not_claimed_again(backend: Backend) {
    let mut options = TestOptions::new(backend).manual_clock();
    options.config.webhooks.timeout = Duration::from_secs(120);
    // The node's own worker runs only when an event wakes it: otherwise, once the clock passes the
    // lease, it could take the delivery over itself before this test's "other node" does.
    options.config.webhooks.poll_interval = Duration::from_secs(3600);
    let lease_seconds = options.config.webhooks.lease_seconds();
    let app = TestApp::start_with(options).await;
    let receiver = Receiver::start().await;
    connect_webhooks(&app, &receiver).await;
    let hold = receiver.hold();
    send_test_event(&app).await;
    receiver.wait_for(1, Duration::from_secs(10)).await;
    let mut passes = app.service.webhook_passes();
    let in_flight = passes.borrow_and_update().started;

    // 61 s into an attempt that may take 120 s, another node looks for due deliveries.
    app.advance(61);
    let now = app.now();
    let second = app
        .store
        .claim_deliveries(now, DeliveryLease { id: LeaseId::generate(), until: now.plus_seconds(60) }, ClaimLimit::total(10))
        .await
        .unwrap();
    let ids: Vec<String> = second.iter().map(|c| c.delivery.id.to_string()).collect();
    assert!(ids.is_empty(), "a delivery in flight was claimed a second time: {ids:?}");

    app.advance(lease_seconds);
    let now = app.now();
    let takeover = DeliveryLease { id: LeaseId::generate(), until: now.plus_seconds(lease_seconds) };
    let taken = app.store.claim_deliveries(now, takeover, ClaimLimit::total(10)).await.unwrap();
    assert_eq!(taken.len(), 1, "an attempt past its lease is taken over");
    let theirs = DeliveryAttempt {
        attempt: 1,
        at: now,
        status_code: Some(503),
        latency_ms: 1,
        response_excerpt: Some("the other node's attempt".into()),
        error: None,
    };
    let retry_at = now.plus_seconds(5);
    assert!(app.store.finish_attempt(taken[0].delivery.id, takeover.id, &theirs, AttemptResult::RetryAt(retry_at)).await.unwrap());
    drop(hold);
    // The pass that made the first attempt ends once it has tried to record the late outcome.
    let ended = passes.wait_for(|passes| passes.finished >= in_flight);
    tokio::time::timeout(Duration::from_secs(10), ended).await.expect("the first attempt's pass ends").unwrap();

    assert_eq!(receiver.received()[0].answered, 204, "the first attempt ended, delivered");
    let delivery = deliveries(&app, "").await.remove(0);
    assert_eq!(
        (delivery["status"].as_str(), delivery["attempts"].as_u64(), delivery["last_status"].as_u64()),
        (Some("pending"), Some(1), Some(503)),
        "the late outcome overwrote the newer attempt's: {delivery}"
    );
    let excerpts: Vec<&Value> = delivery["attempt_log"].as_array().unwrap().iter().map(|a| &a["response_excerpt"]).collect();
    assert_eq!(excerpts, [&json!("the other node's attempt")]);
    assert_eq!(delivery["next_attempt_at"], json!(retry_at));
}

#[tokio::test]
async fn a_delivery_in_flight_is_not_claimed_again_on_sqlite() {
    a_delivery_in_flight_is_not_claimed_again(Backend::Sqlite).await;
}

#[tokio::test]
#[cfg_attr(not(postgres_tests), ignore = "needs PostgreSQL: set OAKALLOW_TEST_POSTGRES_URL when building the tests")]
async fn a_delivery_in_flight_is_not_claimed_again_on_postgres() {
    a_delivery_in_flight_is_not_claimed_again(Backend::Postgres).await;
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
    send_test_event(&app).await;
    app.webhook_pass().await;
    let listed = deliveries(&app, "").await;
    let error = listed[0]["attempt_log"][0]["error"].as_str().unwrap_or_default().to_owned();
    assert!(error.contains("private or internal address"), "{listed:?}");
    assert!(receiver.received().is_empty(), "nothing reached the private destination");

    // With private targets allowed, the same destination is fine.
    let allowed = TestApp::start_with(TestOptions::new(Backend::Sqlite)).await;
    let (status, _) =
        allowed.patch("/v1/org", &allowed.keys.management, &json!({"webhook_url": receiver.url.replace("127.0.0.1", "localhost")})).await;
    assert_eq!(status, StatusCode::OK);
}

/// A receiver that holds every request open does not hold back another org's webhooks:
/// attempts run side by side, a freed slot is used at once, and one org takes at most its share
/// of the slots.
#[tokio::test]
async fn a_slow_receiver_does_not_delay_another_orgs_webhooks() {
    let mut options = TestOptions::new(Backend::Sqlite);
    options.config.webhooks.concurrency = 4;
    options.config.webhooks.concurrency_per_org = 2;
    let app = TestApp::start_with(options).await;
    let slow = Receiver::start().await;
    connect_webhooks(&app, &slow).await;
    let _hold = slow.hold();
    for _ in 0..4 {
        send_test_event(&app).await;
    }
    slow.wait_for(2, Duration::from_secs(10)).await;

    let other = app.another_org("other@example.com").await;
    let quick = Receiver::start().await;
    let (status, body) = app.patch("/v1/org", &other.management, &json!({"webhook_url": quick.url})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app.post("/v1/webhooks/test", &other.management, &json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let arrived = quick.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(arrived[0].json()["org_id"], other.org_id.as_str());
    assert_eq!(slow.received().len(), 2, "the slow org holds no more than its share of the slots");
}
