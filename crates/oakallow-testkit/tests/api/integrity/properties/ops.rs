//! The writes the property test makes, each followed by reading back what it wrote.

use std::sync::Mutex;

use oakallow_testkit::TestApp;
use proptest::prelude::*;
use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};

use super::strategies::{name, number, object, reason, text, value};

/// A kind of named policy object.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Category,
    Tool,
    Tenant,
    Resource,
    Method,
}

impl Kind {
    fn collection(self) -> &'static str {
        match self {
            Self::Category => "categories",
            Self::Tool => "tools",
            Self::Tenant => "tenants",
            Self::Resource => "resources",
            Self::Method => "methods",
        }
    }
}

/// What happens to an approval after it is asked for.
#[derive(Debug, Clone)]
pub enum Then {
    Approve { by: String, note: Option<String> },
    Deny { by: String, note: Option<String> },
    Cancel,
    Wait,
}

/// One write (and what follows from it).
#[derive(Debug, Clone)]
pub enum Op {
    Create {
        kind: Kind,
        name: String,
        text: String,
        example: Value,
    },
    PatchTool {
        pick: usize,
        description: Option<String>,
        tags: Vec<String>,
    },
    Delete {
        kind: Kind,
        pick: usize,
    },
    Rule {
        tool: usize,
        allowed: bool,
        note: Option<String>,
    },
    Check {
        tool: String,
        tenant: Option<String>,
        method: Option<String>,
        params: Option<Map<String, Value>>,
        context: Option<Map<String, Value>>,
        reference: Option<String>,
    },
    Validate {
        pick: usize,
        params: Map<String, Value>,
    },
    Approval {
        tool: String,
        params: Option<Map<String, Value>>,
        context: Option<Map<String, Value>>,
        reason: String,
        reference: Option<String>,
        timeout: Option<u32>,
        key: Option<String>,
        then: Then,
    },
    Authorized {
        params: Map<String, Value>,
        consume: bool,
        duration: u64,
        output: Option<Value>,
        error: Option<String>,
    },
    Execution {
        tool: String,
        params: Option<Map<String, Value>>,
        duration: u64,
        output: Option<Value>,
        error: Option<String>,
    },
    Org {
        name: String,
        timeout: Option<u32>,
        ed25519: bool,
    },
    Key {
        name: String,
        approver: bool,
        revoke: bool,
    },
}

fn kind() -> impl Strategy<Value = Kind> {
    prop::sample::select(vec![Kind::Category, Kind::Tool, Kind::Tenant, Kind::Resource, Kind::Method])
}

fn then() -> impl Strategy<Value = Then> {
    prop_oneof![
        (name(), prop::option::of(text())).prop_map(|(by, note)| Then::Approve { by, note }),
        (name(), prop::option::of(text())).prop_map(|(by, note)| Then::Deny { by, note }),
        Just(Then::Cancel),
        Just(Then::Wait),
    ]
}

fn duration() -> impl Strategy<Value = u64> {
    prop_oneof![0..=1000_u64, Just(oakallow_domain::json::MAX_EXACT_INTEGER), 0..=oakallow_domain::json::MAX_EXACT_INTEGER]
}

