//! One body, one meaning: a member name given twice (at any depth, params and context included)
//! and an array where an object is specified (serde's positional form) are refused with 400 and
//! store nothing, for JSON bodies and YAML policy documents alike.

use oakallow_testkit::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// What the org has stored: its policy, org settings, keys, and the number of audit entries.
async fn footprint(app: &TestApp) -> Vec<Value> {
    let mut all = Vec::new();
    for path in ["/v1/policy", "/v1/org", "/v1/keys?limit=500", "/v1/approvals?limit=500", "/v1/orgs"] {
        let key = if path.starts_with("/v1/approvals") { &app.keys.approver } else { &app.keys.management };
        let (status, body) = app.get(path, key).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        all.push(body);
    }
    let (_, verification) = app.get("/v1/activity/verify", &app.keys.management).await;
    all.push(verification["entries"].clone());
    all
}

async fn send(app: &TestApp, method: Method, path: &str, key: &str, content_type: &str, body: &str) -> (StatusCode, Value) {
    let response =
        app.request(method, path).header("X-API-Key", key).header("content-type", content_type).body(body.to_owned()).send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

struct Case {
    method: Method,
    path: String,
    key: String,
    content_type: &'static str,
    body: String,
}

fn case(method: Method, path: impl Into<String>, key: &str, body: &str) -> Case {
    Case { method, path: path.into(), key: key.to_owned(), content_type: "application/json", body: body.to_owned() }
}

fn yaml(path: &str, key: &str, body: &str) -> Case {
    Case { method: Method::PUT, path: path.to_owned(), key: key.to_owned(), content_type: "application/yaml", body: body.to_owned() }
}

fn duplicate_members(app: &TestApp, tool_id: &str, approval: &str) -> Vec<Case> {
    let (m, s, a) = (app.keys.management.as_str(), app.keys.standard.as_str(), app.keys.approver.as_str());
    vec![
        case(Method::POST, "/v1/check", s, r#"{"tool":"pay","params":{"amount":1000000,"amount":1}}"#),
        case(Method::POST, "/v1/check", s, r#"{"tool":"pay","params":{"amount":1,"\u0061mount":1000000}}"#),
        case(Method::POST, "/v1/check", s, r#"{"tool":"pay","params":{"to":{"iban":"A","iban":"B"}}}"#),
        case(Method::POST, "/v1/check", s, r#"{"tool":"pay","params":{"list":[{"x":1,"x":2}]}}"#),
        case(Method::POST, "/v1/check", s, r#"{"tool":"pay","context":{"user":"a","user":"b"}}"#),
        case(Method::POST, "/v1/check", s, r#"{"tool":"pay","tool":"other"}"#),
        case(Method::POST, "/v1/check", s, r#"{"tool":"pay","params":{"a":"\ud800"}}"#),
        case(Method::POST, "/v1/validate", s, r#"{"tool":"pay","params":{"amount":1,"amount":2}}"#),
        case(Method::POST, "/v1/approvals", s, r#"{"tool":"pay","reason":"r","params":{"amount":1000000,"amount":1}}"#),
        case(Method::POST, "/v1/approvals", s, r#"{"tool":"pay","reason":"r","context":{"a":{"b":1,"b":2}}}"#),
        case(Method::POST, "/v1/executions", s, r#"{"tool":"pay","result":"success","duration_ms":1,"output":{"ok":true,"ok":false}}"#),
        case(Method::POST, "/v1/executions", s, r#"{"tool":"pay","result":"success","duration_ms":1,"params":{"n":1,"n":2}}"#),
        case(Method::POST, "/v1/tokens/verify", s, r#"{"token":"oak_tok_x.y","params":{"n":1,"n":2}}"#),
        case(Method::POST, "/v1/tools", m, r#"{"name":"x","parameters_schema":{"type":"object","type":"string"}}"#),
        case(Method::PATCH, format!("/v1/tools/{tool_id}"), m, r#"{"description":"a","description":"b"}"#),
        case(Method::PATCH, format!("/v1/tools/{tool_id}"), m, r#"{"parameters_schema":{"properties":{"a":{},"a":{"type":"string"}}}}"#),
        case(Method::PATCH, "/v1/org", m, r#"{"approval_timeout_seconds":600,"approval_timeout_seconds":60}"#),
        case(Method::POST, "/v1/keys", m, r#"{"name":"a","tier":"standard","tier":"approver"}"#),
        case(Method::PUT, "/v1/policy", m, r#"{"tools":[{"name":"pay","approved":true,"approved":false}]}"#),
        case(Method::PUT, "/v1/policy", m, r#"{"tools":[{"name":"pay","parameters_schema":{"maximum":1,"maximum":9}}]}"#),
        case(Method::PUT, "/v1/policy", m, r#"{"methods":[],"methods":null}"#),
        case(
            Method::POST,
            format!("/v1/approvals/{approval}/decide"),
            a,
            r#"{"decision":"denied","decision":"approved","decided_by":"x"}"#,
        ),
        yaml("/v1/policy", m, "tools:\n  - name: pay\n    approved: true\n    approved: false\n"),
        yaml("/v1/policy", m, "tools:\n  - name: pay\n    parameters_schema: {type: object, type: string}\n"),
        yaml("/v1/policy", m, "methods: []\nmethods: []\n"),
    ]
}

fn arrays_for_objects(app: &TestApp, tool_id: &str, approval: &str) -> Vec<Case> {
    let (m, s, a) = (app.keys.management.as_str(), app.keys.standard.as_str(), app.keys.approver.as_str());
    vec![
        case(Method::POST, "/v1/check", s, r#"["pay"]"#),
        case(Method::POST, "/v1/validate", s, r#"["pay", {}]"#),
        case(Method::POST, "/v1/approvals", s, r#"["pay", null, null, null, null, "because"]"#),
        case(Method::POST, "/v1/approvals/request", s, r#"["pay", null, null, null, null, "because"]"#),
        case(Method::POST, "/v1/executions", s, r#"[null, "pay", null, null, null, null, "success", 5]"#),
        case(Method::POST, "/v1/tokens/verify", s, r#"["oak_tok_x.y"]"#),
        case(Method::POST, format!("/v1/approvals/{approval}/decide"), a, r#"["approved", null, "x"]"#),
        case(Method::POST, "/v1/tools", m, r#"["array-tool"]"#),
        case(Method::POST, "/v1/tools", m, r#"{"name":"x","annotations":[true]}"#),
        case(Method::POST, "/v1/categories", m, r#"["array-category"]"#),
        case(Method::POST, "/v1/tenants", m, r#"["array-tenant"]"#),
        case(Method::POST, "/v1/resources", m, r#"["array-resource"]"#),
        case(Method::POST, "/v1/rules", m, r#"[null, null, "pay", null, "disabled"]"#),
        case(Method::PATCH, format!("/v1/tools/{tool_id}"), m, r#"{"annotations":[true, true]}"#),
        case(Method::PATCH, format!("/v1/tools/{tool_id}"), m, r#"["renamed"]"#),
        case(Method::PATCH, "/v1/org", m, r#"["renamed"]"#),
        case(Method::POST, "/v1/keys", m, r#"["k", "standard"]"#),
        case(Method::POST, "/v1/orgs", m, r#"["sibling"]"#),
        case(Method::PUT, "/v1/policy", m, r#"[null, null, [{"name":"pay"}]]"#),
        case(Method::PUT, "/v1/policy", m, r#"{"tools":[["pay"]]}"#),
        case(Method::PUT, "/v1/policy", m, r#"{"tools":[{"name":"pay","annotations":[true]}]}"#),
        case(Method::PUT, "/v1/policy", m, r#"{"rules":[[null, null, "pay", null, "disabled"]]}"#),
        case(Method::PUT, "/v1/policy", m, r#"{"tools":[{"name":"pay","risk_level":{"high":null}}]}"#),
        yaml("/v1/policy", m, "tools:\n  - [pay]\n"),
        yaml("/v1/policy", m, "tools:\n  - name: pay\n    annotations: [true]\n"),
        yaml("/v1/policy", m, "- null\n- null\n- [{name: pay}]\n"),
    ]
}

/// YAML that is not plain data: tags, numbers that are not numbers, aliases that multiply.
fn yaml_beyond_data(app: &TestApp) -> Vec<Case> {
    let m = app.keys.management.as_str();
    let levels: String = (1..6).map(|i| format!("      l{i}: &l{i} [{}]\n", vec![format!("*l{}", i - 1); 10].join(", "))).collect();
    let bomb = format!("tools:\n  - name: pay\n    parameters_schema:\n      l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n{levels}");
    vec![
        yaml("/v1/policy", m, "tools:\n  - name: pay\n    parameters_schema: {maximum: .nan}\n"),
        yaml("/v1/policy", m, "tools:\n  - name: pay\n    parameters_schema: {maximum: -.inf}\n"),
        yaml("/v1/policy", m, "tools:\n  - name: pay\n    parameters_schema: !custom {type: object}\n"),
        yaml("/v1/policy", m, "tools:\n  - name: pay\n    risk_level: !high\n"),
        yaml("/v1/policy", m, &bomb),
        yaml("/v1/policy", m, "tools: []\n---\nmethods: []\n"),
    ]
}

async fn one_meaning(app: TestApp) {
    let tool = app.create("/v1/tools", json!({"name": "pay", "approved": false})).await;
    let tool_id = tool["id"].as_str().unwrap().to_owned();
    let (status, approval) = app.post("/v1/approvals", &app.keys.standard, &json!({"tool": "pay", "reason": "r"})).await;
    assert_eq!(status, StatusCode::CREATED, "{approval}");
    let approval = approval["id"].as_str().unwrap().to_owned();
    let before = footprint(&app).await;
    let cases = duplicate_members(&app, &tool_id, &approval)
        .into_iter()
        .chain(arrays_for_objects(&app, &tool_id, &approval))
        .chain(yaml_beyond_data(&app));
    for case in cases {
        let (status, answer) = send(&app, case.method.clone(), &case.path, &case.key, case.content_type, &case.body).await;
        let label = format!("{} {} {}", case.method, case.path, case.body);
        assert_eq!(status, StatusCode::BAD_REQUEST, "{label}: {answer}");
        assert_eq!(answer["error"]["code"], "invalid_request", "{label}: {answer}");
    }
    assert_eq!(footprint(&app).await, before, "nothing was stored");
    // The same bodies without the second meaning are accepted.
    let (status, answer) =
        send(&app, Method::POST, "/v1/check", &app.keys.standard, "application/json", r#"{"tool":"pay","params":{"amount":1}}"#).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let document = "tools:\n  - name: pay\n    approved: false\n    annotations: {read_only: true}\n";
    let (status, answer) = send(&app, Method::PUT, "/v1/policy", &app.keys.management, "application/yaml", document).await;
    assert_eq!((status, &answer["applied"]), (StatusCode::OK, &json!(true)), "{answer}");
}
on_both_backends!(duplicate_members_and_positional_objects_are_refused, one_meaning);
