//! The dashboard in a real browser (issue 8, "Must show" 1 and 4): a person signs up, sets up an
//! org through the forms, watches an agent's approval arrive without reloading and approves it,
//! and the agent's long-poll gets the answer; a member outside the approver group cannot decide;
//! a two-level approval needs two different people. Every page is screenshotted at desktop and
//! phone widths along the way (the screenshot fails if anything overflows the width).

use std::time::Duration;

use oakallow_testkit::{Appears, Backend, Browser, TestApp, TestOptions, WebClient};
use reqwest::StatusCode;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(20);
const PASSWORD: &str = "correct horse battery";

async fn empty_app() -> TestApp {
    TestApp::start_with(TestOptions::new(Backend::Sqlite).empty()).await
}

/// Both widths of the current page, named `name`.
async fn shoot(browser: &Browser, name: &str) {
    for width in [1280, 390] {
        browser.screenshot(name, width).await;
    }
    browser.set_viewport(1280, 900).await;
}

/// Signs up through the form on an empty instance; answers the new org's id.
async fn sign_up(browser: &Browser, app: &TestApp, name: &str, email: &str) -> String {
    browser.goto(&app.base).await;
    browser.wait_for(Appears::Css("#sign-up"), WAIT).await;
    shoot(browser, "sign-up").await;
    browser.fill("#name", name).await;
    browser.fill("#email", email).await;
    browser.fill("#password", PASSWORD).await;
    browser.fill("#org_name", "Payments agent").await;
    browser.click("#sign-up").await;
    browser.wait_for(Appears::Css("#create-quickstart-keys"), WAIT).await;
    let url = browser.url().await;
    url.split("/orgs/").nth(1).and_then(|rest| rest.split('/').next()).expect("the quickstart's URL names the org").to_owned()
}

/// Signs in through the form.
async fn sign_in(browser: &Browser, app: &TestApp, email: &str) {
    browser.goto(&format!("{}/sign-in", app.base)).await;
    browser.fill("#email", email).await;
    browser.fill("#password", PASSWORD).await;
    browser.click("#sign-in").await;
    browser.wait_for(Appears::Css("nav.nav"), WAIT).await;
}

/// Opens `/orgs/{org}/{page}` and waits for `ready`.
async fn open(browser: &Browser, app: &TestApp, org: &str, page: &str, ready: &str) {
    browser.goto(&format!("{}/orgs/{org}/{page}", app.base)).await;
    browser.wait_for(Appears::Css(ready), WAIT).await;
}

