//! One pass over the whole API with each tier's key: every operation succeeds at least once, with
//! objects whose optional fields are all filled, and the common refusals (401, 403, 404, 400,
//! 409, 422) are answered too, so that their envelopes are checked against the document as well.

use std::time::Duration;

use oakallow_testkit::receiver::Receiver;
use reqwest::Method;
use serde_json::{Value, json};

use super::Contract;

/// Runs the scenario.
pub async fn run(c: &Contract<'_>) {
    system(c).await;
    let receiver = Receiver::start().await;
    org(c, &receiver).await;
    policy_objects(c).await;
    policy_document(c).await;
    runtime(c).await;
    approvals(c).await;
    tokens(c).await;
    keys(c).await;
    webhooks(c, &receiver).await;
    activity(c).await;
    billing(c).await;
}

fn id(value: &Value) -> String {
    value["id"].as_str().unwrap_or_else(|| panic!("no id in {value}")).to_owned()
}

async fn system(c: &Contract<'_>) {
    c.call(Method::GET, "/v1/health", None, None, 200).await;
    c.call(Method::GET, "/v1/openapi.json", None, None, 200).await;
    c.call(Method::GET, "/v1/tools", None, None, 401).await;
    c.call(Method::GET, "/v1/tools", Some("oak_live_00000000000000000000000000000000"), None, 401).await;
}

async fn org(c: &Contract<'_>, receiver: &Receiver) {
    let k = &c.app.keys;
    c.get("/v1/org", &k.management, 200).await;
    c.get("/v1/org", &k.standard, 403).await;
    c.post("/v1/webhooks/test", &k.management, json!({}), 409).await;
    let settings = json!({"name": "Contract org", "approval_timeout_seconds": 600, "webhook_url": receiver.url,
        "webhook_events": ["approval.created", "approval.decided"], "token_signing": "ed25519", "redact_pii": true});
    c.patch("/v1/org", &k.management, settings, 200).await;
    c.patch("/v1/org", &k.management, json!({"token_signing": "rsa"}), 400).await;
    c.get("/v1/orgs", &k.management, 200).await;
    c.post("/v1/orgs", &k.management, json!({"name": "Sibling"}), 201).await;
    c.post("/v1/org/webhook-secret/rotate", &k.management, json!({}), 200).await;
    c.get("/v1/org/notifications", &k.management, 200).await;
    let channels =
        json!({"slack": {"bot_token": "xoxb-1", "channel": "C0TEST", "signing_secret": "s3cret"}, "pagerduty": {"routing_key": "k3y"}});
    c.patch("/v1/org/notifications", &k.management, channels, 200).await;
    c.patch("/v1/org/notifications", &k.management, json!({"slack": {"signing_secret": "s3cret"}}), 400).await;
    c.patch("/v1/org/notifications", &k.management, json!({"email": {"to": ["ops@example.com"]}}), 409).await;
    c.patch("/v1/org/notifications", &k.management, json!({"slack": null, "pagerduty": null}), 200).await;
    c.delete("/v1/org/notifications/slack-links/T0TEAM/U0NOBODY", &k.management, 404).await;
    // A link is made by a signed-in person from Slack (see tests/api/slack.rs); here it is put in
    // the store directly, to be removed through the API.
    let org_id = k.org_id.parse().unwrap();
    let link = oakallow_store::SlackLink {
        org_id,
        team_id: "T0TEAM".into(),
        user_id: "U0ANN".into(),
        account_id: k.account_id.parse().unwrap(),
        created_at: c.app.now(),
    };
    let record = oakallow_domain::audit::ActivityRecord::new(
        org_id,
        c.app.now(),
        oakallow_domain::audit::ActivityType::ConfigChanged,
        oakallow_domain::audit::Actor { kind: oakallow_domain::audit::ActorKind::System, id: "test".into(), label: "test".into() },
    );
    c.app.store.put_slack_link(&link, record).await.unwrap();
    c.delete("/v1/org/notifications/slack-links/T0TEAM/U0ANN", &k.management, 204).await;
}

