//! `GET /metrics` (issue 12, "Must show" 4): the page is read by the official Prometheus Python
//! client's text parser (`prometheus_client.parser`), and its values move as checks, approvals
//! and requests are made; it is off unless enabled, asks for its token when one is set, and a
//! client cannot add series of its own with made-up methods.

use std::io::Write as _;
use std::process::{Command, Stdio};

use oakallow_service::config::MetricsConfig;
use oakallow_testkit::{Backend, TestApp, TestOptions};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const TOKEN: &str = "scrape-token-7f3a";

/// The page as the Prometheus client library reads it: every sample, `{name, labels, value}`.
fn parse(page: &str) -> Vec<Value> {
    let script = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
samples = []
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        samples.append({"family": family.name, "type": family.type, "name": s.name, "labels": s.labels, "value": s.value})
print(json.dumps(samples))
"#;
    let mut child = Command::new("python3").args(["-c", script]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(page.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "the parser refused the page:\n{page}");
    serde_json::from_slice::<Vec<Value>>(&output.stdout).unwrap()
}

/// The value of the sample `name` whose labels include `labels` (0 if there is none).
fn value(samples: &[Value], name: &str, labels: &[(&str, &str)]) -> f64 {
    let matching: Vec<f64> = samples
        .iter()
        .filter(|s| s["name"] == name && labels.iter().all(|(k, v)| s["labels"][*k] == *v))
        .map(|s| s["value"].as_f64().unwrap())
        .collect();
    assert!(matching.len() <= 1, "{name} {labels:?} names several samples");
    matching.first().copied().unwrap_or(0.0)
}

async fn scrape(app: &TestApp, token: Option<&str>) -> (StatusCode, String, String) {
    let mut request = reqwest::Client::new().get(format!("{}/metrics", app.base));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let kind = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (status, kind, response.text().await.unwrap())
}

async fn samples(app: &TestApp) -> Vec<Value> {
    let (status, kind, page) = scrape(app, Some(TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(kind, "text/plain; version=0.0.4; charset=utf-8");
    parse(&page)
}

#[tokio::test]
#[cfg_attr(not(python_prometheus_client), ignore = "needs the prometheus_client Python package: pip install prometheus_client")]
async fn the_page_parses_with_prometheus_own_parser_and_moves_with_checks() {
    let mut options = TestOptions::new(Backend::Sqlite);
    options.config.metrics = Some(MetricsConfig { token: Some(TOKEN.into()), low_balance_calls: 100 });
    let app = TestApp::start_with(options).await;
    // The account holds 50 calls of credit: low, under 100.
    let account = oakallow_domain::id::AccountId::parse(&app.keys.account_id).unwrap();
    let balance = 50 * oakallow_domain::billing::PRICE_MICROUSD;
    app.store.set_balance(account, balance, oakallow_domain::id::LedgerId::generate(), "test", app.now()).await.unwrap();

    for token in [None, Some("wrong"), Some(&TOKEN[..TOKEN.len() - 1])] {
        let (status, _, body) = scrape(&app, token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{token:?}: {body}");
        assert!(!body.contains("oakallow_"), "nothing of the page without the token");
    }

    let before = samples(&app).await;
    let allowed = [("permission", "allowed"), ("resolved_from", "tool_approved")];
    let check_route = [("method", "POST"), ("route", "/v1/check")];
    app.create("/v1/tools", json!({"name": "lookup", "approved": true})).await;
    app.create("/v1/tools", json!({"name": "refund", "default_permission": "requires_approval"})).await;
    for _ in 0..3 {
        assert_eq!(app.check(json!({"tool": "lookup"})).await["permission"], "allowed");
    }
    let asked = app.check(json!({"tool": "refund"})).await;
    let asked_from = asked["resolved_from"].as_str().unwrap().to_owned();
    let (status, approval) = app.post("/v1/approvals", &app.keys.standard, &json!({"tool": "refund", "reason": "a refund"})).await;
    assert_eq!(status, StatusCode::CREATED, "{approval}");
    let weird = Method::from_bytes(b"BREW").unwrap();
    reqwest::Client::new().request(weird, format!("{}/v1/check", app.base)).send().await.unwrap();

    let after = samples(&app).await;
    let moved = |name: &str, labels: &[(&str, &str)]| value(&after, name, labels) - value(&before, name, labels);
    assert_eq!(moved("oakallow_checks_total", &allowed), 3.0);
    assert_eq!(moved("oakallow_checks_total", &[("permission", "requires_approval"), ("resolved_from", &asked_from)]), 1.0);
    assert_eq!(moved("oakallow_http_request_duration_seconds_count", &check_route), 4.0, "every check request, timed");
    let inf = [("method", "POST"), ("route", "/v1/check"), ("le", "+Inf")];
    assert_eq!(value(&after, "oakallow_http_request_duration_seconds_bucket", &inf), 4.0, "the last bucket holds them all");
    assert!(moved("oakallow_http_responses_total", &[("status", "2xx")]) >= 7.0, "two tools, four checks, an approval");
    assert!(moved("oakallow_commit_batch_writes_sum", &[]) >= 4.0, "each check is a write through the group committer");
    assert!(moved("oakallow_commit_duration_seconds_count", &[]) >= 1.0);
    assert_eq!(value(&after, "oakallow_approvals_pending", &[]), value(&before, "oakallow_approvals_pending", &[]) + 1.0);
    assert_eq!(value(&after, "oakallow_credit_low_balance_accounts", &[]), 1.0, "50 calls (less what was spent) is below 100");
    assert_eq!(value(&after, "oakallow_http_request_duration_seconds_count", &[("method", "other")]), 1.0, "counted as other");
    assert!(after.iter().all(|s| s["labels"]["method"] != "BREW"), "a made-up method names no series");
    let kinds: Vec<(&str, &str)> = after.iter().map(|s| (s["family"].as_str().unwrap(), s["type"].as_str().unwrap())).collect();
    assert!(kinds.contains(&("oakallow_http_request_duration_seconds", "histogram")));
    assert!(kinds.contains(&("oakallow_checks", "counter")), "{kinds:?}");
    assert!(kinds.contains(&("oakallow_approvals_pending", "gauge")));
}

#[tokio::test]
async fn the_page_is_off_unless_enabled() {
    let app = TestApp::sqlite().await;
    let (status, _, body) = scrape(&app, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let envelope: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(envelope["error"]["code"], "not_found");
}
