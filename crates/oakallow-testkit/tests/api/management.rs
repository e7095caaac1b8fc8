//! The management API: objects, uniqueness, references and cascades, pagination, the policy
//! document, keys, orgs and the activity written for all of it.

use oakallow_testkit::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn id(value: &Value) -> String {
    value["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn objects_are_created_read_patched_and_deleted() {
    let app = TestApp::sqlite().await;
    let m = &app.keys.management;
    let category = app.create("/v1/categories", json!({"name": "email", "default_permission": "requires_approval"})).await;
    let tool = app
        .create(
            "/v1/tools",
            json!({
                "name": "send_email", "category": "email", "risk_level": "high", "tags": ["mail"],
                "annotations": {"destructive": false, "open_world": true}, "approval_timeout_seconds": 600,
                "parameters_schema": {"type": "object", "properties": {"to": {"type": "string"}}}
            }),
        )
        .await;
    assert_eq!(tool["category"], "email");
    assert_eq!(
        (tool["approved"].as_bool(), tool["enabled"].as_bool(), tool["requires_second_approval"].as_bool()),
        (Some(false), Some(true), Some(false))
    );
    assert!(id(&tool).starts_with("tool_") && id(&category).starts_with("cat_"));
    assert_eq!(tool["created_at"], tool["updated_at"]);

    let path = format!("/v1/tools/{}", id(&tool));
    let (status, patched) = app.patch(&path, m, &json!({"description": "Sends mail", "category": null, "tags": ["a", "b"]})).await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(
        (patched["description"].as_str(), patched["category"].is_null(), patched["risk_level"].as_str()),
        (Some("Sends mail"), true, Some("high"))
    );
    assert_eq!(patched["created_at"], tool["created_at"]);
    let (_, read) = app.get(&path, &app.keys.standard).await;
    assert_eq!(read, patched);
    let (status, body) = app.patch(&path, m, &json!({"name": null})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "name is required: {body}");
    let (status, _) = app.patch(&path, m, &json!({"nmae": "x"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let rule = app.create("/v1/rules", json!({"tool": "send_email", "method": id(&app.create("/v1/methods", json!({"name": "POST"})).await), "permission": "allowed", "note": "ok"})).await;
    assert_eq!(
        (rule["level"].as_str(), rule["method"].as_str(), rule["tool"].as_str()),
        (Some("org_tool_method"), Some("POST"), Some("send_email"))
    );
    let tenant = app.create("/v1/tenants", json!({"external_id": "acme", "name": "Acme"})).await;
    let (status, renamed) = app.patch(&format!("/v1/tenants/{}", id(&tenant)), m, &json!({"external_id": "acme-2"})).await;
    assert_eq!((status, renamed["external_id"].as_str()), (StatusCode::OK, Some("acme-2")));

    let (status, _) = app.delete(&path, m).await;
    assert_eq!(status, StatusCode::CONFLICT, "a rule references the tool");
    let (status, _) = app.delete(&format!("{path}?cascade=true"), m).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.get(&format!("/v1/rules/{}", id(&rule)), m).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the cascade removed the rule");
    let (status, _) = app.get(&path, m).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.delete(&path, m).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn duplicates_and_references_conflict() {
    let app = TestApp::sqlite().await;
    let m = &app.keys.management;
    app.create("/v1/tools", json!({"name": "deploy"})).await;
    let (status, body) = app.post("/v1/tools", m, &json!({"name": "deploy"})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("conflict")));
    let category = app.create("/v1/categories", json!({"name": "infra"})).await;
    let other = app.create("/v1/tools", json!({"name": "rollback", "category": "infra"})).await;
    let (status, _) = app.patch(&format!("/v1/tools/{}", id(&other)), m, &json!({"name": "deploy"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "renaming onto an existing name");
    app.create("/v1/rules", json!({"tool": "deploy", "permission": "allowed"})).await;
    let (status, body) = app.post("/v1/rules", m, &json!({"tool": "deploy", "permission": "disabled"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "one rule per scope: {body}");
    let (status, body) = app.post("/v1/rules", m, &json!({"tool": "nope", "permission": "disabled"})).await;
    assert_eq!((status, body["error"]["details"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("tool")));

    let (status, body) = app.delete(&format!("/v1/categories/{}", id(&category)), m).await;
    assert_eq!((status, body["error"]["details"]["referenced_by"]["tools"].as_u64()), (StatusCode::CONFLICT, Some(1)));
    let (status, _) = app.delete(&format!("/v1/categories/{}?cascade=true", id(&category)), m).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, tool) = app.get(&format!("/v1/tools/{}", id(&other)), m).await;
    assert_eq!(tool["category"], Value::Null, "the cascade cleared the tool's category");
    for kind in ["tenants", "resources", "methods"] {
        let field = if kind == "tenants" { "external_id" } else { "name" };
        let object = app.create(&format!("/v1/{kind}"), json!({field: "shared"})).await;
        let (status, _) = app.post(&format!("/v1/{kind}"), m, &json!({field: "shared"})).await;
        assert_eq!(status, StatusCode::CONFLICT, "{kind}");
        let scope = &kind[..kind.len() - 1];
        app.create("/v1/rules", json!({scope: "shared", "permission": "allowed"})).await;
        let (status, _) = app.delete(&format!("/v1/{kind}/{}", id(&object)), m).await;
        assert_eq!(status, StatusCode::CONFLICT, "{kind} referenced by a rule");
    }
}

#[tokio::test]
async fn lists_are_paginated_in_creation_order() {
    let app = TestApp::sqlite().await;
    let mut created = Vec::new();
    for i in 0..7 {
        created.push(id(&app.create("/v1/resources", json!({"name": format!("r{i}")})).await));
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/resources?limit=3&cursor={c}"),
            None => "/v1/resources?limit=3".to_owned(),
        };
        let (status, page) = app.get(&path, &app.keys.standard).await;
        assert_eq!(status, StatusCode::OK);
        assert!(page["data"].as_array().unwrap().len() <= 3);
        seen.extend(page["data"].as_array().unwrap().iter().map(id));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, created);
    let (_, page) = app.get("/v1/resources", &app.keys.standard).await;
    assert_eq!((page["data"].as_array().unwrap().len(), page["next_cursor"].clone()), (7, Value::Null));
}

fn sample_policy() -> Value {
    json!({
        "version": 1,
        "categories": [{"name": "payments", "default_permission": "requires_approval"}],
        "tools": [
            {"name": "refund", "category": "payments", "risk_level": "critical", "requires_second_approval": true},
            {"name": "lookup", "approved": true, "parameters_schema": {"type": "object"}}
        ],
        "tenants": [{"external_id": "acme", "name": "Acme"}],
        "resources": [{"name": "ledger"}],
        "methods": [{"name": "write"}],
        "rules": [
            {"tenant": "acme", "tool": "refund", "permission": "disabled", "note": "acme may not refund"},
            {"resource": "ledger", "method": "write", "permission": "requires_approval"}
        ]
    })
}

#[tokio::test]
async fn the_policy_document_applies_idempotently_with_a_dry_run_diff() {
    let app = TestApp::sqlite().await;
    let m = &app.keys.management;
    let (status, dry) = app.put("/v1/policy?dry_run=true", m, &sample_policy()).await;
    assert_eq!((status, dry["applied"].as_bool()), (StatusCode::OK, Some(false)));
    assert_eq!(dry["diff"]["created"].as_array().unwrap().len(), 8);
    let (_, tools) = app.get("/v1/tools", m).await;
    assert_eq!(tools["data"], json!([]), "a dry run changes nothing");

    let (_, applied) = app.put("/v1/policy", m, &sample_policy()).await;
    assert_eq!((applied["applied"].as_bool(), &applied["diff"]), (Some(true), &dry["diff"]));
    let (_, again) = app.put("/v1/policy", m, &sample_policy()).await;
    assert_eq!(again, json!({"applied": false, "diff": {"created": [], "updated": [], "deleted": []}}), "idempotent");
    let (_, exported) = app.get("/v1/policy", &app.keys.standard).await;
    let (_, round_trip) = app.put("/v1/policy", m, &exported).await;
    assert_eq!(round_trip["applied"], false, "the export applies as no change");

    let answer = app.check(json!({"tool": "refund", "tenant": "acme"})).await;
    assert_eq!((answer["permission"].as_str(), answer["resolved_from"].as_str()), (Some("disabled"), Some("tenant_tool")));

    // Change one thing, drop a section's member, keep a left-out section.
    let mut next = sample_policy();
    next["tools"][1]["approved"] = json!(false);
    next["rules"] = json!([{"resource": "ledger", "method": "write", "permission": "allowed"}]);
    next.as_object_mut().unwrap().remove("tenants");
    let (_, dry) = app.put("/v1/policy?dry_run=true", m, &next).await;
    assert_eq!(
        dry["diff"]["updated"],
        json!([
            {"kind": "tool", "name": "lookup", "fields": ["approved"]},
            {"kind": "rule", "name": "resource=ledger method=write", "fields": ["permission"]}
        ])
    );
    assert_eq!(dry["diff"]["deleted"], json!([{"kind": "rule", "name": "tenant=acme tool=refund"}]));
    app.expect(StatusCode::OK, Method::PUT, "/v1/policy", m, Some(&next)).await;
    let (_, tenants) = app.get("/v1/tenants", m).await;
    assert_eq!(tenants["data"].as_array().unwrap().len(), 1, "the left-out tenants section was kept");

    // A document that would leave a rule pointing at a removed object is refused whole.
    let broken = json!({"tools": [{"name": "lookup"}], "rules": [{"tool": "refund", "permission": "allowed"}]});
    let (status, body) = app.put("/v1/policy", m, &broken).await;
    assert_eq!((status, body["error"]["details"]["name"].as_str()), (StatusCode::CONFLICT, Some("refund")), "{body}");
    let (_, after) = app.get("/v1/policy", m).await;
    assert_eq!(after["tools"].as_array().unwrap().len(), 2, "nothing of the refused document was applied");
    let (status, _) = app.put("/v1/policy", m, &json!({"tools": [{"name": "a"}, {"name": "a"}]})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_policy_document_is_accepted_as_yaml() {
    let app = TestApp::sqlite().await;
    let yaml = "tools:\n  - name: deploy\n    approved: true\nrules:\n  - tool: deploy\n    permission: requires_approval\n";
    let response = app
        .request(Method::PUT, "/v1/policy")
        .header("X-API-Key", &app.keys.management)
        .header("content-type", "application/yaml")
        .body(yaml)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(app.check(json!({"tool": "deploy"})).await["resolved_from"], "org_tool");
    let response = app
        .request(Method::PUT, "/v1/policy")
        .header("X-API-Key", &app.keys.management)
        .header("content-type", "application/yaml")
        .body("tools: [")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn keys_are_shown_once_and_revocation_is_immediate() {
    let app = TestApp::sqlite().await;
    let m = &app.keys.management;
    let (status, created) = app.post("/v1/keys", m, &json!({"name": "agent", "tier": "standard"})).await;
    assert_eq!(status, StatusCode::CREATED);
    let raw = created["key"].as_str().unwrap().to_owned();
    assert!(raw.starts_with("oak_live_") && raw.len() == 41);
    assert_eq!(created["prefix"].as_str(), Some(&raw[..12]));
    let (status, _) = app.post("/v1/keys", m, &json!({"name": "boss", "tier": "management"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "management keys only from the CLI");

    let (_, listed) = app.get("/v1/keys", m).await;
    assert!(!listed.to_string().contains(&raw[12..]), "the raw key is never listed");
    assert_eq!(app.check_with(&raw).await, StatusCode::OK);
    let (status, revoked) = app.delete(&format!("/v1/keys/{}", created["id"].as_str().unwrap()), m).await;
    assert_eq!(status, StatusCode::OK);
    assert!(revoked["revoked_at"].is_string());
    assert_eq!(app.check_with(&raw).await, StatusCode::UNAUTHORIZED, "refused on the very next request");
    let (_, activity) = app.get("/v1/activity?type=key.revoked", m).await;
    assert_eq!(activity["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn orgs_org_settings_and_sibling_orgs() {
    let app = TestApp::sqlite().await;
    let m = &app.keys.management;
    let (_, org) = app.get("/v1/org", m).await;
    assert_eq!(
        (org["id"].as_str(), org["redact_pii"].as_bool(), org["token_signing"].as_str()),
        (Some(app.keys.org_id.as_str()), Some(true), Some("hmac-sha256"))
    );
    let (status, org) =
        app.patch("/v1/org", m, &json!({"name": "Renamed", "approval_timeout_seconds": 120, "webhook_events": ["approval.created"]})).await;
    assert_eq!((status, org["name"].as_str(), org["approval_timeout_seconds"].as_u64()), (StatusCode::OK, Some("Renamed"), Some(120)));
    for bad in [
        json!({"webhook_url": "ftp://x"}),
        json!({"webhook_events": ["nope"]}),
        json!({"token_signing": "rsa"}),
        json!({"name": null}),
        json!({"owner": "me"}),
    ] {
        let (status, _) = app.patch("/v1/org", m, &bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    }
    app.create("/v1/tools", json!({"name": "wire", "default_permission": "requires_approval"})).await;
    assert_eq!(app.check(json!({"tool": "wire"})).await["approval_timeout_seconds"], 120, "org timeout used by the next check");

    let (status, sibling) = app.post("/v1/orgs", m, &json!({"name": "Staging"})).await;
    assert_eq!(status, StatusCode::CREATED);
    let sibling_key = sibling["management_key"]["key"].as_str().unwrap();
    let (_, orgs) = app.get("/v1/orgs", m).await;
    assert_eq!(orgs["data"].as_array().unwrap().len(), 2);
    let (_, seen_by_sibling) = app.get("/v1/tools", sibling_key).await;
    assert_eq!(seen_by_sibling["data"], json!([]), "a sibling org starts empty");
    let (_, sibling_org) = app.get("/v1/org", sibling_key).await;
    assert_eq!(sibling_org["name"], "Staging");
}

/// A management key is scoped to its org: `GET /v1/orgs` names the account's orgs (id, name,
/// creation time) but shows no org's settings, so a sibling's key does not learn where this org's
/// webhooks go or what it sends.
#[tokio::test]
async fn a_sibling_org_sees_this_orgs_name_but_not_its_settings() {
    let app = TestApp::sqlite().await;
    let m = &app.keys.management;
    let settings =
        json!({"webhook_url": "http://127.0.0.1:9/private-hook", "webhook_events": ["approval.created"], "approval_timeout_seconds": 77});
    let own = app.expect(StatusCode::OK, Method::PATCH, "/v1/org", m, Some(&settings)).await;
    let sibling = app.expect(StatusCode::CREATED, Method::POST, "/v1/orgs", m, Some(&json!({"name": "Staging"}))).await;
    let sibling_key = sibling["management_key"]["key"].as_str().unwrap();

    let listed = app.expect(StatusCode::OK, Method::GET, "/v1/orgs", sibling_key, None).await;
    let summary = |org: &Value| json!({"id": org["id"], "name": org["name"], "created_at": org["created_at"]});
    assert_eq!(listed, json!({"data": [summary(&own), summary(&sibling["org"])]}), "ids, names and creation times only");
    let (_, own_view) = app.get("/v1/org", sibling_key).await;
    assert_eq!(own_view, sibling["org"], "the caller's own settings are at GET /v1/org");
}

#[tokio::test]
async fn every_check_and_change_is_in_the_verified_activity_chain() {
    let app = TestApp::sqlite().await;
    app.create("/v1/tools", json!({"name": "t", "approved": true})).await;
    let answer = app.check(json!({"tool": "t", "params": {"a": 1}, "context": {"session": "s1"}, "reference_id": "ref-1"})).await;
    let (_, activity) = app.get("/v1/activity?type=permission.checked", &app.keys.standard).await;
    let entry = &activity["data"][0];
    assert_eq!(
        (entry["check_id"].clone(), entry["permission"].as_str(), entry["resolved_from"].as_str()),
        (answer["check_id"].clone(), Some("allowed"), Some("tool_approved"))
    );
    assert_eq!((entry["actor"]["kind"].as_str(), entry["actor"]["label"].as_str()), (Some("key"), Some(&app.keys.standard[..12])));
    assert_eq!(entry["details"]["context"], json!({"session": "s1"}));
    assert_eq!(entry["params"], json!({"a": 1}));
    let (_, single) = app.get(&format!("/v1/activity/{}", entry["id"].as_str().unwrap()), &app.keys.management).await;
    assert_eq!(&single, entry);
    let (_, changes) = app.get("/v1/activity?type=config.changed", &app.keys.management).await;
    assert_eq!(changes["data"][0]["details"]["kind"], "tool");
    let (_, verify) = app.get("/v1/activity/verify", &app.keys.management).await;
    assert_eq!(verify["valid"], true);
    assert!(verify["entries"].as_u64().unwrap() >= 5, "{verify}");
    let (_, filtered) = app.get("/v1/activity?tool=t&permission=allowed", &app.keys.management).await;
    assert_eq!(filtered["data"].as_array().unwrap().len(), 1);
}

/// A YAML policy document means what the same document in JSON means: a YAML boolean or number
/// where the document takes text is refused, as it is in JSON, not turned into the text `false`.
#[tokio::test]
async fn a_yaml_policy_document_has_the_types_of_the_same_json_document() {
    let app = TestApp::sqlite().await;
    let put_yaml = |yaml: &'static str| {
        app.request(Method::PUT, "/v1/policy?dry_run=true")
            .header("X-API-Key", &app.keys.management)
            .header("content-type", "application/yaml")
            .body(yaml)
            .send()
    };
    for (yaml, json) in [
        ("rules:\n  - permission: allowed\n    note: false\n", json!({"rules": [{"permission": "allowed", "note": false}]})),
        ("tools:\n  - name: 12\n", json!({"tools": [{"name": 12}]})),
        ("tenants:\n  - external_id: acme\n    name: true\n", json!({"tenants": [{"external_id": "acme", "name": true}]})),
    ] {
        let (status, _) = app.put("/v1/policy?dry_run=true", &app.keys.management, &json).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "JSON {json}");
        let response = put_yaml(yaml).await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "YAML {yaml:?}: {}", response.text().await.unwrap());
    }
    for twice in ["tools:\n  - name: a\ntools:\n  - name: b\n", "tools:\n  - name: a\n    name: b\n"] {
        assert_eq!(put_yaml(twice).await.unwrap().status(), StatusCode::BAD_REQUEST, "a key given twice: {twice:?}");
    }
    let response = put_yaml("tenants:\n  - external_id: acme\n    name: 'true'\n").await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "quoted YAML text is text");
}
