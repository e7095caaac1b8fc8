//! A token covers exactly the call it was minted for: tool, tenant, resource, method and params.
//! An execution logged for any other scope is refused (and leaves the token unused), and
//! `POST /v1/tokens/verify` compares each dimension it is given, a missing one included.

use oakallow_testkit::TestApp;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The call every token here is minted for.
fn scope() -> Value {
    json!({"tool": "refund", "tenant": "acme", "resource": "ledger", "method": "POST", "params": {"amount": 5}})
}

async fn scoped_token(app: &TestApp, scope: Value) -> String {
    let mut check = scope;
    check["mint_token"] = json!(true);
    let answer = app.check(check).await;
    assert_eq!(answer["permission"], "allowed", "{answer}");
    answer["token"].as_str().unwrap().to_owned()
}

/// `base` with `field` replaced by `value` (removed when `value` is null).
fn with(base: &Value, field: &str, value: &Value) -> Value {
    let mut changed = base.clone();
    match value {
        Value::Null => changed.as_object_mut().unwrap().remove(field),
        other => changed.as_object_mut().unwrap().insert(field.to_owned(), other.clone()),
    };
    changed
}

/// Every way a call can differ from [`scope`] in one dimension, with the reason it is refused.
fn other_scopes() -> Vec<(&'static str, Value, &'static str)> {
    vec![
        ("tool", json!("delete_ledger"), "tool_mismatch"),
        ("tenant", json!("globex"), "tenant_mismatch"),
        ("tenant", Value::Null, "tenant_mismatch"),
        ("resource", json!("payroll"), "resource_mismatch"),
        ("resource", Value::Null, "resource_mismatch"),
        ("method", json!("DELETE"), "method_mismatch"),
        ("method", Value::Null, "method_mismatch"),
        ("params", json!({"amount": 1_000_000}), "params_mismatch"),
    ]
}

#[tokio::test]
async fn an_execution_must_match_the_tokens_whole_scope() {
    let app = TestApp::sqlite().await;
    app.create("/v1/tools", json!({"name": "refund", "approved": true})).await;
    app.create("/v1/tools", json!({"name": "delete_ledger", "approved": true})).await;
    let token = scoped_token(&app, scope()).await;
    let execution = with(&with(&scope(), "token", &json!(token)), "result", &json!("success"));
    let execution = with(&execution, "duration_ms", &json!(12));

    for (field, value, reason) in other_scopes() {
        let (status, refused) = app.post("/v1/executions", &app.keys.standard, &with(&execution, field, &value)).await;
        assert_eq!(
            (status, refused["error"]["code"].as_str(), refused["error"]["details"]["reason"].as_str()),
            (StatusCode::CONFLICT, Some("not_authorized"), Some(reason)),
            "{field} = {value}: {refused}"
        );
    }
    let (status, logged) = app.post("/v1/executions", &app.keys.standard, &execution).await;
    assert_eq!((status, logged["authorized"].as_bool()), (StatusCode::CREATED, Some(true)), "the exact call: {logged}");
    let (_, entries) = app.get("/v1/activity?type=execution.logged", &app.keys.management).await;
    let entry = &entries["data"][0];
    assert_eq!(
        (entry["tenant"].as_str(), entry["resource"].as_str(), entry["method"].as_str()),
        (Some("acme"), Some("ledger"), Some("POST")),
        "only the token's scope is logged as authorized"
    );
    assert_eq!(entries["data"].as_array().unwrap().len(), 1, "nothing was logged for the refused scopes");
}

#[tokio::test]
async fn a_token_without_a_tenant_does_not_cover_a_call_with_one() {
    let app = TestApp::sqlite().await;
    app.create("/v1/tools", json!({"name": "refund", "approved": true})).await;
    let token = scoped_token(&app, json!({"tool": "refund"})).await;
    let execution = json!({"token": token, "tool": "refund", "tenant": "acme", "result": "success", "duration_ms": 1});
    let (status, refused) = app.post("/v1/executions", &app.keys.standard, &execution).await;
    assert_eq!((status, refused["error"]["details"]["reason"].as_str()), (StatusCode::CONFLICT, Some("tenant_mismatch")));
    let answer = verify(&app, json!({"token": token, "resource": "ledger", "consume": false})).await;
    assert_eq!((answer["valid"].as_bool(), answer["reason"].as_str()), (Some(false), Some("resource_mismatch")));
    let execution = json!({"token": token, "tool": "refund", "result": "success", "duration_ms": 1});
    let (status, logged) = app.post("/v1/executions", &app.keys.standard, &execution).await;
    assert_eq!((status, logged["authorized"].as_bool()), (StatusCode::CREATED, Some(true)), "{logged}");
}

async fn verify(app: &TestApp, body: Value) -> Value {
    let (status, answer) = app.post("/v1/tokens/verify", &app.keys.standard, &body).await;
    assert_eq!(status, StatusCode::OK, "{body}: {answer}");
    answer
}

#[tokio::test]
async fn verify_compares_every_dimension_it_is_given() {
    let app = TestApp::sqlite().await;
    app.create("/v1/tools", json!({"name": "refund", "approved": true})).await;
    let token = scoped_token(&app, scope()).await;
    let call = with(&with(&scope(), "token", &json!(token)), "consume", &json!(false));

    for (field, value, reason) in other_scopes().into_iter().filter(|(_, value, _)| !value.is_null()) {
        let answer = verify(&app, with(&call, field, &value)).await;
        assert_eq!((answer["valid"].as_bool(), answer["reason"].as_str()), (Some(false), Some(reason)), "{field} = {value}: {answer}");
        assert_eq!(answer["claims"]["tenant"], "acme", "the claims say what the token covers");
    }
    let (_, rejected) = app.get("/v1/activity?type=token.rejected&limit=50", &app.keys.management).await;
    let results: Vec<&str> = rejected["data"].as_array().unwrap().iter().map(|e| e["result"].as_str().unwrap()).collect();
    for expected in ["tenant_mismatch", "resource_mismatch", "method_mismatch"] {
        assert!(results.contains(&expected), "{expected} is audited: {results:?}");
    }
    for field in ["tenant", "resource", "method"] {
        let answer = verify(&app, with(&call, field, &Value::Null)).await;
        assert_eq!(answer["valid"], true, "a dimension not given is not compared ({field}): {answer}");
    }
    let answer = verify(&app, with(&call, "consume", &json!(true))).await;
    assert_eq!(answer["valid"], true, "the whole scope matches: {answer}");
    let (status, _) = app.post("/v1/tokens/verify", &app.keys.standard, &with(&call, "tenant", &json!(7))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a dimension is a name");
}
