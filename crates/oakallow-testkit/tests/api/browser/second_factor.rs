//! Second factors in Chromium (issue 11, "Must show" 1): the org's "second factor required for
//! approvers" setting turned on from the settings page blocks an approver without one; TOTP is
//! enrolled by reading the secret off the account page (its QR code renders) and typing a code
//! computed here; after signing out, the password alone does not sign in, a code does; and a
//! recovery code works once and never again. The server runs on the manual clock, so each code
//! belongs to a step of the test's choosing.

use std::time::Duration;

use oakallow_domain::totp::{TotpSecret, step_at};
use oakallow_testkit::{Appears, Backend, Browser, TestApp, TestOptions};

use crate::dashboard::ops::{ask, standard_key, tool};

const WAIT: Duration = Duration::from_secs(20);
const PASSWORD: &str = "correct horse battery";

async fn sign_in(browser: &Browser, app: &TestApp) {
    browser.goto(&format!("{}/sign-in", app.base)).await;
    browser.wait_for(Appears::Css("#sign-in"), WAIT).await;
    browser.fill("#email", "ada@example.com").await;
    browser.fill("#password", PASSWORD).await;
    browser.click("#sign-in").await;
    browser.wait_for(Appears::Css("#verify"), WAIT).await;
}

async fn type_code(browser: &Browser, code: &str) {
    browser.fill("#code", code).await;
    browser.click("#verify").await;
}

async fn sign_out(browser: &Browser, app: &TestApp) {
    browser.goto(&format!("{}/account", app.base)).await;
    browser.wait_for(Appears::Css("#sign-out"), WAIT).await;
    browser.click("#sign-out").await;
    browser.wait_for(Appears::Css("#sign-in"), WAIT).await;
}

#[tokio::test]
#[cfg_attr(not(browser_tests), ignore = "needs chromium and chromedriver")]
async fn an_approver_needs_a_second_factor_then_signs_in_with_totp_and_a_recovery_code_once() {
    let app = TestApp::start_with(TestOptions::new(Backend::Sqlite).empty().manual_clock()).await;
    let browser = Browser::start().await;
    browser.goto(&app.base).await;
    browser.wait_for(Appears::Css("#sign-up"), WAIT).await;
    browser.fill("#name", "Ada Lovelace").await;
    browser.fill("#email", "ada@example.com").await;
    browser.fill("#password", PASSWORD).await;
    browser.click("#sign-up").await;
    browser.wait_for(Appears::Css("#create-quickstart-keys"), WAIT).await;
    let url = browser.url().await;
    let org = url.split("/orgs/").nth(1).and_then(|rest| rest.split('/').next()).unwrap().to_owned();

    // The owner requires a second factor of approvers, and has none herself yet.
    browser.goto(&format!("{}/orgs/{org}/settings", app.base)).await;
    browser.wait_for(Appears::Css("#second_factor_required"), WAIT).await;
    browser.click("#second_factor_required").await;
    browser.click("#save-second-factor").await;
    browser.wait_for(Appears::Text("Approvers now need a second factor to decide."), WAIT).await;
    let session = browser.cookie("oak_session").await.unwrap();
    let owner = app.service.member(&app.service.signed_in(&session).await.unwrap(), &org).await.unwrap();
    let key = standard_key(&app, &owner).await;
    tool(&app, &owner, "refund", "high", false).await;
    let id = ask(&app, &key, "refund", "Parcel lost").await["id"].as_str().unwrap().to_owned();
    browser.goto(&format!("{}/orgs/{org}/approvals", app.base)).await;
    browser.wait_for(Appears::Css("#second-factor-required"), WAIT).await;
    browser.click(&format!("#approve-{id}")).await;
    browser.wait_for(Appears::Text("set it up on your account page"), WAIT).await;
    assert_eq!(app.get(&format!("/v1/approvals/{id}"), &key).await.1["status"], "pending", "refused, nothing decided");

    // Enrol: the secret read off the page, the QR code drawn, a code computed here.
    browser.goto(&format!("{}/account", app.base)).await;
    browser.wait_for(Appears::Css("#start-totp"), WAIT).await;
    browser.click("#start-totp").await;
    browser.wait_for(Appears::Css("#totp-secret"), WAIT).await;
    let qr_drawn = browser.run("const img = document.getElementById('totp-qr'); return img.complete && img.naturalWidth > 0", vec![]).await;
    assert_eq!(qr_drawn, true, "the QR code renders under the page's CSP");
    let secret = TotpSecret::from_base32(&browser.text("#totp-secret").await).unwrap();
    browser.fill("#totp-code", &secret.code_at_step(step_at(app.now()))).await;
    browser.click("#confirm-totp").await;
    browser.wait_for(Appears::Css("#recovery-codes"), WAIT).await;
    let codes = browser.run("return [...document.querySelectorAll('#recovery-codes code')].map(c => c.textContent)", vec![]).await;
    let codes: Vec<String> = serde_json::from_value(codes).unwrap();
    assert_eq!(codes.len(), 10);

    // Now the approval can be decided.
    browser.goto(&format!("{}/orgs/{org}/approvals", app.base)).await;
    browser.wait_for(Appears::Css(&format!("#approve-{id}")), WAIT).await;
    browser.click(&format!("#approve-{id}")).await;
    browser.wait_for(Appears::Text("approved."), WAIT).await;
    assert_eq!(app.get(&format!("/v1/approvals/{id}"), &key).await.1["status"], "approved");

    // Signing in takes the password and then a code.
    sign_out(&browser, &app).await;
    app.advance(30);
    sign_in(&browser, &app).await;
    assert_eq!(browser.cookie("oak_session").await, None, "the password alone signs nobody in");
    type_code(&browser, &secret.code_at_step(step_at(app.now()))).await;
    browser.wait_for(Appears::Css("nav.nav"), WAIT).await;

    // A recovery code works once, and never again.
    sign_out(&browser, &app).await;
    sign_in(&browser, &app).await;
    type_code(&browser, &codes[0]).await;
    browser.wait_for(Appears::Css("nav.nav"), WAIT).await;
    sign_out(&browser, &app).await;
    sign_in(&browser, &app).await;
    type_code(&browser, &codes[0]).await;
    browser.wait_for(Appears::Text("That code is not right"), WAIT).await;
    assert_eq!(browser.cookie("oak_session").await, None);
}
