//! The Rust client (`oakallow-client`) against a real server: its guard runs the whole loop
//! (check → approval → token → run → execution) and refuses what it must without running the
//! tool; its offline verification takes exactly the call a token was minted for; only safe
//! requests are retried; errors keep the server's envelope.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use oakallow_client::offline::{self, Trust};
use oakallow_client::{
    ActivityQuery, ApprovalQuery, ApprovalStatus, Call, CheckRequest, Client, GuardError, Permission, Rejection, RetryPolicy, SigningKeys,
    Verdict,
};
use oakallow_testkit::{TestApp, wait_until};
use serde_json::json;
use tokio::sync::mpsc;

async fn tool(app: &TestApp, name: &str, permission: &str) {
    app.create("/v1/tools", json!({ "name": name, "default_permission": permission })).await;
}

/// The types of the activity entries about `tool`, oldest first, leaving out the reads of
/// the approval while it waited (as many as the wait took).
async fn trail(client: &Client, tool: &str) -> Vec<String> {
    let query = ActivityQuery { tool: Some(tool.to_owned()), ..ActivityQuery::default() };
    let page = client.list_activity(&query, Some(50), None).await.unwrap();
    let types = page.data.iter().rev().map(|entry| entry["type"].as_str().unwrap().to_owned());
    types.filter(|kind| kind != "approval.polled").collect()
}

#[tokio::test]
async fn the_guard_runs_allowed_tools_refuses_disabled_ones_and_waits_for_people() {
    let app = TestApp::sqlite().await;
    tool(&app, "lookup", "allowed").await;
    tool(&app, "wipe", "disabled").await;
    tool(&app, "refund", "requires_approval").await;
    tool(&app, "charge", "requires_approval").await;
    let agent = Client::new(&app.base, &app.keys.standard);
    let approver = agent.with_key(&app.keys.approver);

    // Allowed: the tool runs with a token minted for exactly this call, and it is logged.
    let call = Call::new("lookup").tenant("acme").params(json!({ "order": 7 }));
    let seen = agent
        .guard(call.clone())
        .run(|auth| async move {
            assert_eq!(auth.call, call);
            assert!(auth.token.starts_with("oak_tok_") && auth.approval.is_none());
            Ok::<_, std::io::Error>(auth.token)
        })
        .await
        .unwrap();
    assert_eq!(trail(&agent, "lookup").await, ["permission.checked", "token.minted", "execution.logged"]);
    let logged =
        agent.list_activity(&ActivityQuery { kind: Some("execution.logged".into()), ..Default::default() }, Some(1), None).await.unwrap();
    let jti = oakallow_domain::token::parse(&seen).unwrap().claims.jti;
    assert_eq!((logged.data[0]["result"].as_str(), logged.data[0]["token_jti"].as_str()), (Some("success"), Some(jti.as_str())));

    // Disabled: refused before the tool runs.
    let ran = AtomicUsize::new(0);
    let refused = agent.guard(Call::new("wipe")).run(|_| async { Ok::<_, std::io::Error>(ran.fetch_add(1, Ordering::SeqCst)) }).await;
    assert!(matches!(refused, Err(GuardError::Disabled { ref tool, .. }) if tool == "wipe"), "{refused:?}");
    assert_eq!(ran.load(Ordering::SeqCst), 0);
    assert_eq!(trail(&agent, "wipe").await, ["permission.checked"]);

    // Requires approval: the guard asks, tells us the approval, waits; a person approves
    // through the API with the approver key; the tool then runs.
    let (told, mut approvals) = mpsc::unbounded_channel();
    let decided = tokio::spawn({
        let approver = approver.clone();
        async move {
            let approval: oakallow_client::Approval = approvals.recv().await.unwrap();
            approver.decide(&approval.id, Verdict::Approved, "Ada", Some("go ahead")).await.unwrap()
        }
    });
    let output = agent
        .guard(Call::new("refund").params(json!({ "amount": 12 })))
        .reason("the customer asked")
        .on_approval(move |approval| told.send(approval.clone()).unwrap())
        .run(|auth| async move {
            let approval = auth.approval.expect("approved by a person");
            assert_eq!((approval.status, approval.decided_by.as_deref()), (ApprovalStatus::Approved, Some("Ada")));
            Ok::<_, std::io::Error>("refunded")
        })
        .await
        .unwrap();
    assert_eq!(output, "refunded");
    assert_eq!(decided.await.unwrap().reason, "the customer asked");
    assert_eq!(
        trail(&agent, "refund").await,
        ["permission.checked", "approval.created", "approval.decided", "token.minted", "execution.logged"]
    );

    // Denied: the error carries the reference and the note; the tool does not run.
    let (told, mut approvals) = mpsc::unbounded_channel();
    tokio::spawn({
        let approver = approver.clone();
        async move {
            let approval: oakallow_client::Approval = approvals.recv().await.unwrap();
            approver.decide(&approval.id, Verdict::Denied, "Ada", Some("not this one")).await.unwrap();
        }
    });
    let denied = agent
        .guard(Call::new("charge"))
        .on_approval(move |approval| told.send(approval.clone()).unwrap())
        .run(|_| async { Ok::<_, std::io::Error>(ran.fetch_add(1, Ordering::SeqCst)) })
        .await;
    let Err(GuardError::Refused { approval, timed_out: false }) = denied else { panic!("{denied:?}") };
    assert_eq!((approval.status, approval.note.as_deref()), (ApprovalStatus::Denied, Some("not this one")));
    let said = GuardError::<std::io::Error>::Refused { approval: approval.clone(), timed_out: false }.to_string();
    assert!(said.contains(&approval.reference) && said.ends_with("denied: not this one"), "{said}");
    assert_eq!(ran.load(Ordering::SeqCst), 0);

    // A tool that fails is logged as failed with its error, and the error is handed back.
    let failed = agent.guard(Call::new("lookup")).run(|_| async { Err::<(), _>(std::io::Error::other("disk full")) }).await;
    assert!(matches!(failed, Err(GuardError::Tool(ref e)) if e.to_string() == "disk full"), "{failed:?}");
    let logged =
        agent.list_activity(&ActivityQuery { kind: Some("execution.logged".into()), ..Default::default() }, Some(1), None).await.unwrap();
    assert_eq!((logged.data[0]["result"].as_str(), logged.data[0]["details"]["error"].as_str()), (Some("failed"), Some("disk full")));
}

