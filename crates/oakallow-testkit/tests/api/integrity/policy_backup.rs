//! A backup always re-applies: a policy built through every path (create, patch, whole
//! documents in JSON and YAML) with the most extreme values each accepts exports a document
//! that `PUT /v1/policy` accepts, as JSON and as YAML, changing nothing; restored into an empty
//! org it exports the same document. The limits that could break this (nesting depth, body and
//! policy size, names that look like ids) are one on every path.

use oakallow_testkit::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Text of exactly 4096 bytes with every kind of character a description may hold.
fn longest_text() -> String {
    let mut text =
        String::from("line\nbreak\ttab \u{1}\u{7f}\u{85}\u{2028}\u{202e} \"quoted\" \\ 'single' : - # & * ! | > % @ ` {x} [y] é 😀 ");
    while text.len() < 4096 {
        text.push('é');
    }
    while text.len() > 4096 {
        text.pop();
    }
    text
}

/// A JSON Schema nested exactly `levels` deep, with awkward numbers at the bottom.
fn schema_of_depth(levels: usize) -> Value {
    let mut schema = json!({"type": "number", "maximum": 1e308, "minimum": -1.7976931348623157e308, "multipleOf": 5e-324,
        "examples": [18_446_744_073_709_551_615_u64, -9_223_372_036_854_775_808_i64, -0.0, 0.1, 1e22]});
    for _ in 2..levels {
        schema = json!({"not": schema});
    }
    assert_eq!(oakallow_domain::json::depth(&schema), levels);
    schema
}