async fn policy_objects(c: &Contract<'_>) {
    let m = &c.app.keys.management;
    let objects = [
        (
            "/v1/categories",
            json!({"name": "payments", "description": "Money", "default_permission": "requires_approval"}),
            json!({"description": null}),
        ),
        ("/v1/tenants", json!({"external_id": "acme", "name": "Acme"}), json!({"name": "Acme Inc"})),
        ("/v1/resources", json!({"name": "ledger", "description": "The ledger"}), json!({"description": "Books"})),
        ("/v1/methods", json!({"name": "write", "description": "Writes"}), json!({"description": null})),
        (
            "/v1/tools",
            json!({"name": "wire_money", "description": "Sends money", "category": "payments", "risk_level": "critical",
                "parameters_schema": {"type": "object", "properties": {"amount": {"type": "integer"}}, "required": ["amount"]},
                "default_permission": "requires_approval", "approved": false, "enabled": true, "approval_timeout_seconds": 900,
                "requires_second_approval": true, "annotations": {"read_only": false, "destructive": true, "idempotent": false, "open_world": true},
                "tags": ["money"]}),
            json!({"tags": ["money", "risky"]}),
        ),
        (
            "/v1/rules",
            json!({"tenant": "acme", "resource": "ledger", "tool": "wire_money", "method": "write", "permission": "requires_approval", "note": "always ask"}),
            json!({"note": null}),
        ),
    ];
    for (collection, body, patch) in objects {
        policy_object(c, collection, body, patch).await;
    }
    c.post("/v1/tools", m, json!({"name": "read_file", "approved": true}), 201).await;
    c.post("/v1/tools", m, json!({"name": "bad", "parameters_schema": {"type": 12}}), 400).await;
    c.post("/v1/rules", m, json!({"tool": "read_file", "permission": "allowed"}), 201).await;
    let doomed = c.post("/v1/methods", m, json!({"name": "delete"}), 201).await;
    c.post("/v1/rules", m, json!({"method": "delete", "permission": "disabled"}), 201).await;
    c.delete(&format!("/v1/methods/{}", id(&doomed)), m, 409).await;
    c.delete(&format!("/v1/methods/{}?cascade=true", id(&doomed)), m, 204).await;
}

async fn policy_object(c: &Contract<'_>, collection: &str, body: Value, patch: Value) {
    let k = &c.app.keys;
    let created = c.post(collection, &k.management, body.clone(), 201).await;
    c.post(collection, &k.management, body.clone(), 409).await;
    c.post(collection, &k.standard, body, 403).await;
    c.post(collection, &k.management, json!({"unknown": 1}), 400).await;
    let item = format!("{collection}/{}", id(&created));
    c.get(collection, &k.standard, 200).await;
    c.get(&format!("{collection}?limit=1"), &k.management, 200).await;
    c.get(&format!("{collection}?limit=0"), &k.management, 400).await;
    c.get(collection, &k.approver, 403).await;
    c.get(&item, &k.standard, 200).await;
    c.patch(&item, &k.management, patch, 200).await;
    let prefix = id(&created).split_once('_').unwrap().0.to_owned();
    c.get(&format!("{collection}/{prefix}_{}", "0".repeat(26)), &k.management, 404).await;
    let spare = match collection {
        "/v1/tenants" => json!({"external_id": "spare"}),
        "/v1/rules" => json!({"tenant": "acme", "permission": "disabled"}),
        _ => json!({"name": "spare"}),
    };
    let spare = c.post(collection, &k.management, spare, 201).await;
    c.delete(&format!("{collection}/{}", id(&spare)), &k.management, 204).await;
}

async fn policy_document(c: &Contract<'_>) {
    let k = &c.app.keys;
    let document = c.get("/v1/policy", &k.standard, 200).await;
    c.put("/v1/policy?dry_run=true", &k.management, document.clone(), 200).await;
    let mut changed = document;
    changed["methods"].as_array_mut().unwrap().push(json!({"name": "read", "description": "Reads"}));
    c.put("/v1/policy", &k.management, changed, 200).await;
    c.put("/v1/policy", &k.management, json!({"rules": [{"tool": "nope", "permission": "allowed"}]}), 400).await;
    c.put("/v1/policy", &k.management, json!({"tools": []}), 409).await;
}