/// Any write.
pub fn op() -> impl Strategy<Value = Op> {
    let opt_object = || prop::option::of(object());
    prop_oneof![
        (kind(), name(), text(), value()).prop_map(|(kind, name, text, example)| Op::Create { kind, name, text, example }),
        (any::<usize>(), prop::option::of(text()), prop::collection::vec(name(), 0..4))
            .prop_map(|(pick, description, tags)| Op::PatchTool { pick, description, tags }),
        (kind(), any::<usize>()).prop_map(|(kind, pick)| Op::Delete { kind, pick }),
        (any::<usize>(), any::<bool>(), prop::option::of(text())).prop_map(|(tool, allowed, note)| Op::Rule { tool, allowed, note }),
        (name(), prop::option::of(name()), prop::option::of(name()), opt_object(), opt_object(), prop::option::of(name()))
            .prop_map(|(tool, tenant, method, params, context, reference)| Op::Check { tool, tenant, method, params, context, reference }),
        (any::<usize>(), object()).prop_map(|(pick, params)| Op::Validate { pick, params }),
        (
            (name(), opt_object(), opt_object(), reason()),
            (prop::option::of(name()), prop::option::of(any::<u32>()), prop::option::of("[!-~]{1,40}"), then())
        )
            .prop_map(|((tool, params, context, reason), (reference, timeout, key, then))| Op::Approval {
                tool,
                params,
                context,
                reason,
                reference,
                timeout,
                key,
                then
            }),
        (object(), any::<bool>(), duration(), prop::option::of(value()), prop::option::of(text()))
            .prop_map(|(params, consume, duration, output, error)| Op::Authorized { params, consume, duration, output, error }),
        (name(), opt_object(), duration(), prop::option::of(number()), prop::option::of(text()))
            .prop_map(|(tool, params, duration, output, error)| Op::Execution { tool, params, duration, output, error }),
        (name(), prop::option::of(any::<u32>()), any::<bool>()).prop_map(|(name, timeout, ed25519)| Op::Org { name, timeout, ed25519 }),
        (name(), any::<bool>(), any::<bool>()).prop_map(|(name, approver, revoke)| Op::Key { name, approver, revoke }),
    ]
}

/// The objects the test made, by kind: `(id, name)`.
#[derive(Debug, Default)]
pub struct Made {
    objects: Vec<(&'static str, String, String)>,
}

impl Made {
    fn of(&self, kind: Kind) -> Vec<(String, String)> {
        self.objects.iter().filter(|(k, ..)| *k == kind.collection()).map(|(_, id, name)| (id.clone(), name.clone())).collect()
    }