async fn put(app: &TestApp, content_type: &str, body: String) -> (StatusCode, Value) {
    let response = app
        .request(Method::PUT, "/v1/policy")
        .header("X-API-Key", &app.keys.management)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn export(app: &TestApp) -> String {
    let response = app.request(Method::GET, "/v1/policy").header("X-API-Key", &app.keys.management).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.text().await.unwrap()
}

fn as_yaml(document: &str) -> String {
    serde_norway::to_string(&serde_json::from_str::<Value>(document).unwrap()).unwrap()
}

/// Re-applies `document` as JSON and YAML (and as a dry run): accepted, nothing changes.
async fn assert_reapplies_unchanged(app: &TestApp, document: &str) {
    for (content_type, body) in [("application/json", document.to_owned()), ("application/yaml", as_yaml(document))] {
        let (status, answer) = put(app, content_type, body).await;
        assert_eq!(status, StatusCode::OK, "re-applying the export as {content_type}: {answer}");
        assert_eq!(answer, json!({"applied": false, "diff": {"created": [], "updated": [], "deleted": []}}), "{content_type}");
    }
    let (status, answer) = app.put("/v1/policy?dry_run=true", &app.keys.management, &serde_json::from_str(document).unwrap()).await;
    assert_eq!((status, &answer["diff"]["updated"]), (StatusCode::OK, &json!([])), "{answer}");
    assert_eq!(export(app).await, document, "nothing changed");
}

async fn built_through_every_path(app: &TestApp) {
    let text = longest_text();
    let longest_name: String = "é".repeat(100);
    let category = app.create("/v1/categories", json!({"name": longest_name, "description": text, "default_permission": "disabled"})).await;
    let tags: Vec<String> = (0..64).map(|i| format!("{i:03}{}", "t".repeat(197))).collect();
    let deep = app
        .create(
            "/v1/tools",
            json!({"name": "deep", "description": text, "category": category["id"], "risk_level": "critical",
                "parameters_schema": schema_of_depth(64), "default_permission": "requires_approval", "approved": true,
                "enabled": false, "approval_timeout_seconds": u32::MAX, "requires_second_approval": true,
                "annotations": {"read_only": true, "destructive": false, "idempotent": true, "open_world": false}, "tags": tags}),
        )
        .await;
    let deep_id = deep["id"].as_str().unwrap();
    // A tool whose name is the other tool's id: references by name must still find it.
    let impostor = app.create("/v1/tools", json!({"name": deep_id, "category": longest_name, "parameters_schema": {}})).await;
    app.create("/v1/tools", json!({"name": "plain", "description": "", "tags": []})).await;
    for name in ["null", "true", "0x1F", "1e3", "~", "- x", "#c", "a: b", "@at", "*star", "&amp", "!bang", "%pct", "'q'", "\"dq\"", "yes"] {
        app.create("/v1/resources", json!({"name": name, "description": name})).await;
    }
    app.create("/v1/tenants", json!({"external_id": "007", "name": ""})).await;
    app.create("/v1/tenants", json!({"external_id": longest_name})).await;
    app.create("/v1/methods", json!({"name": "POST"})).await;
    app.create("/v1/rules", json!({"tool": impostor["id"], "permission": "allowed", "note": text})).await;
    app.create("/v1/rules", json!({"tenant": "007", "tool": deep_id, "resource": "null", "method": "POST", "permission": "disabled"}))
        .await;
    app.create("/v1/rules", json!({"permission": "requires_approval"})).await;

    let (status, patched) = app
        .patch(
            &format!("/v1/tools/{}", impostor["id"].as_str().unwrap()),
            &app.keys.management,
            &json!({"description": text, "category": null}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    let (status, patched) = app
        .patch(&format!("/v1/categories/{}", category["id"].as_str().unwrap()), &app.keys.management, &json!({"description": null}))
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");

    let mut methods: Vec<Value> = vec![json!({"name": "POST"}), json!({"name": "no", "description": text})];
    let (status, answer) = app.put("/v1/policy", &app.keys.management, &json!({"methods": methods})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    methods.push(json!({"name": "off", "description": "YAML 1.1 would read this name as false"}));
    let (status, answer) = put(app, "application/yaml", as_yaml(&json!({"methods": methods}).to_string())).await;
    assert_eq!((status, &answer["applied"]), (StatusCode::OK, &json!(true)), "{answer}");
}

async fn every_backup_reapplies(app: TestApp) {
    built_through_every_path(&app).await;
    let document = export(&app).await;
    assert_reapplies_unchanged(&app, &document).await;

    let other = app.another_org("restore@example.com").await;
    let response = app
        .request(Method::PUT, "/v1/policy")
        .header("X-API-Key", &other.management)
        .header("content-type", "application/json")
        .body(document.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "restoring into an empty org");
    let restored =
        app.request(Method::GET, "/v1/policy").header("X-API-Key", &other.management).send().await.unwrap().text().await.unwrap();
    assert_eq!(restored, document, "the restored org exports the same document");
    let (_, verification) = app.get("/v1/activity/verify", &app.keys.management).await;
    assert_eq!(verification["valid"], true, "{verification}");
}
on_both_backends!(a_policy_built_every_way_reapplies_from_its_backup, every_backup_reapplies);

async fn one_depth_limit(app: TestApp) {
    let too_deep = schema_of_depth(65);
    let tool = app.create("/v1/tools", json!({"name": "t", "approved": true})).await;
    let id = tool["id"].as_str().unwrap();
    let tool_path = format!("/v1/tools/{id}");
    let (status, answer) = app.post("/v1/tools", &app.keys.management, &json!({"name": "x", "parameters_schema": too_deep})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "POST: {answer}");
    let (status, answer) = app.patch(&tool_path, &app.keys.management, &json!({"parameters_schema": too_deep})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "PATCH: {answer}");
    let document = json!({"tools": [{"name": "t", "approved": true, "parameters_schema": too_deep}]});
    let (status, answer) = app.put("/v1/policy", &app.keys.management, &document).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "PUT JSON: {answer}");
    let (status, answer) = put(&app, "application/yaml", as_yaml(&document.to_string())).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "PUT YAML: {answer}");

    // Runtime values keep the same limit: an object nested 64 levels is kept, 65 is refused.
    let mut value = json!(1);
    for _ in 0..64 {
        value = json!({"n": value});
    }
    assert_eq!(oakallow_domain::json::depth(&value), 64);
    for (path, key, body) in [
        ("/v1/check", &app.keys.standard, json!({"tool": "t", "params": value, "context": value})),
        ("/v1/approvals", &app.keys.standard, json!({"tool": "t", "reason": "r", "params": value, "context": value})),
        (
            "/v1/executions",
            &app.keys.standard,
            json!({"tool": "t", "result": "success", "duration_ms": 1, "params": value, "output": value}),
        ),
    ] {
        let (status, answer) = app.post(path, key, &body).await;
        assert!(status.is_success(), "{path} at 64 levels: {answer}");
        let deeper = serde_json::to_string(&body).unwrap().replacen("{\"n\":1}", "{\"n\":{\"n\":1}}", 1);
        let response = app
            .request(Method::POST, path)
            .header("X-API-Key", key)
            .header("content-type", "application/json")
            .body(deeper)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path} at 65 levels");
    }
    let (_, verification) = app.get("/v1/activity/verify", &app.keys.management).await;
    assert_eq!(verification["valid"], true, "{verification}");
}
on_both_backends!(json_values_nest_at_most_64_levels_on_every_path, one_depth_limit);

/// A policy grows through 1 MiB creates to the largest size there is; its export (16 MiB) still
/// re-applies in one request, and nothing may grow it further.
#[tokio::test]
async fn the_largest_policy_still_reapplies() {
    let app = TestApp::sqlite().await;
    let filler = "x".repeat(1_000_000);
    let mut created = 0;
    loop {
        let body = json!({"name": format!("big-{created:02}"), "parameters_schema": {"description": filler}});
        let (status, answer) = app.post("/v1/tools", &app.keys.management, &body).await;
        if status != StatusCode::CREATED {
            assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
            assert!(answer["error"]["message"].as_str().unwrap().contains("re-apply"), "{answer}");
            break;
        }
        created += 1;
        assert!(created <= 17, "a policy grew past 16 MiB");
    }
    assert!(created >= 16, "{created} tools of 1 MB");
    let document = export(&app).await;
    assert!(document.len() > 16_000_000, "{}", document.len());
    assert_reapplies_unchanged(&app, &document).await;
}
