//! The API Builder (issue 8, "Must show" 2): a policy composed with the form is shown as a
//! document, and its curl, Python and TypeScript scripts, run as pasted against the server,
//! make the org's policy exactly that document. Invalid compositions show errors and no
//! scripts; the page writes nothing, works for members, and is 404 for other orgs.

use std::process::Command;
use std::time::Duration;

use oakallow_domain::account::{ApproverLevels, Role};
use oakallow_testkit::{Appears, Browser, TestApp, WebClient, WebPage, wait_until};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{PASSWORD, empty_app, operator, org_of};

/// How long the browser may take for a step.
const WAIT: Duration = Duration::from_secs(10);

/// A composition with every kind of row, and text that each script's quoting must survive.
const COMPOSED: &[(&str, &str)] = &[
    ("category0.name", "payments"),
    ("category0.default_permission", "requires_approval"),
    ("tool0.name", "refund"),
    ("tool0.description", r#"It's '''risky''': "quotes", `ticks`, $HOME, ${x}, \n, <b>&amp;</b>, naïve ✓"#),
    ("tool0.category", "payments"),
    ("tool0.risk_level", "high"),
    ("tool0.requires_second_approval", "on"),
    ("tool0.more", r#"{"tags": ["money"], "approval_timeout_seconds": 600, "parameters_schema": {"type": "object"}}"#),
    ("tool1.name", "send_email"),
    ("tool1.default_permission", "allowed"),
    ("tool1.approved", "on"),
    ("tenant0.external_id", "acme"),
    ("tenant0.name", "Acme Inc."),
    ("resource0.name", "orders"),
    ("method0.name", "create"),
    ("rule0.tenant", "acme"),
    ("rule0.tool", "refund"),
    ("rule0.permission", "allowed"),
    ("rule0.note", "Acme's refunds are fine"),
    ("rule3.resource", "orders"),
    ("rule3.method", "create"),
    ("rule3.permission", "disabled"),
];

/// The builder's path with `pairs` as its query string.
fn builder(org: &str, pairs: &[(&str, &str)]) -> String {
    let url = reqwest::Url::parse_with_params(&format!("http://x/orgs/{org}/builder"), pairs).unwrap();
    format!("{}?{}", url.path(), url.query().unwrap_or(""))
}

/// The text of `<code id="{id}">` as a person would copy it (entities decoded).
fn code(page: &WebPage, id: &str) -> String {
    let start = format!("<code id=\"{id}\">");
    let from = page.body.find(&start).unwrap_or_else(|| panic!("no #{id} on the page:\n{}", page.body)) + start.len();
    let end = page.body[from..].find("</code>").unwrap();
    unescape(&page.body[from..from + end])
}

fn unescape(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let end = rest[at..].find(';').unwrap() + at;
        let entity = &rest[at + 1..end];
        let decoded = match entity {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            _ if entity.starts_with("#x") => char::from_u32(u32::from_str_radix(&entity[2..], 16).unwrap()).unwrap(),
            _ => char::from_u32(entity.trim_start_matches('#').parse().unwrap()).unwrap(),
        };
        out.push(decoded);
        rest = &rest[end + 1..];
    }
    out + rest
}

/// The YAML document the page shows, as JSON.
fn shown_document(page: &WebPage) -> Value {
    serde_norway::from_str(&code(page, "builder-yaml")).unwrap()
}

/// Runs a pasted script with `program` against the server, as the page tells people to, and
/// answers what it printed (the API's answer). Off the test's runtime thread: the server runs
/// on that thread and must answer meanwhile.
async fn run(program: &'static str, file_name: &str, script: &str, app: &TestApp, key: &str) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(file_name);
    std::fs::write(&path, script).unwrap();
    let mut command = Command::new(program);
    command.arg(&path).env("OAKALLOW_URL", &app.base).env("OAKALLOW_MGMT_KEY", key);
    for proxy in ["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"] {
        command.env_remove(proxy);
    }
    let output = tokio::task::spawn_blocking(move || command.output()).await.unwrap();
    let output = output.unwrap_or_else(|e| panic!("{program} could not be started: {e}"));
    let said = format!("stdout:\n{}\nstderr:\n{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{program} {file_name} failed: {said}\nscript:\n{script}");
    serde_json::from_slice(&output.stdout).unwrap_or_else(|_| panic!("{said}"))
}

#[tokio::test]
async fn each_seed_script_makes_a_clean_orgs_policy_exactly_the_document_the_page_shows() {
    let app = empty_app().await;
    let (web, org) = operator(&app).await;
    let page = web.get(&builder(&org, COMPOSED), StatusCode::OK).await;
    let shown = shown_document(&page);
    // The document is the composition, with the API's defaults spelled out.
    let refund = &shown["tools"][0];
    assert_eq!(refund["name"], "refund");
    assert_eq!(refund["description"], COMPOSED[3].1);
    assert_eq!((&refund["category"], &refund["risk_level"], &refund["tags"]), (&json!("payments"), &json!("high"), &json!(["money"])));
    assert_eq!((&refund["requires_second_approval"], &refund["approved"], &refund["enabled"]), (&json!(true), &json!(false), &json!(true)));
    assert_eq!(shown["tools"][1]["approved"], true);
    assert_eq!(shown["tenants"], json!([{"external_id": "acme", "name": "Acme Inc."}]));
    let scopes: Vec<(&Value, &Value)> = shown["rules"].as_array().unwrap().iter().map(|r| (&r["tool"], &r["permission"])).collect();
    assert_eq!(scopes, [(&Value::Null, &json!("disabled")), (&json!("refund"), &json!("allowed"))], "sorted by scope, any first");

    let scripts = [
        ("builder-curl", "bash", "seed-policy.sh"),
        ("builder-python", "python3", "seed_policy.py"),
        ("builder-typescript", "node", "seed-policy.mjs"),
    ];
    for (index, (id, program, file_name)) in scripts.into_iter().enumerate() {
        // The first runs against the page's own org, the others against new ones: all clean.
        let org_name = if index == 0 { "My org".to_owned() } else { format!("{program} org") };
        let keys = app.service.bootstrap("ada@example.com", &org_name).await.unwrap();
        assert_eq!(app.get("/v1/policy", &keys.management_key).await.1["tools"], json!([]), "{org_name} starts clean");
        let answer = run(program, file_name, &code(&page, id), &app, &keys.management_key).await;
        assert_eq!(answer["applied"], true, "{answer}");
        let (status, policy) = app.get("/v1/policy", &keys.management_key).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(policy, shown, "{program}: the org's policy is exactly the document shown");
    }
}

#[tokio::test]
async fn each_script_says_it_replaces_the_policy_and_offers_a_dry_run() {
    let app = empty_app().await;
    let (web, org) = operator(&app).await;
    let page = web.get(&builder(&org, COMPOSED), StatusCode::OK).await;
    assert!(page.shows("replaces the org&#39;s whole policy") || page.shows("replaces the org's whole policy"), "{}", page.body);
    for (id, dry_run) in [
        ("builder-curl", "# URL=\"$URL?dry_run=true\""),
        ("builder-python", "# url += \"?dry_run=true\""),
        ("builder-typescript", "// url += \"?dry_run=true\";"),
    ] {
        let script = code(&page, id);
        assert!(script.contains("REPLACES the org's whole policy") && script.contains(dry_run), "{script}");
        assert!(script.contains(&app.base), "OAKALLOW_URL defaults to this server: {script}");
    }
    assert!(code(&page, "builder-curl").contains("set -euo pipefail"));
    // The dry run, un-commented, changes nothing.
    let keys = app.service.bootstrap("ada@example.com", "My org").await.unwrap();
    let dry = code(&page, "builder-python").replace("# url += \"?dry_run=true\"", "url += \"?dry_run=true\"");
    let answer = run("python3", "dry.py", &dry, &app, &keys.management_key).await;
    assert_eq!(answer["applied"], false);
    assert_eq!(answer["diff"]["created"].as_array().unwrap().len(), 8, "{answer}");
    assert_eq!(app.get("/v1/policy", &keys.management_key).await.1["tools"], json!([]));
}

#[tokio::test]
async fn an_invalid_composition_shows_the_apis_errors_and_no_scripts() {
    let app = empty_app().await;
    let (web, org) = operator(&app).await;
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("rule0.tool", "refund"), ("rule0.permission", "allowed")], "refund"),
        (&[("tool0.name", "refund"), ("tool1.name", "refund")], "appears more than once"),
        (&[("tool0.name", "refund"), ("tool0.category", "nowhere")], "nowhere"),
        (&[("tool0.name", "refund"), ("tool0.more", "{\"tags\": ")], "Tool 1: other fields are not valid JSON"),
        (&[("tool0.name", "refund"), ("tool0.more", "{\"approved\": true}")], "Tool 1: set approved in its own field"),
        (&[("tool0.name", "refund"), ("tool0.more", "{\"colour\": 1}")], "colour"),
        (&[("tool0.name", "refund"), ("tool0.more", "{\"parameters_schema\": {\"type\": 7}}")], "not a valid JSON Schema"),
        (&[("rule0.tool", "refund")], "Rule 1: choose a permission"),
        (&[("tool0.description", "no name")], "must be 1 to 200 characters"),
        (&[("tool0.name", "refund"), ("tool0.risk_level", "extreme")], "extreme"),
    ];
    for (pairs, error) in cases {
        let page = web.get(&builder(&org, pairs), StatusCode::OK).await;
        let alert = page.body.split("role=\"alert\">").nth(1).unwrap_or_else(|| panic!("no errors for {pairs:?}:\n{}", page.body));
        let alert = unescape(alert.split("</div>").next().unwrap());
        assert!(alert.contains(error), "{pairs:?}: {alert}");
        assert!(!page.shows("builder-yaml") && !page.shows("builder-curl") && !page.shows("#!/usr/bin/env"), "{pairs:?}");
    }
    let keys = app.service.bootstrap("ada@example.com", "My org").await.unwrap();
    assert_eq!(app.get("/v1/policy", &keys.management_key).await.1["tools"], json!([]), "the page wrote nothing");
}

