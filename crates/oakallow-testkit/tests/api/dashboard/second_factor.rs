//! Second factors in the dashboard (issue 11): TOTP enrolled from the account page with a code
//! computed here from the secret the page shows, sign-in that asks for it, recovery codes that
//! work once, the org setting that blocks approvers without one, step-up before deciding a
//! critical-risk tool's approval, all on the manual clock; and a passkey counting as the second
//! factor (its real ceremony runs in the browser test).

use oakallow_domain::account::{ApproverLevels, Role};
use oakallow_domain::totp::{TotpSecret, step_at};
use oakallow_testkit::{Backend, TestApp, TestOptions, WebClient};
use reqwest::StatusCode;

use crate::dashboard::ops::{ask, invited, member_of, standard_key, tool};
use crate::dashboard::{PASSWORD, operator};

const CODE_PAGE: &str = "/sign-in/second-factor";

async fn manual_app() -> TestApp {
    TestApp::start_with(TestOptions::new(Backend::Sqlite).empty().manual_clock()).await
}

/// The code an authenticator app shows now.
fn code_now(app: &TestApp, secret: &TotpSecret) -> String {
    secret.code_at_step(step_at(app.now()))
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    text.split(start).nth(1).unwrap_or_else(|| panic!("{start} not in:\n{text}")).split(end).next().unwrap()
}

/// Enrols TOTP for `web` from the account page: the secret read off the page, and the ten
/// recovery codes shown once.
async fn enrol(app: &TestApp, web: &WebClient) -> (TotpSecret, Vec<String>) {
    web.submit("/account", "/account/totp", &[], StatusCode::SEE_OTHER).await;
    let page = web.get("/account", StatusCode::OK).await;
    assert!(page.shows("src=\"data:image/svg+xml;base64,"), "the QR code is an inline image");
    let secret = TotpSecret::from_base32(between(&page.body, "id=\"totp-secret\">", "<")).unwrap();
    let wrong = web.submit("/account", "/account/totp/confirm", &[("code", "000000")], StatusCode::SEE_OTHER).await;
    assert_eq!(wrong.location.as_deref(), Some("/account#second-factor"));
    assert!(web.get("/account", StatusCode::OK).await.shows("id=\"totp-secret\""), "a wrong code does not turn it on");
    let shown = web.submit("/account", "/account/totp/confirm", &[("code", &code_now(app, &secret))], StatusCode::OK).await;
    let list = between(&shown.body, "id=\"recovery-codes\">", "</ul>");
    let codes: Vec<String> = list.split("<code>").skip(1).map(|c| c.split('<').next().unwrap().to_owned()).collect();
    (secret, codes)
}

async fn sign_out(web: &WebClient) {
    web.submit("/account", "/sign-out", &[], StatusCode::SEE_OTHER).await;
}

/// Signs in with the password and answers the code page's answer to `code`.
async fn sign_in_with(web: &WebClient, code: &str, expected: StatusCode) -> oakallow_testkit::WebPage {
    let step = web.sign_in("ada@example.com", PASSWORD).await;
    assert_eq!(step.location.as_deref(), Some("/sign-in/second-factor?next=%2F"), "the password alone does not sign in");
    assert!(web.cookie("oak_session").is_none());
    web.submit(CODE_PAGE, CODE_PAGE, &[("code", code)], expected).await
}

