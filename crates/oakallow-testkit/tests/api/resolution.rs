//! The resolution chain through `POST /v1/check`: every one of the 21 `resolved_from` values, in
//! order, including the levels that must be skipped. Each rule removal is used by the very next
//! check, so this also shows that the resolver index is never stale.

use oakallow_testkit::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// All 16 rule levels for tenant `acme`, resource `db`, tool `t`, method `m`, each with the
/// permission it should answer, most specific first.
fn all_rules() -> Vec<Value> {
    let mut rules = Vec::new();
    for tenant in [Some("acme"), None] {
        for (resource, tool, method) in [
            (true, true, true),
            (true, true, false),
            (false, true, true),
            (false, true, false),
            (true, false, true),
            (true, false, false),
            (false, false, true),
            (false, false, false),
        ] {
            let mut rule = json!({ "permission": if rules.len() % 2 == 0 { "allowed" } else { "requires_approval" } });
            if let Some(tenant) = tenant {
                rule["tenant"] = json!(tenant);
            }
            if resource {
                rule["resource"] = json!("db");
            }
            if tool {
                rule["tool"] = json!("t");
            }
            if method {
                rule["method"] = json!("m");
            }
            rules.push(rule);
        }
    }
    rules
}

fn policy(rules: Vec<Value>) -> Value {
    json!({
        "categories": [{ "name": "c", "default_permission": "disabled" }],
        "tools": [
            { "name": "t", "category": "c", "default_permission": "requires_approval", "approved": true },
            { "name": "other", "approved": false }
        ],
        "tenants": [{ "external_id": "acme" }],
        "resources": [{ "name": "db" }],
        "methods": [{ "name": "m" }],
        "rules": rules
    })
}

const FULL: fn() -> Value = || json!({ "tool": "t", "tenant": "acme", "resource": "db", "method": "m" });

