//! The policy pages (issue 8): tools, categories, tenants, resources, methods and rules made,
//! changed and deleted through the forms, checked through the API; refused forms; members read
//! but cannot change; other orgs' ids answer 404; and the "which rule wins" tester agrees with
//! `POST /v1/check` while recording nothing.

use oakallow_domain::account::{ApproverLevels, Role};
use oakallow_domain::keys::KeyTier;
use oakallow_domain::policy::PolicyDocument;
use oakallow_service::keys::CreateKeyRequest;
use oakallow_service::people::OrgMember;
use oakallow_testkit::{TestApp, WebClient};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{PASSWORD, empty_app, operator};

/// The visitor's membership in `org`, as the service sees it.
async fn member_of(app: &TestApp, web: &WebClient, org: &str) -> OrgMember {
    let signed_in = app.service.signed_in(&web.cookie("oak_session").unwrap()).await.unwrap();
    app.service.member(&signed_in, org).await.unwrap()
}

/// A standard key of `org` (made by its owner `web`), for reading the API and checking.
async fn standard_key(app: &TestApp, web: &WebClient, org: &str) -> String {
    let owner = member_of(app, web, org).await.management().unwrap();
    let request = CreateKeyRequest { name: "agent".into(), tier: KeyTier::Standard };
    app.service.create_key(&owner, request).await.unwrap().key
}

/// Every object of `collection` as the API lists it, without ids and times.
async fn listed(app: &TestApp, key: &str, collection: &str) -> Vec<Value> {
    let (status, body) = app.get(&format!("/v1/{collection}"), key).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut items = body["data"].as_array().unwrap().clone();
    for item in &mut items {
        let object = item.as_object_mut().unwrap();
        for field in ["id", "created_at", "updated_at"] {
            object.remove(field);
        }
    }
    items
}

/// The id of the only object of `collection`.
async fn only_id(app: &TestApp, key: &str, collection: &str) -> String {
    let (_, body) = app.get(&format!("/v1/{collection}"), key).await;
    assert_eq!(body["data"].as_array().unwrap().len(), 1, "{body}");
    body["data"][0]["id"].as_str().unwrap().to_owned()
}

/// Submits the create form of `section`; answers the page the redirect leads to.
async fn create(web: &WebClient, org: &str, section: &str, fields: &[(&str, &str)]) -> String {
    let list = format!("/orgs/{org}/{section}");
    let done = web.submit(&list, &list, fields, StatusCode::SEE_OTHER).await;
    assert_eq!(done.location.as_deref(), Some(list.as_str()));
    web.get(&list, StatusCode::OK).await.body
}

