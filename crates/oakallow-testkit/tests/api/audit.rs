//! The audit trail: editing any stored activity row behind the server's back makes chain
//! verification name that entry; the streamed export. (Redaction of personal data is in `pii`.)

use oakallow_testkit::TestApp;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Connection;

/// Columns of the activity table, each with a replacement value that is valid SQL for it.
const EDITS: [(&str, &str); 17] = [
    ("tool", "'other_tool'"),
    ("tenant", "'someone'"),
    ("permission", "'disabled'"),
    ("resolved_from", "'org_wildcard'"),
    ("params", "'{\"amount\":99}'"),
    ("details", "'{}'"),
    ("reason", "'because'"),
    ("result", "'valid'"),
    ("type", "'token.verified'"),
    ("actor_label", "'oak_live_xxx'"),
    ("actor_id", "'key_x'"),
    ("at", "at + 1"),
    ("check_id", "NULL"),
    ("duration_ms", "7"),
    ("token_jti", "'jti'"),
    ("prev_hash", "'0000000000000000000000000000000000000000000000000000000000000000'"),
    ("hash", "'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff'"),
];

async fn some_activity(app: &TestApp) -> Value {
    app.create("/v1/tools", json!({"name": "t", "approved": true})).await;
    for i in 0..4 {
        app.check(json!({"tool": "t", "tenant": "acme", "params": {"amount": i}, "reference_id": format!("r{i}")})).await;
    }
    let (_, listed) = app.get("/v1/activity?type=permission.checked&limit=10", &app.keys.management).await;
    listed["data"][2].clone()
}

async fn verify(app: &TestApp) -> Value {
    app.get("/v1/activity/verify", &app.keys.management).await.1
}

#[tokio::test]
async fn editing_any_stored_row_is_named_sqlite() {
    let app = TestApp::sqlite().await;
    let target = some_activity(&app).await;
    let (id, seq) = (target["id"].as_str().unwrap(), target["seq"].as_u64().unwrap());
    assert_eq!(verify(&app).await["valid"], true);
    let file = app.database.sqlite_file().unwrap();
    let db = rusqlite::Connection::open(&file).unwrap();
    for (column, value) in EDITS {
        let original: rusqlite::types::Value =
            db.query_row(&format!("SELECT {column} FROM activity WHERE id = ?1"), [id], |r| r.get(0)).unwrap();
        db.execute(&format!("UPDATE activity SET {column} = {value} WHERE id = ?1"), [id]).unwrap();
        let answer = verify(&app).await;
        assert_eq!(answer["valid"], false, "editing {column}");
        assert_eq!(
            (answer["first_broken"]["id"].as_str(), answer["first_broken"]["seq"].as_u64()),
            (Some(id), Some(seq)),
            "editing {column}: {answer}"
        );
        db.execute(&format!("UPDATE activity SET {column} = ?2 WHERE id = ?1"), rusqlite::params![id, original]).unwrap();
        assert_eq!(verify(&app).await["valid"], true, "restoring {column}");
    }
    // Removing the newest entry is noticed too: the stored chain head names it.
    let (_, newest) = app.get("/v1/activity?limit=1", &app.keys.management).await;
    let newest_id = newest["data"][0]["id"].as_str().unwrap();
    db.execute("DELETE FROM activity WHERE id = ?1", [newest_id]).unwrap();
    let answer = verify(&app).await;
    assert_eq!((answer["valid"].as_bool(), answer["first_broken"]["id"].as_str()), (Some(false), Some(newest_id)));
}

#[tokio::test]
#[cfg_attr(not(postgres_tests), ignore = "needs PostgreSQL: set OAKALLOW_TEST_POSTGRES_URL when building the tests")]
async fn editing_any_stored_row_is_named_postgres() {
    let app = TestApp::postgres().await;
    let target = some_activity(&app).await;
    let (id, seq) = (target["id"].as_str().unwrap(), target["seq"].as_u64().unwrap());
    let mut db = sqlx::PgConnection::connect(app.database.postgres_url().unwrap()).await.unwrap();
    for (column, value) in EDITS.iter().filter(|(c, _)| ["tool", "params", "at", "hash", "details"].contains(c)) {
        let statement = format!("UPDATE activity SET {column} = {value} WHERE id = $1");
        let restore = format!("UPDATE activity SET {column} = (SELECT {column} FROM activity_backup) WHERE id = $1");
        sqlx::query("DROP TABLE IF EXISTS activity_backup").execute(&mut db).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE TABLE activity_backup AS SELECT {column} FROM activity WHERE id = '{id}'")))
            .execute(&mut db)
            .await
            .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(statement)).bind(id).execute(&mut db).await.unwrap();
        let answer = verify(&app).await;
        assert_eq!(
            (answer["first_broken"]["id"].as_str(), answer["first_broken"]["seq"].as_u64()),
            (Some(id), Some(seq)),
            "editing {column}"
        );
        sqlx::query(sqlx::AssertSqlSafe(restore)).bind(id).execute(&mut db).await.unwrap();
        assert_eq!(verify(&app).await["valid"], true, "restoring {column}");
    }
}

#[tokio::test]
async fn the_export_streams_every_entry_oldest_first() {
    let app = TestApp::sqlite().await;
    some_activity(&app).await;
    let (_, listed) = app.get("/v1/activity?limit=500", &app.keys.management).await;
    let total = listed["data"].as_array().unwrap().len();
    let response =
        app.request(reqwest::Method::GET, "/v1/activity/export?format=jsonl").header("X-API-Key", &app.keys.standard).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    let text = response.text().await.unwrap();
    let entries: Vec<Value> = text.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    assert_eq!(entries.len(), total);
    assert!(entries.windows(2).all(|w| w[0]["seq"].as_u64() < w[1]["seq"].as_u64()));
    assert_eq!(entries.last().unwrap()["hash"], listed["data"][0]["hash"]);

    let response =
        app.request(reqwest::Method::GET, "/v1/activity/export?format=csv").header("X-API-Key", &app.keys.management).send().await.unwrap();
    let csv = response.text().await.unwrap();
    let mut lines = csv.lines();
    assert!(lines.next().unwrap().starts_with("id,org_id,seq,at,type,"));
    assert_eq!(lines.count(), total);

    let since = entries[3]["at"].as_str().unwrap();
    let path = format!("/v1/activity/export?since={}", since.replace(':', "%3A"));
    let response = app.request(reqwest::Method::GET, &path).header("X-API-Key", &app.keys.management).send().await.unwrap();
    assert_eq!(response.text().await.unwrap().lines().count(), total - 3);
    let (status, _) = app.get("/v1/activity/export?format=xml", &app.keys.management).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