    fn pick(&self, kind: Kind, pick: usize) -> Option<(String, String)> {
        let all = self.of(kind);
        (!all.is_empty()).then(|| all[pick % all.len()].clone())
    }
}

/// Runs one write against `app` and checks what reads back.
pub async fn run(app: &TestApp, made: &Mutex<Made>, op: Op) {
    match op {
        Op::Create { kind, name, text, example } => create(app, made, kind, name, text, example).await,
        Op::PatchTool { pick, description, tags } => patch_tool(app, made, pick, description, tags).await,
        Op::Delete { kind, pick } => delete(app, made, kind, pick).await,
        Op::Rule { tool, allowed, note } => rule(app, made, tool, allowed, note).await,
        Op::Check { tool, tenant, method, params, context, reference } => {
            check(
                app,
                json!({"tool": tool, "tenant": tenant, "method": method, "params": params, "context": context, "reference_id": reference}),
            )
            .await;
        }
        Op::Validate { pick, params } => validate(app, made, pick, params).await,
        Op::Approval { tool, params, context, reason, reference, timeout, key, then } => {
            let body = json!({"tool": tool, "params": params, "context": context, "reason": reason, "reference_id": reference, "timeout_seconds": timeout});
            approval(app, body, key, then).await;
        }
        Op::Authorized { params, consume, duration, output, error } => authorized(app, params, consume, duration, output, error).await,
        Op::Execution { tool, params, duration, output, error } => {
            let body =
                json!({"tool": tool, "params": params, "result": "failed", "duration_ms": duration, "output": output, "error": error});
            execution(app, body).await;
        }
        Op::Org { name, timeout, ed25519 } => org(app, name, timeout, ed25519).await,
        Op::Key { name, approver, revoke } => key(app, name, approver, revoke).await,
    }
}

async fn newest(app: &TestApp, kind: &str) -> Value {
    let (status, listed) = app.get(&format!("/v1/activity?type={kind}&limit=1"), &app.keys.management).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    listed["data"][0].clone()
}

async fn read(app: &TestApp, path: &str) -> Value {
    let (status, body) = app.get(path, &app.keys.management).await;
    assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
    body
}

async fn create(app: &TestApp, made: &Mutex<Made>, kind: Kind, name: String, text: String, example: Value) {
    let body = match kind {
        Kind::Tool => {
            json!({"name": name, "description": text, "parameters_schema": {"type": "object", "description": text, "examples": [example]}})
        }
        Kind::Tenant => json!({"external_id": name, "name": text}),
        _ => json!({"name": name, "description": text}),
    };
    let path = format!("/v1/{}", kind.collection());
    let (status, created) = app.post(&path, &app.keys.management, &body).await;
    if status == StatusCode::CONFLICT {
        return; // the name is taken (names are random)
    }
    assert_eq!(status, StatusCode::CREATED, "POST {path} {body}: {created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let stored = read(app, &format!("{path}/{id}")).await;
    for (field, sent) in body.as_object().unwrap() {
        assert_eq!(&stored[field], sent, "{field} of {path}/{id}");
    }
    made.lock().unwrap().objects.push((kind.collection(), id, name));
}

async fn patch_tool(app: &TestApp, made: &Mutex<Made>, pick: usize, description: Option<String>, tags: Vec<String>) {
    let Some((id, _)) = made.lock().unwrap().pick(Kind::Tool, pick) else { return };
    let body = json!({"description": description, "tags": tags});
    let (status, answer) = app.patch(&format!("/v1/tools/{id}"), &app.keys.management, &body).await;
    assert_eq!(status, StatusCode::OK, "PATCH {body}: {answer}");
    let stored = read(app, &format!("/v1/tools/{id}")).await;
    assert_eq!((&stored["description"], &stored["tags"]), (&body["description"], &body["tags"]));
}

async fn delete(app: &TestApp, made: &Mutex<Made>, kind: Kind, pick: usize) {
    let Some((id, _)) = made.lock().unwrap().pick(kind, pick) else { return };
    let path = format!("/v1/{}/{id}", kind.collection());
    let (status, answer) = app.call(Method::DELETE, &format!("{path}?cascade=true"), Some(&app.keys.management), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "DELETE {path}: {answer}");
    assert_eq!(app.get(&path, &app.keys.management).await.0, StatusCode::NOT_FOUND);
    made.lock().unwrap().objects.retain(|(_, made_id, _)| *made_id != id);
}

async fn rule(app: &TestApp, made: &Mutex<Made>, tool: usize, allowed: bool, note: Option<String>) {
    let Some((tool_id, tool_name)) = made.lock().unwrap().pick(Kind::Tool, tool) else { return };
    let permission = if allowed { "allowed" } else { "requires_approval" };
    let body = json!({"tool": tool_id, "permission": permission, "note": note});
    let (status, created) = app.post("/v1/rules", &app.keys.management, &body).await;
    if status == StatusCode::CONFLICT {
        return; // this tool has its rule already
    }
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let stored = read(app, &format!("/v1/rules/{}", created["id"].as_str().unwrap())).await;
    assert_eq!((&stored["tool"], &stored["permission"], &stored["note"]), (&json!(tool_name), &json!(permission), &body["note"]));
}

async fn check(app: &TestApp, body: Value) {
    let (status, answer) = app.post("/v1/check", &app.keys.standard, &body).await;
    assert_eq!(status, StatusCode::OK, "{body}: {answer}");
    let entry = newest(app, "permission.checked").await;
    assert_eq!(entry["check_id"], answer["check_id"]);
    for field in ["tool", "tenant", "method", "params"] {
        assert_eq!(entry[field], body[field], "{field}");
    }
    assert_eq!(entry["details"]["context"], body["context"]);
    assert_eq!(entry["details"]["reference_id"], body["reference_id"]);
}

async fn validate(app: &TestApp, made: &Mutex<Made>, pick: usize, params: Map<String, Value>) {
    let Some((_, tool)) = made.lock().unwrap().pick(Kind::Tool, pick) else { return };
    let body = json!({"tool": tool, "params": params});
    let (status, answer) = app.post("/v1/validate", &app.keys.standard, &body).await;
    assert_eq!((status, &answer["valid"]), (StatusCode::OK, &json!(true)), "{body}: {answer}");
    let entry = newest(app, "params.validated").await;
    assert_eq!((&entry["tool"], &entry["params"]), (&body["tool"], &body["params"]));
}

async fn approval(app: &TestApp, body: Value, key: Option<String>, then: Then) {
    let mut request = app.request(Method::POST, "/v1/approvals").header("X-API-Key", &app.keys.standard).json(&body);
    if let Some(key) = &key {
        request = request.header("Idempotency-Key", format!("{key}-{}", oakallow_domain::id::CheckId::generate()));
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let created: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}: {created}");
    let path = format!("/v1/approvals/{}", created["id"].as_str().unwrap());
    let (_, stored) = app.get(&path, &app.keys.approver).await;
    for field in ["tool", "params", "context", "reason"] {
        assert_eq!(stored[field], body[field], "{field}");
    }
    assert_eq!(stored["reference_id"], body["reference_id"]);
    let (decision, by, note) = match then {
        Then::Wait => return,
        Then::Cancel => {
            let (status, cancelled) = app.post(&format!("{path}/cancel"), &app.keys.standard, &json!({})).await;
            assert_eq!((status, &cancelled["status"]), (StatusCode::OK, &json!("cancelled")), "{cancelled}");
            return;
        }
        Then::Approve { by, note } => ("approved", by, note),
        Then::Deny { by, note } => ("denied", by, note),
    };
    let request = json!({"decision": decision, "decided_by": by, "note": note});
    let (status, decided) = app.post(&format!("{path}/decide"), &app.keys.approver, &request).await;
    assert_eq!(status, StatusCode::OK, "{request}: {decided}");
    let (_, stored) = app.get(&path, &app.keys.approver).await;
    assert_eq!((&stored["status"], &stored["decided_by"], &stored["note"]), (&json!(decision), &request["decided_by"], &request["note"]));
}

async fn authorized(app: &TestApp, params: Map<String, Value>, consume: bool, duration: u64, output: Option<Value>, error: Option<String>) {
    let checked = app.check(json!({"tool": super::AUTHORIZED_TOOL, "params": params, "mint_token": true})).await;
    let token = checked["token"].as_str().unwrap_or_else(|| panic!("an allowed check mints: {checked}"));
    let (status, verified) =
        app.post("/v1/tokens/verify", &app.keys.standard, &json!({"token": token, "params": params, "consume": consume})).await;
    assert_eq!((status, &verified["valid"]), (StatusCode::OK, &json!(true)), "{verified}");
    let body = json!({"token": token, "tool": super::AUTHORIZED_TOOL, "params": params, "result": "success", "duration_ms": duration, "output": output, "error": error});
    let logged = execution(app, body).await;
    assert_eq!(logged["authorized"], true);
}

async fn execution(app: &TestApp, body: Value) -> Value {
    let (status, logged) = app.post("/v1/executions", &app.keys.standard, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{body}: {logged}");
    assert_eq!(logged["duration_ms"], body["duration_ms"]);
    let entry = newest(app, "execution.logged").await;
    for field in ["tool", "params", "result", "duration_ms"] {
        assert_eq!(entry[field], body[field], "{field}");
    }
    assert_eq!(entry["details"]["error"], body["error"]);
    logged
}

async fn org(app: &TestApp, name: String, timeout: Option<u32>, ed25519: bool) {
    let signing = if ed25519 { "ed25519" } else { "hmac-sha256" };
    let body = json!({"name": name, "approval_timeout_seconds": timeout, "token_signing": signing});
    let (status, answer) = app.patch("/v1/org", &app.keys.management, &body).await;
    assert_eq!(status, StatusCode::OK, "{body}: {answer}");
    let stored = read(app, "/v1/org").await;
    for field in ["name", "approval_timeout_seconds", "token_signing"] {
        assert_eq!(stored[field], body[field], "{field}");
    }
}

async fn key(app: &TestApp, name: String, approver: bool, revoke: bool) {
    let body = json!({"name": name, "tier": if approver { "approver" } else { "standard" }});
    let (status, created) = app.post("/v1/keys", &app.keys.management, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let path = format!("/v1/keys/{}", created["id"].as_str().unwrap());
    let stored = read(app, &path).await;
    assert_eq!((&stored["name"], &stored["tier"]), (&body["name"], &body["tier"]));
    if revoke {
        let (status, revoked) = app.delete(&path, &app.keys.management).await;
        assert_eq!(status, StatusCode::OK, "{revoked}");
        assert!(read(app, &path).await["revoked_at"].is_string());
    }
}
