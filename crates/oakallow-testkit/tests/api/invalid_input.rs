//! Bad input gets a clear 4xx with the error envelope, never a 5xx, and nothing is stored.

use oakallow_testkit::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// How many policy objects and activity entries the org has.
async fn footprint(app: &TestApp) -> (Value, usize) {
    let (_, policy) = app.get("/v1/policy", &app.keys.management).await;
    let (_, activity) = app.get("/v1/activity?limit=500", &app.keys.management).await;
    (policy, activity["data"].as_array().unwrap().len())
}

fn assert_envelope(status: StatusCode, body: &Value, expected_status: StatusCode, code: &str, label: &str) {
    assert_eq!(status, expected_status, "{label}: {body}");
    assert_eq!(body["error"]["code"], code, "{label}: {body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{label}: {body}");
    assert!(body["error"]["details"].is_object(), "{label}: {body}");
}

async fn raw(app: &TestApp, method: Method, path: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let response = app
        .request(method, path)
        .header("X-API-Key", &app.keys.management)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn malformed_bodies_are_refused_and_nothing_is_stored() {
    let app = TestApp::sqlite().await;
    let before = footprint(&app).await;
    let deep = format!("{{\"name\": \"x\", \"description\": {}1{}}}", "[".repeat(5000), "]".repeat(5000));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("malformed JSON", b"{\"name\": ".to_vec()),
        ("not an object", b"[1, 2]".to_vec()),
        ("empty body", Vec::new()),
        ("unknown field", br#"{"name": "x", "colour": "red"}"#.to_vec()),
        ("wrong type", br#"{"name": 5}"#.to_vec()),
        ("wrong enum", br#"{"name": "x", "risk_level": "extreme"}"#.to_vec()),
        ("negative number", br#"{"name": "x", "approval_timeout_seconds": -1}"#.to_vec()),
        ("deeply nested", deep.into_bytes()),
        ("invalid JSON Schema", br#"{"name": "x", "parameters_schema": {"type": "no-such-type"}}"#.to_vec()),
        ("schema that is not a schema", br#"{"name": "x", "parameters_schema": "string"}"#.to_vec()),
        ("boolean schema", br#"{"name": "x", "parameters_schema": false}"#.to_vec()),
        ("array schema", br#"{"name": "x", "parameters_schema": []}"#.to_vec()),
        ("remote $ref", br#"{"name": "x", "parameters_schema": {"$ref": "http://169.254.169.254/latest"}}"#.to_vec()),
        ("empty name", br#"{"name": ""}"#.to_vec()),
        ("control characters", br#"{"name": "a\u0000b"}"#.to_vec()),
        ("NUL in text", br#"{"name": "ok", "description": "a\u0000b"}"#.to_vec()),
        ("name too long", format!(r#"{{"name": "{}"}}"#, "n".repeat(201)).into_bytes()),
        ("unknown category", br#"{"name": "x", "category": "nope"}"#.to_vec()),
        ("invalid UTF-8", vec![b'{', b'"', 0xff, b'"', b'}']),
    ];
    for (label, body) in cases {
        let (status, answer) = raw(&app, Method::POST, "/v1/tools", body).await;
        assert_envelope(status, &answer, StatusCode::BAD_REQUEST, "invalid_request", label);
    }
    assert_eq!(footprint(&app).await, before, "nothing was stored");
}

#[tokio::test]
async fn bodies_over_one_mebibyte_are_refused_with_413() {
    let app = TestApp::sqlite().await;
    let before = footprint(&app).await;
    let filler = "x".repeat(1024 * 1024);
    let body = format!(r#"{{"name": "big", "description": "{filler}"}}"#).into_bytes();
    let (status, answer) = raw(&app, Method::POST, "/v1/tools", body).await;
    assert_envelope(status, &answer, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "1 MiB + body");
    // A policy document may be larger (a backup of the largest policy must re-apply), up to 32 MiB.
    let document =
        json!({"tools": (0..9_000).map(|i| json!({"name": format!("tool-{i:06}"), "description": "d".repeat(4000)})).collect::<Vec<_>>()});
    let body = serde_json::to_vec(&document).unwrap();
    assert!(body.len() > 32 * 1024 * 1024 && body.len() < 40 * 1024 * 1024, "{}", body.len());
    let (status, answer) = raw(&app, Method::PUT, "/v1/policy", body).await;
    assert_envelope(status, &answer, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "policy over 32 MiB");
    let params = json!({"tool": "t", "params": {"blob": "y".repeat(1024 * 1024)}});
    let (status, answer) = app.post("/v1/check", &app.keys.standard, &params).await;
    assert_envelope(status, &answer, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "huge params");
    assert_eq!(footprint(&app).await, before);
    // A document just under the limit is accepted.
    let tools: Vec<Value> = (0..4000).map(|i| json!({"name": format!("tool-{i:05}"), "description": "d".repeat(200)})).collect();
    let body = serde_json::to_vec(&json!({"tools": tools})).unwrap();
    assert!(body.len() > 900_000 && body.len() < 1024 * 1024, "{}", body.len());
    let (status, answer) = raw(&app, Method::PUT, "/v1/policy", body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["diff"]["created"].as_array().map(Vec::len), Some(4000));
}

#[tokio::test]
async fn unknown_routes_methods_and_queries_get_envelopes() {
    let app = TestApp::sqlite().await;
    for presented in [None, Some(app.keys.management.as_str())] {
        let (status, body) = app.call(Method::GET, "/v1/no-such-thing", presented, None).await;
        assert_envelope(status, &body, StatusCode::NOT_FOUND, "not_found", "unknown route");
        let (status, body) = app.call(Method::GET, "/no-such-page", presented, None).await;
        assert_envelope(status, &body, StatusCode::NOT_FOUND, "not_found", "unknown page, asked for by an API client");
    }
    let (status, body) = app.call(Method::DELETE, "/v1/check", Some(&app.keys.standard), None).await;
    assert_envelope(status, &body, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "wrong method");
    for (path, label) in [
        ("/v1/tools?limit=abc", "limit not a number"),
        ("/v1/tools?limit=0", "limit zero"),
        ("/v1/tools?limit=501", "limit too large"),
        ("/v1/tools?colour=red", "unknown query parameter"),
        ("/v1/tools?cursor=%%%", "cursor not ours"),
        ("/v1/tools?cursor=Zm9v", "cursor of nothing"),
        ("/v1/activity?type=nope", "unknown activity type"),
        ("/v1/activity?since=yesterday", "bad timestamp"),
        ("/v1/activity?permission=maybe", "bad permission"),
    ] {
        let (status, body) = app.get(path, &app.keys.management).await;
        assert_envelope(status, &body, StatusCode::BAD_REQUEST, "invalid_request", label);
    }
    let (status, body) = app.call(Method::DELETE, "/v1/tools/tool_x?cascade=maybe", Some(&app.keys.management), None).await;
    assert_envelope(status, &body, StatusCode::BAD_REQUEST, "invalid_request", "bad cascade");
    for path in ["/v1/tools/not-an-id", "/v1/tools/tool_00000000000000000000000000", "/v1/rules/tool_00000000000000000000000000"] {
        let (status, body) = app.get(path, &app.keys.management).await;
        assert_envelope(status, &body, StatusCode::NOT_FOUND, "not_found", path);
    }
}

#[tokio::test]
async fn runtime_calls_reject_bad_input_without_logging_anything() {
    let app = TestApp::sqlite().await;
    app.create(
        "/v1/tools",
        json!({"name": "send_email", "parameters_schema": {
            "type": "object",
            "properties": {"to": {"type": "string", "format": "email"}, "count": {"type": "integer", "maximum": 3}},
            "required": ["to"],
            "additionalProperties": false
        }}),
    )
    .await;
    let before = footprint(&app).await;
    let (status, body) =
        app.post("/v1/check", &app.keys.standard, &json!({"tool": "send_email", "params": {"count": 9, "extra": true}})).await;
    assert_envelope(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid_params", "params");
    let paths: Vec<&str> = body["error"]["details"]["errors"].as_array().unwrap().iter().map(|e| e["path"].as_str().unwrap()).collect();
    assert!(paths.contains(&"/count") && paths.contains(&""), "{paths:?}");
    for (label, request) in [
        ("params not an object", json!({"tool": "send_email", "params": [1]})),
        ("missing tool", json!({"tenant": "x"})),
        ("empty tool", json!({"tool": ""})),
        ("unknown field", json!({"tool": "send_email", "tennant": "x"})),
        ("tenant with control characters", json!({"tool": "send_email", "tenant": "a\u{7}"})),
        ("reference too long", json!({"tool": "send_email", "reference_id": "r".repeat(201)})),
    ] {
        let (status, body) = app.post("/v1/check", &app.keys.standard, &request).await;
        assert_envelope(status, &body, StatusCode::BAD_REQUEST, "invalid_request", label);
    }
    let (status, body) = app.post("/v1/validate", &app.keys.standard, &json!({"tool": "nope", "params": {}})).await;
    assert_envelope(status, &body, StatusCode::NOT_FOUND, "tool_not_found", "validate unknown tool");
    assert_eq!(footprint(&app).await, before, "refused calls leave no activity");
    let (status, body) = app.post("/v1/validate", &app.keys.standard, &json!({"tool": "send_email", "params": {"count": 1}})).await;
    assert_eq!((status, body["valid"].as_bool()), (StatusCode::OK, Some(false)));
    assert_eq!(body["errors"][0]["path"], "");
}

#[tokio::test]
async fn hostile_but_valid_strings_are_stored_verbatim() {
    let app = TestApp::sqlite().await;
    for name in ["'; DROP TABLE tools; --", "名前 🚀", "a\"b\\c", "\u{202e}rtl", "x".repeat(200).as_str()] {
        let created = app.create("/v1/tools", json!({"name": name})).await;
        let (_, read) = app.get(&format!("/v1/tools/{}", created["id"].as_str().unwrap()), &app.keys.standard).await;
        assert_eq!(read["name"], name);
        assert_eq!(app.check(json!({"tool": name})).await["tool_registered"], true);
    }
    let (status, _) = app.get("/v1/health", &app.keys.management).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_patch_naming_an_unknown_field_is_refused_even_with_null() {
    let app = TestApp::sqlite().await;
    app.create("/v1/tools", json!({"name": "deploy"})).await;
    let objects = [
        ("/v1/tools", json!({"name": "patched"})),
        ("/v1/categories", json!({"name": "ops"})),
        ("/v1/tenants", json!({"external_id": "acme"})),
        ("/v1/resources", json!({"name": "db"})),
        ("/v1/methods", json!({"name": "read"})),
        ("/v1/rules", json!({"tool": "deploy", "permission": "allowed"})),
    ];
    for (collection, body) in objects {
        let created = app.create(collection, body).await;
        let before = footprint(&app).await;
        let item = format!("{collection}/{}", created["id"].as_str().unwrap());
        for patch in [json!({"nmae": null}), json!({"": null}), json!({"nmae": "x"})] {
            let (status, answer) = app.patch(&item, &app.keys.management, &patch).await;
            assert_envelope(status, &answer, StatusCode::BAD_REQUEST, "invalid_request", &format!("PATCH {collection} {patch}"));
        }
        assert_eq!(footprint(&app).await, before, "a refused patch changes nothing");
    }
}

/// `parameters_schema` is a JSON Schema *object* on every path that writes it (a boolean schema
/// would publish a type the document does not name, and `false` would refuse every call).
#[tokio::test]
async fn a_parameters_schema_is_an_object_on_every_path() {
    let app = TestApp::sqlite().await;
    let tool = app.create("/v1/tools", json!({"name": "t", "parameters_schema": {"type": "object"}})).await;
    let path = format!("/v1/tools/{}", tool["id"].as_str().unwrap());
    for schema in [json!(false), json!(true), json!([])] {
        let (status, answer) = app.patch(&path, &app.keys.management, &json!({"parameters_schema": schema})).await;
        assert_envelope(status, &answer, StatusCode::BAD_REQUEST, "invalid_request", "PATCH");
        let document = json!({"tools": [{"name": "t", "parameters_schema": schema}]});
        let (status, answer) = app.put("/v1/policy", &app.keys.management, &document).await;
        assert_envelope(status, &answer, StatusCode::BAD_REQUEST, "invalid_request", "PUT /v1/policy");
    }
    let (_, read) = app.get(&path, &app.keys.management).await;
    assert_eq!(read["parameters_schema"], json!({"type": "object"}), "nothing changed");
}