#[tokio::test]
async fn a_guard_that_stops_waiting_cancels_its_approval() {
    let app = TestApp::sqlite().await;
    tool(&app, "refund", "requires_approval").await;
    let agent = Client::new(&app.base, &app.keys.standard);

    // Its own deadline passes: the approval is cancelled and the call refused as timed out.
    let gave_up = agent.guard(Call::new("refund")).max_wait(Duration::from_secs(1)).run(|_| async { Ok::<_, std::io::Error>(()) }).await;
    let Err(GuardError::Refused { approval, timed_out: true }) = gave_up else { panic!("{gave_up:?}") };
    assert_eq!(approval.status, ApprovalStatus::Cancelled);

    // The waiting future is dropped (the agent was stopped): the approval is cancelled too, so
    // nobody approves a call that will never run.
    let (told, mut approvals) = mpsc::unbounded_channel();
    let waiting = tokio::spawn({
        let agent = agent.clone();
        async move {
            let _ = agent
                .guard(Call::new("refund"))
                .on_approval(move |approval| told.send(approval.id.clone()).unwrap())
                .run(|_| async { Ok::<_, std::io::Error>(()) })
                .await;
        }
    });
    let id = approvals.recv().await.unwrap();
    waiting.abort();
    wait_until("the abandoned approval is cancelled", Duration::from_secs(10), async || {
        agent.get_approval(&id, None).await.unwrap().status == ApprovalStatus::Cancelled
    })
    .await;
    let pending = agent.all_approvals(&ApprovalQuery { status: Some(ApprovalStatus::Pending), ..Default::default() }).await.unwrap();
    assert!(pending.is_empty(), "{pending:?}");
}

