//! Prepaid credit over HTTP, on SQLite and PostgreSQL: the free credit pays for exactly 1,000
//! calls and then every billable call is refused with 402 and does nothing, management keeps
//! working, refused calls are free, the free credit expires after 30 days, credit is spent in
//! order, the ledger adds up to the balance, every debit matches an audit entry, and with billing
//! off nothing is metered.

use futures_util::future::join_all;
use oakallow_testkit::{Backend, TestApp, TestOptions};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const PRICE: i64 = 5_000;

async fn billing(app: &TestApp) -> Value {
    let (status, billing) = app.get("/v1/billing", &app.keys.management).await;
    assert_eq!(status, StatusCode::OK, "{billing}");
    billing
}

async fn ledger(app: &TestApp) -> Vec<Value> {
    let mut rows = Vec::new();
    let mut cursor = String::new();
    loop {
        let (_, page) = app.get(&format!("/v1/billing/ledger?limit=7{cursor}"), &app.keys.management).await;
        rows.extend(page["data"].as_array().unwrap().clone());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => return rows,
        }
    }
}

async fn billable_entries(app: &TestApp) -> u64 {
    let mut count = 0;
    let mut cursor = String::new();
    loop {
        let (_, page) = app.get(&format!("/v1/activity?limit=500{cursor}"), &app.keys.management).await;
        count += page["data"].as_array().unwrap().iter().filter(|e| e["details"]["billable"] == true).count() as u64;
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => return count,
        }
    }
}

/// The ledger sums to the balance and its debited calls match the billable entries.
async fn assert_books(app: &TestApp) -> i64 {
    let balance = billing(app).await["balance_microusd"].as_i64().unwrap();
    let rows = ledger(app).await;
    assert_eq!(rows.iter().map(|r| r["amount_microusd"].as_i64().unwrap()).sum::<i64>(), balance, "the ledger sums to the balance");
    let calls: u64 =
        rows.iter().filter(|r| matches!(r["kind"].as_str(), Some("debit" | "usage"))).map(|r| r["calls"].as_u64().unwrap()).sum();
    assert_eq!(calls, billable_entries(app).await, "billed calls equal billable activity entries");
    balance
}