#[tokio::test]
async fn totp_is_enrolled_from_the_page_and_asked_for_at_every_sign_in() {
    let app = manual_app().await;
    let (ada, _org) = operator(&app).await;
    assert!(ada.get("/account", StatusCode::OK).await.shows("id=\"start-totp\""));
    let (secret, codes) = enrol(&app, &ada).await;
    assert_eq!(codes.len(), 10);
    assert!(codes.iter().all(|c| c.len() == 19), "{codes:?}");
    let account = ada.get("/account", StatusCode::OK).await;
    assert!(account.shows("<span id=\"recovery-left\">10</span>") && !account.shows("id=\"totp-secret\""), "the secret is not shown again");

    sign_out(&ada).await;
    let replayed = sign_in_with(&ada, &code_now(&app, &secret), StatusCode::UNAUTHORIZED).await;
    assert!(replayed.shows("That code is not right"), "the step used to enrol does not work again");
    ada.get("/account", StatusCode::SEE_OTHER).await;
    app.advance(30);
    let pending = ada.cookie("oak_pending").unwrap();
    let done = ada.submit(CODE_PAGE, CODE_PAGE, &[("code", &code_now(&app, &secret))], StatusCode::SEE_OTHER).await;
    assert_eq!(done.location.as_deref(), Some("/"));
    assert!(ada.cookie("oak_session").is_some() && ada.cookie("oak_pending").is_none());
    ada.get("/account", StatusCode::OK).await;

    let replay = WebClient::new(&app.base);
    replay.set_cookie("oak_pending", &pending);
    assert_eq!(replay.get(CODE_PAGE, StatusCode::SEE_OTHER).await.location.as_deref(), Some("/sign-in"), "the step works once");
}

#[tokio::test]
async fn a_recovery_code_works_once_and_new_codes_void_the_old() {
    let app = manual_app().await;
    let (ada, _org) = operator(&app).await;
    let (secret, codes) = enrol(&app, &ada).await;
    sign_out(&ada).await;
    sign_in_with(&ada, &codes[0], StatusCode::SEE_OTHER).await;
    sign_out(&ada).await;
    let again = sign_in_with(&ada, &codes[0], StatusCode::UNAUTHORIZED).await;
    assert!(again.shows("That code is not right"), "never twice");
    let typed = codes[1].to_lowercase().replace('-', " ");
    ada.submit(CODE_PAGE, CODE_PAGE, &[("code", &typed)], StatusCode::SEE_OTHER).await;
    assert!(ada.get("/account", StatusCode::OK).await.shows("<span id=\"recovery-left\">8</span>"));

    app.advance(30);
    let fresh = ada.submit("/account", "/account/recovery-codes", &[("code", &code_now(&app, &secret))], StatusCode::OK).await;
    assert!(fresh.shows("id=\"recovery-codes\"") && !fresh.shows(&codes[2]));
    assert!(ada.get("/account", StatusCode::OK).await.shows("<span id=\"recovery-left\">10</span>"));
    sign_out(&ada).await;
    sign_in_with(&ada, &codes[2], StatusCode::UNAUTHORIZED).await;
}

#[tokio::test]
async fn codes_are_rate_limited_and_a_pending_step_expires() {
    let app = manual_app().await;
    let (ada, _org) = operator(&app).await;
    let (secret, _codes) = enrol(&app, &ada).await;
    sign_out(&ada).await;
    app.advance(61); // past the minute of the wrong code typed while enrolling
    sign_in_with(&ada, "123456", StatusCode::UNAUTHORIZED).await;
    for _ in 0..4 {
        ada.submit(CODE_PAGE, CODE_PAGE, &[("code", "not-a-code")], StatusCode::UNAUTHORIZED).await;
    }
    let limited = ada.submit(CODE_PAGE, CODE_PAGE, &[("code", &code_now(&app, &secret))], StatusCode::TOO_MANY_REQUESTS).await;
    assert!(limited.shows("role=\"alert\""));
    app.advance(61);
    ada.submit(CODE_PAGE, CODE_PAGE, &[("code", &code_now(&app, &secret))], StatusCode::SEE_OTHER).await;

    sign_out(&ada).await;
    ada.sign_in("ada@example.com", PASSWORD).await;
    let token = ada.get(CODE_PAGE, StatusCode::OK).await.csrf();
    app.advance(301);
    assert_eq!(ada.get(CODE_PAGE, StatusCode::SEE_OTHER).await.location.as_deref(), Some("/sign-in"));
    let late = ada.post_raw(CODE_PAGE, &[("_csrf", &token), ("code", &code_now(&app, &secret))], StatusCode::SEE_OTHER).await;
    assert_eq!(late.location.as_deref(), Some("/sign-in"), "an expired step signs nobody in");
    assert!(ada.cookie("oak_session").is_none());
}