async fn apply(app: &TestApp, document: &Value) {
    let (status, body) = app.put("/v1/policy", &app.keys.management, document).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn patch_tool(app: &TestApp, name: &str, patch: Value) {
    let (_, tools) = app.get("/v1/tools", &app.keys.management).await;
    let id = tools["data"].as_array().unwrap().iter().find(|t| t["name"] == name).unwrap()["id"].as_str().unwrap().to_owned();
    let (status, body) = app.patch(&format!("/v1/tools/{id}"), &app.keys.management, &patch).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn walk_the_whole_chain(app: &TestApp) {
    let expected_levels = [
        "tenant_resource_tool_method",
        "tenant_resource_tool",
        "tenant_tool_method",
        "tenant_tool",
        "tenant_resource_method",
        "tenant_resource",
        "tenant_method",
        "tenant_wildcard",
        "org_resource_tool_method",
        "org_resource_tool",
        "org_tool_method",
        "org_tool",
        "org_resource_method",
        "org_resource",
        "org_method",
        "org_wildcard",
    ];
    apply(app, &policy(all_rules())).await;

    // Rule levels, most specific first: remove the deciding rule, and the next check must use
    // the next level.
    for (index, level) in expected_levels.iter().enumerate() {
        let answer = app.check(FULL()).await;
        assert_eq!(answer["resolved_from"], *level, "{answer}");
        let expected = if index % 2 == 0 { "allowed" } else { "requires_approval" };
        assert_eq!(answer["permission"], expected);
        assert_eq!((answer["tool_registered"].clone(), answer["tenant_known"].clone()), (json!(true), json!(true)));
        let rule_id = answer["rule_id"].as_str().unwrap();
        let (_, rule) = app.get(&format!("/v1/rules/{rule_id}"), &app.keys.management).await;
        assert_eq!(rule["level"], *level, "the rule's own level names the same step");
        let (status, _) = app.delete(&format!("/v1/rules/{rule_id}"), &app.keys.management).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
    }

    // Fallbacks, then the gate.
    let answer = app.check(FULL()).await;
    assert_eq!(
        (answer["resolved_from"].as_str(), answer["permission"].as_str(), answer["rule_id"].as_str()),
        (Some("tool_default"), Some("requires_approval"), None)
    );
    assert_eq!(answer["approval_timeout_seconds"], 3600);
    patch_tool(app, "t", json!({ "default_permission": null })).await;
    let answer = app.check(FULL()).await;
    assert_eq!((answer["resolved_from"].as_str(), answer["permission"].as_str()), (Some("category_default"), Some("disabled")));
    patch_tool(app, "t", json!({ "category": null })).await;
    let answer = app.check(FULL()).await;
    assert_eq!((answer["resolved_from"].as_str(), answer["permission"].as_str()), (Some("tool_approved"), Some("allowed")));
    assert_eq!(answer["approval_timeout_seconds"], Value::Null);
    patch_tool(app, "t", json!({ "approved": false })).await;
    let answer = app.check(FULL()).await;
    assert_eq!((answer["resolved_from"].as_str(), answer["permission"].as_str()), (Some("fail_safe"), Some("requires_approval")));
    patch_tool(app, "t", json!({ "enabled": false })).await;
    let answer = app.check(FULL()).await;
    assert_eq!((answer["resolved_from"].as_str(), answer["permission"].as_str()), (Some("tool_disabled"), Some("disabled")));
}

#[tokio::test]
async fn every_resolution_step_in_order_sqlite() {
    walk_the_whole_chain(&TestApp::sqlite().await).await;
}

#[tokio::test]
#[cfg_attr(not(postgres_tests), ignore = "needs PostgreSQL: set OAKALLOW_TEST_POSTGRES_URL when building the tests")]
async fn every_resolution_step_in_order_postgres() {
    walk_the_whole_chain(&TestApp::postgres().await).await;
}

#[tokio::test]
async fn levels_the_request_cannot_match_are_skipped() {
    let app = TestApp::sqlite().await;
    apply(&app, &policy(all_rules())).await;

    // No resource in the request: no *_resource_* level can match.
    let answer = app.check(json!({ "tool": "t", "tenant": "acme", "method": "m" })).await;
    assert_eq!(answer["resolved_from"], "tenant_tool_method");
    let answer = app.check(json!({ "tool": "t", "tenant": "acme" })).await;
    assert_eq!(answer["resolved_from"], "tenant_tool");

    // An unknown tenant walks org rules only.
    let answer = app.check(json!({ "tool": "t", "tenant": "nobody", "resource": "db", "method": "m" })).await;
    assert_eq!((answer["resolved_from"].as_str(), answer["tenant_known"].as_bool()), (Some("org_resource_tool_method"), Some(false)));
    assert_eq!(answer["tenant"], "nobody");

    // An unregistered tool walks only the rules that name no tool.
    let answer = app.check(json!({ "tool": "ghost", "tenant": "acme", "resource": "db", "method": "m" })).await;
    assert_eq!((answer["resolved_from"].as_str(), answer["tool_registered"].as_bool()), (Some("tenant_resource_method"), Some(false)));
    let answer = app.check(json!({ "tool": "ghost" })).await;
    assert_eq!(answer["resolved_from"], "org_wildcard");

    // A rule naming only a tool is an org_tool rule and nothing else.
    apply(&app, &policy(vec![json!({ "tool": "t", "permission": "disabled" })])).await;
    let answer = app.check(FULL()).await;
    assert_eq!((answer["resolved_from"].as_str(), answer["permission"].as_str()), (Some("org_tool"), Some("disabled")));
    let answer = app.check(json!({ "tool": "other", "tenant": "acme", "resource": "db", "method": "m" })).await;
    assert_eq!(answer["resolved_from"], "fail_safe");

    // An unregistered tool with no tool-free rule ends at fail_safe.
    let answer = app.check(json!({ "tool": "ghost", "tenant": "acme" })).await;
    assert_eq!(
        (answer["resolved_from"].as_str(), answer["permission"].as_str(), answer["tool_registered"].as_bool()),
        (Some("fail_safe"), Some("requires_approval"), Some(false))
    );

    // A disabled tool is disabled before any rule.
    patch_tool(&app, "t", json!({ "enabled": false })).await;
    let answer = app.check(FULL()).await;
    assert_eq!(answer["resolved_from"], "tool_disabled");
}

#[tokio::test]
async fn a_change_is_used_by_the_very_next_check() {
    let app = TestApp::sqlite().await;
    let tool = app.create("/v1/tools", json!({ "name": "deploy", "approved": true })).await;
    for _ in 0..20 {
        let rule = app.create("/v1/rules", json!({ "tool": "deploy", "permission": "disabled" })).await;
        assert_eq!(app.check(json!({ "tool": "deploy" })).await["permission"], "disabled");
        let path = format!("/v1/rules/{}", rule["id"].as_str().unwrap());
        let (status, _) = app.patch(&path, &app.keys.management, &json!({ "permission": "allowed" })).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(app.check(json!({ "tool": "deploy" })).await["resolved_from"], "org_tool");
        assert_eq!(app.check(json!({ "tool": "deploy" })).await["permission"], "allowed");
        app.expect(StatusCode::NO_CONTENT, Method::DELETE, &path, &app.keys.management, None).await;
        assert_eq!(app.check(json!({ "tool": "deploy" })).await["resolved_from"], "tool_approved");
    }
    let path = format!("/v1/tools/{}", tool["id"].as_str().unwrap());
    app.expect(StatusCode::OK, Method::PATCH, &path, &app.keys.management, Some(&json!({ "enabled": false }))).await;
    assert_eq!(app.check(json!({ "tool": "deploy" })).await["permission"], "disabled");
}
