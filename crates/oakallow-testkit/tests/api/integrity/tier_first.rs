//! The key comes first: on every endpoint of the published API, a missing key is 401 and a key
//! of the wrong tier is 403, whatever else is wrong with the request (its path id, its query
//! string, its body), so that nothing about the request is read for a caller who may not make it.

use oakallow_testkit::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::tiers::{A, M, MS, S, SA, Tier, key};

const ANYONE: &[Tier] = &[];

/// The tier table of docs/API.md, by method and path template.
fn allowed(method: &str, path: &str) -> &'static [Tier] {
    let collection =
        ["tools", "categories", "tenants", "resources", "methods", "rules"].iter().any(|c| path.starts_with(&format!("/v1/{c}")));
    match (method, path) {
        (_, "/v1/health" | "/v1/openapi.json") => ANYONE,
        ("POST", "/v1/check" | "/v1/validate" | "/v1/tokens" | "/v1/tokens/mint" | "/v1/tokens/verify" | "/v1/executions") => S,
        ("POST", "/v1/tools/discover") => S,
        ("POST", "/v1/approvals" | "/v1/approvals/request" | "/v1/approvals/{id}/cancel") => S,
        ("GET", "/v1/approvals" | "/v1/approvals/{id}") => SA,
        ("POST", "/v1/approvals/{id}/decide") => A,
        ("GET", _) if collection => MS,
        (_, _) if collection => M,
        ("GET", "/v1/policy" | "/v1/signing-keys") => MS,
        ("GET", p) if p.starts_with("/v1/activity") => MS,
        ("PUT", "/v1/policy") => M,
        ("POST", "/v1/policy/simulate") => MS,
        (_, p)
            if p.starts_with("/v1/keys") || p.starts_with("/v1/org") || p.starts_with("/v1/webhooks") || p.starts_with("/v1/billing") =>
        {
            M
        }
        _ => panic!("{method} {path} is not in this test's tier table: add it"),
    }
}

/// Every operation of the published OpenAPI document.
async fn operations(app: &TestApp) -> Vec<(String, String)> {
    let (status, document) = app.call(Method::GET, "/v1/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let mut found = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                found.push((method.to_uppercase(), path.clone()));
            }
        }
    }
    found
}

/// The request with every part malformed: an id that is not even UTF-8, a query string with
/// wrong types, a NUL and unknown names, and a body that is not JSON.
fn malformed(app: &TestApp, method: &str, template: &str, presented: Option<&str>) -> reqwest::RequestBuilder {
    let path = template.replace("{id}", "%FF");
    let query = "limit=x&cursor=%00&wait=x&dry_run=maybe&cascade=maybe&format=nope&since=never&status=nope&bogus=1";
    let mut request = app.request(Method::from_bytes(method.as_bytes()).unwrap(), &format!("{path}?{query}"));
    if let Some(key) = presented {
        request = request.header("X-API-Key", key);
    }
    if method != "GET" && method != "DELETE" {
        request = request.header("content-type", "application/json").body("{\"tool\": [");
    }
    request
}

async fn answer(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn the_key_comes_first(app: TestApp) {
    let operations = operations(&app).await;
    assert!(operations.len() >= 60, "the whole API: {}", operations.len());
    for (method, template) in operations {
        let allowed = allowed(&method, &template);
        if allowed.is_empty() {
            continue;
        }
        let label = format!("{method} {template}");
        let (status, body) = answer(malformed(&app, &method, &template, None)).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("unauthenticated")),
            "{label} without a key: {body}"
        );
        for tier in [Tier::Management, Tier::Standard, Tier::Approver].into_iter().filter(|t| !allowed.contains(t)) {
            let (status, body) = answer(malformed(&app, &method, &template, Some(key(&app.keys, tier)))).await;
            assert_eq!(
                (status, body["error"]["code"].as_str()),
                (StatusCode::FORBIDDEN, Some("forbidden_tier")),
                "{label} with a {tier:?} key and a malformed request: {body}"
            );
        }
    }
}
on_both_backends!(wrong_tiers_are_refused_before_the_request_is_read, the_key_comes_first);
