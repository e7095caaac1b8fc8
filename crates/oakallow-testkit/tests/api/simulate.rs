//! `POST /v1/policy/simulate`: recorded checks decided again under a candidate policy. Proved
//! against brute force: the candidate is then applied for real and every recorded call is
//! checked again through `POST /v1/check`; the calls whose answer changed must be exactly the
//! ones the simulation listed, with the same new answers.

use std::collections::HashMap;

use futures_util::stream::{self, StreamExt};
use oakallow_service::rate_limits::Rate;
use oakallow_testkit::{Backend, TestApp, TestOptions};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A server that meters nothing and limits no rate: the test makes tens of thousands of checks.
async fn unmetered(backend: Backend, manual_clock: bool) -> TestApp {
    let mut options = TestOptions::new(backend);
    options.manual_clock = manual_clock;
    options.config.billing_enabled = false;
    options.config.rate_limits.per_key = Rate { per_second: 0, burst: 0 };
    options.config.rate_limits.per_org = Rate { per_second: 0, burst: 0 };
    TestApp::start_with(options).await
}

/// Tools, tenants, resources, methods and rules that give every resolution step some traffic.
async fn policy(app: &TestApp) {
    let document = json!({
        "categories": [{"name": "payments", "default_permission": "requires_approval"}],
        "tools": [
            {"name": "lookup", "default_permission": "allowed"},
            {"name": "refund", "category": "payments"},
            {"name": "export", "approved": true},
            {"name": "wipe", "enabled": false},
            {"name": "notify"},
        ],
        "tenants": [{"external_id": "acme", "name": "Acme"}, {"external_id": "globex", "name": "Globex"}],
        "resources": [{"name": "ledger"}, {"name": "crm"}],
        "methods": [{"name": "read"}, {"name": "write"}],
        "rules": [
            {"tenant": "acme", "tool": "refund", "permission": "allowed"},
            {"resource": "crm", "method": "read", "permission": "allowed"},
            {"tool": "notify", "permission": "allowed"},
        ],
    });
    let (status, applied) = app.put("/v1/policy", &app.keys.management, &document).await;
    assert_eq!(status, StatusCode::OK, "{applied}");
}

/// The `n`-th call of a deterministic mix over every dimension (unknown names included).
fn call(n: usize) -> Value {
    const TOOLS: [&str; 6] = ["lookup", "refund", "export", "wipe", "notify", "unregistered"];
    const TENANTS: [Option<&str>; 4] = [None, Some("acme"), Some("globex"), Some("initech")];
    const RESOURCES: [Option<&str>; 3] = [None, Some("ledger"), Some("crm")];
    const METHODS: [Option<&str>; 3] = [None, Some("read"), Some("write")];
    let mut body = json!({ "tool": TOOLS[n % 6] });
    for (field, value) in [("tenant", TENANTS[n / 6 % 4]), ("resource", RESOURCES[n / 24 % 3]), ("method", METHODS[n / 72 % 3])] {
        if let Some(value) = value {
            body[field] = json!(value);
        }
    }
    body
}

/// Makes `calls` checks, 32 at a time; answers each check's id → (call, answer).
async fn record(app: &TestApp, calls: impl Iterator<Item = Value>) -> HashMap<String, (Value, Value)> {
    stream::iter(calls)
        .map(|body| async move {
            let answer = app.check(body.clone()).await;
            (answer["check_id"].as_str().unwrap().to_owned(), (body, answer))
        })
        .buffer_unordered(32)
        .collect()
        .await
}

