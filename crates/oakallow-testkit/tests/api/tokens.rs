//! Execution tokens: minting rules, every rejection reason, single use under 200 concurrent
//! verifications, tamper resistance of every byte, Ed25519 tokens checked offline with
//! `ed25519-dalek` directly, and executions with and without tokens.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use oakallow_testkit::{Backend, TestApp, TestOptions};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// An allowed check of `tool` with `params`, and a token minted from it.
async fn token_for(app: &TestApp, tool: &str, params: &Value) -> String {
    let check = app.check(json!({"tool": tool, "params": params})).await;
    assert_eq!(check["permission"], "allowed", "{check}");
    let (status, minted) = app.post("/v1/tokens", &app.keys.standard, &json!({"check_id": check["check_id"]})).await;
    assert_eq!(status, StatusCode::CREATED, "{minted}");
    minted["token"].as_str().unwrap().to_owned()
}

async fn verify(app: &TestApp, body: Value) -> Value {
    let (status, answer) = app.post("/v1/tokens/verify", &app.keys.standard, &body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer
}

async fn single_use_under_concurrency(app: TestApp) {
    app.create("/v1/tools", json!({"name": "deploy", "approved": true})).await;
    let token = token_for(&app, "deploy", &json!({"env": "prod"})).await;
    let calls = (0..200).map(|_| {
        let request =
            app.request(reqwest::Method::POST, "/v1/tokens/verify").header("X-API-Key", &app.keys.standard).json(&json!({"token": token}));
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    });
    let answers = futures_util::future::join_all(calls).await;
    let valid = answers.iter().filter(|a| a["valid"] == true).count();
    let used = answers.iter().filter(|a| a["reason"] == "used").count();
    assert_eq!((valid, used), (1, 199));
    let (_, verified) = app.get("/v1/activity?type=token.verified&limit=500", &app.keys.management).await;
    assert_eq!(verified["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn one_token_is_valid_once_under_200_concurrent_verifications_sqlite() {
    single_use_under_concurrency(TestApp::sqlite().await).await;
}

#[tokio::test]
#[cfg_attr(not(postgres_tests), ignore = "needs PostgreSQL: set OAKALLOW_TEST_POSTGRES_URL when building the tests")]
async fn one_token_is_valid_once_under_200_concurrent_verifications_postgres() {
    single_use_under_concurrency(TestApp::postgres().await).await;
}

#[tokio::test]
async fn every_single_byte_change_fails() {
    let app = TestApp::sqlite().await;
    app.create("/v1/tools", json!({"name": "deploy", "approved": true})).await;
    let token = token_for(&app, "deploy", &json!({})).await;
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (i, byte) in token.bytes().enumerate() {
        let replacement = *alphabet.iter().find(|c| **c != byte && **c != byte.to_ascii_uppercase()).unwrap();
        let mut changed = token.clone().into_bytes();
        changed[i] = replacement;
        let changed = String::from_utf8(changed).unwrap();
        let answer = verify(&app, json!({"token": changed, "consume": false})).await;
        assert_eq!(answer["valid"], false, "byte {i}");
        assert!(matches!(answer["reason"].as_str(), Some("malformed" | "bad_signature" | "wrong_org")), "byte {i}: {answer}");
    }
    assert_eq!(verify(&app, json!({"token": token})).await["valid"], true, "the original still verifies once");
}

#[tokio::test]
async fn each_rejection_has_its_reason() {
    let app = TestApp::start_with(TestOptions::new(Backend::Sqlite).manual_clock()).await;
    app.create("/v1/tools", json!({"name": "deploy", "approved": true})).await;
    app.create("/v1/tools", json!({"name": "rollback", "approved": true})).await;
    let params = json!({"env": "prod", "replicas": 3});
    let token = token_for(&app, "deploy", &params).await;

    let reason = |answer: Value| answer["reason"].as_str().map(str::to_owned);
    assert_eq!(reason(verify(&app, json!({"token": token, "tool": "rollback"})).await).as_deref(), Some("tool_mismatch"));
    assert_eq!(
        reason(verify(&app, json!({"token": token, "params": {"env": "dev", "replicas": 3}})).await).as_deref(),
        Some("params_mismatch")
    );
    let reordered = json!({"replicas": 3, "env": "prod"});
    let answer = verify(&app, json!({"token": token, "tool": "deploy", "params": reordered, "consume": false})).await;
    assert_eq!(answer["valid"], true, "params match in canonical form: {answer}");
    assert_eq!(reason(verify(&app, json!({"token": "not-a-token"})).await).as_deref(), Some("malformed"));

    let other = app.another_org("other@example.com").await;
    let (_, foreign) = app.post("/v1/tokens/verify", &other.standard, &json!({"token": token})).await;
    assert_eq!((foreign["valid"].as_bool(), foreign["reason"].as_str()), (Some(false), Some("wrong_org")));

    assert_eq!(verify(&app, json!({"token": token})).await["valid"], true);
    assert_eq!(reason(verify(&app, json!({"token": token})).await).as_deref(), Some("used"));

    let fresh = token_for(&app, "deploy", &params).await;
    app.advance(300);
    assert_eq!(reason(verify(&app, json!({"token": fresh})).await).as_deref(), Some("expired"));
    let (_, rejected) = app.get("/v1/activity?type=token.rejected&limit=50", &app.keys.management).await;
    let results: Vec<&str> = rejected["data"].as_array().unwrap().iter().map(|e| e["result"].as_str().unwrap()).collect();
    for expected in ["tool_mismatch", "params_mismatch", "malformed", "used", "expired"] {
        assert!(results.contains(&expected), "{expected} is audited: {results:?}");
    }
}

#[tokio::test]
async fn minting_follows_the_rules() {
    let app = TestApp::start_with(TestOptions::new(Backend::Sqlite).manual_clock()).await;
    app.create("/v1/tools", json!({"name": "deploy", "approved": true})).await;
    app.create("/v1/tools", json!({"name": "drop_db", "default_permission": "requires_approval"})).await;
    let mint = |body: Value| {
        let app = &app;
        async move { app.post("/v1/tokens", &app.keys.standard, &body).await }
    };
    let reason = |answer: &Value| answer["error"]["details"]["reason"].as_str().unwrap_or("").to_owned();

    let denied = app.check(json!({"tool": "drop_db"})).await;
    let (status, answer) = mint(json!({"check_id": denied["check_id"]})).await;
    assert_eq!((status, reason(&answer).as_str()), (StatusCode::CONFLICT, "not_allowed"));
    let (status, answer) = mint(json!({"check_id": "chk_01jqzzzzzzzzzzzzzzzzzzzzzz"})).await;
    assert_eq!((status, reason(&answer).as_str()), (StatusCode::CONFLICT, "unknown_check"));
    let other = app.another_org("o@example.com").await;
    app.expect(StatusCode::CREATED, Method::POST, "/v1/tools", &other.management, Some(&json!({"name": "deploy", "approved": true}))).await;
    let (_, foreign) = app.post("/v1/check", &other.standard, &json!({"tool": "deploy"})).await;
    let (_, answer) = mint(json!({"check_id": foreign["check_id"]})).await;
    assert_eq!(reason(&answer), "unknown_check", "another org's check is not found");

    let allowed = app.check(json!({"tool": "deploy"})).await;
    for ttl in [9, 3601] {
        let (status, _) = mint(json!({"check_id": allowed["check_id"], "ttl_seconds": ttl})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "ttl {ttl}");
    }
    let (status, _) = mint(json!({"check_id": allowed["check_id"], "approval_id": "apr_x"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, minted) = mint(json!({"check_id": allowed["check_id"], "ttl_seconds": 60})).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(minted["claims"]["exp"].as_i64().unwrap() - minted["claims"]["iat"].as_i64().unwrap(), 60);
    let (status, answer) = mint(json!({"check_id": allowed["check_id"]})).await;
    assert_eq!((status, reason(&answer).as_str()), (StatusCode::CONFLICT, "already_used"));

    let old = app.check(json!({"tool": "deploy"})).await;
    app.advance(300);
    let (_, answer) = mint(json!({"check_id": old["check_id"]})).await;
    assert_eq!(reason(&answer), "check_expired", "a check is good for 5 minutes");

    let (_, pending) = app.post("/v1/approvals", &app.keys.standard, &json!({"tool": "drop_db", "reason": "cleanup"})).await;
    let (_, answer) = mint(json!({"approval_id": pending["id"]})).await;
    assert_eq!(reason(&answer), "not_approved");

    let inline = app.check(json!({"tool": "deploy", "mint_token": true})).await;
    assert!(inline["token"].as_str().is_some_and(|t| t.starts_with("oak_tok_")));
    assert_eq!(verify(&app, json!({"token": inline["token"], "tool": "deploy"})).await["valid"], true);
    let (_, answer) = mint(json!({"check_id": inline["check_id"]})).await;
    assert_eq!(reason(&answer), "already_used", "the inline token used the check");
    let not_allowed = app.check(json!({"tool": "drop_db", "mint_token": true})).await;
    assert_eq!(not_allowed["token"], Value::Null);
}

#[tokio::test]
async fn ed25519_tokens_verify_offline_with_only_the_public_key() {
    let app = TestApp::sqlite().await;
    let (_, keys) = app.get("/v1/signing-keys", &app.keys.standard).await;
    assert_eq!(keys["keys"], json!([]), "an HMAC org publishes nothing");
    app.expect(StatusCode::OK, Method::PATCH, "/v1/org", &app.keys.management, Some(&json!({"token_signing": "ed25519"}))).await;
    app.create("/v1/tools", json!({"name": "deploy", "approved": true})).await;
    let token = token_for(&app, "deploy", &json!({"env": "prod"})).await;

    let (_, keys) = app.get("/v1/signing-keys", &app.keys.standard).await;
    let published = &keys["keys"][0];
    assert_eq!(published["alg"], "ed25519");
    let public: [u8; 32] = URL_SAFE_NO_PAD.decode(published["public_key"].as_str().unwrap()).unwrap().try_into().unwrap();
    let verifying = VerifyingKey::from_bytes(&public).unwrap();

    let (segment, signature) = token.strip_prefix("oak_tok_").unwrap().split_once('.').unwrap();
    let signature = Signature::from_slice(&URL_SAFE_NO_PAD.decode(signature).unwrap()).unwrap();
    assert!(verifying.verify(segment.as_bytes(), &signature).is_ok(), "the signature checks out offline");
    let payload: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segment).unwrap()).unwrap();
    assert_eq!(
        (payload["alg"].as_str(), payload["kid"].as_str(), payload["tool"].as_str()),
        (Some("ed25519"), published["kid"].as_str(), Some("deploy"))
    );
    assert_eq!(payload["jti"].as_str().map(str::len), Some(32), "128 random bits");

    let mut forged = payload.clone();
    forged["tool"] = json!("drop_db");
    let forged_segment = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
    assert!(verifying.verify(forged_segment.as_bytes(), &signature).is_err(), "a changed payload fails offline");
    assert_eq!(verify(&app, json!({"token": token, "tool": "deploy"})).await["valid"], true, "and the server agrees");
}

#[tokio::test]
async fn executions_with_and_without_tokens() {
    let app = TestApp::sqlite().await;
    app.create("/v1/tools", json!({"name": "deploy", "approved": true})).await;
    let log = |body: Value| {
        let app = &app;
        async move { app.post("/v1/executions", &app.keys.standard, &body).await }
    };
    let (status, unauthorized) = log(json!({"tool": "deploy", "result": "failed", "duration_ms": 3, "error": "boom"})).await;
    assert_eq!((status, unauthorized["authorized"].as_bool()), (StatusCode::CREATED, Some(false)));

    let params = json!({"env": "prod"});
    let token = token_for(&app, "deploy", &params).await;
    let (status, answer) = log(json!({"token": token, "tool": "rollback", "result": "success", "duration_ms": 1})).await;
    assert_eq!((status, answer["error"]["details"]["reason"].as_str()), (StatusCode::CONFLICT, Some("tool_mismatch")));
    let (status, answer) =
        log(json!({"token": token, "tool": "deploy", "params": {"env": "dev"}, "result": "success", "duration_ms": 1})).await;
    assert_eq!((status, answer["error"]["details"]["reason"].as_str()), (StatusCode::CONFLICT, Some("params_mismatch")));
    let (status, logged) =
        log(json!({"token": token, "tool": "deploy", "params": params, "result": "success", "duration_ms": 9, "output": {"ok": true}}))
            .await;
    assert_eq!((status, logged["authorized"].as_bool()), (StatusCode::CREATED, Some(true)));
    assert_eq!(verify(&app, json!({"token": token})).await["reason"], "used", "the execution consumed the token");
    let (status, again) = log(json!({"token": token, "tool": "deploy", "result": "success", "duration_ms": 9})).await;
    assert_eq!((status, again["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("token_used")));
    let (status, _) = log(json!({"tool": "deploy", "result": "maybe", "duration_ms": 1})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, logged) = app.get("/v1/activity?type=execution.logged", &app.keys.management).await;
    assert_eq!(logged["data"].as_array().unwrap().len(), 2);
    assert_eq!(logged["data"][0]["result"], "success");
    assert_eq!(logged["data"][0]["duration_ms"], 9);
}