#[tokio::test]
async fn removing_totp_takes_a_code_or_the_password() {
    let app = manual_app().await;
    let (ada, _org) = operator(&app).await;
    enrol(&app, &ada).await;
    ada.submit("/account", "/account/totp/remove", &[("proof", "wrong password")], StatusCode::SEE_OTHER).await;
    assert!(ada.get("/account", StatusCode::OK).await.shows("id=\"remove-totp\""), "still on");
    ada.submit("/account", "/account/totp/remove", &[("proof", PASSWORD)], StatusCode::SEE_OTHER).await;
    assert!(ada.get("/account", StatusCode::OK).await.shows("id=\"start-totp\""));
    sign_out(&ada).await;
    assert_eq!(ada.sign_in("ada@example.com", PASSWORD).await.location.as_deref(), Some("/"), "the password alone again");
}

#[tokio::test]
async fn the_org_setting_blocks_an_approver_without_a_second_factor() {
    let app = manual_app().await;
    let (ada, org) = operator(&app).await;
    let owner = member_of(&app, &ada, &org).await;
    let key = standard_key(&app, &owner).await;
    tool(&app, &owner, "refund", "high", false).await;
    let approver = ApproverLevels { level1: true, level2: false };
    let grace = invited(&app, &owner, "grace@example.com", Role::Member, approver).await;
    let settings = format!("/orgs/{org}/settings");
    let action = format!("/orgs/{org}/settings/second-factor");
    grace.submit(&settings, &action, &[("second_factor_required", "on")], StatusCode::FORBIDDEN).await;
    ada.submit(&settings, &action, &[("second_factor_required", "on")], StatusCode::SEE_OTHER).await;
    assert!(ada.get(&settings, StatusCode::OK).await.shows("name=\"second_factor_required\" checked"));
    assert!(grace.get(&settings, StatusCode::OK).await.body.contains("Second factor required for approvers</th><td>on"));

    let id = ask(&app, &key, "refund", "Parcel lost").await["id"].as_str().unwrap().to_owned();
    let queue = format!("/orgs/{org}/approvals");
    assert!(grace.get(&queue, StatusCode::OK).await.shows("id=\"second-factor-required\""), "the queue says why");
    let decide = format!("/orgs/{org}/approvals/{id}/decide");
    let refused = grace.submit(&queue, &decide, &[("decision", "approved")], StatusCode::FORBIDDEN).await;
    assert!(refused.shows("account page"), "{}", refused.body);
    assert_eq!(app.get(&format!("/v1/approvals/{id}"), &key).await.1["status"], "pending");

    enrol(&app, &grace).await;
    assert!(!grace.get(&queue, StatusCode::OK).await.shows("id=\"second-factor-required\""));
    grace.submit(&queue, &decide, &[("decision", "approved")], StatusCode::SEE_OTHER).await;
    assert_eq!(app.get(&format!("/v1/approvals/{id}"), &key).await.1["status"], "approved");
}