#[tokio::test]
async fn the_forms_write_exactly_what_the_api_then_shows() {
    let app = empty_app().await;
    let (web, org) = operator(&app).await;
    let key = standard_key(&app, &web, &org).await;
    let page = web.get(&format!("/orgs/{org}/tools"), StatusCode::OK).await;
    assert!(page.shows("No tools yet") && page.shows("id=\"create-tool\""), "{}", page.body);

    create(&web, &org, "categories", &[("name", "payments"), ("description", ""), ("default_permission", "requires_approval")]).await;
    let tool = [
        ("name", "refund"),
        ("description", "Gives money back"),
        ("category", "payments"),
        ("risk_level", "high"),
        ("default_permission", ""),
        ("approval_timeout_seconds", "600"),
        ("enabled", "true"),
        ("parameters_schema", r#"{"type": "object", "required": ["amount"]}"#),
        ("tags", "money, customer"),
        ("destructive", "true"),
    ];
    let list = create(&web, &org, "tools", &tool).await;
    assert!(list.contains("Tool refund created.") && list.contains("<code>refund</code>"), "{list}");
    let expected = json!({"name": "refund", "description": "Gives money back", "category": "payments", "risk_level": "high",
        "parameters_schema": {"type": "object", "required": ["amount"]}, "default_permission": null, "approved": false, "enabled": true,
        "approval_timeout_seconds": 600, "requires_second_approval": false, "annotations": {"destructive": true},
        "tags": ["money", "customer"]});
    assert_eq!(listed(&app, &key, "tools").await, vec![expected.clone()]);

    create(&web, &org, "tenants", &[("external_id", "acme"), ("name", "Acme Inc")]).await;
    let rule = [("tenant", "acme"), ("resource", ""), ("tool", "refund"), ("method", ""), ("permission", "allowed"), ("note", "Trusted")];
    let rules = create(&web, &org, "rules", &rule).await;
    assert!(rules.contains("<code>tenant_tool</code>"), "the list shows the rule's level:\n{rules}");
    let expected_rule = json!({"tenant": "acme", "resource": null, "tool": "refund", "method": null, "permission": "allowed", "note": "Trusted", "level": "tenant_tool"});
    assert_eq!(listed(&app, &key, "rules").await, vec![expected_rule]);
    assert_eq!(listed(&app, &key, "tenants").await, vec![json!({"external_id": "acme", "name": "Acme Inc"})]);

    // Editing: the page shows what is stored; unticked boxes and emptied fields are saved too.
    let tool_id = only_id(&app, &key, "tools").await;
    let tool_page = format!("/orgs/{org}/tools/{tool_id}");
    let shown = web.get(&tool_page, StatusCode::OK).await;
    assert!(
        shown.shows("Gives money back") && shown.shows("id=\"destructive\" name=\"destructive\" value=\"true\" checked"),
        "{}",
        shown.body
    );
    let edit = [("name", "refund"), ("description", "Refunds an order"), ("category", ""), ("risk_level", "critical"), ("tags", "")];
    let saved = web.submit(&tool_page, &tool_page, &edit, StatusCode::SEE_OTHER).await;
    assert_eq!(saved.location, Some(format!("/orgs/{org}/tools")));
    let mut changed = expected;
    for (field, value) in [
        ("description", json!("Refunds an order")),
        ("category", Value::Null),
        ("risk_level", json!("critical")),
        ("parameters_schema", Value::Null),
        ("approval_timeout_seconds", Value::Null),
        ("enabled", json!(false)),
        ("annotations", json!({})),
        ("tags", json!([])),
    ] {
        changed[field] = value;
    }
    assert_eq!(listed(&app, &key, "tools").await, vec![changed]);
}

#[tokio::test]
async fn deleting_something_in_use_needs_cascade() {
    let app = empty_app().await;
    let (web, org) = operator(&app).await;
    let key = standard_key(&app, &web, &org).await;
    create(&web, &org, "methods", &[("name", "POST"), ("description", "Writes")]).await;
    create(&web, &org, "rules", &[("method", "POST"), ("permission", "requires_approval")]).await;
    let method_page = format!("/orgs/{org}/methods/{}", only_id(&app, &key, "methods").await);

    let refused = web.submit(&method_page, &format!("{method_page}/delete"), &[], StatusCode::SEE_OTHER).await;
    assert_eq!(refused.location.as_deref(), Some(method_page.as_str()), "back to the method, saying why");
    assert!(web.get(&method_page, StatusCode::OK).await.shows("is referenced by 1 rule(s)"));
    assert_eq!(listed(&app, &key, "rules").await.len(), 1);

    let deleted = web.submit(&method_page, &format!("{method_page}/delete"), &[("cascade", "true")], StatusCode::SEE_OTHER).await;
    assert_eq!(deleted.location, Some(format!("/orgs/{org}/methods")));
    assert!(listed(&app, &key, "methods").await.is_empty() && listed(&app, &key, "rules").await.is_empty());
    web.get(&method_page, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn a_refused_form_shows_the_services_reason_and_keeps_what_was_entered() {
    let app = empty_app().await;
    let (web, org) = operator(&app).await;
    let key = standard_key(&app, &web, &org).await;
    let tools = format!("/orgs/{org}/tools");
    create(&web, &org, "tools", &[("name", "send_email")]).await;

    let twice = web.submit(&tools, &tools, &[("name", "send_email"), ("description", "Second try")], StatusCode::CONFLICT).await;
    assert!(twice.shows("already exists") && twice.shows("role=\"alert\""), "{}", twice.body);
    assert!(twice.shows(">Second try</textarea>"), "what was entered is kept:\n{}", twice.body);
    let schema = web.submit(&tools, &tools, &[("name", "x"), ("parameters_schema", "{\"type\": 7}")], StatusCode::BAD_REQUEST).await;
    assert!(schema.shows("role=\"alert\""), "{}", schema.body);
    let not_json = web.submit(&tools, &tools, &[("name", "x"), ("parameters_schema", "{type")], StatusCode::BAD_REQUEST).await;
    assert!(not_json.shows("Parameters schema (JSON) is not valid JSON"), "{}", not_json.body);
    let rules = format!("/orgs/{org}/rules");
    let no_permission = web.submit(&rules, &rules, &[("tool", "send_email")], StatusCode::BAD_REQUEST).await;
    assert!(no_permission.shows("permission"), "{}", no_permission.body);
    let unknown = web.submit(&rules, &rules, &[("tool", "nope"), ("permission", "allowed")], StatusCode::BAD_REQUEST).await;
    assert!(unknown.shows("nope"), "{}", unknown.body);
    assert_eq!(listed(&app, &key, "tools").await.len(), 1);
    assert!(listed(&app, &key, "rules").await.is_empty());
}

#[tokio::test]
async fn a_member_reads_the_policy_but_cannot_change_it() {
    let app = empty_app().await;
    let (ada, org) = operator(&app).await;
    let key = standard_key(&app, &ada, &org).await;
    create(&ada, &org, "tools", &[("name", "refund"), ("enabled", "true")]).await;
    let tool_page = format!("/orgs/{org}/tools/{}", only_id(&app, &key, "tools").await);
    let before = listed(&app, &key, "tools").await;

    let owner = member_of(&app, &ada, &org).await;
    let invite = app.service.invite(&owner, Role::Member, ApproverLevels { level1: false, level2: false }).await.unwrap();
    let secret = invite.secret.expose();
    let bob = WebClient::new(&app.base);
    let fields = [("invite", secret), ("email", "bob@example.com"), ("name", "Bob"), ("password", PASSWORD)];
    bob.submit(&format!("/sign-up?invite={secret}"), "/sign-up", &fields, StatusCode::SEE_OTHER).await;

    let tools = format!("/orgs/{org}/tools");
    let list = bob.get(&tools, StatusCode::OK).await;
    assert!(list.shows("<code>refund</code>"), "{}", list.body);
    assert!(!list.shows("id=\"create-tool\"") && !list.shows(&format!("action=\"{tools}\"")), "no create form:\n{}", list.body);
    let page = bob.get(&tool_page, StatusCode::OK).await;
    assert!(page.shows("owners and admins") && page.shows("disabled") && !page.shows("id=\"save-tool\"") && !page.shows("/delete"));

    let token = page.csrf();
    let forbidden = [
        (tools.clone(), vec![("_csrf", token.as_str()), ("name", "wire_money")]),
        (tool_page.clone(), vec![("_csrf", token.as_str()), ("name", "renamed")]),
        (format!("{tool_page}/delete"), vec![("_csrf", token.as_str()), ("cascade", "true")]),
    ];
    for (action, fields) in &forbidden {
        let refused = bob.post_raw(action, fields, StatusCode::FORBIDDEN).await;
        assert!(refused.shows("admin or owner"), "{}", refused.body);
    }
    assert_eq!(listed(&app, &key, "tools").await, before, "nothing changed");
    let tested = bob.get(&format!("/orgs/{org}/tester?tool=refund"), StatusCode::OK).await;
    assert!(tested.shows("id=\"tester-result\""), "the tester is for every member:\n{}", tested.body);
}

#[tokio::test]
async fn another_orgs_ids_answer_404_on_every_policy_page() {
    let app = empty_app().await;
    let (web, org) = operator(&app).await;
    let key = standard_key(&app, &web, &org).await;
    create(&web, &org, "tenants", &[("external_id", "acme")]).await;
    create(&web, &org, "rules", &[("tenant", "acme"), ("permission", "disabled")]).await;
    let (tenant, rule) = (only_id(&app, &key, "tenants").await, only_id(&app, &key, "rules").await);
    // The same person owns a second org: its pages must not reach the first org's objects.
    let made = web.submit("/orgs/new", "/orgs/new", &[("name", "Second org")], StatusCode::SEE_OTHER).await;
    let second = super::org_of(made.location.as_deref().unwrap());
    let missing = web.get(&format!("/orgs/{second}/tenants/ten_00000000000000000000000000"), StatusCode::NOT_FOUND).await;
    for (section, id) in [("tenants", &tenant), ("rules", &rule)] {
        let page = format!("/orgs/{second}/{section}/{id}");
        let theirs = web.get(&page, StatusCode::NOT_FOUND).await;
        assert_eq!(theirs.body, missing.body, "indistinguishable from an id that does not exist");
        let token = web.get(&format!("/orgs/{second}/{section}"), StatusCode::OK).await.csrf();
        web.post_raw(&page, &[("_csrf", token.as_str()), ("external_id", "stolen"), ("permission", "allowed")], StatusCode::NOT_FOUND)
            .await;
        web.post_raw(&format!("{page}/delete"), &[("_csrf", token.as_str()), ("cascade", "true")], StatusCode::NOT_FOUND).await;
    }
    assert_eq!(listed(&app, &key, "tenants").await, vec![json!({"external_id": "acme", "name": null})]);
    assert_eq!(listed(&app, &key, "rules").await.len(), 1);
}

/// What the tester page says about a call.
#[derive(Debug, PartialEq)]
struct Tested {
    permission: String,
    resolved_from: String,
    deciding: Option<String>,
    considered: usize,
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text.find(start).map(|i| i + start.len()).unwrap_or_else(|| panic!("{start:?} not in:\n{text}"));
    text[from..].split(end).next().unwrap()
}

async fn tester(web: &WebClient, org: &str, call: &[(&str, &str)]) -> Tested {
    let query: Vec<String> = call.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let page = web.get(&format!("/orgs/{org}/tester?{}", query.join("&")), StatusCode::OK).await;
    let result = between(&page.body, "<section class=\"card\" id=\"tester-result\"", "</section>");
    let rows: Vec<&str> = result.split("<tr>").skip(2).collect();
    let deciding = rows.iter().find(|row| row.contains("class=\"decides\"")).map(|row| between(row, "<code>", "<").to_owned());
    Tested {
        permission: between(result, "class=\"badge ", "\"").to_owned(),
        resolved_from: between(result, "id=\"resolved-from\">", "<").to_owned(),
        deciding,
        considered: rows.len(),
    }
}

#[tokio::test]
async fn the_tester_answers_what_the_check_answers_and_records_nothing() {
    let app = empty_app().await;
    let (web, org) = operator(&app).await;
    let key = standard_key(&app, &web, &org).await;
    let document: PolicyDocument = serde_json::from_value(json!({
        "categories": [{"name": "email", "default_permission": "allowed"}],
        "tools": [{"name": "refund"}, {"name": "send_email", "category": "email"}],
        "tenants": [{"external_id": "acme"}], "methods": [{"name": "POST"}],
        "rules": [{"tenant": "acme", "tool": "refund", "permission": "allowed"}, {"tool": "refund", "method": "POST", "permission": "disabled"}]
    }))
    .unwrap();
    let owner = member_of(&app, &web, &org).await.management().unwrap();
    app.service.apply_policy(&owner, document, false).await.unwrap();
    let checks = async || app.get("/v1/activity?type=permission.checked&limit=500", &key).await.1["data"].as_array().unwrap().len();
    let before = checks().await;

    let calls: [&[(&str, &str)]; 4] = [
        &[("tool", "refund"), ("tenant", "acme"), ("method", "POST")],
        &[("tool", "refund"), ("method", "POST")],
        &[("tool", "send_email"), ("tenant", "nobody")],
        &[("tool", "unknown_tool")],
    ];
    let mut levels = Vec::new();
    for call in calls {
        let tested = tester(&web, &org, call).await;
        let body: serde_json::Map<String, Value> = call.iter().map(|(k, v)| ((*k).to_owned(), json!(v))).collect();
        let (status, checked) = app.post("/v1/check", &key, &Value::Object(body)).await;
        assert_eq!(status, StatusCode::OK, "{checked}");
        assert_eq!(
            (tested.permission.as_str(), tested.resolved_from.as_str()),
            (as_str(&checked["permission"]), as_str(&checked["resolved_from"]))
        );
        levels.push(tested);
    }
    let level = |t: &Tested| (t.resolved_from.clone(), t.deciding.clone(), t.considered);
    assert_eq!(level(&levels[0]), ("tenant_tool".into(), Some("tenant_tool".into()), 2), "the org rule matches too, but is outranked");
    assert_eq!(level(&levels[1]), ("org_tool_method".into(), Some("org_tool_method".into()), 1));
    assert_eq!(level(&levels[2]), ("category_default".into(), None, 0));
    assert_eq!(level(&levels[3]), ("fail_safe".into(), None, 0));

    // The four checks were recorded; the tester's four looks were not.
    assert_eq!(checks().await - before, 4);
}

fn as_str(value: &Value) -> &str {
    value.as_str().unwrap_or_else(|| panic!("not a string: {value}"))
}

#[tokio::test]
async fn the_what_would_change_page_simulates_a_document_on_the_recorded_checks_and_applies_nothing() {
    let app = empty_app().await;
    let (web, org) = operator(&app).await;
    let key = standard_key(&app, &web, &org).await;
    create(&web, &org, "tools", &[("name", "refund"), ("approved", "true"), ("enabled", "true")]).await;
    for tenant in ["acme", "globex", "acme"] {
        let (status, _) = app.post("/v1/check", &key, &json!({"tool": "refund", "tenant": tenant})).await;
        assert_eq!(status, StatusCode::OK);
    }
    let page = web.get(&format!("/orgs/{org}/simulate"), StatusCode::OK).await;
    let textarea = page.body.split("<textarea").nth(1).and_then(|t| t.split("</textarea>").next()).unwrap();
    assert!(textarea.contains("refund") && textarea.contains("&#34;tools&#34;"), "the current policy is there to edit:\n{textarea}");
    let path = format!("/orgs/{org}/simulate");
    let candidate = "tenants:\n  - external_id: acme\nrules:\n  - tenant: acme\n    tool: refund\n    permission: disabled\n";
    let shown = web.submit(&path, &path, &[("document", candidate)], StatusCode::OK).await;
    assert!(shown.shows("<strong>2</strong> of 3 recorded checks would get another answer"), "{}", shown.body);
    assert!(shown.shows("the rule for tenant acme, tool refund") && shown.shows("<code>refund · tenant acme</code>"), "{}", shown.body);
    let later = web.submit(&path, &path, &[("document", candidate), ("since", "2999-01-01T00:00:00Z")], StatusCode::OK).await;
    assert!(
        later.shows("<strong>0</strong> of 0 recorded checks") && later.shows("No recorded call would get another answer"),
        "{}",
        later.body
    );
    // Refused with the reason, the document kept for correcting; nothing applied either way.
    let refused =
        web.submit(&path, &path, &[("document", "rules:\n  - tool: nosuch\n    permission: allowed\n")], StatusCode::BAD_REQUEST).await;
    assert!(refused.shows("nosuch") && refused.shows("tool: nosuch"), "{}", refused.body);
    let unreadable = web.submit(&path, &path, &[("document", "rules: [")], StatusCode::BAD_REQUEST).await;
    assert!(unreadable.shows("could not be read"), "{}", unreadable.body);
    assert!(listed(&app, &key, "rules").await.is_empty(), "the simulation applied nothing");
    let (_, check) = app.post("/v1/check", &key, &json!({"tool": "refund", "tenant": "acme"})).await;
    assert_eq!(check["permission"], "allowed");
}
