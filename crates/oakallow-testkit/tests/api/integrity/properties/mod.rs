//! A property test of the whole write surface: random sequences of valid requests to every
//! writing endpoint (check, validate, approvals asked for, decided and cancelled, tokens minted
//! and verified, executions, policy objects created, patched and deleted, org settings, keys),
//! with adversarial but valid names, texts, numbers and JSON values, on SQLite and PostgreSQL.
//! After every write, what reads back through the API equals what was sent; after every
//! sequence, the audit chain verifies; at the end, a restart reads the same from the store.
//!
//! `OAKALLOW_PROPTEST_CASES` sets the number of sequences (default 32, a few seconds).

mod ops;
mod strategies;

use std::sync::Mutex;

use oakallow_testkit::{Backend, TestApp, TestOptions};
use proptest::test_runner::{Config, TestRunner};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A tool every check of which is allowed, for the minted-token path.
const AUTHORIZED_TOOL: &str = "authorized-tool";

fn cases() -> u32 {
    std::env::var("OAKALLOW_PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(32)
}

/// What must survive a restart unchanged.
async fn readable(app: &TestApp) -> Vec<Value> {
    let mut all = Vec::new();
    for path in ["/v1/policy", "/v1/org", "/v1/keys?limit=500", "/v1/activity?limit=500"] {
        let (status, body) = app.get(path, &app.keys.management).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        all.push(body);
    }
    all
}

async fn assert_chain_verifies(app: &TestApp) {
    let (status, verification) = app.get("/v1/activity/verify", &app.keys.management).await;
    assert_eq!((status, &verification["valid"]), (StatusCode::OK, &json!(true)), "{verification}");
}

fn writes_read_back_and_the_chain_verifies(backend: Backend) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let app = runtime.block_on(async {
        // Long runs would spend the free credit; billing is not what this test is about.
        let mut options = TestOptions::new(backend);
        options.config.billing_enabled = false;
        let app = TestApp::start_with(options).await;
        let (status, org) = app.patch("/v1/org", &app.keys.management, &json!({"redact_pii": false})).await;
        assert_eq!(status, StatusCode::OK, "what is sent must read back unredacted: {org}");
        app.create("/v1/tools", json!({"name": AUTHORIZED_TOOL, "approved": true})).await;
        app
    });
    let made = Mutex::new(ops::Made::default());
    let config = Config { cases: cases(), max_shrink_iters: 64, failure_persistence: None, ..Config::default() };
    let strategy = proptest::collection::vec(ops::op(), 1..12);
    let result = TestRunner::new(config).run(&strategy, |sequence| {
        runtime.block_on(async {
            for op in sequence {
                ops::run(&app, &made, op).await;
            }
            assert_chain_verifies(&app).await;
        });
        Ok(())
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
    runtime.block_on(async {
        let before = readable(&app).await;
        let app = app.restart().await;
        assert_eq!(readable(&app).await, before, "the store keeps what the API answered");
        assert_chain_verifies(&app).await;
        app.stop().await;
    });
}

#[test]
fn random_writes_read_back_and_the_chain_verifies_sqlite() {
    writes_read_back_and_the_chain_verifies(Backend::Sqlite);
}

#[test]
#[cfg_attr(not(postgres_tests), ignore = "needs PostgreSQL: set OAKALLOW_TEST_POSTGRES_URL when building the tests")]
fn random_writes_read_back_and_the_chain_verifies_postgres() {
    writes_read_back_and_the_chain_verifies(Backend::Postgres);
}
