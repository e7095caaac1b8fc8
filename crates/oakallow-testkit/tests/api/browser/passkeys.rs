//! Passkeys in a real browser (issue 11, "Must show" 1): Chromium with a WebDriver virtual
//! authenticator registers a passkey on the account page, signs out, and signs in with the
//! passkey alone (no email, no password); once the passkey is removed from the account, the
//! same authenticator no longer signs in. A passkey is also a second factor: it confirms the
//! step-up before deciding a critical-risk tool's approval, and finishes a password sign-in.

use std::time::Duration;

use oakallow_testkit::{Appears, Backend, Browser, TestApp, TestOptions};

use crate::dashboard::ops::{ask, standard_key, tool};

const WAIT: Duration = Duration::from_secs(20);
const PASSWORD: &str = "correct horse battery";

/// Signs up through the form (the first account of an empty instance).
async fn sign_up(browser: &Browser, site: &str) {
    browser.goto(&format!("{site}/sign-up")).await;
    browser.fill("#name", "Ada Lovelace").await;
    browser.fill("#email", "ada@example.com").await;
    browser.fill("#password", PASSWORD).await;
    browser.fill("#org_name", "Payments agent").await;
    browser.click("#sign-up").await;
    browser.wait_for(Appears::Css("#create-quickstart-keys"), WAIT).await;
}

async fn sign_out(browser: &Browser, site: &str) {
    browser.goto(&format!("{site}/account")).await;
    browser.click("#sign-out").await;
    browser.wait_for(Appears::Css("#sign-in-passkey"), WAIT).await;
    assert_eq!(browser.cookie("oak_session").await.as_deref().unwrap_or(""), "", "signed out");
}

#[tokio::test]
#[cfg_attr(not(browser_tests), ignore = "needs chromium and chromedriver")]
async fn a_passkey_registered_on_the_account_page_signs_in_alone_until_it_is_removed() {
    let app = TestApp::start_with(TestOptions::new(Backend::Sqlite).empty()).await;
    let site = app.public_url();
    let browser = Browser::start().await;
    let authenticator = browser.add_virtual_authenticator().await;
    sign_up(&browser, &site).await;
    let account = app.store.account_by_email("ada@example.com").await.unwrap().unwrap();

    // Register: the authenticator now holds a discoverable credential for this site, and the
    // account has the passkey under its name.
    browser.goto(&format!("{site}/account")).await;
    browser.wait_for(Appears::Css("#no-passkeys"), WAIT).await;
    browser.fill("#passkey-name", "Test laptop").await;
    browser.click("#add-passkey").await;
    browser.wait_for(Appears::Text("Passkey added"), WAIT).await;
    assert!(browser.text("#passkey-list").await.contains("Test laptop"));
    let passkeys = app.store.passkeys(account.id).await.unwrap();
    assert_eq!(passkeys.len(), 1);
    assert_eq!(passkeys[0].last_used_at, None);
    let credentials = browser.virtual_credentials(&authenticator).await;
    assert_eq!(credentials.len(), 1, "{credentials:?}");
    assert_eq!(credentials[0]["isResidentCredential"], true, "a discoverable credential: {credentials:?}");
    assert_eq!(credentials[0]["rpId"], "localhost");
    browser.screenshot("account-passkeys", 1280).await;

    // Sign out, then in with the passkey only: no email or password is typed.
    sign_out(&browser, &site).await;
    browser.click("#sign-in-passkey").await;
    browser.wait_for(Appears::Css("nav.nav"), WAIT).await;
    let session = browser.cookie("oak_session").await.expect("a session cookie");
    let who = app.service.signed_in(&session).await.expect("the cookie signs in");
    assert_eq!(who.account.id, account.id);
    let used = app.store.passkeys(account.id).await.unwrap();
    assert!(used[0].last_used_at.is_some(), "the use is recorded");
    assert_ne!(used[0].credential, passkeys[0].credential, "the signature counter moved on");

    // Remove it: the authenticator still offers the credential, but it signs nobody in.
    browser.goto(&format!("{site}/account")).await;
    browser.click("#passkey-list button[type=submit]").await;
    browser.wait_for(Appears::Text("Passkey removed"), WAIT).await;
    assert_eq!(app.store.passkeys(account.id).await.unwrap(), vec![]);
    sign_out(&browser, &site).await;
    browser.click("#sign-in-passkey").await;
    browser.wait_for(Appears::Text("That passkey is not registered here"), WAIT).await;
    assert_eq!(browser.cookie("oak_session").await.as_deref().unwrap_or(""), "", "still signed out");
    assert_eq!(browser.virtual_credentials(&authenticator).await.len(), 1, "the authenticator was asked again");
}