#[tokio::test]
async fn deciding_a_critical_tool_asks_again_once_the_step_up_window_has_passed() {
    let app = manual_app().await;
    let (ada, org) = operator(&app).await;
    let owner = member_of(&app, &ada, &org).await;
    let key = standard_key(&app, &owner).await;
    tool(&app, &owner, "wire", "critical", false).await;
    tool(&app, &owner, "refund", "high", false).await;
    let (secret, _codes) = enrol(&app, &ada).await;
    let queue = format!("/orgs/{org}/approvals");
    let status = |id: String| {
        let (app, key) = (&app, &key);
        async move { app.get(&format!("/v1/approvals/{id}"), key).await.1["status"].as_str().unwrap().to_owned() }
    };
    let decide = |id: &str| format!("/orgs/{org}/approvals/{id}/decide");

    let first = ask(&app, &key, "wire", "Supplier").await["id"].as_str().unwrap().to_owned();
    ada.submit(&queue, &decide(&first), &[("decision", "approved")], StatusCode::SEE_OTHER).await;
    assert_eq!(status(first).await, "approved", "verified at enrolment, within the window");

    app.advance(301);
    let second = ask(&app, &key, "wire", "Supplier").await["id"].as_str().unwrap().to_owned();
    let asked = ada.submit(&queue, &decide(&second), &[("decision", "denied"), ("note", "Not this one")], StatusCode::FORBIDDEN).await;
    assert!(asked.shows("id=\"step-up\"") && asked.shows("value=\"denied\"") && asked.shows("value=\"Not this one\""), "{}", asked.body);
    let fields = [("decision", "denied"), ("note", "Not this one"), ("code", "000000")];
    let wrong = ada.submit(&queue, &decide(&second), &fields, StatusCode::FORBIDDEN).await;
    assert!(wrong.shows("role=\"alert\""));
    assert_eq!(status(second.clone()).await, "pending");
    let code = code_now(&app, &secret);
    let fields = [("decision", "denied"), ("note", "Not this one"), ("code", code.as_str())];
    ada.submit(&queue, &decide(&second), &fields, StatusCode::SEE_OTHER).await;
    assert_eq!(status(second).await, "denied");

    app.advance(200);
    let third = ask(&app, &key, "wire", "Supplier").await["id"].as_str().unwrap().to_owned();
    ada.submit(&queue, &decide(&third), &[("decision", "approved")], StatusCode::SEE_OTHER).await;
    assert_eq!(status(third).await, "approved", "the step-up counts for the window");

    app.advance(301);
    let high = ask(&app, &key, "refund", "Parcel lost").await["id"].as_str().unwrap().to_owned();
    ada.submit(&queue, &decide(&high), &[("decision", "approved")], StatusCode::SEE_OTHER).await;
    assert_eq!(status(high).await, "approved", "only critical-risk tools ask again");
}

/// An assertion that parses but proves nothing.
const BOGUS_ASSERTION: &str = r#"{"id":"AAAA","rawId":"AAAA","type":"public-key","response":{"authenticatorData":"AAAA","clientDataJSON":"AAAA","signature":"AAAA","userHandle":"AAAA"}}"#;

#[tokio::test]
async fn a_passkey_alone_is_a_second_factor_until_the_operator_resets_it() {
    let app = manual_app().await;
    let (ada, org) = operator(&app).await;
    let owner = member_of(&app, &ada, &org).await;
    let account = owner.account.clone();
    let passkey = oakallow_store::StoredPasskey {
        id: oakallow_domain::id::PasskeyId::generate(),
        account_id: account.id,
        name: "Laptop".into(),
        credential_id: vec![7; 16],
        credential: "{}".into(),
        created_at: app.now(),
        last_used_at: None,
    };
    app.store.add_passkey(&passkey).await.unwrap();
    app.service.set_second_factor_required(&owner, true).await.unwrap();
    assert!(!app.service.blocked_without_second_factor(&owner).await.unwrap(), "the passkey counts for the org's requirement");

    // The password now leads to the second step, which offers the passkey and no code form.
    sign_out(&ada).await;
    let step = ada.sign_in("ada@example.com", PASSWORD).await;
    assert_eq!(step.location.as_deref(), Some("/sign-in/second-factor?next=%2F"), "the password alone does not sign in");
    let page = ada.get(CODE_PAGE, StatusCode::OK).await;
    assert!(page.shows("id=\"second-factor-passkey\"") && !page.shows("id=\"verify\""), "{}", page.body);
    // An answer with no ceremony behind it is refused, and signs nobody in.
    let refused = ada.submit(CODE_PAGE, CODE_PAGE, &[("credential", BOGUS_ASSERTION)], StatusCode::UNAUTHORIZED).await;
    assert!(refused.shows("expired or was used already"), "{}", refused.body);
    assert!(ada.cookie("oak_session").is_none());
    // The ceremony's options need the pending step's cookie.
    let stranger = WebClient::new(&app.base);
    let token = stranger.get("/sign-in", StatusCode::OK).await.csrf();
    stranger.post_raw("/sign-in/second-factor/passkey/options", &[("_csrf", &token)], StatusCode::NOT_FOUND).await;

    // The operator's reset removes the passkey with the rest: the password alone signs in again.
    let (id, removed) = app.service.reset_second_factor("ada@example.com").await.unwrap();
    assert_eq!((id, removed), (account.id, true));
    assert_eq!(app.store.passkeys(account.id).await.unwrap(), vec![]);
    let fresh = WebClient::new(&app.base);
    assert_eq!(fresh.sign_in("ada@example.com", PASSWORD).await.location.as_deref(), Some("/"));
    assert!(app.service.blocked_without_second_factor(&owner).await.unwrap(), "and the requirement blocks again");
}