#[tokio::test]
async fn offline_verification_takes_exactly_the_call_a_token_was_minted_for() {
    let app = TestApp::sqlite().await;
    tool(&app, "refund", "allowed").await;
    let management = Client::new(&app.base, &app.keys.management);
    management.update_org(&json!({ "token_signing": "ed25519" })).await.unwrap();
    let agent = Client::new(&app.base, &app.keys.standard);
    let keys = agent.signing_keys().await.unwrap();
    assert_eq!(keys.keys.len(), 1);

    let call = Call::new("refund").tenant("acme").resource("ledger").method("post").params(json!({ "amount": 12.5, "to": ["a", "b"] }));
    let check = agent.check(&CheckRequest { mint_token: true, ..call.clone().into() }).await.unwrap();
    assert_eq!(check.permission, Permission::Allowed);
    let token = check.token.unwrap();
    let org = app.keys.org_id.as_str();
    // What a tool server does: the keys were fetched once; nothing below touches the network
    // (`verify` takes no client).
    let claims = offline::verify_now(&token, Trust::Ed25519(&keys), &call, Some(org)).unwrap();
    assert_eq!((claims.tool.as_str(), claims.tenant.as_deref(), claims.src.as_str()), ("refund", Some("acme"), check.check_id.as_str()));
    let now = claims.iat;

    let refused = |token: &str, call: &Call| offline::verify(token, Trust::Ed25519(&keys), call, Some(org), now).unwrap_err();
    let mut other = call.clone();
    other.params = Some(json!({ "amount": 13, "to": ["a", "b"] }));
    assert_eq!(refused(&token, &other), Rejection::ParamsMismatch);
    assert_eq!(refused(&token, &Call { tool: "delete".into(), ..call.clone() }), Rejection::ToolMismatch);
    assert_eq!(refused(&token, &Call { tenant: None, ..call.clone() }), Rejection::TenantMismatch);
    assert_eq!(refused(&token, &Call { resource: Some("other".into()), ..call.clone() }), Rejection::ResourceMismatch);
    assert_eq!(refused(&token, &Call { method: None, ..call.clone() }), Rejection::MethodMismatch);
    assert_eq!(offline::verify(&token, Trust::Ed25519(&keys), &call, Some("org_other"), now).unwrap_err(), Rejection::WrongOrg);
    assert_eq!(offline::verify(&token, Trust::Ed25519(&keys), &call, Some(org), claims.exp).unwrap_err(), Rejection::Expired);
    assert!(offline::verify(&token, Trust::Ed25519(&keys), &call, Some(org), claims.exp - 1).is_ok());
    // Another org's keys, a tampered payload, a secret instead of a public key, garbage.
    let stranger = app.another_org("other@example.com").await;
    Client::new(&app.base, &stranger.management).update_org(&json!({ "token_signing": "ed25519" })).await.unwrap();
    let theirs: SigningKeys = Client::new(&app.base, &stranger.standard).signing_keys().await.unwrap();
    assert_eq!(theirs.keys.len(), 1);
    assert_eq!(offline::verify(&token, Trust::Ed25519(&theirs), &call, None, now).unwrap_err(), Rejection::BadSignature);
    let (payload, signature) = token.split_once('.').unwrap();
    let tampered = format!("{}A.{signature}", &payload[..payload.len() - 1]);
    assert!(matches!(refused(&tampered, &call), Rejection::BadSignature | Rejection::Malformed));
    assert_eq!(offline::verify(&token, Trust::Hmac(b"a shared secret"), &call, None, now).unwrap_err(), Rejection::BadSignature);
    assert_eq!(refused("oak_tok_nonsense", &call), Rejection::Malformed);
    assert!(!offline::names_unknown_key(&token, &keys) && offline::names_unknown_key(&token, &theirs));

    // The server agrees, and consumes it once.
    assert!(agent.verify_token(&token, &call, true).await.unwrap().valid);
    let again = agent.verify_token(&token, &call, true).await.unwrap();
    assert_eq!((again.valid, again.reason), (false, Some(Rejection::Used)));
}

#[tokio::test]
async fn management_calls_pages_and_errors_keep_the_servers_shapes() {
    let app = TestApp::sqlite().await;
    let management = Client::new(&app.base, &app.keys.management);
    let created = management.tools().create(&json!({ "name": "lookup", "default_permission": "allowed" })).await.unwrap();
    let id = created["id"].as_str().unwrap();
    assert_eq!(management.tools().get(id).await.unwrap()["name"], "lookup");
    let updated = management.tools().update(id, &json!({ "description": "Finds an order" })).await.unwrap();
    assert_eq!(updated["description"], "Finds an order");
    for n in 0..3 {
        management
            .collection("tenants")
            .unwrap()
            .create(&json!({ "external_id": format!("t{n}"), "name": format!("T{n}") }))
            .await
            .unwrap();
    }
    let first = management.collection("tenants").unwrap().list(Some(2), None).await.unwrap();
    assert_eq!(first.data.len(), 2);
    let rest = management.collection("tenants").unwrap().list(Some(2), first.next_cursor.as_deref()).await.unwrap();
    assert_eq!((rest.data.len(), rest.next_cursor), (1, None));
    assert_eq!(management.collection("tenants").unwrap().list_all().await.unwrap().len(), 3);
    assert!(management.collection("nonsense").is_err());
    let document = management.export_policy().await.unwrap();
    let applied = management.apply_policy(&document, true).await.unwrap();
    assert_eq!(applied["applied"], false, "a dry run changes nothing: {applied}");
    assert!(management.verify_activity().await.unwrap().valid);
    let export = management.export_activity("jsonl", None, None).await.unwrap().text().await.unwrap();
    assert_eq!(export.lines().count(), management.list_activity(&ActivityQuery::default(), Some(500), None).await.unwrap().data.len());

    // Errors: the envelope, typed; a path segment is a segment, whatever it holds.
    let agent = Client::new(&app.base, &app.keys.standard);
    let missing = agent.get_approval("apr_01/../../v1/org", None).await.unwrap_err();
    assert!(matches!(missing.status(), Some(StatusCode::NOT_FOUND | StatusCode::BAD_REQUEST)), "{missing}");
    let tier = agent.keys().list_all().await.unwrap_err();
    assert_eq!((tier.status(), tier.code()), (Some(StatusCode::FORBIDDEN), Some("forbidden_tier")));
    let unknown = Client::new(&app.base, "oak_std_nope").check(&Call::new("lookup").into()).await.unwrap_err();
    assert_eq!(unknown.status(), Some(StatusCode::UNAUTHORIZED));
}

