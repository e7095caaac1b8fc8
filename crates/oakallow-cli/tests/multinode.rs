//! Several `oakallow serve` processes on one PostgreSQL: changes made on one node are used by the
//! other within a second, tokens are single-use across nodes, long-polls wake across nodes,
//! expiries are announced once, balances stay exact, a crashed node loses nothing, and two nodes
//! work behind a plain round-robin load balancer (the recipe of docs/DEPLOYMENT.md).

#![expect(clippy::unwrap_used, reason = "tests: a failed step is a failed test")]

mod support;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use oakallow_testkit::receiver::Receiver;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::Connection;
use support::{Server, bootstrap, oakallow};

const NODE_ENV: [(&str, &str); 3] = [
    ("OAKALLOW_WEBHOOKS__ALLOW_PRIVATE_TARGETS", "true"),
    ("OAKALLOW_APPROVALS__SWEEP_INTERVAL_MS", "50"),
    ("OAKALLOW_SYNC__INTERVAL_MS", "500"),
];

struct Cluster {
    nodes: Vec<Server>,
    url: String,
    keys: Value,
    http: reqwest::Client,
}

impl Cluster {
    /// Two nodes on a new schema.
    async fn start() -> Self {
        let url = oakallow_testkit::new_schema_url().await;
        let output = oakallow(&["migrate", "--database-url", &url]);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let keys = bootstrap(&["--database-url", &url], "owner@example.com");
        let nodes = (0..2).map(|_| Server::start(&["--database-url", &url], &NODE_ENV)).collect();
        Self { nodes, url, keys, http: reqwest::Client::new() }
    }

    /// A setup call on `node` that must succeed (2xx); answers its body.
    async fn ok(&self, node: usize, method: Method, path: &str, key: &str, body: Option<Value>) -> Value {
        let (status, answer) = self.call(node, method.clone(), path, key, body).await;
        assert!(status.is_success(), "{method} {path}: {status} {answer}");
        answer
    }

    fn key(&self, tier: &str) -> String {
        self.keys[format!("{tier}_key")].as_str().unwrap().to_owned()
    }

    #[must_use = "check the status: a call whose failure goes unnoticed makes the test prove nothing"]
    async fn call(&self, node: usize, method: Method, path: &str, key: &str, body: Option<Value>) -> (StatusCode, Value) {
        call(&self.http, &self.nodes[node].base, method, path, key, body).await
    }
}

