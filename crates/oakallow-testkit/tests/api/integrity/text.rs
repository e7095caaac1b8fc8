//! Text the stores cannot hold: a NUL (or any control character) in a query string, a path id,
//! a header or a text field is refused with a 4xx on both backends alike; inside JSON values
//! (params, context, output, schemas) it is kept faithfully. Never a 5xx.

use oakallow_testkit::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn assert_refused(status: StatusCode, body: &Value, expected: StatusCode, label: &str) {
    assert_eq!(status, expected, "{label}: {body}");
    let code = body["error"]["code"].as_str().unwrap_or_default();
    assert!(!code.is_empty() && body["error"]["details"].is_object(), "{label}: not the error envelope: {body}");
}

/// A call with `key` (and, but for GET and DELETE, an empty JSON object as the body), whose
/// path may hold any percent-encoding.
async fn raw_call(app: &TestApp, method: Method, path: &str, key: &str) -> (StatusCode, Value) {
    let mut request = app.request(method.clone(), path).header("X-API-Key", key);
    if method != Method::GET && method != Method::DELETE {
        request = request.json(&json!({}));
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

async fn approval(app: &TestApp) -> String {
    let (status, created) = app.post("/v1/approvals", &app.keys.standard, &json!({"tool": "t", "reason": "r"})).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created["id"].as_str().unwrap().to_owned()
}

async fn control_characters_in_queries(app: TestApp) {
    let id = approval(&app).await;
    let m = app.keys.management.clone();
    let s = app.keys.standard.clone();
    let mut cases: Vec<(Method, String, String)> = Vec::new();
    for bad in ["a%00b", "%00", "a%01", "x%7F", "%0A"] {
        for filter in ["type", "tool", "tenant", "permission", "result", "since", "until", "cursor", "limit"] {
            cases.push((Method::GET, format!("/v1/activity?{filter}={bad}"), m.clone()));
        }
        for filter in ["status", "tool", "tenant", "cursor", "limit"] {
            cases.push((Method::GET, format!("/v1/approvals?{filter}={bad}"), s.clone()));
        }
        for collection in ["tools", "categories", "tenants", "resources", "methods", "rules", "keys"] {
            cases.push((Method::GET, format!("/v1/{collection}?cursor={bad}"), m.clone()));
        }
        for query in ["status", "cursor"] {
            cases.push((Method::GET, format!("/v1/webhooks/deliveries?{query}={bad}"), m.clone()));
        }
        cases.push((Method::GET, format!("/v1/billing/ledger?cursor={bad}"), m.clone()));
        for query in ["format", "since", "until"] {
            cases.push((Method::GET, format!("/v1/activity/export?{query}={bad}"), m.clone()));
        }
        cases.push((Method::GET, format!("/v1/approvals/{id}?wait={bad}"), s.clone()));
        cases.push((Method::PUT, format!("/v1/policy?dry_run={bad}"), m.clone()));
        cases.push((Method::DELETE, format!("/v1/tools/tool_00000000000000000000000000?cascade={bad}"), m.clone()));
    }
    for (method, path, key) in cases {
        let (status, body) = raw_call(&app, method.clone(), &path, &key).await;
        assert_refused(status, &body, StatusCode::BAD_REQUEST, &format!("{method} {path}"));
    }
    let (status, listed) = app.get("/v1/activity?tool=t", &m).await;
    assert_eq!((status, listed["data"].as_array().map(Vec::len)), (StatusCode::OK, Some(1)), "a clean filter still works");
}
on_both_backends!(control_characters_in_query_strings_are_refused_alike, control_characters_in_queries);

async fn malformed_path_ids(app: TestApp) {
    let m = app.keys.management.clone();
    let s = app.keys.standard.clone();
    for bad in ["a%00b", "%00", "%FF", "tool_%00", "%C3%28"] {
        for (method, path, key) in [
            (Method::GET, format!("/v1/tools/{bad}"), &m),
            (Method::PATCH, format!("/v1/rules/{bad}"), &m),
            (Method::DELETE, format!("/v1/tenants/{bad}"), &m),
            (Method::GET, format!("/v1/keys/{bad}"), &m),
            (Method::DELETE, format!("/v1/keys/{bad}"), &m),
            (Method::GET, format!("/v1/activity/{bad}"), &m),
            (Method::GET, format!("/v1/approvals/{bad}"), &s),
            (Method::POST, format!("/v1/approvals/{bad}/cancel"), &s),
            (Method::POST, format!("/v1/webhooks/deliveries/{bad}/retry"), &m),
        ] {
            let (status, body) = raw_call(&app, method.clone(), &path, key).await;
            assert_refused(status, &body, StatusCode::NOT_FOUND, &format!("{method} {path}"));
        }
    }
}
on_both_backends!(malformed_ids_in_paths_are_not_found_alike, malformed_path_ids);

/// Bodies with a NUL in one text field: refused. The same character inside a JSON value is data.
async fn nul_in_bodies(app: TestApp) {
    app.create("/v1/tools", json!({"name": "t", "approved": true})).await;
    let id = approval(&app).await;
    let (m, s, a) = (app.keys.management.clone(), app.keys.standard.clone(), app.keys.approver.clone());
    let nul = "a\u{0}b";
    let refused = [
        ("/v1/tools", &m, json!({"name": nul})),
        ("/v1/tools", &m, json!({"name": "x", "description": nul})),
        ("/v1/tools", &m, json!({"name": "x", "tags": [nul]})),
        ("/v1/categories", &m, json!({"name": "c", "description": nul})),
        ("/v1/tenants", &m, json!({"external_id": "x", "name": nul})),
        ("/v1/resources", &m, json!({"name": nul})),
        ("/v1/methods", &m, json!({"name": "x", "description": nul})),
        ("/v1/rules", &m, json!({"tool": "t", "permission": "allowed", "note": nul})),
        ("/v1/keys", &m, json!({"name": nul, "tier": "standard"})),
        ("/v1/orgs", &m, json!({"name": nul})),
        ("/v1/check", &s, json!({"tool": nul})),
        ("/v1/check", &s, json!({"tool": "t", "reference_id": nul})),
        ("/v1/validate", &s, json!({"tool": nul, "params": {}})),
        ("/v1/approvals", &s, json!({"tool": "t", "reason": nul})),
        ("/v1/approvals", &s, json!({"tool": "t", "reason": "r", "reference_id": nul})),
        ("/v1/approvals", &s, json!({"tool": "t", "reason": "r", "tenant": nul})),
        ("/v1/executions", &s, json!({"tool": "t", "result": "error", "duration_ms": 1, "error": nul})),
        ("/v1/executions", &s, json!({"tool": "t", "result": "error", "duration_ms": 1, "method": nul})),
        ("/v1/tokens", &s, json!({"check_id": nul})),
    ];
    for (path, key, body) in refused {
        let (status, answer) = app.post(path, key, &body).await;
        assert!(status.is_client_error(), "{path} {body}: {status} {answer}");
    }
    for (path, body) in [("/v1/org", json!({"name": nul})), ("/v1/org", json!({"webhook_url": "https://example.com/\u{0}"}))] {
        let (status, answer) = app.patch(path, &m, &body).await;
        assert_refused(status, &answer, StatusCode::BAD_REQUEST, &format!("PATCH {path} {body}"));
    }
    let decide = json!({"decision": "approved", "decided_by": "x", "note": nul});
    let (status, answer) = app.post(&format!("/v1/approvals/{id}/decide"), &a, &decide).await;
    assert_refused(status, &answer, StatusCode::BAD_REQUEST, "decide note");
    let decide = json!({"decision": "approved", "decided_by": nul});
    let (status, answer) = app.post(&format!("/v1/approvals/{id}/decide"), &a, &decide).await;
    assert_refused(status, &answer, StatusCode::BAD_REQUEST, "decided_by");
    let document = json!({"tools": [{"name": "t", "approved": true}, {"name": "u", "description": nul}]});
    let (status, answer) = app.put("/v1/policy", &m, &document).await;
    assert_refused(status, &answer, StatusCode::BAD_REQUEST, "policy document");

    // Inside JSON values a NUL is data, kept exactly (in keys too).
    let value = json!({"k\u{0}ey": [nul, {"\u{0}": "\u{0}\u{1f}"}]});
    let check = app.check(json!({"tool": "t", "params": value, "context": value})).await;
    let (_, entry) = app.get("/v1/activity?type=permission.checked&limit=1", &m).await;
    assert_eq!((&entry["data"][0]["check_id"], &entry["data"][0]["params"]), (&check["check_id"], &value));
    assert_eq!(entry["data"][0]["details"]["context"], value);
    let (status, created) = app.post("/v1/approvals", &s, &json!({"tool": "t", "reason": "r", "params": value, "context": value})).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (_, read) = app.get(&format!("/v1/approvals/{}", created["id"].as_str().unwrap()), &a).await;
    assert_eq!((&read["params"], &read["context"]), (&value, &value));
    let (status, logged) = app
        .post("/v1/executions", &s, &json!({"tool": "t", "result": "success", "duration_ms": 1, "params": value, "output": value}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{logged}");
    let schema = json!({"type": "object", "description": nul, "properties": {"k\u{0}": {"const": nul}}});
    let tool = app.create("/v1/tools", json!({"name": "schematic", "parameters_schema": schema})).await;
    let restarted = app.restart().await;
    let (_, read) = restarted.get(&format!("/v1/tools/{}", tool["id"].as_str().unwrap()), &m).await;
    assert_eq!(read["parameters_schema"], schema, "read back from the store after a restart");
    let (_, verification) = restarted.get("/v1/activity/verify", &m).await;
    assert_eq!(verification["valid"], true, "{verification}");
}
on_both_backends!(nul_in_text_fields_is_refused_and_in_json_values_kept, nul_in_bodies);

/// Asks for an approval with these `Idempotency-Key` header values.
async fn ask_with_keys(app: &TestApp, keys: &[reqwest::header::HeaderValue]) -> (StatusCode, Value) {
    let mut request = app.request(Method::POST, "/v1/approvals").header("X-API-Key", &app.keys.standard);
    for key in keys {
        request = request.header("Idempotency-Key", key.clone());
    }
    let response = request.json(&json!({"tool": "t", "reason": "r"})).send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

async fn idempotency_keys(app: TestApp) {
    let header = |bytes: &[u8]| reqwest::header::HeaderValue::from_bytes(bytes).unwrap();
    let long = "k".repeat(256);
    for (label, keys) in [
        ("a tab", vec![header(b"a\tb")]),
        ("empty", vec![header(b"")]),
        ("256 bytes", vec![header(long.as_bytes())]),
        ("bytes beyond ASCII", vec![header(b"caf\xc3\xa9")]),
        ("given twice", vec![header(b"first"), header(b"second")]),
    ] {
        let (status, body) = ask_with_keys(&app, &keys).await;
        assert_refused(status, &body, StatusCode::BAD_REQUEST, &format!("Idempotency-Key {label}"));
    }
    let (status, body) = ask_with_keys(&app, &[header(b"fine")]).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}
on_both_backends!(idempotency_keys_the_stores_cannot_match_are_refused, idempotency_keys);
