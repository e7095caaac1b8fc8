//! Crash safety on embedded SQLite: a real `oakallow serve` under load from every runtime family
//! (checks; approvals and their decisions; token minting and verification; executions) is killed
//! with SIGKILL, restarted on the same file, and everything a client saw acknowledged is there:
//! activity entries, approvals with their decisions, consumed tokens, executions, and ledger rows
//! that agree with the trail. The hash chain verifies.

#![expect(clippy::unwrap_used, reason = "tests: a failed step is a failed test")]

mod support;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{Server, bootstrap, oakallow};
use tokio::sync::watch;

/// What clients saw acknowledged, by family.
#[derive(Default)]
struct Acknowledged {
    checks: Vec<String>,
    approvals: Vec<String>,
    decisions: Vec<String>,
    minted: Vec<String>,
    consumed: Vec<(String, String)>,
    executions: Vec<String>,
}

impl Acknowledged {
    /// The family that has the fewest acknowledgements so far.
    fn fewest(&self) -> usize {
        [self.checks.len(), self.decisions.len(), self.consumed.len(), self.executions.len()].into_iter().min().unwrap_or(0)
    }
}

/// One client of the server: its keys and what it saw.
#[derive(Clone)]
struct Client {
    http: reqwest::Client,
    base: String,
    standard: String,
    approver: String,
    seen: Arc<Mutex<Acknowledged>>,
    progress: watch::Sender<usize>,
}

impl Client {
    /// POSTs `body`; the JSON answer only when the status is `expected` (anything else, including
    /// a connection cut by the crash, is simply not acknowledged).
    async fn post(&self, path: &str, key: &str, body: Value, expected: StatusCode) -> Option<Value> {
        let response = self.http.post(format!("{}{path}", self.base)).header("X-API-Key", key).json(&body).send().await.ok()?;
        if response.status() != expected {
            return None;
        }
        response.json().await.ok()
    }

    fn record(&self, add: impl FnOnce(&mut Acknowledged)) {
        let fewest = {
            let mut seen = self.seen.lock().unwrap();
            add(&mut seen);
            seen.fewest()
        };
        self.progress.send_replace(fewest);
    }

    async fn check(&self) -> Option<()> {
        let check = self.post("/v1/check", &self.standard, json!({"tool": "deploy"}), StatusCode::OK).await?;
        self.record(|seen| seen.checks.push(check["check_id"].as_str().unwrap().to_owned()));
        Some(())
    }

    async fn approve(&self) -> Option<()> {
        let body = json!({"tool": "refund", "reason": "customer asked", "params": {"amount": 5}});
        let approval = self.post("/v1/approvals", &self.standard, body, StatusCode::CREATED).await?;
        let id = approval["id"].as_str().unwrap().to_owned();
        self.record(|seen| seen.approvals.push(id.clone()));
        let decision = json!({"decision": "approved", "decided_by": "ops"});
        self.post(&format!("/v1/approvals/{id}/decide"), &self.approver, decision, StatusCode::OK).await?;
        self.record(|seen| seen.decisions.push(id));
        Some(())
    }

    async fn mint_and_verify(&self) -> Option<()> {
        let check = self.post("/v1/check", &self.standard, json!({"tool": "deploy"}), StatusCode::OK).await?;
        let minted = self.post("/v1/tokens", &self.standard, json!({"check_id": check["check_id"]}), StatusCode::CREATED).await?;
        let (token, jti) = (minted["token"].as_str().unwrap().to_owned(), minted["claims"]["jti"].as_str().unwrap().to_owned());
        self.record(|seen| seen.minted.push(jti.clone()));
        let verified = self.post("/v1/tokens/verify", &self.standard, json!({"token": token}), StatusCode::OK).await?;
        assert_eq!(verified["valid"], true, "a fresh token verifies once: {verified}");
        self.record(|seen| seen.consumed.push((jti, token)));
        Some(())
    }

    async fn execute(&self) -> Option<()> {
        let check = self.post("/v1/check", &self.standard, json!({"tool": "deploy", "mint_token": true}), StatusCode::OK).await?;
        let body = json!({"token": check["token"], "tool": "deploy", "result": "success", "duration_ms": 12});
        let execution = self.post("/v1/executions", &self.standard, body, StatusCode::CREATED).await?;
        self.record(|seen| seen.executions.push(execution["id"].as_str().unwrap().to_owned()));
        Some(())
    }

    /// Runs one family in a loop until the server stops answering.
    async fn run(self, family: usize) {
        loop {
            let done = match family {
                0 => self.check().await,
                1 => self.approve().await,
                2 => self.mint_and_verify().await,
                _ => self.execute().await,
            };
            if done.is_none() {
                return;
            }
        }
    }
}

/// Every activity entry of the org, oldest first.
async fn export(http: &reqwest::Client, base: &str, key: &str) -> Vec<Value> {
    let response = http.get(format!("{base}/v1/activity/export?format=jsonl")).header("X-API-Key", key).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.text().await.unwrap().lines().map(|line| serde_json::from_str(line).unwrap()).collect()
}

