//! The key tier table of PRODUCT.md section 2, endpoint by endpoint, and org isolation: another
//! org's ids answer 404 exactly like ids that do not exist, and nothing of the first org changes.

use oakallow_testkit::{OrgKeys, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tier {
    Management,
    Standard,
    Approver,
}

pub(crate) const M: &[Tier] = &[Tier::Management];
pub(crate) const MS: &[Tier] = &[Tier::Management, Tier::Standard];
pub(crate) const S: &[Tier] = &[Tier::Standard];
pub(crate) const SA: &[Tier] = &[Tier::Standard, Tier::Approver];
pub(crate) const A: &[Tier] = &[Tier::Approver];

pub(crate) fn key(keys: &OrgKeys, tier: Tier) -> &str {
    match tier {
        Tier::Management => &keys.management,
        Tier::Standard => &keys.standard,
        Tier::Approver => &keys.approver,
    }
}

struct Case {
    method: Method,
    path: String,
    body: Option<Value>,
    allowed: &'static [Tier],
    success: StatusCode,
}

fn case(method: Method, path: impl Into<String>, body: Option<Value>, allowed: &'static [Tier], success: StatusCode) -> Case {
    Case { method, path: path.into(), body, allowed, success }
}

/// Objects of org A that the cases point at: one to read and patch, one to delete.
struct Fixture {
    ids: Vec<(&'static str, String, String)>,
    key_to_revoke: String,
    activity_id: String,
    approval_to_cancel: String,
    approval_to_decide: String,
    checks_to_mint: [String; 2],
    delivery: String,
}

async fn fixture(app: &TestApp) -> Fixture {
    let mut ids = Vec::new();
    for (collection, keep, gone) in [
        ("categories", json!({"name": "cat-keep"}), json!({"name": "cat-gone"})),
        ("tools", json!({"name": "tool-keep", "parameters_schema": {"type": "object"}}), json!({"name": "tool-gone"})),
        ("tenants", json!({"external_id": "ten-keep"}), json!({"external_id": "ten-gone"})),
        ("resources", json!({"name": "res-keep"}), json!({"name": "res-gone"})),
        ("methods", json!({"name": "met-keep"}), json!({"name": "met-gone"})),
        ("rules", json!({"tool": "tool-keep", "permission": "allowed"}), json!({"tenant": "ten-keep", "permission": "disabled"})),
    ] {
        let path = format!("/v1/{collection}");
        let keep = app.create(&path, keep).await["id"].as_str().unwrap().to_owned();
        let gone = app.create(&path, gone).await["id"].as_str().unwrap().to_owned();
        ids.push((collection, keep, gone));
    }
    let (_, created) = app.post("/v1/keys", &app.keys.management, &json!({"name": "to revoke", "tier": "standard"})).await;
    app.check(json!({"tool": "tool-keep"})).await;
    let (_, activity) = app.get("/v1/activity", &app.keys.management).await;
    let mut approvals = Vec::new();
    for _ in 0..2 {
        let (_, approval) = app.post("/v1/approvals", &app.keys.standard, &json!({"tool": "tool-keep", "reason": "fixture"})).await;
        approvals.push(approval["id"].as_str().unwrap().to_owned());
    }
    app.create("/v1/tools", json!({"name": "tool-allowed", "approved": true})).await;
    let mut checks = Vec::new();
    for _ in 0..2 {
        checks.push(app.check(json!({"tool": "tool-allowed"})).await["check_id"].as_str().unwrap().to_owned());
    }
    app.expect(StatusCode::OK, Method::PATCH, "/v1/org", &app.keys.management, Some(&json!({"webhook_url": "http://127.0.0.1:9/hook"})))
        .await;
    let (_, test) = app.post("/v1/webhooks/test", &app.keys.management, &json!({})).await;
    Fixture {
        ids,
        key_to_revoke: created["id"].as_str().unwrap().to_owned(),
        activity_id: activity["data"][0]["id"].as_str().unwrap().to_owned(),
        approval_to_cancel: approvals[0].clone(),
        approval_to_decide: approvals[1].clone(),
        checks_to_mint: [checks[0].clone(), checks[1].clone()],
        delivery: test["delivery_id"].as_str().unwrap().to_owned(),
    }
}

fn cases(f: &Fixture) -> Vec<Case> {
    let mut cases = vec![
        case(Method::POST, "/v1/check", Some(json!({"tool": "tool-keep"})), S, StatusCode::OK),
        case(Method::POST, "/v1/validate", Some(json!({"tool": "tool-keep", "params": {}})), S, StatusCode::OK),
        case(Method::GET, "/v1/keys", None, M, StatusCode::OK),
        case(Method::POST, "/v1/keys", Some(json!({"name": "k", "tier": "approver"})), M, StatusCode::CREATED),
        case(Method::GET, format!("/v1/keys/{}", f.key_to_revoke), None, M, StatusCode::OK),
        case(Method::DELETE, format!("/v1/keys/{}", f.key_to_revoke), None, M, StatusCode::OK),
        case(Method::GET, "/v1/org", None, M, StatusCode::OK),
        case(Method::PATCH, "/v1/org", Some(json!({"approval_timeout_seconds": 600})), M, StatusCode::OK),
        case(Method::GET, "/v1/orgs", None, M, StatusCode::OK),
        case(Method::POST, "/v1/orgs", Some(json!({"name": "sibling"})), M, StatusCode::CREATED),
        case(Method::GET, "/v1/policy", None, MS, StatusCode::OK),
        case(Method::PUT, "/v1/policy?dry_run=true", Some(json!({"methods": []})), M, StatusCode::OK),
        case(Method::GET, "/v1/activity", None, MS, StatusCode::OK),
        case(Method::GET, "/v1/activity/verify", None, MS, StatusCode::OK),
        case(Method::GET, format!("/v1/activity/{}", f.activity_id), None, MS, StatusCode::OK),
        case(Method::GET, "/v1/activity/export", None, MS, StatusCode::OK),
        case(Method::POST, "/v1/approvals", Some(json!({"tool": "tool-keep", "reason": "r"})), S, StatusCode::CREATED),
        case(Method::POST, "/v1/approvals/request", Some(json!({"tool": "tool-keep", "reason": "r"})), S, StatusCode::CREATED),
        case(Method::GET, "/v1/approvals", None, SA, StatusCode::OK),
        case(Method::GET, format!("/v1/approvals/{}", f.approval_to_cancel), None, SA, StatusCode::OK),
        case(Method::POST, format!("/v1/approvals/{}/cancel", f.approval_to_cancel), Some(json!({})), S, StatusCode::OK),
        case(
            Method::POST,
            format!("/v1/approvals/{}/decide", f.approval_to_decide),
            Some(json!({"decision": "approved", "decided_by": "a"})),
            A,
            StatusCode::OK,
        ),
        case(Method::POST, "/v1/tokens", Some(json!({"check_id": f.checks_to_mint[0]})), S, StatusCode::CREATED),
        case(Method::POST, "/v1/tokens/mint", Some(json!({"check_id": f.checks_to_mint[1]})), S, StatusCode::CREATED),
        case(Method::POST, "/v1/tokens/verify", Some(json!({"token": "oak_tok_x.y"})), S, StatusCode::OK),
        case(Method::GET, "/v1/signing-keys", None, MS, StatusCode::OK),
        case(
            Method::POST,
            "/v1/executions",
            Some(json!({"tool": "tool-keep", "result": "success", "duration_ms": 1})),
            S,
            StatusCode::CREATED,
        ),
        case(Method::POST, "/v1/org/webhook-secret/rotate", Some(json!({})), M, StatusCode::OK),
        case(Method::POST, "/v1/webhooks/test", Some(json!({})), M, StatusCode::ACCEPTED),
        case(Method::GET, "/v1/webhooks/deliveries", None, M, StatusCode::OK),
        case(Method::GET, "/v1/billing", None, M, StatusCode::OK),
        case(Method::GET, "/v1/billing/ledger", None, M, StatusCode::OK),
        case(Method::POST, format!("/v1/webhooks/deliveries/{}/retry", f.delivery), Some(json!({})), M, StatusCode::OK),
    ];
    let bodies = [
        ("categories", json!({"name": "cat-new"}), json!({"description": "d"})),
        ("tools", json!({"name": "tool-new"}), json!({"description": "d"})),
        ("tenants", json!({"external_id": "ten-new"}), json!({"name": "n"})),
        ("resources", json!({"name": "res-new"}), json!({"description": "d"})),
        ("methods", json!({"name": "met-new"}), json!({"description": "d"})),
        ("rules", json!({"method": "met-keep", "permission": "allowed"}), json!({"note": "n"})),
    ];
    for ((collection, keep, gone), (_, create, patch)) in f.ids.iter().zip(bodies) {
        cases.push(case(Method::GET, format!("/v1/{collection}"), None, MS, StatusCode::OK));
        cases.push(case(Method::POST, format!("/v1/{collection}"), Some(create), M, StatusCode::CREATED));
        cases.push(case(Method::GET, format!("/v1/{collection}/{keep}"), None, MS, StatusCode::OK));
        cases.push(case(Method::PATCH, format!("/v1/{collection}/{keep}"), Some(patch), M, StatusCode::OK));
        cases.push(case(Method::DELETE, format!("/v1/{collection}/{gone}?cascade=true"), None, M, StatusCode::NO_CONTENT));
    }
    cases
}

async fn revoked_keys(app: &TestApp) -> Vec<String> {
    // A second bootstrap of the same org yields one more key of each tier; revoke them all.
    let extra = app.service.bootstrap("owner@example.com", "Test org").await.unwrap();
    let mut revoked = Vec::new();
    for raw in [extra.management_key, extra.standard_key, extra.approver_key] {
        // By digest, not by display prefix: two keys' 12-character prefixes may be the same, and
        // revoking the wrong one made this test fail now and then.
        let id = app.key_id(&raw).await;
        let (status, _) = app.delete(&format!("/v1/keys/{id}"), &app.keys.management).await;
        assert_eq!(status, StatusCode::OK);
        revoked.push(raw);
    }
    revoked
}

#[tokio::test]
async fn every_endpoint_answers_each_tier_as_the_table_says() {
    let app = TestApp::sqlite().await;
    let fixture = fixture(&app).await;
    let revoked = revoked_keys(&app).await;
    for case in cases(&fixture) {
        let label = format!("{} {}", case.method, case.path);
        let body = case.body.as_ref();
        let (status, error) = app.call(case.method.clone(), &case.path, None, body).await;
        assert_eq!((status, error["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthenticated")), "{label} without a key");
        for raw in &revoked {
            let (status, _) = app.call(case.method.clone(), &case.path, Some(raw), body).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{label} with a revoked key");
        }
        for tier in [Tier::Approver, Tier::Standard, Tier::Management].into_iter().filter(|t| !case.allowed.contains(t)) {
            let (status, error) = app.call(case.method.clone(), &case.path, Some(key(&app.keys, tier)), body).await;
            assert_eq!((status, error["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden_tier")), "{label} with {tier:?}");
        }
        for &tier in case.allowed {
            let (status, answer) = app.call(case.method.clone(), &case.path, Some(key(&app.keys, tier)), body).await;
            assert_eq!(status, case.success, "{label} with {tier:?}: {answer}");
        }
    }
    for path in ["/v1/health", "/v1/openapi.json"] {
        for presented in [None, Some(app.keys.approver.as_str()), Some(revoked[0].as_str())] {
            let (status, _) = app.call(Method::GET, path, presented, None).await;
            assert_eq!(status, StatusCode::OK, "{path} needs no key");
        }
    }
    let (status, _) = app.request(Method::GET, "/v1/org").bearer_auth(&app.keys.management).send().await.map(|r| (r.status(), ())).unwrap();
    assert_eq!(status, StatusCode::OK, "Authorization: Bearer works too");
    let both = |bearer: &str| app.request(Method::GET, "/v1/org").header("X-API-Key", &app.keys.management).bearer_auth(bearer).send();
    assert_eq!(both(&app.keys.management).await.unwrap().status(), StatusCode::OK, "the same key twice is one key");
    let mixed = both(&app.keys.standard).await.unwrap();
    assert_eq!(mixed.status(), StatusCode::UNAUTHORIZED, "two different keys: which one acts is ambiguous");
    let twice = app
        .request(Method::GET, "/v1/org")
        .header("X-API-Key", &app.keys.management)
        .header("X-API-Key", &app.keys.standard)
        .send()
        .await
        .unwrap();
    assert_eq!(twice.status(), StatusCode::UNAUTHORIZED, "two X-API-Key headers with different keys");
    let proxy = app.request(Method::GET, "/v1/org").header("X-API-Key", &app.keys.management).basic_auth("proxy", Some("pw")).send();
    assert_eq!(proxy.await.unwrap().status(), StatusCode::OK, "another scheme in Authorization is not a key");
    let (status, _) = app.call(Method::GET, "/v1/org", Some("oak_live_not-a-key"), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// What a management key of the first org can see of it.
async fn snapshot(app: &TestApp) -> Vec<Value> {
    let mut all = Vec::new();
    for path in ["/v1/policy", "/v1/keys", "/v1/org", "/v1/activity/verify", "/v1/webhooks/deliveries"] {
        all.push(app.get(path, &app.keys.management).await.1);
    }
    all
}

#[tokio::test]
async fn another_orgs_ids_answer_404_and_change_nothing() {
    let app = TestApp::sqlite().await;
    let fixture = fixture(&app).await;
    let other = app.another_org("intruder@example.com").await;
    let before = snapshot(&app).await;
    let ids = [&fixture.approval_to_cancel, &fixture.approval_to_decide, &fixture.delivery, &fixture.activity_id, &fixture.key_to_revoke];
    let names_an_id = |case: &Case| {
        fixture.ids.iter().any(|(_, keep, gone)| case.path.contains(keep.as_str()) || case.path.contains(gone.as_str()))
            || ids.iter().any(|id| case.path.contains(id.as_str()))
    };
    let id_cases: Vec<Case> = cases(&fixture).into_iter().filter(names_an_id).collect();
    assert_eq!(id_cases.len(), 25, "every endpoint that takes an id in its path");
    // Ids in bodies: another org's check or approval mints nothing.
    for body in [json!({"check_id": fixture.checks_to_mint[0]}), json!({"approval_id": fixture.approval_to_decide})] {
        let (status, answer) = app.post("/v1/tokens", &other.standard, &body).await;
        assert_eq!(status, StatusCode::CONFLICT, "{answer}");
        assert!(answer["error"]["details"]["reason"].as_str().unwrap().starts_with("unknown_"));
    }
    for case in id_cases {
        for &tier in case.allowed {
            let (status, error) = app.call(case.method.clone(), &case.path, Some(key(&other, tier)), case.body.as_ref()).await;
            assert_eq!(
                (status, error["error"]["code"].as_str()),
                (StatusCode::NOT_FOUND, Some("not_found")),
                "{} {} by the other org",
                case.method,
                case.path
            );
        }
    }
    // Referencing the first org's objects by id from the second org finds nothing either.
    let tool_id = &fixture.ids[1].1;
    let (status, _) = app.post("/v1/rules", &other.management, &json!({"tool": tool_id, "permission": "allowed"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // The second org sees none of the first org's objects in its lists.
    for (collection, _, _) in &fixture.ids {
        let (_, list) = app.get(&format!("/v1/{collection}"), &other.management).await;
        assert_eq!(list["data"], json!([]), "{collection}");
    }
    let (_, activity) = app.get("/v1/activity", &other.standard).await;
    assert!(activity["data"].as_array().unwrap().iter().all(|e| e["org_id"] == other.org_id.as_str()));
    assert_eq!(snapshot(&app).await, before, "nothing of the first org changed");
}
