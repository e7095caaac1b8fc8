//! The group commit: one write the store refuses fails alone; the unrelated writes that shared
//! its batch are committed, answered 200 and chained exactly.

use std::time::Duration;

use futures_util::future::join_all;
use oakallow_store::RuntimeWrite;
use oakallow_testkit::{Backend, StoreHooks, TestApp, TestOptions, wait_until};
use reqwest::StatusCode;
use serde_json::json;

/// Checks queued behind a held commit, so that they share one batch with the poisoned one.
const QUEUED: usize = 64;

async fn one_refused_write_fails_alone(backend: Backend) {
    let hooks = StoreHooks::new();
    let app = TestApp::start_with(TestOptions::new(backend).hooked(&hooks)).await;
    let before = app.get("/v1/activity/verify", &app.keys.management).await.1["entries"].as_u64().unwrap();
    hooks.refuse_batches_with(|item| matches!(&item.write, RuntimeWrite::Check { check, .. } if check.tool == "poisoned"));

    let mut held = hooks.hold_next_commit();
    let app = &app;
    let check = |tool: String| async move { app.post("/v1/check", &app.keys.standard, &json!({ "tool": tool })).await };
    let first = check("first".into());
    let queued = async {
        held.entered().await;
        let tools = (0..QUEUED).map(|n| if n == QUEUED / 2 { "poisoned".to_owned() } else { format!("tool-{n}") });
        let release = async {
            wait_until("every check is queued", Duration::from_secs(10), async || app.service.queued_writes() == QUEUED).await;
            held.release();
        };
        tokio::join!(join_all(tools.map(check)), release).0
    };
    let (first, answers) = tokio::join!(first, queued);

    assert_eq!(first.0, StatusCode::OK, "{}", first.1);
    for (n, (status, body)) in answers.iter().enumerate() {
        if n == QUEUED / 2 {
            assert!(status.is_server_error(), "the poisoned write fails: {status} {body}");
        } else {
            assert_eq!(*status, StatusCode::OK, "check {n} shared a batch with the poisoned write: {body}");
        }
    }
    let refused = hooks.batches().into_iter().filter(|b| b.refused).map(|b| b.writes).max();
    assert_eq!(refused, Some(QUEUED), "the poisoned write was refused in a batch with every other queued write");
    // The held batch, the refused one, then two halves per level down to the poisoned write.
    let transactions = hooks.batches().len();
    assert!(transactions <= 2 + 2 * QUEUED.ilog2() as usize, "isolating one write took {transactions} transactions");

    let (status, verified) = app.get("/v1/activity/verify", &app.keys.management).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(verified["valid"], true, "{verified}");
    assert_eq!(verified["entries"].as_u64(), Some(before + QUEUED as u64), "every acknowledged check is chained, the poisoned one is not");
    let (_, poisoned) = app.get("/v1/activity?tool=poisoned", &app.keys.management).await;
    assert_eq!(poisoned["data"], json!([]), "nothing of the refused write is stored");
}

#[tokio::test]
async fn one_refused_write_fails_alone_on_sqlite() {
    one_refused_write_fails_alone(Backend::Sqlite).await;
}

#[tokio::test]
#[cfg_attr(not(postgres_tests), ignore = "needs PostgreSQL: set OAKALLOW_TEST_POSTGRES_URL when building the tests")]
async fn one_refused_write_fails_alone_on_postgres() {
    one_refused_write_fails_alone(Backend::Postgres).await;
}
