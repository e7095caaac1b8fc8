//! The policy pages in Chromium: a person signs up, fills the create forms by their labels,
//! asks the tester which rule wins, and every page is screenshotted at desktop and phone widths
//! (which also fails if anything sticks out sideways).

use std::time::Duration;

use oakallow_testkit::{Appears, Browser};

use super::{PASSWORD, empty_app};

const WAIT: Duration = Duration::from_secs(10);

/// Screenshots the current page as `name` at 1280 and 390 px.
async fn pictures(browser: &Browser, name: &str) {
    for width in [1280, 390] {
        browser.screenshot(name, width).await;
    }
}

/// Submits the form whose button is `button`, and waits for `flash` on the next page.
async fn submit(browser: &Browser, button: &str, flash: &str) {
    browser.click(button).await;
    browser.wait_for(Appears::Text(flash), WAIT).await;
}

#[tokio::test]
#[cfg_attr(not(browser_tests), ignore = "needs chromium and chromedriver")]
async fn a_person_writes_a_policy_with_the_forms_and_sees_which_rule_wins() {
    let app = empty_app().await;
    let browser = Browser::start().await;
    browser.goto(&format!("{}/sign-up", app.base)).await;
    for (label, text) in [("Your name", "Ada Lovelace"), ("Email", "ada@example.com"), ("Password", PASSWORD)] {
        browser.fill(label, text).await;
    }
    browser.click("#sign-up").await;
    // Sign-up lands on the new org's Quickstart (an error page until that page exists).
    browser.wait_for(Appears::Css("nav.nav, p.error-message"), WAIT).await;
    let org = browser.url().await.split("/orgs/").nth(1).unwrap().split('/').next().unwrap().to_owned();
    let section = |name: &str| format!("{}/orgs/{org}/{name}", app.base);

    browser.goto(&section("tenants")).await;
    pictures(&browser, "policy-tenants-empty").await;
    browser.fill("#external_id", "acme").await;
    browser.fill("Display name", "Acme Inc").await;
    submit(&browser, "#create-tenant", "Tenant acme created.").await;

    browser.goto(&section("categories")).await;
    browser.fill("#name", "payments").await;
    browser.fill("#default_permission", "requires_approval").await;
    submit(&browser, "#create-category", "Category payments created.").await;

    browser.goto(&section("tools")).await;
    browser.fill("#name", "refund").await;
    browser.fill("Description", "Gives a customer's money back; amounts above €100 need a person.").await;
    browser.fill("#category", "payments").await;
    browser.fill("#risk_level", "high").await;
    browser.fill("#parameters_schema", r#"{"type": "object", "properties": {"amount": {"type": "number"}}}"#).await;
    browser.fill("Tags", "money, customer").await;
    browser.click("#destructive").await;
    submit(&browser, "#create-tool", "Tool refund created.").await;
    pictures(&browser, "policy-tools").await;
    browser.click("table.list a").await;
    browser.wait_for(Appears::Css("#save-tool"), WAIT).await;
    pictures(&browser, "policy-tool-edit").await;

    browser.goto(&section("rules")).await;
    browser.fill("#tenant", "acme").await;
    browser.fill("#tool", "refund").await;
    browser.fill("#permission", "allowed").await;
    browser.fill("Note", "Acme's refunds are pre-approved.").await;
    submit(&browser, "#create-rule", "Rule tenant_tool created.").await;
    pictures(&browser, "policy-rules").await;

    browser.goto(&section("tester")).await;
    browser.fill("#tool", "refund").await;
    browser.fill("#tenant", "acme").await;
    browser.click("#explain").await;
    browser.wait_for(Appears::Css("#tester-result"), WAIT).await;
    assert_eq!(browser.text("#resolved-from").await, "tenant_tool");
    assert_eq!(browser.text("#tester-result .badge").await, "allowed");
    pictures(&browser, "policy-tester").await;
    // Without the tenant, the category's default decides.
    browser.fill("#tenant", "").await;
    browser.click("#explain").await;
    browser.wait_for(Appears::Text("category_default"), WAIT).await;
    assert_eq!(browser.text("#tester-result .badge").await, "requires_approval");
}