/// The ids an entry type carries in `field` (a top-level field or one of `details`).
fn ids(entries: &[Value], kind: &str, field: &str) -> HashSet<String> {
    entries
        .iter()
        .filter(|e| e["type"] == kind)
        .filter_map(|e| e.get(field).filter(|v| !v.is_null()).or_else(|| e["details"].get(field)))
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

fn assert_all_present(what: &str, acknowledged: &[String], stored: &HashSet<String>) {
    let missing: Vec<_> = acknowledged.iter().filter(|id| !stored.contains(*id)).collect();
    assert!(missing.is_empty(), "{} of {} acknowledged {what} are missing, e.g. {:?}", missing.len(), acknowledged.len(), missing.first());
}

async fn get(http: &reqwest::Client, base: &str, path: &str, key: &str) -> Value {
    let response = http.get(format!("{base}{path}")).header("X-API-Key", key).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "GET {path}");
    response.json().await.unwrap()
}

/// Every ledger row of the account, page by page.
async fn ledger(http: &reqwest::Client, base: &str, key: &str) -> Vec<Value> {
    let mut rows = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = get(http, base, &format!("/v1/billing/ledger?limit=500{cursor}"), key).await;
        rows.extend(page["data"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => return rows,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_sqlite_server_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let database = ["--data-dir", data.to_str().unwrap()];
    let keys = bootstrap(&database, "owner@example.com");
    let key = |tier: &str| keys[format!("{tier}_key")].as_str().unwrap().to_owned();
    let output =
        oakallow(&["credits", "set", "--account", "owner@example.com", "--calls", "1000000", "--data-dir", data.to_str().unwrap()]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let server = Server::start(&database, &[]);
    let http = reqwest::Client::new();
    for tool in [json!({"name": "deploy", "approved": true}), json!({"name": "refund", "default_permission": "requires_approval"})] {
        let response =
            http.post(format!("{}/v1/tools", server.base)).header("X-API-Key", key("management")).json(&tool).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
    }

    let (progress, mut watching) = watch::channel(0);
    let client = Client {
        http: http.clone(),
        base: server.base.clone(),
        standard: key("standard"),
        approver: key("approver"),
        seen: Arc::new(Mutex::new(Acknowledged::default())),
        progress,
    };
    let workers: Vec<_> = (0..8).map(|i| tokio::spawn(client.clone().run(i % 4))).collect();
    // Crash once every family has had at least 100 calls acknowledged, mid-load.
    tokio::time::timeout(Duration::from_secs(300), watching.wait_for(|fewest| *fewest >= 100))
        .await
        .expect("every family acknowledged 100 calls within five minutes")
        .unwrap();
    server.crash();
    for worker in workers {
        worker.await.unwrap();
    }

    let server = Server::start(&database, &[]);
    let management = key("management");
    let seen = std::mem::take(&mut *client.seen.lock().unwrap());
    let entries = export(&http, &server.base, &management).await;
    assert_all_present("checks", &seen.checks, &ids(&entries, "permission.checked", "check_id"));
    assert_all_present("approvals", &seen.approvals, &ids(&entries, "approval.created", "approval_id"));
    assert_all_present("decisions", &seen.decisions, &ids(&entries, "approval.decided", "approval_id"));
    assert_all_present("minted tokens", &seen.minted, &ids(&entries, "token.minted", "token_jti"));
    let consumed: Vec<String> = seen.consumed.iter().map(|(jti, _)| jti.clone()).collect();
    assert_all_present("token verifications", &consumed, &ids(&entries, "token.verified", "token_jti"));
    assert_all_present("executions", &seen.executions, &ids(&entries, "execution.logged", "execution_id"));
    for id in &seen.decisions {
        let approval = get(&http, &server.base, &format!("/v1/approvals/{id}"), &key("approver")).await;
        assert_eq!((approval["status"].as_str(), approval["decided_by"].as_str()), (Some("approved"), Some("ops")), "{approval}");
    }
    for (jti, token) in &seen.consumed {
        let response = http
            .post(format!("{}/v1/tokens/verify", server.base))
            .header("X-API-Key", key("standard"))
            .json(&json!({"token": token}))
            .send()
            .await
            .unwrap();
        let again: Value = response.json().await.unwrap();
        assert_eq!((again["valid"].as_bool(), again["reason"].as_str()), (Some(false), Some("used")), "token {jti} stays consumed");
    }

    let verified = get(&http, &server.base, "/v1/activity/verify", &management).await;
    assert_eq!(verified["valid"], true, "{verified}");
    let billing = get(&http, &server.base, "/v1/billing", &management).await;
    let rows = ledger(&http, &server.base, &management).await;
    let sum: i64 = rows.iter().map(|r| r["amount_microusd"].as_i64().unwrap()).sum();
    assert_eq!(sum, billing["balance_microusd"].as_i64().unwrap(), "the ledger sums to the balance");
    let debited: u64 = rows.iter().filter(|r| r["kind"] == "debit").map(|r| r["calls"].as_u64().unwrap()).sum();
    // The export above ran before the re-verifications, which are billed too.
    let entries = export(&http, &server.base, &management).await;
    let billable = entries.iter().filter(|e| e["details"]["billable"] == true).count();
    assert_eq!(usize::try_from(debited).unwrap(), billable, "billed calls equal billable activity entries");
    eprintln!(
        "acknowledged before the crash: {} checks, {} decisions, {} verified tokens, {} executions; all stored",
        seen.checks.len(),
        seen.decisions.len(),
        seen.consumed.len(),
        seen.executions.len()
    );
    assert!(server.stop().success());
}