/// The agent's side: a check that needs approval, then the approval request.
async fn agent_asks(app: &TestApp, standard: &str, tool: &str) -> String {
    let check =
        app.expect(StatusCode::OK, reqwest::Method::POST, "/v1/check", standard, Some(&json!({"tool": tool, "tenant": "acme"}))).await;
    assert_eq!(check["permission"], "requires_approval", "{check}");
    let request = json!({"tool": tool, "tenant": "acme", "params": {"order": "A-1001", "amount": 250}, "reason": "customer asked for a refund", "check_id": check["check_id"]});
    let approval = app.expect(StatusCode::CREATED, reqwest::Method::POST, "/v1/approvals", standard, Some(&request)).await;
    approval["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
#[cfg_attr(not(browser_tests), ignore = "needs chromium and chromedriver")]
async fn a_person_sets_up_an_org_and_approves_an_agents_call_in_the_browser() {
    let app = empty_app().await;
    let browser = Browser::start().await;
    let org = sign_up(&browser, &app, "Ada Lovelace", "ada@example.com").await;
    assert!(browser.cookie("oak_session").await.is_some());
    shoot(&browser, "quickstart").await;

    // Quickstart: a management and a standard key, shown once.
    browser.click("#create-quickstart-keys").await;
    browser.wait_for(Appears::Css("#standard-key"), WAIT).await;
    let management = browser.text("#management-key").await;
    let standard = browser.text("#standard-key").await;
    assert!(management.starts_with("oak_live_") && standard.starts_with("oak_live_"));
    shoot(&browser, "quickstart-keys").await;

    // A tool, a tenant and a rule, with the forms.
    open(&browser, &app, &org, "tools", "#create-tool").await;
    browser.fill("#name", "refund").await;
    browser.click("#create-tool").await;
    browser.wait_for(Appears::Text("refund"), WAIT).await;
    shoot(&browser, "tools").await;
    open(&browser, &app, &org, "tenants", "#create-tenant").await;
    browser.fill("#external_id", "acme").await;
    browser.click("#create-tenant").await;
    browser.wait_for(Appears::Text("acme"), WAIT).await;
    shoot(&browser, "tenants").await;
    open(&browser, &app, &org, "rules", "#create-rule").await;
    browser.fill("#tenant", "acme").await;
    browser.fill("#tool", "refund").await;
    browser.fill("#permission", "requires_approval").await;
    browser.click("#create-rule").await;
    browser.wait_for(Appears::Text("tenant_tool"), WAIT).await;
    shoot(&browser, "rules").await;
    let rules = app.expect(StatusCode::OK, reqwest::Method::GET, "/v1/rules", &management, None).await;
    assert_eq!(rules["data"][0]["level"], "tenant_tool", "the form wrote the rule the API reads: {rules}");

    // The tester names the level that decides.
    open(&browser, &app, &org, "tester", "#explain").await;
    browser.fill("#tool", "refund").await;
    browser.fill("#tenant", "acme").await;
    browser.click("#explain").await;
    browser.wait_for(Appears::Css("#tester-result #resolved-from"), WAIT).await;
    assert_eq!(browser.text("#resolved-from").await, "tenant_tool");
    shoot(&browser, "tester").await;

    // The queue is open before the agent asks; the approval appears without a reload.
    open(&browser, &app, &org, "approvals", "#pending-approvals").await;
    browser.run("window.__not_reloaded = true", vec![]).await;
    let id = agent_asks(&app, &standard, "refund").await;
    let long_poll = {
        let (http, url, key) = (reqwest::Client::new(), format!("{}/v1/approvals/{id}?wait=60", app.base), standard.clone());
        tokio::spawn(async move { http.get(url).header("X-API-Key", key).send().await.unwrap().json::<Value>().await.unwrap() })
    };
    browser.wait_for(Appears::Css(&format!("#approval-{id}")), WAIT).await;
    assert_eq!(browser.run("return window.__not_reloaded === true", vec![]).await, true, "the page was not reloaded");
    shoot(&browser, "approvals").await;
    browser.fill(&format!("#note-{id}"), "Refund approved by finance").await;
    browser.click(&format!("#approve-{id}")).await;
    let answer = tokio::time::timeout(Duration::from_secs(60), long_poll).await.expect("the long-poll answers").unwrap();
    assert_eq!((answer["status"].as_str(), answer["note"].as_str()), (Some("approved"), Some("Refund approved by finance")), "{answer}");
    let ada = app.store.account_by_email("ada@example.com").await.unwrap().unwrap().id.to_string();
    assert_eq!(answer["decided_by"], ada, "recorded by account id; the pages show the name");
    assert_eq!(answer["decisions"][0]["decider"]["kind"], "user", "{answer}");

    // The activity shows the steps, and the chain is valid.
    open(&browser, &app, &org, "activity", "#chain-status").await;
    assert!(browser.text("#chain-status").await.contains("valid"));
    for step in ["permission.checked", "approval.created", "approval.decided"] {
        browser.wait_for(Appears::Text(step), WAIT).await;
    }
    shoot(&browser, "activity").await;

    // Sign out: back to the sign-in page, and the session is gone.
    let session = browser.cookie("oak_session").await.unwrap();
    browser.click("#sign-out").await;
    browser.wait_for(Appears::Css("#sign-in"), WAIT).await;
    assert_eq!(browser.cookie("oak_session").await, None);
    let replay = WebClient::new(&app.base);
    replay.set_cookie("oak_session", &session);
    replay.get(&format!("/orgs/{org}/"), StatusCode::SEE_OTHER).await;
}

/// A second person in `org`, with `role` and approver groups, who can sign in with [`PASSWORD`].
async fn teammate(app: &TestApp, org: &str, email: &str, name: &str, role: &str, levels: (bool, bool)) {
    use oakallow_domain::account::{ApproverLevels, Membership, Role};
    let account = oakallow_domain::org::Account {
        id: oakallow_domain::id::AccountId::generate(),
        email: email.into(),
        name: name.into(),
        created_at: app.now(),
    };
    app.store.create_account(&account, None, None).await.unwrap();
    app.service.set_password(email, PASSWORD).await.unwrap();
    let membership = Membership {
        org_id: oakallow_domain::id::OrgId::parse(org).unwrap(),
        account_id: account.id,
        role: Role::parse(role).unwrap(),
        approver: ApproverLevels { level1: levels.0, level2: levels.1 },
        created_at: app.now(),
    };
    app.store.put_membership(&membership).await.unwrap();
}

/// The operator's org with a standard key and a `refund` tool that needs approval for `acme`.
async fn org_with_refunds(app: &TestApp, second_level: bool) -> (WebClient, String, String) {
    let web = WebClient::new(&app.base);
    let page = web.sign_up("ada@example.com", "Ada Lovelace", PASSWORD).await;
    let org = page.location.unwrap().trim_start_matches("/orgs/").split('/').next().unwrap().to_owned();
    let keys = web.submit(&format!("/orgs/{org}/quickstart"), &format!("/orgs/{org}/quickstart"), &[], StatusCode::OK).await;
    let raw = |id: &str| {
        let marker = format!("id=\"{id}\"");
        let start = keys.body.find(&marker).unwrap_or_else(|| panic!("no {id} on the quickstart:\n{}", keys.body));
        keys.body[start..].split("oak_live_").nth(1).unwrap()[..32].to_owned()
    };
    let (management, standard) = (format!("oak_live_{}", raw("management-key")), format!("oak_live_{}", raw("standard-key")));
    let tool = json!({"name": "refund", "requires_second_approval": second_level});
    app.expect(StatusCode::CREATED, reqwest::Method::POST, "/v1/tools", &management, Some(&tool)).await;
    app.expect(StatusCode::CREATED, reqwest::Method::POST, "/v1/tenants", &management, Some(&json!({"external_id": "acme"}))).await;
    (web, org, standard)
}

#[tokio::test]
#[cfg_attr(not(browser_tests), ignore = "needs chromium and chromedriver")]
async fn a_member_outside_the_approver_group_sees_no_decision_and_cannot_post_one() {
    let app = empty_app().await;
    let (_, org, standard) = org_with_refunds(&app, false).await;
    teammate(&app, &org, "mo@example.com", "Mo Member", "member", (false, false)).await;
    let id = agent_asks(&app, &standard, "refund").await;

    let browser = Browser::start().await;
    sign_in(&browser, &app, "mo@example.com").await;
    open(&browser, &app, &org, "approvals", &format!("#approval-{id}")).await;
    assert!(
        browser.client().find_all(fantoccini::Locator::Css(&format!("#decide-{id}"))).await.unwrap().is_empty(),
        "no decide form for Mo"
    );
    shoot(&browser, "approvals-member").await;

    // A hand-made POST with Mo's own valid token is refused by the service.
    let mo = WebClient::new(&app.base);
    mo.set_cookie("oak_session", &browser.cookie("oak_session").await.unwrap());
    let token = mo.get(&format!("/orgs/{org}/approvals"), StatusCode::OK).await.csrf();
    let fields = [("_csrf", token.as_str()), ("decision", "approved"), ("note", "sneaky")];
    mo.post_raw(&format!("/orgs/{org}/approvals/{id}/decide"), &fields, StatusCode::FORBIDDEN).await;
    let approval = app.expect(StatusCode::OK, reqwest::Method::GET, &format!("/v1/approvals/{id}"), &standard, None).await;
    assert_eq!(approval["status"], "pending", "nothing was decided: {approval}");
}

#[tokio::test]
#[cfg_attr(not(browser_tests), ignore = "needs chromium and chromedriver")]
async fn two_levels_need_two_different_people() {
    let app = empty_app().await;
    let (_, org, standard) = org_with_refunds(&app, true).await;
    teammate(&app, &org, "lin@example.com", "Lin Second", "member", (false, true)).await;
    let id = agent_asks(&app, &standard, "refund").await;

    // Ada (both groups) decides level 1, then may not decide level 2 herself.
    let ada = Browser::start().await;
    sign_in(&ada, &app, "ada@example.com").await;
    open(&ada, &app, &org, "approvals", &format!("#decide-{id}")).await;
    ada.fill(&format!("#note-{id}"), "first look: fine").await;
    ada.click(&format!("#approve-{id}")).await;
    ada.wait_for(Appears::Text("level 2"), WAIT).await;
    let approval = app.expect(StatusCode::OK, reqwest::Method::GET, &format!("/v1/approvals/{id}"), &standard, None).await;
    assert_eq!((approval["status"].as_str(), approval["level"].as_u64()), (Some("pending"), Some(2)), "{approval}");
    open(&ada, &app, &org, "approvals", &format!("#decide-{id}")).await;
    ada.click(&format!("#approve-{id}")).await;
    ada.wait_for(Appears::Text("different approver"), WAIT).await;
    let approval = app.expect(StatusCode::OK, reqwest::Method::GET, &format!("/v1/approvals/{id}"), &standard, None).await;
    assert_eq!(approval["status"], "pending", "the same person cannot decide both levels: {approval}");

    // Lin, in the level-2 group, decides level 2.
    let lin = Browser::start().await;
    sign_in(&lin, &app, "lin@example.com").await;
    open(&lin, &app, &org, "approvals", &format!("#decide-{id}")).await;
    lin.fill(&format!("#note-{id}"), "second look: fine").await;
    lin.click(&format!("#approve-{id}")).await;
    let approved = async || {
        let approval = app.expect(StatusCode::OK, reqwest::Method::GET, &format!("/v1/approvals/{id}"), &standard, None).await;
        approval["status"] == "approved"
    };
    oakallow_testkit::wait_until("level 2 decided by Lin", WAIT, approved).await;
    let approval = app.expect(StatusCode::OK, reqwest::Method::GET, &format!("/v1/approvals/{id}"), &standard, None).await;
    let deciders: Vec<&str> = approval["decisions"].as_array().unwrap().iter().map(|d| d["decided_by"].as_str().unwrap()).collect();
    let id_of = async |email: &str| app.store.account_by_email(email).await.unwrap().unwrap().id.to_string();
    assert_eq!(deciders, [id_of("ada@example.com").await, id_of("lin@example.com").await], "{approval}");
}

#[tokio::test]
#[cfg_attr(not(browser_tests), ignore = "needs chromium and chromedriver")]
async fn every_page_fits_a_desktop_and_a_phone() {
    let app = empty_app().await;
    let (web, org, standard) = org_with_refunds(&app, true).await;
    let _ = agent_asks(&app, &standard, "refund").await;
    drop(web);
    let browser = Browser::start().await;
    browser.goto(&format!("{}/sign-in", app.base)).await;
    shoot(&browser, "sign-in").await;
    sign_in(&browser, &app, "ada@example.com").await;
    let pages = [
        ("", "overview"),
        ("quickstart", "quickstart-page"),
        ("approvals", "approvals-queue"),
        ("activity", "activity-page"),
        ("tools", "tools-page"),
        ("categories", "categories"),
        ("tenants", "tenants-page"),
        ("resources", "resources"),
        ("methods", "methods"),
        ("rules", "rules-page"),
        ("tester?tool=refund&tenant=acme", "tester-page"),
        ("builder?from=current", "builder"),
        ("keys", "keys"),
        ("webhooks", "webhooks"),
        ("billing", "billing"),
        ("team", "team"),
        ("settings", "settings"),
    ];
    for (path, name) in pages {
        open(&browser, &app, &org, path, "main h1").await;
        let heading = browser.text("main h1").await;
        assert!(!heading.is_empty() && heading != "Not Found", "{name} is a page of its own, not {heading:?}");
        shoot(&browser, name).await;
    }
    for (path, name) in [("/account", "account"), ("/orgs/new", "new-org"), ("/orgs/org_00000000000000000000000000/", "not-found")] {
        browser.goto(&format!("{}{path}", app.base)).await;
        browser.wait_for(Appears::Css("main h1"), WAIT).await;
        shoot(&browser, name).await;
    }
}