/// Whether the page has no element matching `css`.
async fn absent(browser: &Browser, css: &str) -> serde_json::Value {
    browser.run("return document.querySelector(arguments[0]) === null", vec![css.into()]).await
}

#[tokio::test]
#[cfg_attr(not(browser_tests), ignore = "needs chromium and chromedriver")]
async fn a_passkey_is_the_second_factor_for_a_step_up_and_after_the_password() {
    let app = TestApp::start_with(TestOptions::new(Backend::Sqlite).empty()).await;
    let site = app.public_url();
    let browser = Browser::start().await;
    browser.add_virtual_authenticator().await;
    sign_up(&browser, &site).await;
    let url = browser.url().await;
    let org = url.split("/orgs/").nth(1).and_then(|rest| rest.split('/').next()).unwrap().to_owned();
    browser.goto(&format!("{site}/account")).await;
    browser.fill("#passkey-name", "Test laptop").await;
    browser.click("#add-passkey").await;
    browser.wait_for(Appears::Text("Passkey added"), WAIT).await;

    // A critical-risk tool's approval: this session never confirmed a second factor, so the
    // decision asks for one; the account has only a passkey, so that is what the page offers.
    let session = browser.cookie("oak_session").await.unwrap();
    let owner = app.service.member(&app.service.signed_in(&session).await.unwrap(), &org).await.unwrap();
    assert!(!app.service.blocked_without_second_factor(&owner).await.unwrap());
    let key = standard_key(&app, &owner).await;
    tool(&app, &owner, "wire", "critical", false).await;
    let id = ask(&app, &key, "wire", "Supplier").await["id"].as_str().unwrap().to_owned();
    browser.goto(&format!("{site}/orgs/{org}/approvals")).await;
    browser.wait_for(Appears::Css(&format!("#approve-{id}")), WAIT).await;
    browser.click(&format!("#approve-{id}")).await;
    browser.wait_for(Appears::Css("#step-up-passkey"), WAIT).await;
    assert_eq!(absent(&browser, "#step-up-code").await, true, "no TOTP, so no code field");
    assert_eq!(app.get(&format!("/v1/approvals/{id}"), &key).await.1["status"], "pending", "not decided yet");
    browser.click("#step-up-passkey").await;
    browser.wait_for(Appears::Text("approved."), WAIT).await;
    assert_eq!(app.get(&format!("/v1/approvals/{id}"), &key).await.1["status"], "approved");
    let who = app.service.signed_in(&session).await.unwrap();
    assert!(app.store.second_factor_at(who.session_id).await.unwrap().is_some(), "the step-up is recorded on the session");

    // The password alone no longer signs in: the second step offers the passkey, which finishes it.
    sign_out(&browser, &site).await;
    browser.fill("#email", "ada@example.com").await;
    browser.fill("#password", PASSWORD).await;
    browser.click("#sign-in").await;
    browser.wait_for(Appears::Css("#second-factor-passkey"), WAIT).await;
    assert_eq!(absent(&browser, "#verify").await, true, "no TOTP, so no code form");
    assert_eq!(browser.cookie("oak_session").await.as_deref().unwrap_or(""), "", "the password alone signs nobody in");
    browser.click("#second-factor-passkey").await;
    browser.wait_for(Appears::Css("nav.nav"), WAIT).await;
    let session = browser.cookie("oak_session").await.expect("a session cookie");
    let who = app.service.signed_in(&session).await.expect("the cookie signs in");
    assert_eq!(who.account.email, "ada@example.com");
    assert!(app.store.second_factor_at(who.session_id).await.unwrap().is_some(), "the session starts with its second factor fresh");
}