async fn thousand_calls_then_402(app: TestApp) {
    app.create("/v1/tools", json!({"name": "deploy", "approved": true, "parameters_schema": {"type": "object", "required": ["env"]}}))
        .await;
    let start = billing(&app).await;
    assert_eq!(
        (start["enabled"].as_bool(), start["balance_microusd"].as_i64(), start["balance_calls"].as_i64()),
        (Some(true), Some(5_000_000), Some(1000))
    );
    assert_eq!((start["price_microusd"].as_i64(), start["free_credit"]["remaining_microusd"].as_i64()), (Some(PRICE), Some(5_000_000)));

    // Refused calls (4xx) are not billed.
    let (status, _) = app.post("/v1/check", &app.keys.standard, &json!({"tool": "deploy", "params": {}})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = app.post("/v1/validate", &app.keys.standard, &json!({"tool": "nope", "params": {}})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(billing(&app).await["balance_calls"], 1000, "4xx answers cost nothing");

    let mut statuses = Vec::new();
    for chunk in 0..25 {
        let calls = (0..44).map(|i| {
            let app = &app;
            async move {
                app.post("/v1/check", &app.keys.standard, &json!({"tool": "deploy", "params": {"env": format!("{chunk}-{i}")}})).await.0
            }
        });
        statuses.extend(join_all(calls).await);
    }
    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    assert_eq!((ok, statuses.len() - ok), (1000, 100), "exactly 1,000 calls of free credit");
    let (status, refused) = app.post("/v1/check", &app.keys.standard, &json!({"tool": "deploy", "params": {"env": "x"}})).await;
    assert_eq!((status, refused["error"]["code"].as_str()), (StatusCode::PAYMENT_REQUIRED, Some("insufficient_credits")));
    for (path, body) in [
        ("/v1/validate", json!({"tool": "deploy", "params": {"env": "x"}})),
        ("/v1/approvals", json!({"tool": "deploy", "reason": "r"})),
        ("/v1/executions", json!({"tool": "deploy", "result": "success", "duration_ms": 1})),
        ("/v1/tokens/verify", json!({"token": "oak_tok_x.y"})),
    ] {
        let (status, _) = app.post(path, &app.keys.standard, &body).await;
        assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{path} at zero");
    }
    let (_, checks) = app.get("/v1/activity?type=permission.checked&limit=500", &app.keys.management).await;
    assert_eq!(checks["data"].as_array().unwrap().len(), 500, "the page is full");
    assert_eq!(app.create("/v1/tools", json!({"name": "at-zero"})).await["name"], "at-zero", "management keeps working at zero");
    assert_eq!(app.get("/v1/tools", &app.keys.standard).await.0, StatusCode::OK, "reads are free");
    assert_eq!(assert_books(&app).await, 0, "the balance ends at exactly zero");
    assert_eq!(billing(&app).await["free_credit"], Value::Null);
}

#[tokio::test]
async fn free_credit_pays_for_exactly_a_thousand_calls_sqlite() {
    thousand_calls_then_402(TestApp::sqlite().await).await;
}

#[tokio::test]
#[cfg_attr(not(postgres_tests), ignore = "needs PostgreSQL: set OAKALLOW_TEST_POSTGRES_URL when building the tests")]
async fn free_credit_pays_for_exactly_a_thousand_calls_postgres() {
    thousand_calls_then_402(TestApp::postgres().await).await;
}

async fn expiry_and_spending_order(backend: Backend) {
    let app = TestApp::start_with(TestOptions::new(backend).manual_clock()).await;
    app.create("/v1/tools", json!({"name": "deploy", "approved": true})).await;
    app.service.grant_credit("owner@example.com", 2 * PRICE).await.unwrap();
    app.advance(1);
    app.service.grant_credit("owner@example.com", 3 * PRICE).await.unwrap();
    let credits = billing(&app).await["credits"].clone();
    let kinds: Vec<&str> = credits.as_array().unwrap().iter().map(|c| c["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["free", "grant", "grant"], "spending order: free credit, then oldest first");
    for _ in 0..3 {
        app.check(json!({"tool": "deploy"})).await;
    }
    let credits = billing(&app).await["credits"].clone();
    let remaining: Vec<i64> = credits.as_array().unwrap().iter().map(|c| c["remaining_microusd"].as_i64().unwrap()).collect();
    assert_eq!(remaining, [5_000_000 - 3 * PRICE, 2 * PRICE, 3 * PRICE], "the free credit is spent first");

    app.advance(30 * 86_400 - 2);
    assert_eq!(billing(&app).await["balance_calls"], 997 + 5, "not yet expired");
    app.advance(1);
    let expired = billing(&app).await;
    assert_eq!(
        (expired["balance_microusd"].as_i64(), expired["free_credit"].clone()),
        (Some(5 * PRICE), Value::Null),
        "expired at 30 days"
    );
    let rows = ledger(&app).await;
    let expiry: Vec<&Value> = rows.iter().filter(|r| r["kind"] == "expiry").collect();
    assert_eq!(expiry.len(), 1);
    assert_eq!(expiry[0]["amount_microusd"], -(5_000_000 - 3 * PRICE));
    for _ in 0..3 {
        app.check(json!({"tool": "deploy"})).await;
    }
    let remaining: Vec<i64> =
        billing(&app).await["credits"].as_array().unwrap().iter().map(|c| c["remaining_microusd"].as_i64().unwrap()).collect();
    assert_eq!(remaining, [0, 0, 2 * PRICE], "then the older grant, then the newer");
    assert_eq!(assert_books(&app).await, 2 * PRICE);
}

#[tokio::test]
async fn free_credit_expires_and_credit_is_spent_in_order_sqlite() {
    expiry_and_spending_order(Backend::Sqlite).await;
}

#[tokio::test]
#[cfg_attr(not(postgres_tests), ignore = "needs PostgreSQL: set OAKALLOW_TEST_POSTGRES_URL when building the tests")]
async fn free_credit_expires_and_credit_is_spent_in_order_postgres() {
    expiry_and_spending_order(Backend::Postgres).await;
}

#[tokio::test]
async fn with_billing_off_nothing_is_metered() {
    let mut options = TestOptions::new(Backend::Sqlite);
    options.config.billing_enabled = false;
    let app = TestApp::start_with(options).await;
    app.service.set_credit_calls("owner@example.com", 0).await.unwrap();
    app.create("/v1/tools", json!({"name": "deploy", "approved": true})).await;
    for _ in 0..20 {
        app.check(json!({"tool": "deploy"})).await;
    }
    let state = billing(&app).await;
    assert_eq!((state["enabled"].as_bool(), state["balance_microusd"].as_i64()), (Some(false), Some(0)));
    let rows = ledger(&app).await;
    let usage: u64 = rows.iter().filter(|r| r["kind"] == "usage").map(|r| r["calls"].as_u64().unwrap()).sum();
    assert_eq!(usage, 20, "usage is still counted");
    assert!(rows.iter().all(|r| r["kind"] != "debit"));
    assert_books(&app).await;
}

#[tokio::test]
async fn approvals_and_polls_are_billed_once_and_replays_are_free() {
    let app = TestApp::sqlite().await;
    app.create("/v1/tools", json!({"name": "wire"})).await;
    app.service.set_credit_calls("owner@example.com", 3).await.unwrap();
    let request = app
        .request(Method::POST, "/v1/approvals")
        .header("X-API-Key", &app.keys.standard)
        .header("Idempotency-Key", "k1")
        .json(&json!({"tool": "wire", "reason": "r"}));
    let first: Value = request.send().await.unwrap().json().await.unwrap();
    for _ in 0..3 {
        let replay = app
            .request(Method::POST, "/v1/approvals")
            .header("X-API-Key", &app.keys.standard)
            .header("Idempotency-Key", "k1")
            .json(&json!({"tool": "wire", "reason": "r"}));
        assert_eq!(replay.send().await.unwrap().status(), StatusCode::CREATED);
    }
    assert_eq!(billing(&app).await["balance_calls"], 2, "replays are free");
    let path = format!("/v1/approvals/{}", first["id"].as_str().unwrap());
    assert_eq!(app.get(&path, &app.keys.approver).await.0, StatusCode::OK, "approver reads are free");
    assert_eq!(app.get(&path, &app.keys.standard).await.0, StatusCode::OK);
    assert_eq!(app.get(&path, &app.keys.standard).await.0, StatusCode::OK);
    assert_eq!(app.get(&path, &app.keys.standard).await.0, StatusCode::PAYMENT_REQUIRED, "polls are billable");
    assert_eq!(app.get("/v1/approvals/apr_00000000000000000000000000", &app.keys.standard).await.0, StatusCode::NOT_FOUND);
    assert_eq!(assert_books(&app).await, 0);
}
