//! The dashboard over HTTP, without a browser: accounts and sessions, and each area's pages.
//! (The browser tests drive the same pages in Chromium.)

mod accounts;
mod builder;
mod deletion;
mod email;
pub(crate) mod ops;
mod passkeys;
mod policy;
mod policy_browser;
mod second_factor;
mod setup;

use oakallow_testkit::{Backend, TestApp, TestOptions, WebClient};

/// A good password for tests.
pub(crate) const PASSWORD: &str = "correct horse battery";

/// A server with no account yet.
pub(crate) async fn empty_app() -> TestApp {
    TestApp::start_with(TestOptions::new(Backend::Sqlite).empty()).await
}

/// The org id a sign-up redirected to (`/orgs/{org}/quickstart`).
pub(crate) fn org_of(location: &str) -> String {
    location.trim_start_matches("/orgs/").split('/').next().unwrap().to_owned()
}

/// The operator (first sign-up) of an empty app, signed in, and their org's id.
pub(crate) async fn operator(app: &TestApp) -> (WebClient, String) {
    let web = WebClient::new(&app.base);
    let page = web.sign_up("ada@example.com", "Ada Lovelace", PASSWORD).await;
    let org = org_of(page.location.as_deref().unwrap());
    (web, org)
}
