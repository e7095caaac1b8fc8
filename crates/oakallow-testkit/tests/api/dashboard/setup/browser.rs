//! The setup pages in Chromium, as an owner uses them: sign up, create the quickstart keys,
//! a key and an invitation with the forms (by their stable ids), and see the settings; each
//! page screenshotted at desktop and phone widths (which also fails if anything sticks out).

use std::time::Duration;

use oakallow_testkit::{Appears, Browser, TestApp};
use reqwest::StatusCode;

use super::super::{PASSWORD, empty_app};

const WAIT: Duration = Duration::from_secs(10);

/// Screenshots the current page as `name` at 1280 and 390 px.
async fn screenshots(browser: &Browser, name: &str) {
    for width in [1280, 390] {
        browser.screenshot(name, width).await;
    }
}

#[tokio::test]
#[cfg_attr(not(browser_tests), ignore = "needs chromium and chromedriver")]
async fn an_owner_sets_up_an_org_in_the_browser() {
    let app = empty_app().await;
    let browser = Browser::start().await;
    browser.goto(&format!("{}/sign-up", app.base)).await;
    browser.fill("Your name", "Ada Lovelace").await;
    browser.fill("Email", "ada@example.com").await;
    browser.fill("Password", PASSWORD).await;
    browser.click("#sign-up").await;
    browser.wait_for(Appears::Css("#create-quickstart-keys"), WAIT).await;
    screenshots(&browser, "setup-quickstart").await;

    browser.click("#create-quickstart-keys").await;
    browser.wait_for(Appears::Css("#standard-key"), WAIT).await;
    let standard = browser.text("#standard-key").await;
    assert!(browser.text("#management-key").await.starts_with("oak_live_"));
    assert_eq!(app.check_with(&standard).await, StatusCode::OK, "the key the page shows works");
    assert!(browser.text("#cmd-check").await.contains(&standard));
    screenshots(&browser, "setup-quickstart-keys").await;

    let org = browser.text("#org-id").await;
    browser.goto(&format!("{}/orgs/{org}/keys", app.base)).await;
    browser.fill("#name", "approvals bot").await;
    browser.fill("#tier", "approver").await;
    browser.click("#create-key").await;
    browser.wait_for(Appears::Css("#new-key"), WAIT).await;
    assert!(browser.text("#new-key").await.starts_with("oak_live_"));
    screenshots(&browser, "setup-keys").await;

    browser.goto(&format!("{}/orgs/{org}/team", app.base)).await;
    browser.fill("#role", "member").await;
    browser.click("#approves_level1").await;
    browser.click("#create-invite").await;
    browser.wait_for(Appears::Css("#invite-link"), WAIT).await;
    let link = browser.text("#invite-link").await;
    assert!(link.starts_with(&format!("{}/invites/", app.base)), "{link}");
    screenshots(&browser, "setup-team").await;

    browser.goto(&format!("{}/orgs/{org}/settings", app.base)).await;
    browser.wait_for(Appears::Css("#save-settings"), WAIT).await;
    screenshots(&browser, "setup-settings").await;

    browser.click("#sign-out").await;
    member_reads(&app, &browser, &link, &org).await;
}

/// Joins through `link` as a member, who sees the setup pages without their forms.
async fn member_reads(app: &TestApp, browser: &Browser, link: &str, org: &str) {
    browser.wait_for(Appears::Css("#email"), WAIT).await;
    browser.goto(link).await;
    browser.fill("Your name", "Grace Hopper").await;
    browser.fill("Email", "grace@example.com").await;
    browser.fill("Password", PASSWORD).await;
    browser.click("#sign-up").await;
    browser.wait_for(Appears::Css("#sign-out"), WAIT).await;
    for (section, absent) in [("team", "#create-invite"), ("keys", "#create-key"), ("settings", "#save-settings")] {
        browser.goto(&format!("{}/orgs/{org}/{section}", app.base)).await;
        browser.wait_for(Appears::Css("h1"), WAIT).await;
        let forms = browser.run("return document.querySelectorAll(arguments[0]).length", vec![absent.into()]).await;
        assert_eq!(forms, 0, "a member sees no {absent} on {section}");
        screenshots(browser, &format!("setup-{section}-member")).await;
    }
}
