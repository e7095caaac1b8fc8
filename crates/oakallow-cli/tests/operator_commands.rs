//! Operator commands do only what they say: `credits grant` and `admin bootstrap` on a database
//! that holds a due webhook delivery and an approval past its deadline leave both exactly as
//! they were (no webhook worker, no approval sweeper), on SQLite and on PostgreSQL.

#![expect(clippy::unwrap_used, reason = "tests: a failed step is a failed test")]

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use oakallow_domain::approval::Approval;
use oakallow_domain::id::{ApprovalId, OrgId};
use oakallow_store::{Delivery, DeliveryFilter, Store};
use oakallow_testkit::receiver::Receiver;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Connection as _;
use support::{Server, bootstrap, oakallow_with_env};

/// Lets the commands reach the loopback receiver, were they to deliver anything.
const ENV: [(&str, &str); 2] = [("OAKALLOW_WEBHOOKS__ALLOW_PRIVATE_TARGETS", "true"), ("OAKALLOW_APPROVALS__SWEEP_INTERVAL_MS", "10")];

/// Puts every pending approval past its deadline and makes every pending delivery due.
const MAKE_DUE: [&str; 2] = [
    "UPDATE approvals SET expires_at = created_at WHERE status = 'pending'",
    "UPDATE webhook_deliveries SET next_attempt_at = created_at WHERE status = 'pending'",
];

/// Where the test's database is, and how to reach it behind the binary's back.
enum Database {
    Sqlite(tempfile::TempDir),
    Postgres(String),
}

impl Database {
    fn args(&self) -> Vec<String> {
        match self {
            Self::Sqlite(dir) => vec!["--data-dir".into(), dir.path().display().to_string()],
            Self::Postgres(url) => vec!["--database-url".into(), url.clone()],
        }
    }

    async fn make_due(&self) {
        match self {
            Self::Sqlite(dir) => {
                let db = rusqlite::Connection::open(dir.path().join(oakallow_store_sqlite::DATABASE_FILE)).unwrap();
                for sql in MAKE_DUE {
                    assert_eq!(db.execute(sql, []).unwrap(), 1, "{sql}");
                }
            }
            Self::Postgres(url) => {
                let mut db = sqlx::PgConnection::connect(url).await.unwrap();
                for sql in MAKE_DUE {
                    assert_eq!(sqlx::query(sql).execute(&mut db).await.unwrap().rows_affected(), 1, "{sql}");
                }
            }
        }
    }

    async fn store(&self) -> Arc<dyn Store> {
        match self {
            Self::Sqlite(dir) => Arc::new(oakallow_store_sqlite::SqliteStore::open_dir(dir.path()).unwrap()),
            Self::Postgres(url) => Arc::new(oakallow_store_postgres::PostgresStore::connect(url).await.unwrap()),
        }
    }

    /// The approval and the org's deliveries, as stored.
    async fn snapshot(&self, org: OrgId, approval: ApprovalId) -> (Option<Approval>, Vec<Delivery>) {
        let store = self.store().await;
        let deliveries = store.list_deliveries(org, &DeliveryFilter { status: None, before: None, limit: 500 }).await.unwrap();
        (store.approval(org, approval).await.unwrap(), deliveries)
    }
}

async fn call(server: &Server, path: &str, key: &str, body: Option<Value>) -> (StatusCode, Value) {
    let http = reqwest::Client::new();
    let request = match body {
        Some(body) => http.post(format!("{}{path}", server.base)).json(&body),
        None => http.get(format!("{}{path}", server.base)),
    };
    let response = request.header("X-API-Key", key).send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// With the real server: an approval whose `approval.created` delivery was attempted once and
/// refused. Answers the org and the approval.
async fn approval_with_a_refused_delivery(database: &Database, receiver: &Receiver) -> (OrgId, ApprovalId) {
    let args = database.args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let keys = bootstrap(&args, "owner@example.com");
    let server = Server::start(&args, &ENV);
    let management = keys["management_key"].as_str().unwrap();
    let response = reqwest::Client::new()
        .patch(format!("{}/v1/org", server.base))
        .header("X-API-Key", management)
        .json(&json!({"webhook_url": receiver.url}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let request = json!({"tool": "deploy", "reason": "ship it", "timeout_seconds": 60});
    let (status, approval) = call(&server, "/v1/approvals", keys["standard_key"].as_str().unwrap(), Some(request)).await;
    assert_eq!(status, StatusCode::CREATED, "{approval}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, listed) = call(&server, "/v1/webhooks/deliveries", management, None).await;
        assert_eq!(status, StatusCode::OK, "{listed}");
        if listed["data"][0]["attempts"].as_u64().unwrap_or(0) > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the first attempt was not recorded within 10 s: {listed}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(server.stop().success());
    (keys["org_id"].as_str().unwrap().parse().unwrap(), approval["id"].as_str().unwrap().parse().unwrap())
}

async fn commands_leave_background_work_alone(database: Database) {
    let receiver = Receiver::start().await;
    receiver.refuse_next(u32::MAX);
    let (org, approval) = approval_with_a_refused_delivery(&database, &receiver).await;
    database.make_due().await;
    let before = database.snapshot(org, approval).await;
    assert_eq!(before.0.as_ref().map(|a| a.status.as_str()), Some("pending"));
    assert_eq!(before.1.len(), 1, "one delivery, due now");
    let sent = receiver.received().len();

    let args = database.args();
    for command in [
        vec!["credits", "grant", "--account", "owner@example.com", "--calls", "10"],
        vec!["admin", "bootstrap", "--email", "owner@example.com", "--org", "demo", "--json"],
    ] {
        let mut all = command.clone();
        all.extend(args.iter().map(String::as_str));
        let output = oakallow_with_env(&all, &ENV);
        assert!(output.status.success(), "{command:?}: {}", String::from_utf8_lossy(&output.stderr));
        assert_eq!(database.snapshot(org, approval).await, before, "`oakallow {}` changed the approval or the delivery", command.join(" "));
        assert_eq!(receiver.received().len(), sent, "`oakallow {}` sent a webhook", command.join(" "));
    }
}

// Several threads: the receiver keeps answering while the test waits for a command.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_leave_background_work_alone_on_sqlite() {
    commands_leave_background_work_alone(Database::Sqlite(tempfile::tempdir().unwrap())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(postgres_tests), ignore = "needs PostgreSQL: set OAKALLOW_TEST_POSTGRES_URL when building the tests")]
async fn commands_leave_background_work_alone_on_postgres() {
    commands_leave_background_work_alone(Database::Postgres(oakallow_testkit::new_schema_url().await)).await;
}