#[tokio::test]
async fn the_approvers_setting_is_an_org_setting_in_the_api_and_the_dashboard() {
    let app = manual_app().await;
    let (ada, org) = operator(&app).await;
    let owner = member_of(&app, &ada, &org).await;
    let request = oakallow_service::keys::CreateKeyRequest { name: "ops".into(), tier: oakallow_domain::keys::KeyTier::Management };
    let m = app.service.create_key(&owner.management().unwrap(), request).await.unwrap().key;
    let field = "require_second_factor_for_approvers";
    assert_eq!(app.get("/v1/org", &m).await.1[field], false, "off by default");

    let (status, patched) = app.patch("/v1/org", &m, &serde_json::json!({ field: true })).await;
    assert_eq!((status, &patched[field]), (StatusCode::OK, &serde_json::json!(true)), "{patched}");
    assert_eq!(app.get("/v1/org", &m).await.1[field], true);
    let settings = format!("/orgs/{org}/settings");
    assert!(ada.get(&settings, StatusCode::OK).await.shows("name=\"second_factor_required\" checked"), "the dashboard shows it");
    assert!(
        app.service.blocked_without_second_factor(&owner).await.unwrap(),
        "and the owner, an approver with no second factor, is blocked"
    );
    let (_, changes) = app.get("/v1/activity?type=config.changed", &m).await;
    assert_eq!(changes["data"][0]["details"]["fields"], serde_json::json!([field]), "the change is in the audit trail");

    // The dashboard's switch is the same setting, through the same update.
    ada.submit(&settings, &format!("/orgs/{org}/settings/second-factor"), &[], StatusCode::SEE_OTHER).await;
    assert_eq!(app.get("/v1/org", &m).await.1[field], false);
    let (_, changes) = app.get("/v1/activity?type=config.changed", &m).await;
    assert_eq!(changes["data"][0]["details"]["fields"], serde_json::json!([field]));
    assert_eq!(changes["data"][0]["actor"]["label"], owner.account.id.to_string(), "by the member, recorded by id");

    for bad in [serde_json::json!({ field: "yes" }), serde_json::json!({ field: 1 })] {
        assert_eq!(app.patch("/v1/org", &m, &bad).await.0, StatusCode::BAD_REQUEST, "{bad}");
    }
    assert_eq!(app.patch("/v1/org", &m, &serde_json::json!({ field: true })).await.0, StatusCode::OK);
    let (status, reset) = app.patch("/v1/org", &m, &serde_json::json!({ field: null })).await;
    assert_eq!((status, &reset[field]), (StatusCode::OK, &serde_json::json!(false)), "null resets to the default");
    let (_, verify) = app.get("/v1/activity/verify", &m).await;
    assert_eq!(verify["valid"], true);
}
