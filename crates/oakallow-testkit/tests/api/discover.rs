//! `POST /v1/tools/discover`: an MCP gateway registers the tools it finds upstream as drafts
//! with the agent's standard key, within the caps, and learns what each would be answered.

use oakallow_testkit::receiver::Receiver;
use oakallow_testkit::{Backend, TestApp, TestOptions};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::workflow::connect_webhooks;

async fn discover(app: &TestApp, body: &Value) -> Vec<Value> {
    let (status, answer) = app.post("/v1/tools/discover", &app.keys.standard, body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer["tools"].as_array().unwrap().clone()
}

async fn auto_created_deliveries(app: &TestApp) -> Vec<Value> {
    let (status, listed) = app.get("/v1/webhooks/deliveries?limit=500", &app.keys.management).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    listed["data"].as_array().unwrap().iter().filter(|d| d["event_type"] == "tool.auto_created").cloned().collect()
}

async fn audit_entries(app: &TestApp) -> Vec<Value> {
    let (status, listed) = app.get("/v1/activity?type=config.changed&limit=500", &app.keys.management).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    listed["data"].as_array().unwrap().clone()
}

async fn drafts_are_created_once_with_what_the_server_said(app: TestApp) {
    let receiver = Receiver::start().await;
    connect_webhooks(&app, &receiver).await;
    app.create("/v1/tools", json!({"name": "read_file", "approved": true})).await;
    app.create("/v1/tools", json!({"name": "rm_rf", "enabled": false})).await;
    let schema = json!({"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]});
    let report = json!({"tools": [
        {"name": "read_file", "description": "Reads a file"},
        {"name": "rm_rf"},
        {"name": "write_file", "description": "Writes a file", "parameters_schema": schema,
         "annotations": {"read_only": false, "destructive": true, "idempotent": true, "open_world": false}},
        {"name": "odd_schema", "parameters_schema": {"type": 12}},
        {"name": " padded"},
    ]});
    let before = audit_entries(&app).await.len();
    let answer = discover(&app, &report).await;
    let outcomes: Vec<(&str, &str, &Value)> =
        answer.iter().map(|t| (t["name"].as_str().unwrap(), t["outcome"].as_str().unwrap(), &t["permission"])).collect();
    assert_eq!(
        outcomes,
        vec![
            ("read_file", "registered", &json!("allowed")),
            ("rm_rf", "registered", &json!("disabled")),
            ("write_file", "created", &json!("requires_approval")),
            ("odd_schema", "created", &json!("requires_approval")),
            (" padded", "refused", &Value::Null),
        ]
    );
    assert_eq!(answer[2]["resolved_from"], "tool_default");
    assert!(answer[3]["note"].as_str().unwrap().contains("schema was not kept"), "{}", answer[3]);
    assert!(answer[4]["note"].as_str().unwrap().contains("whitespace"), "{}", answer[4]);

    let (status, tool) = app.get(&format!("/v1/tools/{}", answer[2]["tool_id"].as_str().unwrap()), &app.keys.standard).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tool["description"], "Writes a file");
    assert_eq!(tool["parameters_schema"], schema);
    assert_eq!(tool["annotations"], json!({"read_only": false, "destructive": true, "idempotent": true, "open_world": false}));
    assert_eq!(
        (&tool["default_permission"], &tool["approved"], &tool["enabled"]),
        (&json!("requires_approval"), &json!(false), &json!(true))
    );
    assert_eq!(tool["tags"], json!(["auto-created"]));
    assert_eq!(tool["category"], Value::Null);

    // One audit entry for the report, by the agent's key; one event per draft.
    let entries = audit_entries(&app).await;
    assert_eq!(entries.len(), before + 1);
    assert_eq!(entries[0]["details"]["action"], "auto_created");
    assert_eq!(entries[0]["details"]["tools"], json!(["write_file", "odd_schema"]));
    assert_eq!(entries[0]["actor"]["id"], app.key_id(&app.keys.standard).await);
    let events = auto_created_deliveries(&app).await;
    assert_eq!(events.len(), 2);
    let received = receiver.wait_for(2, std::time::Duration::from_secs(30)).await;
    let mut names: Vec<String> = received.iter().map(|r| r.json()["data"]["tool"]["name"].as_str().unwrap().to_owned()).collect();
    names.sort();
    assert_eq!(names, ["odd_schema", "write_file"]);

    // Reported again: nothing new, no second event, no second entry.
    let again = discover(&app, &report).await;
    assert!(again[..4].iter().all(|t| t["outcome"] == "registered"), "{again:?}");
    assert_eq!(auto_created_deliveries(&app).await.len(), 2);
    assert_eq!(audit_entries(&app).await.len(), before + 1);
    let (status, verified) = app.get("/v1/activity/verify", &app.keys.management).await;
    assert_eq!((status, &verified["valid"]), (StatusCode::OK, &json!(true)));
}

#[tokio::test]
async fn drafts_are_created_once_with_what_the_server_said_sqlite() {
    drafts_are_created_once_with_what_the_server_said(TestApp::sqlite().await).await;
}

#[tokio::test]
#[cfg_attr(not(postgres_tests), ignore = "needs PostgreSQL: set OAKALLOW_TEST_POSTGRES_URL when building the tests")]
async fn drafts_are_created_once_with_what_the_server_said_postgres() {
    drafts_are_created_once_with_what_the_server_said(TestApp::postgres().await).await;
}

fn many(from: usize, to: usize) -> Value {
    let tools: Vec<Value> = (from..to).map(|i| json!({"name": format!("tool_{i:04}")})).collect();
    json!({ "tools": tools })
}

fn count(answer: &[Value], outcome: &str) -> usize {
    answer.iter().filter(|t| t["outcome"] == outcome).count()
}

/// 50 drafts per hour, 500 in all; capped tools still get an answer (the one an unregistered
/// tool gets).
#[tokio::test]
async fn the_caps_hold() {
    let app = TestApp::start_with(TestOptions::new(Backend::Sqlite).manual_clock()).await;
    let answer = discover(&app, &many(0, 600)).await;
    assert_eq!((count(&answer, "created"), count(&answer, "capped")), (50, 550));
    assert_eq!((&answer[50]["permission"], &answer[50]["resolved_from"]), (&json!("requires_approval"), &json!("fail_safe")));
    assert_eq!(count(&discover(&app, &many(0, 600)).await, "created"), 0, "the hour is not over");
    for hour in 1..=9 {
        app.advance(3600);
        let answer = discover(&app, &many(0, 600)).await;
        assert_eq!(count(&answer, "created"), 50, "hour {hour}");
        assert_eq!(count(&answer, "registered"), 50 * hour, "hour {hour}");
    }
    app.advance(3600);
    let answer = discover(&app, &many(0, 600)).await;
    assert_eq!((count(&answer, "registered"), count(&answer, "created"), count(&answer, "capped")), (500, 0, 100));
    let (status, tools) = app.get("/v1/tools?limit=500", &app.keys.standard).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tools["data"].as_array().unwrap().len(), 500);
    assert_eq!(tools["next_cursor"], Value::Null);

    // Deleting drafts makes room again; tools people register do not count.
    let first = tools["data"][0]["id"].as_str().unwrap();
    let (status, _) = app.delete(&format!("/v1/tools/{first}"), &app.keys.management).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    app.create("/v1/tools", json!({"name": "by_hand"})).await;
    app.advance(3600);
    assert_eq!(count(&discover(&app, &many(0, 600)).await, "created"), 1);
}

#[tokio::test]
async fn only_the_standard_key_reports_and_bad_reports_are_refused() {
    let app = TestApp::sqlite().await;
    let body = many(0, 1);
    for key in [&app.keys.management, &app.keys.approver] {
        let (status, answer) = app.post("/v1/tools/discover", key, &body).await;
        assert_eq!((status, &answer["error"]["code"]), (StatusCode::FORBIDDEN, &json!("forbidden_tier")));
    }
    let (status, answer) = app.post("/v1/tools/discover", &app.keys.standard, &many(0, 1001)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let (status, _) = app.post("/v1/tools/discover", &app.keys.standard, &json!({"tools": [{"name": "x", "extra": 1}]})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, tools) = app.get("/v1/tools", &app.keys.standard).await;
    assert_eq!((status, tools["data"].as_array().unwrap().len()), (StatusCode::OK, 0), "nothing was created");
}