/// A server that answers every request with `status` (and `Retry-After: 0`), counting requests
/// and remembering their idempotency keys.
async fn failing_server(status: StatusCode) -> (String, Arc<AtomicUsize>, Arc<std::sync::Mutex<Vec<String>>>) {
    let count = Arc::new(AtomicUsize::new(0));
    let keys = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (counted, seen) = (Arc::clone(&count), Arc::clone(&keys));
    let app = axum::Router::new().fallback(move |headers: HeaderMap| {
        let (counted, seen) = (Arc::clone(&counted), Arc::clone(&seen));
        async move {
            counted.fetch_add(1, Ordering::SeqCst);
            if let Some(key) = headers.get("idempotency-key") {
                seen.lock().unwrap().push(key.to_str().unwrap().to_owned());
            }
            let body = json!({ "error": { "code": "unavailable", "message": "try later", "details": {} } });
            (status, [("retry-after", "0")], axum::Json(body))
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, count, keys)
}

#[tokio::test]
async fn only_requests_safe_to_repeat_are_retried() {
    let policy = RetryPolicy { max_retries: 2, base_delay: Duration::from_millis(1), max_delay: Duration::from_millis(5) };
    let (url, count, keys) = failing_server(StatusCode::SERVICE_UNAVAILABLE).await;
    let client = Client::new(&url, "oak_std_x").with_retry(policy);
    let error = client.get_approval("apr_x", None).await.unwrap_err();
    assert_eq!((error.code(), count.swap(0, Ordering::SeqCst)), (Some("unavailable"), 3), "a read: tried three times");
    client
        .request_approval(&oakallow_client::ApprovalRequest { call: Call::new("t"), reason: "r".into(), ..Default::default() }, None)
        .await
        .unwrap_err();
    assert_eq!(count.swap(0, Ordering::SeqCst), 3, "an approval request is idempotent by its key");
    let sent = keys.lock().unwrap().clone();
    assert!(sent.len() == 3 && sent.iter().all(|key| key == &sent[0]), "one key across the attempts: {sent:?}");
    client.check(&Call::new("t").into()).await.unwrap_err();
    assert_eq!(count.swap(0, Ordering::SeqCst), 1, "a check is recorded and billed: never sent twice");
    client
        .log_execution(&oakallow_client::ExecutionLog {
            call: Call::new("t"),
            token: None,
            result: oakallow_client::ExecutionResult::Success,
            duration_ms: 1,
            output: None,
            error: None,
        })
        .await
        .unwrap_err();
    assert_eq!(count.swap(0, Ordering::SeqCst), 1);
    client.decide("apr_x", Verdict::Approved, "Ada", None).await.unwrap_err();
    assert_eq!(count.swap(0, Ordering::SeqCst), 1);

    // 429 is retried too (after its Retry-After); a 400-class answer never is.
    let (url, count, _) = failing_server(StatusCode::TOO_MANY_REQUESTS).await;
    Client::new(&url, "k").with_retry(policy).signing_keys().await.unwrap_err();
    assert_eq!(count.load(Ordering::SeqCst), 3);
    let (url, count, _) = failing_server(StatusCode::NOT_FOUND).await;
    let error = Client::new(&url, "k").with_retry(policy).get_approval("apr_x", None).await.unwrap_err();
    assert_eq!((error.status(), count.load(Ordering::SeqCst)), (Some(StatusCode::NOT_FOUND), 1));
}