async fn runtime(c: &Contract<'_>) {
    let s = &c.app.keys.standard;
    let check = json!({"tool": "read_file", "tenant": "acme", "resource": "ledger", "method": "write", "params": {"path": "/etc"},
        "context": {"session": "s1"}, "reference_id": "run-1", "mint_token": true});
    c.post("/v1/check", s, check, 200).await;
    c.post("/v1/check", s, json!({"tool": "wire_money", "params": {"amount": 5}}), 200).await;
    c.post("/v1/check", s, json!({"tool": "wire_money", "params": {"amount": "five"}}), 422).await;
    c.post("/v1/check", &c.app.keys.management, json!({"tool": "read_file"}), 403).await;
    c.post("/v1/check", s, json!([1]), 400).await;
    c.post("/v1/validate", s, json!({"tool": "wire_money", "params": {"amount": "five"}}), 200).await;
    c.post("/v1/validate", s, json!({"tool": "nope", "params": {}}), 404).await;
    c.post(
        "/v1/tools/discover",
        s,
        json!({"tenant": "acme", "tools": [{"name": "wire_money"}, {"name": "found_upstream",
        "description": "d", "annotations": {"read_only": true}, "parameters_schema": {"type": "object"}}, {"name": " x"}]}),
        200,
    )
    .await;
    c.post("/v1/tools/discover", s, json!({"tools": [{"name": "a", "surprise": 1}]}), 400).await;
}

async fn approvals(c: &Contract<'_>) {
    let k = &c.app.keys;
    let request = json!({"tool": "wire_money", "tenant": "acme", "resource": "ledger", "method": "write", "params": {"amount": 250},
        "reason": "pay the invoice", "context": {"invoice": "INV-1"}, "reference_id": "run-2", "timeout_seconds": 600});
    let approval = c.post("/v1/approvals", &k.standard, request, 201).await;
    let path = format!("/v1/approvals/{}", id(&approval));
    c.get(&path, &k.standard, 200).await;
    c.get(&format!("{path}?wait=0"), &k.approver, 200).await;
    c.get(&path, &k.management, 403).await;
    c.get("/v1/approvals?status=pending&tool=wire_money&tenant=acme&limit=10", &k.approver, 200).await;
    c.get("/v1/approvals?status=bogus", &k.standard, 400).await;
    let decide = format!("{path}/decide");
    c.post(&decide, &k.approver, json!({"decision": "approved", "note": "level one", "decided_by": "alice"}), 200).await;
    c.post(&decide, &k.approver, json!({"decision": "approved", "note": "level two", "decided_by": "bob"}), 409).await;
    let second = c.post("/v1/keys", &k.management, json!({"name": "level two", "tier": "approver"}), 201).await;
    let second = second["key"].as_str().unwrap().to_owned();
    c.post(&decide, &second, json!({"decision": "approved", "note": "level two", "decided_by": "bob"}), 200).await;
    c.post(&decide, &k.approver, json!({"decision": "denied", "decided_by": "carol"}), 409).await;
    c.post(&decide, &k.standard, json!({"decision": "denied", "decided_by": "carol"}), 403).await;
    c.get(&path, &k.standard, 200).await;
    let other =
        c.post("/v1/approvals/request", &k.standard, json!({"tool": "wire_money", "params": {"amount": 1}, "reason": "again"}), 201).await;
    c.post(&format!("/v1/approvals/{}/cancel", id(&other)), &k.standard, json!({}), 200).await;
    c.post(&format!("/v1/approvals/{}/cancel", id(&other)), &k.standard, json!({}), 409).await;
    c.post("/v1/approvals", &k.standard, json!({"tool": "wire_money", "params": {"amount": "x"}, "reason": "r"}), 422).await;
}

