//! Numbers: every number the API accepts fits what both stores keep, and what is hashed into the
//! audit chain reads back exactly; numbers inside JSON values round-trip into the same canonical
//! text on both backends.

use oakallow_domain::canonical::to_canonical_string;
use oakallow_testkit::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The largest integer every JSON client reads exactly (2^53 − 1).
const MAX_EXACT: u64 = (1 << 53) - 1;

async fn chain(app: &TestApp) -> Value {
    let (status, verification) = app.get("/v1/activity/verify", &app.keys.management).await;
    assert_eq!(status, StatusCode::OK, "{verification}");
    verification
}

/// Sends `text` as the body, exactly as written (so that number spellings are ours).
async fn post_text(app: &TestApp, path: &str, text: &str) -> (StatusCode, Value) {
    let response = app
        .request(Method::POST, path)
        .header("X-API-Key", &app.keys.standard)
        .header("content-type", "application/json")
        .body(text.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn newest(app: &TestApp, kind: &str) -> Value {
    let (status, listed) = app.get(&format!("/v1/activity?type={kind}&limit=1"), &app.keys.management).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    listed["data"][0].clone()
}

async fn durations_are_bounded(app: TestApp) {
    for duration in [u64::MAX, 1 << 63, (1 << 63) - 1, 1 << 53, MAX_EXACT, 0] {
        let body = json!({"tool": "deploy", "result": "success", "duration_ms": duration});
        let (status, answer) = app.post("/v1/executions", &app.keys.standard, &body).await;
        let verification = chain(&app).await;
        assert_eq!(verification["valid"], true, "the chain verifies after duration_ms {duration}: {verification}");
        if duration > MAX_EXACT {
            assert_eq!(status, StatusCode::BAD_REQUEST, "duration_ms {duration}: {answer}");
            assert_eq!(answer["error"]["code"], "invalid_request");
            continue;
        }
        assert_eq!(status, StatusCode::CREATED, "duration_ms {duration}: {answer}");
        assert_eq!(answer["duration_ms"], duration);
        assert_eq!(newest(&app, "execution.logged").await["duration_ms"], duration, "reads back exactly");
    }
    let (status, answer) = post_text(&app, "/v1/executions", r#"{"tool":"t","result":"success","duration_ms":-1}"#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
}
on_both_backends!(durations_are_bounded_to_what_every_store_and_client_keeps, durations_are_bounded);

/// Numbers of every awkward kind, spelled as a client might.
const NUMBERS: [&str; 24] = [
    "18446744073709551615",
    "-9223372036854775808",
    "9223372036854775807",
    "9007199254740992",
    "9007199254740993",
    "-0",
    "-0.0",
    "0.0",
    "1e308",
    "1.7976931348623157e308",
    "-1.7976931348623157e308",
    "5e-324",
    "2.2250738585072014e-308",
    "0.1",
    "0.30000000000000004",
    "123456789012345678901234567890",
    "1e-7",
    "9007199254740993.0",
    "1e22",
    "4.35",
    "3.141592653589793238462643383279502884197",
    "100000000000000000000000.0",
    "2.5E+10",
    "1e-400",
];

fn numbers_object() -> String {
    let members: Vec<String> = NUMBERS.iter().enumerate().map(|(i, n)| format!("\"n{i:02}\":{n}")).collect();
    format!("{{{},\"list\":[{}]}}", members.join(","), NUMBERS.join(","))
}

async fn json_numbers_round_trip(app: TestApp) {
    app.create("/v1/tools", json!({"name": "calc", "approved": true})).await;
    let object = numbers_object();
    let sent: Value = serde_json::from_str(&object).unwrap();
    let canonical = to_canonical_string(&sent);

    let (status, answer) = post_text(&app, "/v1/check", &format!(r#"{{"tool":"calc","params":{object},"context":{object}}}"#)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let entry = newest(&app, "permission.checked").await;
    assert_eq!(to_canonical_string(&entry["params"]), canonical, "check params");
    assert_eq!(to_canonical_string(&entry["details"]["context"]), canonical, "check context");

    let body = format!(r#"{{"tool":"calc","reason":"numbers","params":{object},"context":{object}}}"#);
    let (status, approval) = post_text(&app, "/v1/approvals", &body).await;
    assert_eq!(status, StatusCode::CREATED, "{approval}");
    let (_, read) = app.get(&format!("/v1/approvals/{}", approval["id"].as_str().unwrap()), &app.keys.approver).await;
    assert_eq!(to_canonical_string(&read["params"]), canonical, "approval params");
    assert_eq!(to_canonical_string(&read["context"]), canonical, "approval context");

    let body = format!(r#"{{"tool":"calc","result":"success","duration_ms":1,"params":{object},"output":{object}}}"#);
    let (status, answer) = post_text(&app, "/v1/executions", &body).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(to_canonical_string(&newest(&app, "execution.logged").await["params"]), canonical, "execution params");

    for too_big in ["1e400", "-1e400", "1E309"] {
        let (status, answer) = post_text(&app, "/v1/check", &format!(r#"{{"tool":"calc","params":{{"n":{too_big}}}}}"#)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{too_big}: {answer}");
    }
    assert_eq!(chain(&app).await["valid"], true);
}
on_both_backends!(json_numbers_round_trip_into_the_same_canonical_text, json_numbers_round_trip);

async fn settings_numbers_round_trip(app: TestApp) {
    let (status, org) = app.patch("/v1/org", &app.keys.management, &json!({"approval_timeout_seconds": u32::MAX})).await;
    assert_eq!(status, StatusCode::OK, "{org}");
    assert_eq!(app.get("/v1/org", &app.keys.management).await.1["approval_timeout_seconds"], u32::MAX);
    let tool = app.create("/v1/tools", json!({"name": "slow", "approval_timeout_seconds": u32::MAX})).await;
    let restarted = app.restart().await;
    let (_, read) = restarted.get(&format!("/v1/tools/{}", tool["id"].as_str().unwrap()), &restarted.keys.management).await;
    assert_eq!(read["approval_timeout_seconds"], u32::MAX, "read back from the store after a restart");
    assert_eq!(restarted.get("/v1/org", &restarted.keys.management).await.1["approval_timeout_seconds"], u32::MAX);
    for (path, body) in [
        ("/v1/tools", json!({"name": "x", "approval_timeout_seconds": u64::from(u32::MAX) + 1})),
        ("/v1/tools", json!({"name": "x", "approval_timeout_seconds": 1.5})),
    ] {
        let (status, answer) = restarted.post(path, &restarted.keys.management, &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
    }
    assert_eq!(chain(&restarted).await["valid"], true);
}
on_both_backends!(settings_numbers_read_back_after_a_restart, settings_numbers_round_trip);