#[must_use = "check the status: a call whose failure goes unnoticed makes the test prove nothing"]
async fn call(http: &reqwest::Client, base: &str, method: Method, path: &str, key: &str, body: Option<Value>) -> (StatusCode, Value) {
    let mut request = http.request(method, format!("{base}{path}")).header("X-API-Key", key);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Polls `probe` until it answers true, failing if it never does (30 s); answers how long it
/// took, which the test reports: how fast changes travel is measured, not asserted, here.
async fn eventually<F: std::future::Future<Output = bool>>(mut probe: impl FnMut() -> F) -> Duration {
    let started = Instant::now();
    loop {
        if probe().await {
            return started.elapsed();
        }
        assert!(started.elapsed() < Duration::from_secs(30), "never seen");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until node `node` has taken a standard key's long-poll of approval `id` (it records the
/// billed poll before it waits), so that a decision made now is one it waits for.
async fn long_poll_taken(cluster: &Cluster, node: usize, id: &str) {
    let m = cluster.key("management");
    eventually(|| async {
        let (_, polled) = cluster.call(node, Method::GET, "/v1/activity?type=approval.polled", &m, None).await;
        polled["data"].as_array().unwrap().iter().any(|entry| entry["approval_id"] == id)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(not(postgres_tests), ignore = "needs PostgreSQL: set OAKALLOW_TEST_POSTGRES_URL when building the tests")]
async fn changes_on_one_node_reach_the_other() {
    let cluster = Cluster::start().await;
    let (m, s) = (cluster.key("management"), cluster.key("standard"));
    cluster.ok(0, Method::POST, "/v1/tools", &m, Some(json!({"name": "deploy", "approved": true}))).await;
    let check = || async { cluster.call(1, Method::POST, "/v1/check", &s, Some(json!({"tool": "deploy"}))).await.1 };
    assert_eq!(check().await["permission"], "allowed", "B has the org cached now");

    let (status, _) = cluster.call(0, Method::POST, "/v1/rules", &m, Some(json!({"tool": "deploy", "permission": "disabled"}))).await;
    assert_eq!(status, StatusCode::CREATED);
    let took = eventually(|| async { check().await["permission"] == "disabled" }).await;
    eprintln!("a rule created on A was used by B after {took:?}");

    let (_, key) = cluster.call(0, Method::POST, "/v1/keys", &m, Some(json!({"name": "agent", "tier": "standard"}))).await;
    let raw = key["key"].as_str().unwrap().to_owned();
    assert_eq!(cluster.call(1, Method::GET, "/v1/tools", &raw, None).await.0, StatusCode::OK, "B has the key cached now");
    cluster.ok(0, Method::DELETE, &format!("/v1/keys/{}", key["id"].as_str().unwrap()), &m, None).await;
    let took = eventually(|| async { cluster.call(1, Method::GET, "/v1/tools", &raw, None).await.0 == StatusCode::UNAUTHORIZED }).await;
    eprintln!("a key revoked on A was refused by B after {took:?}");

    cluster.ok(0, Method::POST, "/v1/tools", &m, Some(json!({"name": "wire"}))).await;
    assert_eq!(cluster.call(1, Method::POST, "/v1/check", &s, Some(json!({"tool": "wire"}))).await.1["approval_timeout_seconds"], 3600);
    cluster.ok(0, Method::PATCH, "/v1/org", &m, Some(json!({"approval_timeout_seconds": 120}))).await;
    let took = eventually(|| async {
        cluster.call(1, Method::POST, "/v1/check", &s, Some(json!({"tool": "wire"}))).await.1["approval_timeout_seconds"] == 120
    })
    .await;
    eprintln!("an org setting changed on A was used by B after {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(not(postgres_tests), ignore = "needs PostgreSQL: set OAKALLOW_TEST_POSTGRES_URL when building the tests")]
async fn tokens_are_single_use_across_nodes() {
    let cluster = Cluster::start().await;
    let (m, s) = (cluster.key("management"), cluster.key("standard"));
    cluster.ok(0, Method::POST, "/v1/tools", &m, Some(json!({"name": "deploy", "approved": true}))).await;
    let token = |node| {
        let cluster = &cluster;
        let s = s.clone();
        async move {
            cluster.call(node, Method::POST, "/v1/check", &s, Some(json!({"tool": "deploy", "mint_token": true}))).await.1["token"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let first = token(0).await;
    assert_eq!(cluster.call(0, Method::POST, "/v1/tokens/verify", &s, Some(json!({"token": first}))).await.1["valid"], true);
    let (_, on_b) = cluster.call(1, Method::POST, "/v1/tokens/verify", &s, Some(json!({"token": first}))).await;
    assert_eq!((on_b["valid"].as_bool(), on_b["reason"].as_str()), (Some(false), Some("used")));

    let contested = token(1).await;
    let attempts = (0..100).map(|i| {
        let (http, base, s, contested) = (cluster.http.clone(), cluster.nodes[i % 2].base.clone(), s.clone(), contested.clone());
        async move { call(&http, &base, Method::POST, "/v1/tokens/verify", &s, Some(json!({"token": contested}))).await.1 }
    });
    let answers = futures_util::future::join_all(attempts).await;
    assert_eq!(answers.iter().filter(|a| a["valid"] == true).count(), 1, "exactly one of 100 verifications on two nodes is valid");
    assert_eq!(answers.iter().filter(|a| a["reason"] == "used").count(), 99);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(not(postgres_tests), ignore = "needs PostgreSQL: set OAKALLOW_TEST_POSTGRES_URL when building the tests")]
async fn a_decision_on_one_node_wakes_a_long_poll_on_the_other() {
    let cluster = Cluster::start().await;
    let (m, s, a) = (cluster.key("management"), cluster.key("standard"), cluster.key("approver"));
    cluster.ok(0, Method::POST, "/v1/tools", &m, Some(json!({"name": "wire"}))).await;
    let (status, approval) = cluster.call(0, Method::POST, "/v1/approvals", &s, Some(json!({"tool": "wire", "reason": "pay"}))).await;
    assert_eq!(status, StatusCode::CREATED);
    let id = approval["id"].as_str().unwrap().to_owned();
    let poll = {
        let (http, base, s, id) = (cluster.http.clone(), cluster.nodes[0].base.clone(), s.clone(), id.clone());
        tokio::spawn(async move {
            let answer = call(&http, &base, Method::GET, &format!("/v1/approvals/{id}?wait=30"), &s, None).await.1;
            (answer, Instant::now())
        })
    };
    long_poll_taken(&cluster, 0, &id).await;
    let (status, _) = cluster
        .call(1, Method::POST, &format!("/v1/approvals/{id}/decide"), &a, Some(json!({"decision": "approved", "decided_by": "ops"})))
        .await;
    let decided = Instant::now();
    assert_eq!(status, StatusCode::OK);
    let (answer, woke) = poll.await.unwrap();
    assert_eq!(answer["status"], "approved");
    eprintln!("a decision on B woke A's long-poll after {:?}", woke.saturating_duration_since(decided));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(not(postgres_tests), ignore = "needs PostgreSQL: set OAKALLOW_TEST_POSTGRES_URL when building the tests")]
async fn an_expiry_is_announced_once_by_two_sweepers() {
    let cluster = Cluster::start().await;
    let (m, s) = (cluster.key("management"), cluster.key("standard"));
    let receiver = Receiver::start().await;
    cluster.ok(0, Method::PATCH, "/v1/org", &m, Some(json!({"webhook_url": receiver.url, "webhook_events": ["approval.expired"]}))).await;
    cluster.ok(0, Method::POST, "/v1/tools", &m, Some(json!({"name": "wire"}))).await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(
            cluster.call(0, Method::POST, "/v1/approvals", &s, Some(json!({"tool": "wire", "reason": "pay"}))).await.1["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    // Move the deadlines into the past behind the servers' backs: both sweepers race for them.
    let mut db = sqlx::PgConnection::connect(&cluster.url).await.unwrap();
    sqlx::query("UPDATE approvals SET expires_at = expires_at - 3600::bigint * 1000000").execute(&mut db).await.unwrap();
    receiver.wait_for(5, Duration::from_secs(10)).await;
    // Once every approval is stored expired and every delivery is done, no sweep can announce
    // one again: what the receiver has is final.
    let settled = "SELECT (SELECT count(*) FROM approvals WHERE status = 'expired') = 5
                      AND NOT EXISTS (SELECT 1 FROM webhook_deliveries WHERE status = 'pending')";
    eventually(|| {
        let url = cluster.url.clone();
        async move {
            let mut db = sqlx::PgConnection::connect(&url).await.unwrap();
            sqlx::query_scalar::<_, bool>(settled).fetch_one(&mut db).await.unwrap()
        }
    })
    .await;
    let announced: Vec<String> =
        receiver.events("approval.expired").iter().map(|r| r.json()["data"]["approval"]["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(announced.len(), 5, "each expiry is announced exactly once");
    assert_eq!(announced.iter().collect::<HashSet<_>>().len(), 5);
    let (_, expired) = cluster.call(1, Method::GET, "/v1/activity?type=approval.expired", &m, None).await;
    assert_eq!(expired["data"].as_array().unwrap().len(), 5);
}

/// Sets the account's balance with the CLI, as an operator would.
fn set_calls(cluster: &Cluster, calls: i64) {
    let calls = calls.to_string();
    let output = oakallow(&["credits", "set", "--account", "owner@example.com", "--calls", &calls, "--database-url", &cluster.url]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}

/// Ledger sum, balance, debited calls and billable activity entries agree.
async fn assert_books(cluster: &Cluster) -> i64 {
    let m = cluster.key("management");
    let (_, billing) = cluster.call(0, Method::GET, "/v1/billing", &m, None).await;
    let mut rows = Vec::new();
    let mut cursor = String::new();
    loop {
        let (_, page) = cluster.call(1, Method::GET, &format!("/v1/billing/ledger?limit=500{cursor}"), &m, None).await;
        rows.extend(page["data"].as_array().unwrap().clone());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    let sum: i64 = rows.iter().map(|r| r["amount_microusd"].as_i64().unwrap()).sum();
    assert_eq!(sum, billing["balance_microusd"].as_i64().unwrap(), "the ledger sums to the balance");
    let debited: u64 = rows.iter().filter(|r| r["kind"] == "debit").map(|r| r["calls"].as_u64().unwrap()).sum();
    let mut db = sqlx::PgConnection::connect(&cluster.url).await.unwrap();
    let billable: i64 =
        sqlx::query_scalar("SELECT count(*) FROM activity WHERE details LIKE '%\"billable\":true%'").fetch_one(&mut db).await.unwrap();
    assert_eq!(i64::try_from(debited).unwrap(), billable, "billed calls equal billable activity entries");
    billing["balance_microusd"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(not(postgres_tests), ignore = "needs PostgreSQL: set OAKALLOW_TEST_POSTGRES_URL when building the tests")]
async fn the_balance_is_exact_across_nodes() {
    let cluster = Cluster::start().await;
    let (m, s) = (cluster.key("management"), cluster.key("standard"));
    cluster.ok(0, Method::POST, "/v1/tools", &m, Some(json!({"name": "deploy", "approved": true}))).await;
    let n = 60;
    set_calls(&cluster, n);
    let calls = (0..4 * n).map(|i| {
        let (http, base, s) = (cluster.http.clone(), cluster.nodes[(i % 2) as usize].base.clone(), s.clone());
        async move { call(&http, &base, Method::POST, "/v1/check", &s, Some(json!({"tool": "deploy"}))).await }
    });
    let answers = futures_util::future::join_all(calls).await;
    let ok = answers.iter().filter(|(status, _)| *status == StatusCode::OK).count();
    let refused = answers
        .iter()
        .filter(|(status, body)| *status == StatusCode::PAYMENT_REQUIRED && body["error"]["code"] == "insufficient_credits")
        .count();
    assert_eq!((ok, refused), (n as usize, 3 * n as usize));
    assert_eq!(assert_books(&cluster).await, 0, "the balance ends at zero");
    let (status, _) = cluster.call(1, Method::POST, "/v1/tools", &m, Some(json!({"name": "still-works"}))).await;
    assert_eq!(status, StatusCode::CREATED, "management calls keep working at zero");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(not(postgres_tests), ignore = "needs PostgreSQL: set OAKALLOW_TEST_POSTGRES_URL when building the tests")]
async fn a_crashed_node_loses_nothing_acknowledged() {
    let mut cluster = Cluster::start().await;
    let (m, s) = (cluster.key("management"), cluster.key("standard"));
    cluster.ok(0, Method::POST, "/v1/tools", &m, Some(json!({"name": "deploy", "approved": true}))).await;
    set_calls(&cluster, 1_000_000);
    let acknowledged = Arc::new(std::sync::Mutex::new(Vec::new()));
    // (calls acknowledged, of them by node B after the crash), for the test to wait on.
    let (progress, mut watching) = tokio::sync::watch::channel((0_usize, 0_usize));
    let crashed = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let bases: Vec<String> = cluster.nodes.iter().map(|n| n.base.clone()).collect();
    let workers: Vec<_> = (0..8)
        .map(|w| {
            let (http, bases, s) = (cluster.http.clone(), bases.clone(), s.clone());
            let (acknowledged, progress, crashed, stop) = (acknowledged.clone(), progress.clone(), crashed.clone(), stop.clone());
            tokio::spawn(async move {
                let mut i = w;
                while !stop.load(Ordering::SeqCst) {
                    let node = i % 2;
                    i += 1;
                    let request = http.post(format!("{}/v1/check", bases[node])).header("X-API-Key", &s).json(&json!({"tool": "deploy"}));
                    let Ok(response) = request.send().await else { continue };
                    if response.status() != StatusCode::OK {
                        continue;
                    }
                    let Ok(body) = response.json::<Value>().await else { continue };
                    acknowledged.lock().unwrap().push(body["check_id"].as_str().unwrap().to_owned());
                    let on_b_after_crash = usize::from(node == 1 && crashed.load(Ordering::SeqCst));
                    progress.send_modify(|(all, after)| {
                        *all += 1;
                        *after += on_b_after_crash;
                    });
                }
            })
        })
        .collect();
    let wait = |watching: &mut tokio::sync::watch::Receiver<(usize, usize)>, done: fn(&(usize, usize)) -> bool| {
        let mut watching = watching.clone();
        async move { tokio::time::timeout(Duration::from_secs(120), watching.wait_for(done)).await.unwrap().unwrap().to_owned() }
    };
    wait(&mut watching, |(all, _)| *all >= 200).await;
    cluster.nodes.remove(0).crash();
    crashed.store(true, Ordering::SeqCst);
    wait(&mut watching, |(_, after)| *after >= 50).await;
    stop.store(true, Ordering::SeqCst);
    for worker in workers {
        worker.await.unwrap();
    }
    // Restart the crashed node: it serves again on the same data.
    cluster.nodes.insert(0, Server::start(&["--database-url", &cluster.url], &NODE_ENV));
    assert_eq!(cluster.call(0, Method::POST, "/v1/check", &s, Some(json!({"tool": "deploy"}))).await.0, StatusCode::OK);

    let acknowledged = acknowledged.lock().unwrap().clone();
    let mut db = sqlx::PgConnection::connect(&cluster.url).await.unwrap();
    let stored: Vec<String> =
        sqlx::query_scalar("SELECT check_id FROM activity WHERE type = 'permission.checked'").fetch_all(&mut db).await.unwrap();
    let stored: HashSet<String> = stored.into_iter().collect();
    let missing: Vec<_> = acknowledged.iter().filter(|id| !stored.contains(*id)).collect();
    assert!(missing.is_empty(), "{} acknowledged checks are missing", missing.len());
    let (_, verified) = cluster.call(1, Method::GET, "/v1/activity/verify", &m, None).await;
    assert_eq!(verified["valid"], true, "{verified}");
    assert_books(&cluster).await;
    eprintln!("{} checks acknowledged across the crash, all stored", acknowledged.len());
}

/// A round-robin TCP load balancer: each new connection goes to the next node.
async fn load_balancer(nodes: Vec<String>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let upstreams: Vec<String> = nodes.iter().map(|base| base.trim_start_matches("http://").to_owned()).collect();
    tokio::spawn(async move {
        let mut next = 0;
        loop {
            let Ok((mut client, _)) = listener.accept().await else { return };
            let upstream = upstreams[next % upstreams.len()].clone();
            next += 1;
            tokio::spawn(async move {
                if let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            });
        }
    });
    format!("http://{address}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(not(postgres_tests), ignore = "needs PostgreSQL: set OAKALLOW_TEST_POSTGRES_URL when building the tests")]
async fn two_nodes_behind_a_round_robin_load_balancer() {
    let cluster = Cluster::start().await;
    let (m, s, a) = (cluster.key("management"), cluster.key("standard"), cluster.key("approver"));
    let lb = load_balancer(cluster.nodes.iter().map(|n| n.base.clone()).collect()).await;
    // A client without keep-alive, so consecutive calls land on alternating nodes.
    let http = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let (status, health) = call(&http, &lb, Method::GET, "/v1/health", "", None).await;
    assert_eq!((status, health["database"]["backend"].as_str()), (StatusCode::OK, Some("postgres")));
    let (status, _) =
        call(&http, &lb, Method::POST, "/v1/tools", &m, Some(json!({"name": "wire", "default_permission": "requires_approval"}))).await;
    assert_eq!(status, StatusCode::CREATED);
    for _ in 0..4 {
        let (_, check) = call(&http, &lb, Method::POST, "/v1/check", &s, Some(json!({"tool": "wire"}))).await;
        assert_eq!(check["permission"], "requires_approval", "every node knows the new tool");
    }
    let (_, approval) = call(&http, &lb, Method::POST, "/v1/approvals", &s, Some(json!({"tool": "wire", "reason": "pay"}))).await;
    let id = approval["id"].as_str().unwrap().to_owned();
    let poll = {
        let (http, lb, s, id) = (http.clone(), lb.clone(), s.clone(), id.clone());
        tokio::spawn(async move { call(&http, &lb, Method::GET, &format!("/v1/approvals/{id}?wait=30"), &s, None).await.1 })
    };
    eventually(|| async {
        let (_, polled) = call(&http, &lb, Method::GET, "/v1/activity?type=approval.polled", &m, None).await;
        polled["data"].as_array().unwrap().iter().any(|entry| entry["approval_id"] == id.as_str())
    })
    .await;
    let decision = json!({"decision": "approved", "decided_by": "ops"});
    let (status, decided) = call(&http, &lb, Method::POST, &format!("/v1/approvals/{id}/decide"), &a, Some(decision)).await;
    assert_eq!(status, StatusCode::OK, "{decided}");
    assert_eq!(tokio::time::timeout(Duration::from_secs(30), poll).await.unwrap().unwrap()["status"], "approved");
    let (_, minted) = call(&http, &lb, Method::POST, "/v1/tokens", &s, Some(json!({"approval_id": id}))).await;
    let token = minted["token"].as_str().unwrap();
    assert_eq!(call(&http, &lb, Method::POST, "/v1/tokens/verify", &s, Some(json!({"token": token}))).await.1["valid"], true);
    assert_eq!(call(&http, &lb, Method::POST, "/v1/tokens/verify", &s, Some(json!({"token": token}))).await.1["reason"], "used");
    let (_, verified) = call(&http, &lb, Method::GET, "/v1/activity/verify", &m, None).await;
    assert_eq!(verified["valid"], true);
}