async fn tokens(c: &Contract<'_>) {
    let s = &c.app.keys.standard;
    let check = c.post("/v1/check", s, json!({"tool": "read_file", "params": {"path": "/tmp"}}), 200).await;
    let minted = c.post("/v1/tokens", s, json!({"check_id": check["check_id"], "ttl_seconds": 60}), 201).await;
    c.post("/v1/tokens", s, json!({"check_id": check["check_id"]}), 409).await;
    let approved = c.get("/v1/approvals?status=approved", s, 200).await;
    let approval_id = approved["data"][0]["id"].clone();
    let from_approval = c.post("/v1/tokens/mint", s, json!({"approval_id": approval_id}), 201).await;
    let token = minted["token"].clone();
    c.post("/v1/tokens/verify", s, json!({"token": token, "tool": "read_file", "params": {"path": "/tmp"}, "consume": false}), 200).await;
    c.post("/v1/tokens/verify", s, json!({"token": "oak_tok_nope"}), 200).await;
    c.post("/v1/tokens/verify", s, json!({"token": token, "tool": "wire_money"}), 200).await;
    c.get("/v1/signing-keys", s, 200).await;
    let execution = json!({"token": token, "tool": "read_file", "tenant": null, "params": {"path": "/tmp"}, "result": "success",
        "duration_ms": 12, "output": {"bytes": 3}, "error": null});
    c.post("/v1/executions", s, execution.clone(), 201).await;
    c.post("/v1/executions", s, execution, 409).await;
    let failed = json!({"token": from_approval["token"], "tool": "wire_money", "tenant": "acme", "resource": "ledger", "method": "write",
        "params": {"amount": 250}, "result": "failed", "duration_ms": 40, "error": "bank refused"});
    c.post("/v1/executions", s, failed, 201).await;
    c.post("/v1/executions", s, json!({"tool": "read_file", "result": "error", "duration_ms": 1}), 201).await;
}

async fn keys(c: &Contract<'_>) {
    let m = &c.app.keys.management;
    c.get("/v1/keys", m, 200).await;
    let created = c.post("/v1/keys", m, json!({"name": "ci agent", "tier": "standard"}), 201).await;
    c.post("/v1/keys", m, json!({"name": "boss", "tier": "management"}), 400).await;
    let path = format!("/v1/keys/{}", id(&created));
    c.get(&path, m, 200).await;
    c.delete(&path, m, 200).await;
    c.call(Method::POST, "/v1/check", created["key"].as_str(), Some(&json!({"tool": "read_file"})), 401).await;
    c.get("/v1/keys", &c.app.keys.standard, 403).await;
}

async fn webhooks(c: &Contract<'_>, receiver: &Receiver) {
    let m = &c.app.keys.management;
    c.post("/v1/webhooks/test", m, json!({}), 202).await;
    receiver.wait_for(1, Duration::from_secs(10)).await;
    let deliveries = c.get("/v1/webhooks/deliveries?limit=5", m, 200).await;
    c.get("/v1/webhooks/deliveries?status=delivered", m, 200).await;
    let delivery = id(&deliveries["data"][0]);
    c.post(&format!("/v1/webhooks/deliveries/{delivery}/retry"), m, json!({}), 200).await;
    c.post("/v1/webhooks/deliveries/dlv_00000000000000000000000000/retry", m, json!({}), 404).await;
}

async fn activity(c: &Contract<'_>) {
    let s = &c.app.keys.standard;
    let page = c.get("/v1/activity?limit=500", s, 200).await;
    for entry in page["data"].as_array().unwrap() {
        c.get(&format!("/v1/activity/{}", id(entry)), s, 200).await;
    }
    c.get("/v1/activity?type=permission.checked&tool=read_file&tenant=acme&permission=allowed&limit=2", s, 200).await;
    c.get("/v1/activity?type=nope", s, 400).await;
    c.get("/v1/activity/verify", s, 200).await;
    c.get("/v1/activity/export?format=jsonl", s, 200).await;
    c.get("/v1/activity/export?format=csv", &c.app.keys.management, 200).await;
    c.get("/v1/activity/export?format=cef", s, 200).await;
    c.get("/v1/activity/export?format=xml", s, 400).await;
    // An org-wide "disabled" rule changes every recorded answer that was not already disabled.
    let simulated = c.post("/v1/policy/simulate", s, json!({"policy": {"rules": [{"permission": "disabled"}]}, "limit": 5}), 200).await;
    assert!(simulated["changed"].as_u64().is_some_and(|n| n > 0) && !simulated["changes"].as_array().unwrap().is_empty(), "{simulated}");
    c.post("/v1/policy/simulate", &c.app.keys.management, json!({"policy": {}, "limit": 10_001}), 400).await;
}

async fn billing(c: &Contract<'_>) {
    let m = &c.app.keys.management;
    c.get("/v1/billing", m, 200).await;
    c.get("/v1/billing/ledger?limit=3", m, 200).await;
    c.get("/v1/billing", &c.app.keys.standard, 403).await;
}