async fn simulate(app: &TestApp, key: &str, body: &Value) -> Value {
    let (status, answer) = app.post("/v1/policy/simulate", key, body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer
}

async fn ten_thousand_checks_and_a_rule_change(app: TestApp, checks: usize) {
    policy(&app).await;
    let recorded = record(&app, (0..checks).map(call)).await;

    // The candidate: two rules added, one removed, one tool's default changed.
    let candidate = json!({
        "rules": [
            {"tenant": "acme", "tool": "refund", "permission": "allowed"},
            {"tenant": "globex", "tool": "lookup", "permission": "disabled"},
            {"resource": "ledger", "method": "write", "permission": "requires_approval"},
        ],
        "tools": [
            {"name": "lookup", "default_permission": "allowed"},
            {"name": "refund", "category": "payments"},
            {"name": "export", "approved": true, "default_permission": "requires_approval"},
            {"name": "wipe", "enabled": false},
            {"name": "notify"},
        ],
    });
    let simulated = simulate(&app, &app.keys.standard, &json!({ "policy": candidate, "limit": 10_000 })).await;
    assert_eq!(simulated["checks"], checks);
    assert_eq!(simulated["truncated"], false);
    let counted: u64 = simulated["transitions"].as_array().unwrap().iter().map(|t| t["count"].as_u64().unwrap()).sum();
    assert_eq!(counted, checks as u64);
    let listed: HashMap<String, Value> =
        simulated["changes"].as_array().unwrap().iter().map(|c| (c["check_id"].as_str().unwrap().to_owned(), c.clone())).collect();
    assert_eq!(listed.len() as u64, simulated["changed"].as_u64().unwrap());
    assert!(!listed.is_empty() && listed.len() < checks, "the change matters to some calls, not all: {}", listed.len());
    // Nothing was written: the policy is as it was.
    let (_, rules) = app.get("/v1/rules", &app.keys.management).await;
    assert_eq!(rules["data"].as_array().unwrap().len(), 3);

    // Brute force: apply the candidate for real and ask again for every recorded call.
    let (status, applied) = app.put("/v1/policy", &app.keys.management, &candidate).await;
    assert_eq!((status, &applied["applied"]), (StatusCode::OK, &json!(true)), "{applied}");
    let rechecked = record(&app, recorded.values().map(|(body, _)| body.clone())).await;
    let mut now_by_call: HashMap<String, Value> = HashMap::new();
    for (body, answer) in rechecked.into_values() {
        now_by_call.insert(body.to_string(), answer);
    }
    let mut changed = 0;
    let mut needs_approval = 0;
    for (check_id, (body, before)) in &recorded {
        let after = &now_by_call[&body.to_string()];
        needs_approval += u64::from(after["permission"] == "requires_approval");
        if before["permission"] == after["permission"] {
            assert!(!listed.contains_key(check_id), "{body}: unchanged, yet listed");
            continue;
        }
        changed += 1;
        let change = listed.get(check_id).unwrap_or_else(|| panic!("{body}: changed {before} → {after}, not listed"));
        assert_eq!(change["before"]["permission"], before["permission"], "{body}");
        assert_eq!(change["after"]["permission"], after["permission"], "{body}");
        assert_eq!(change["after"]["resolved_from"], after["resolved_from"], "{body}");
        assert_eq!(
            (change["tool"].clone(), change["tenant"].clone()),
            (body["tool"].clone(), body.get("tenant").cloned().unwrap_or(Value::Null))
        );
        // A rule decides: the simulation names it, the real check gives its id.
        match after["rule_id"].as_str() {
            Some(id) => {
                let (_, rule) = app.get(&format!("/v1/rules/{id}"), &app.keys.management).await;
                for field in ["tenant", "resource", "tool", "method", "permission"] {
                    assert_eq!(change["after"]["rule"][field], rule[field], "{body}: {field}");
                }
            }
            None => assert!(change["after"]["rule"].is_null(), "{change}"),
        }
    }
    assert_eq!(changed, listed.len());
    assert_eq!(simulated["requires_approval"], needs_approval);
}

#[tokio::test]
async fn ten_thousand_recorded_checks_simulated_match_brute_force_on_sqlite() {
    ten_thousand_checks_and_a_rule_change(unmetered(Backend::Sqlite, false).await, 10_000).await;
}

#[tokio::test]
#[cfg_attr(not(postgres_tests), ignore = "needs PostgreSQL: set OAKALLOW_TEST_POSTGRES_URL when building the tests")]
async fn recorded_checks_simulated_match_brute_force_on_postgres() {
    ten_thousand_checks_and_a_rule_change(unmetered(Backend::Postgres, false).await, 2_000).await;
}

#[tokio::test]
async fn the_window_the_limit_and_the_org_bound_what_is_simulated() {
    let app = unmetered(Backend::Sqlite, true).await;
    policy(&app).await;
    let start = app.now();
    record(&app, (0..6).map(|_| json!({"tool": "lookup"}))).await;
    app.advance(100);
    let middle = app.now();
    record(&app, (0..4).map(|_| json!({"tool": "lookup", "tenant": "globex"}))).await;
    app.advance(100);
    let disable = json!({ "rules": [{"tool": "lookup", "permission": "disabled"}] });

    let all = simulate(&app, &app.keys.management, &json!({ "policy": disable })).await;
    assert_eq!((all["checks"].as_u64(), all["changed"].as_u64()), (Some(10), Some(10)));
    assert_eq!(all["transitions"], json!([{"from": "allowed", "to": "disabled", "count": 10}]));
    assert_eq!(all["diff"]["created"].as_array().unwrap().len(), 1, "{}", all["diff"]);
    let later = simulate(&app, &app.keys.management, &json!({ "policy": disable, "since": middle.to_string() })).await;
    assert_eq!(later["checks"], 4);
    assert!(later["changes"].as_array().unwrap().iter().all(|c| c["tenant"] == "globex"));
    let earlier =
        simulate(&app, &app.keys.management, &json!({ "policy": disable, "since": start.to_string(), "until": middle.to_string() })).await;
    assert_eq!(earlier["checks"], 6);
    let first_two = simulate(&app, &app.keys.management, &json!({ "policy": disable, "limit": 2 })).await;
    assert_eq!(
        (first_two["changes"].as_array().unwrap().len(), &first_two["truncated"], &first_two["changed"]),
        (2, &json!(true), &json!(10))
    );
    let seqs: Vec<u64> = first_two["changes"].as_array().unwrap().iter().map(|c| c["seq"].as_u64().unwrap()).collect();
    assert!(seqs[0] < seqs[1], "oldest first");
    let none = simulate(&app, &app.keys.management, &json!({ "policy": {}, "limit": 0 })).await;
    assert_eq!((none["changed"].as_u64(), none["changes"].as_array().unwrap().len()), (Some(0), 0));
    assert_eq!(none["transitions"], json!([{"from": "allowed", "to": "allowed", "count": 10}]));

    // Refused, with the envelope: a bad limit, a bad time, an invalid candidate, no key.
    for (body, field) in [
        (json!({ "policy": disable, "limit": 10_001 }), "limit"),
        (json!({ "policy": disable, "since": "yesterday" }), "since"),
        (json!({ "policy": { "rules": [{"tool": "lookup", "permission": "maybe"}] } }), "maybe"),
        (json!({ "policy": { "rules": [{"tool": "nosuch", "permission": "allowed"}] } }), "nosuch"),
        (json!({ "policy": disable, "extra": 1 }), "extra"),
    ] {
        let (status, error) = app.post("/v1/policy/simulate", &app.keys.management, &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {error}");
        assert!(error["error"]["message"].as_str().unwrap().contains(field), "{error}");
    }
    let (status, _) = app.call(reqwest::Method::POST, "/v1/policy/simulate", None, Some(&json!({ "policy": disable }))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Another org's history is not this one's.
    let other = app.another_org("other@example.com").await;
    let theirs = simulate(&app, &other.standard, &json!({ "policy": {} })).await;
    assert_eq!(theirs["checks"], 0);
}
