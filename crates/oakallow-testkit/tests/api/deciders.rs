//! Who decided an approval level is the identity oakallow verified (the approver key), not the
//! name it gave: one key cannot decide both levels under two names, two keys can, and the
//! deciders are stored on both backends, decisions made before they were stored included.

use oakallow_testkit::TestApp;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::approvals::{another_approver, ask, decide_with, key_id};

/// One approver key is one identity, whatever name it gives: it cannot decide both levels.
async fn one_key_cannot_decide_both_levels(app: TestApp) {
    app.create("/v1/tools", json!({"name": "wire", "requires_second_approval": true})).await;
    let approval = ask(&app, json!({"tool": "wire", "reason": "payroll"})).await;
    let id = approval["id"].as_str().unwrap();
    let (status, first) = decide_with(&app, &app.keys.approver, id, "approved", "alice").await;
    assert_eq!((status, first["level"].as_u64()), (StatusCode::OK, Some(2)), "{first}");

    let (status, refused) = decide_with(&app, &app.keys.approver, id, "approved", "bob").await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("conflict")),
        "another name is not another person: {refused}"
    );
    let (_, read) = app.get(&format!("/v1/approvals/{id}"), &app.keys.approver).await;
    assert_eq!((read["status"].as_str(), read["level"].as_u64()), (Some("pending"), Some(2)), "nothing changed: {read}");

    let (second_key, second_id) = another_approver(&app).await;
    let (status, approved) = decide_with(&app, &second_key, id, "approved", "alice").await;
    assert_eq!((status, approved["status"].as_str()), (StatusCode::OK, Some("approved")), "another key is another identity: {approved}");
    assert_eq!(approved["decisions"][1]["decider"], json!({"kind": "key", "id": second_id}));
    let (_, read) = app.get(&format!("/v1/approvals/{id}"), &app.keys.approver).await;
    assert_eq!(read["decisions"], approved["decisions"], "the deciders are stored");
}

#[tokio::test]
async fn one_approver_key_cannot_decide_both_levels_sqlite() {
    one_key_cannot_decide_both_levels(TestApp::sqlite().await).await;
}

#[tokio::test]
#[cfg_attr(not(postgres_tests), ignore = "needs PostgreSQL: set OAKALLOW_TEST_POSTGRES_URL when building the tests")]
async fn one_approver_key_cannot_decide_both_levels_postgres() {
    one_key_cannot_decide_both_levels(TestApp::postgres().await).await;
}

/// SQL that takes the database back to before deciders were stored (schema version 3, so the
/// later migrations are undone too).
fn before_deciders() -> Vec<String> {
    oakallow_store::conformance::undo::undo_down_to(4)
}

/// Level 1 escalated by the bootstrap approver key, level 2 denied by another: answers the
/// approval's id and the two key ids.
async fn decided_at_two_levels(app: &TestApp) -> (String, [String; 2]) {
    app.create("/v1/tools", json!({"name": "wire", "requires_second_approval": true})).await;
    let (second_key, second_id) = another_approver(app).await;
    let id = ask(app, json!({"tool": "wire", "reason": "payroll"})).await["id"].as_str().unwrap().to_owned();
    assert_eq!(decide_with(app, &app.keys.approver, &id, "approved", "alice").await.0, StatusCode::OK);
    assert_eq!(decide_with(app, &second_key, &id, "denied", "bob").await.0, StatusCode::OK);
    (id, [key_id(app, &app.keys.approver).await, second_id])
}

async fn deciders_after_the_upgrade(app: TestApp, id: &str, keys: &[String; 2]) {
    let app = app.restart().await;
    let (status, read) = app.get(&format!("/v1/approvals/{id}"), &app.keys.approver).await;
    assert_eq!(status, StatusCode::OK, "{read}");
    let deciders: Vec<&Value> = read["decisions"].as_array().unwrap().iter().map(|d| &d["decider"]).collect();
    assert_eq!(deciders, [&json!({"kind": "key", "id": keys[0]}), &json!({"kind": "key", "id": keys[1]})], "from the audit trail");
}

#[tokio::test]
async fn decisions_made_before_the_upgrade_get_their_deciders_sqlite() {
    let app = TestApp::sqlite().await;
    let (id, keys) = decided_at_two_levels(&app).await;
    let db = rusqlite::Connection::open(app.database.sqlite_file().unwrap()).unwrap();
    for sql in before_deciders() {
        db.execute(&sql, []).unwrap();
    }
    drop(db);
    deciders_after_the_upgrade(app, &id, &keys).await;
}

#[tokio::test]
#[cfg_attr(not(postgres_tests), ignore = "needs PostgreSQL: set OAKALLOW_TEST_POSTGRES_URL when building the tests")]
async fn decisions_made_before_the_upgrade_get_their_deciders_postgres() {
    use sqlx::Connection;
    let app = TestApp::postgres().await;
    let (id, keys) = decided_at_two_levels(&app).await;
    let mut db = sqlx::PgConnection::connect(app.database.postgres_url().unwrap()).await.unwrap();
    for sql in before_deciders() {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut db).await.unwrap();
    }
    db.close().await.unwrap();
    deciders_after_the_upgrade(app, &id, &keys).await;
}

/// Two approvers decide level 1 of a two-level approval at once: one escalates it, and the
/// other, planned on level 1, is told that level was decided meanwhile (409 `conflict` naming
/// the level it waits for), not that a still pending approval is "not pending".
#[tokio::test]
async fn a_level_decided_meanwhile_is_a_conflict_that_names_the_next_level() {
    let app = TestApp::sqlite().await;
    app.create("/v1/tools", json!({"name": "wire", "requires_second_approval": true})).await;
    let (second_key, _) = another_approver(&app).await;
    let id = ask(&app, json!({"tool": "wire", "reason": "payroll"})).await["id"].as_str().unwrap().to_owned();
    let mut pause = app.service.pause_at(oakallow_service::pauses::PausePoint::DecisionPlanned);
    let slow = {
        let body = json!({"decision": "approved", "decided_by": "alice"});
        let request =
            app.request(reqwest::Method::POST, &format!("/v1/approvals/{id}/decide")).header("X-API-Key", &app.keys.approver).json(&body);
        tokio::spawn(async move {
            let response = request.send().await.unwrap();
            (response.status(), response.json::<Value>().await.unwrap())
        })
    };
    pause.reached().await;
    let (status, escalated) = decide_with(&app, &second_key, &id, "approved", "bob").await;
    assert_eq!((status, escalated["level"].as_u64()), (StatusCode::OK, Some(2)), "{escalated}");
    pause.release();
    let (status, refused) = slow.await.unwrap();
    assert_eq!((status, refused["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("conflict")), "{refused}");
    assert_eq!((refused["error"]["details"]["level"].as_u64(), refused["error"]["details"]["status"].as_str()), (Some(2), Some("pending")));
}