#[tokio::test]
async fn starting_from_the_current_policy_shows_it_unchanged_and_as_a_link() {
    let app = empty_app().await;
    let (web, org) = operator(&app).await;
    let keys = app.service.bootstrap("ada@example.com", "My org").await.unwrap();
    let current = json!({
        "categories": [{"name": "ops", "description": "Operations", "default_permission": "disabled"}],
        "tools": [
            {"name": "deploy", "category": "ops", "risk_level": "critical", "enabled": false, "approval_timeout_seconds": 120,
             "annotations": {"destructive": true}, "tags": ["infra"], "parameters_schema": {"type": "object", "required": ["env"]}},
            {"name": "lookup", "approved": true}
        ],
        "tenants": [{"external_id": "globex"}],
        "resources": [{"name": "servers", "description": "Fleet"}],
        "methods": [{"name": "restart"}],
        "rules": [{"tenant": "globex", "tool": "deploy", "permission": "requires_approval", "note": "Ask first"}, {"permission": "allowed"}]
    });
    assert_eq!(app.put("/v1/policy", &keys.management_key, &current).await.0, StatusCode::OK);
    let exported = app.get("/v1/policy", &keys.management_key).await.1;

    let page = web.get(&format!("/orgs/{org}/builder?from=current"), StatusCode::OK).await;
    assert!(page.shows(r#"name="tool0.name" value="deploy""#), "the form is filled:\n{}", page.body);
    assert_eq!(shown_document(&page), exported, "applying what the page shows changes nothing");
    // Its link fills the form the same way: the composition lives in the query string.
    let link = unescape(page.body.split("id=\"share-link\"").next().unwrap().rsplit("href=\"").next().unwrap().trim_end_matches("\" "));
    assert!(link.starts_with(&format!("/orgs/{org}/builder?")), "{link}");
    let shared = web.get(&link, StatusCode::OK).await;
    assert_eq!(shown_document(&shared), exported);
}

/// A new account that joins `org` as a plain member, signed in.
async fn member_of(app: &TestApp, org: &str) -> WebClient {
    let ada = app.service.sign_in("ada@example.com", PASSWORD, "127.0.0.1").await.unwrap().session().unwrap();
    let owner = app.service.member(&ada.signed_in, org).await.unwrap();
    let invite = app.service.invite(&owner, Role::Member, ApproverLevels::default()).await.unwrap();
    let web = WebClient::new(&app.base);
    let secret = invite.secret.expose();
    let token = web.get(&format!("/sign-up?invite={secret}"), StatusCode::OK).await.csrf();
    let fields = [("_csrf", token.as_str()), ("invite", secret), ("email", "mo@example.com"), ("name", "Mo"), ("password", PASSWORD)];
    web.post_raw("/sign-up", &fields, StatusCode::SEE_OTHER).await;
    web
}

#[tokio::test]
async fn a_member_may_compose_but_is_told_the_scripts_need_an_admins_key_and_other_orgs_are_404() {
    let app = empty_app().await;
    let (ada, org) = operator(&app).await;
    let mo = member_of(&app, &org).await;
    let page = mo.get(&builder(&org, COMPOSED), StatusCode::OK).await;
    assert!(page.shows("id=\"needs-key\"") && page.shows("only owners and admins"), "{}", page.body);
    assert!(page.shows("builder-curl"), "the member gets the scripts to hand over");
    let admin = ada.get(&builder(&org, COMPOSED), StatusCode::OK).await;
    assert!(!admin.shows("id=\"needs-key\"") && admin.shows(&format!("/orgs/{org}/keys")));

    // Mo's own org is not Ada's: its builder, and a made-up one, are 404 for Ada alike.
    let mo_org = app.service.bootstrap("mo@example.com", "Mo's org").await.unwrap().org_id.to_string();
    let theirs = ada.get(&format!("/orgs/{mo_org}/builder?from=current"), StatusCode::NOT_FOUND).await;
    let missing = ada.get(&format!("/orgs/{}/builder", oakallow_domain::id::OrgId::generate()), StatusCode::NOT_FOUND).await;
    assert_eq!(theirs.body, missing.body);
}

#[tokio::test]
async fn the_form_offers_blank_rows_on_request() {
    let app = empty_app().await;
    let (web, org) = operator(&app).await;
    let empty = web.get(&format!("/orgs/{org}/builder"), StatusCode::OK).await;
    assert!(empty.shows("id=\"tool0-name\"") && !empty.shows("id=\"tool1-name\""));
    assert!(empty.shows("class=\"empty\"") && !empty.shows("builder-curl"), "an empty form has no document");
    let more = web.get(&builder(&org, &[("tool0.name", "refund"), ("rows", "1"), ("rows", "3")]), StatusCode::OK).await;
    assert!(more.shows(r#"name="tool0.name" value="refund""#) && more.shows("id=\"tool3-name\"") && !more.shows("id=\"tool4-name\""));
    assert!(more.shows(r#"name="rows" value="5""#), "the button asks for two more");
}

#[tokio::test]
#[cfg_attr(not(browser_tests), ignore = "needs chromium and chromedriver")]
async fn in_chromium_the_form_builds_the_document_and_the_page_fits_a_desktop_and_a_phone() {
    let app = empty_app().await;
    let browser = Browser::start().await;
    browser.goto(&format!("{}/sign-up", app.base)).await;
    for (field, text) in
        [("Your name", "Ada Lovelace"), ("Email", "ada@example.com"), ("Password", PASSWORD), ("Organization name", "Acme")]
    {
        browser.fill(field, text).await;
    }
    browser.click("#sign-up").await;
    wait_until("signed up", WAIT, async || browser.url().await.contains("/orgs/org_")).await;
    let org = org_of(browser.url().await.trim_start_matches(&app.base));

    browser.goto(&format!("{}/orgs/{org}/builder", app.base)).await;
    browser.fill("#tool0-name", "refund").await;
    browser.fill("#rule0-tool", "refund").await;
    browser.fill("#rule0-permission", "requires approval").await;
    browser.click("form[aria-label='Compose a policy'] button.primary").await;
    browser.wait_for(Appears::Css("#builder-yaml"), WAIT).await;
    let url = browser.url().await;
    assert!(url.contains("tool0.name=refund") && url.ends_with("#result"), "the composition is in the link: {url}");
    let yaml = browser.text("#builder-yaml").await;
    assert!(yaml.contains("name: refund") && yaml.contains("permission: requires_approval"), "{yaml}");
    assert!(browser.find("button.copy[data-copy='builder-curl']").await.is_displayed().await.unwrap());

    browser.goto(&format!("{}{}", app.base, builder(&org, COMPOSED))).await;
    for width in [1280, 390] {
        browser.screenshot("builder", width).await;
    }
    browser.goto(&format!("{}{}", app.base, builder(&org, &[("rule0.tool", "refund")]))).await;
    browser.wait_for(Appears::Text("choose a permission"), WAIT).await;
    browser.screenshot("builder-invalid", 390).await;
}
