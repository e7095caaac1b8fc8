//! Passkeys over HTTP, without a browser (the browser test registers and signs in with a real
//! authenticator): the ceremonies' options, ceremonies used up by their first answer, expired
//! after five minutes and bound to the browser that started them, refused passkey sign-ins
//! counted against the sign-in limit, and passkeys removable only by their own account.

use oakallow_domain::id::{AccountId, PasskeyId};
use oakallow_domain::org::Account;
use oakallow_service::people::passkeys::CEREMONY_SECONDS;
use oakallow_store::StoredPasskey;
use oakallow_testkit::{Backend, TestApp, TestOptions, WebClient};
use reqwest::StatusCode;
use serde_json::Value;

use super::{PASSWORD, empty_app, operator};

/// An assertion that parses but proves nothing (its user handle is not even an account's).
const BOGUS_ASSERTION: &str = r#"{"id":"AAAA","rawId":"AAAA","type":"public-key","response":{"authenticatorData":"AAAA","clientDataJSON":"AAAA","signature":"AAAA","userHandle":"AAAA"}}"#;
/// A registration answer that parses but does not verify.
const BOGUS_ATTESTATION: &str =
    r#"{"id":"AAAA","rawId":"AAAA","type":"public-key","response":{"attestationObject":"AAAA","clientDataJSON":"AAAA"}}"#;

fn json(page: &oakallow_testkit::WebPage) -> Value {
    serde_json::from_str(&page.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", page.body))
}

/// A browser on the sign-in page: its CSRF token.
async fn at_sign_in(app: &TestApp) -> (WebClient, String) {
    let web = WebClient::new(&app.base);
    let token = web.get("/sign-in", StatusCode::OK).await.csrf();
    (web, token)
}

async fn sign_in_options(web: &WebClient, token: &str, expected: StatusCode) -> Value {
    json(&web.post_raw("/sign-in/passkey/options", &[("_csrf", token)], expected).await)
}

async fn answer(web: &WebClient, token: &str, credential: &str, expected: StatusCode) -> oakallow_testkit::WebPage {
    web.post_raw("/sign-in/passkey", &[("_csrf", token), ("credential", credential), ("next", "/")], expected).await
}

#[tokio::test]
async fn the_options_name_this_site_and_ask_for_a_verified_discoverable_passkey() {
    let app = empty_app().await;
    let (web, _) = operator(&app).await;
    let token = web.get("/account", StatusCode::OK).await.csrf();
    let create = json(&web.post_raw("/account/passkeys/options", &[("_csrf", &token)], StatusCode::OK).await);
    let key = &create["publicKey"];
    assert_eq!(key["rp"]["id"], "localhost", "{create}");
    assert_eq!(key["user"]["name"], "ada@example.com");
    assert_eq!(key["authenticatorSelection"]["residentKey"], "required");
    assert_eq!(key["authenticatorSelection"]["userVerification"], "required");
    assert!(key["challenge"].as_str().is_some_and(|c| c.len() >= 43), "a 256-bit challenge: {create}");
    assert!(!create.to_string().contains("state"), "the ceremony's state stays on the server");

    let (stranger, token) = at_sign_in(&app).await;
    let get = sign_in_options(&stranger, &token, StatusCode::OK).await;
    assert_eq!(get["publicKey"]["rpId"], "localhost", "{get}");
    assert_eq!(get["publicKey"]["userVerification"], "required");
    assert_eq!(get["publicKey"]["allowCredentials"], serde_json::json!([]), "any passkey of this site");
    assert!(get.get("mediation").is_none_or(Value::is_null), "asked for when the person presses the button: {get}");

    // Only with the page's token; and registering needs a session.
    stranger.post_raw("/sign-in/passkey/options", &[], StatusCode::FORBIDDEN).await;
    let refused = json(&stranger.post_raw("/account/passkeys/options", &[("_csrf", &token)], StatusCode::UNAUTHORIZED).await);
    assert!(refused["error"].is_string(), "{refused}");
}

#[tokio::test]
async fn a_sign_in_ceremony_is_used_up_by_its_first_answer_and_expires_after_five_minutes() {
    sign_in_ceremonies_are_single_use_and_expire(Backend::Sqlite).await;
}

#[tokio::test]
#[cfg_attr(not(postgres_tests), ignore = "needs PostgreSQL: set OAKALLOW_TEST_POSTGRES_URL when building the tests")]
async fn a_sign_in_ceremony_is_used_up_by_its_first_answer_and_expires_after_five_minutes_postgres() {
    sign_in_ceremonies_are_single_use_and_expire(Backend::Postgres).await;
}

async fn sign_in_ceremonies_are_single_use_and_expire(backend: Backend) {
    let mut options = TestOptions::new(backend).empty().manual_clock();
    options.config.accounts.sign_in_attempts_per_minute = 0;
    let app = TestApp::start_with(options).await;
    let (web, token) = at_sign_in(&app).await;

    // Nothing started: refused as such. Then the first answer uses the ceremony up, wrong as it is.
    let page = answer(&web, &token, BOGUS_ASSERTION, StatusCode::BAD_REQUEST).await;
    assert!(page.shows("expired or was used already"), "{}", page.body);
    sign_in_options(&web, &token, StatusCode::OK).await;
    let page = answer(&web, &token, BOGUS_ASSERTION, StatusCode::UNAUTHORIZED).await;
    assert!(page.shows("That passkey is not registered here"), "{}", page.body);
    assert!(answer(&web, &token, BOGUS_ASSERTION, StatusCode::BAD_REQUEST).await.shows("expired or was used already"));

    // Unreadable answers and forms without one are 400s.
    sign_in_options(&web, &token, StatusCode::OK).await;
    assert!(answer(&web, &token, "{not json", StatusCode::BAD_REQUEST).await.shows("could not be read"));
    assert!(web.post_raw("/sign-in/passkey", &[("_csrf", &token)], StatusCode::BAD_REQUEST).await.shows("need JavaScript"));

    // Five minutes: a second before the end the ceremony is still there, at the end it is not.
    sign_in_options(&web, &token, StatusCode::OK).await;
    app.advance(CEREMONY_SECONDS - 1);
    answer(&web, &token, BOGUS_ASSERTION, StatusCode::UNAUTHORIZED).await;
    sign_in_options(&web, &token, StatusCode::OK).await;
    app.advance(CEREMONY_SECONDS);
    assert!(answer(&web, &token, BOGUS_ASSERTION, StatusCode::BAD_REQUEST).await.shows("expired or was used already"));

    // Another browser cannot answer this one's ceremony, nor use it up.
    sign_in_options(&web, &token, StatusCode::OK).await;
    let (other, other_token) = at_sign_in(&app).await;
    assert!(answer(&other, &other_token, BOGUS_ASSERTION, StatusCode::BAD_REQUEST).await.shows("expired or was used already"));
    answer(&web, &token, BOGUS_ASSERTION, StatusCode::UNAUTHORIZED).await;
}

#[tokio::test]
async fn refused_passkey_sign_ins_count_against_the_sign_in_limit() {
    let app = TestApp::start_with(TestOptions::new(Backend::Sqlite).empty().manual_clock()).await;
    let _ = operator(&app).await;
    let (web, token) = at_sign_in(&app).await;
    for _ in 0..oakallow_service::config::AccountsConfig::default().sign_in_attempts_per_minute {
        sign_in_options(&web, &token, StatusCode::OK).await;
        answer(&web, &token, BOGUS_ASSERTION, StatusCode::UNAUTHORIZED).await;
    }
    let refused = sign_in_options(&web, &token, StatusCode::TOO_MANY_REQUESTS).await;
    assert!(refused["error"].as_str().is_some_and(|e| e.contains("Too many")), "{refused}");
    let page = answer(&web, &token, BOGUS_ASSERTION, StatusCode::TOO_MANY_REQUESTS).await;
    assert!(page.shows("Too many failed sign-ins"), "{}", page.body);
    // The same count as password sign-ins: from this address, the right password waits too.
    let fields = [("_csrf", token.as_str()), ("email", "ada@example.com"), ("password", PASSWORD)];
    web.post_raw("/sign-in", &fields, StatusCode::TOO_MANY_REQUESTS).await;
    app.advance(61);
    sign_in_options(&web, &token, StatusCode::OK).await;
}

#[tokio::test]
async fn a_registration_is_bound_to_the_session_that_started_it_and_used_up_once() {
    let app = empty_app().await;
    let (first, _) = operator(&app).await;
    let second = WebClient::new(&app.base);
    second.sign_in("ada@example.com", PASSWORD).await;
    let token = first.get("/account", StatusCode::OK).await.csrf();
    let other_token = second.get("/account", StatusCode::OK).await.csrf();
    first.post_raw("/account/passkeys/options", &[("_csrf", &token)], StatusCode::OK).await;

    // The same account's other session has no ceremony of its own, and does not use this one up.
    let add = |token: &str| vec![("_csrf", token.to_owned()), ("name", "Laptop".to_owned()), ("credential", BOGUS_ATTESTATION.to_owned())];
    assert!(flash(&second, add(&other_token)).await.contains("expired or was used already"));
    // A bad name is refused before the ceremony is touched.
    let unnamed = vec![("_csrf", token.clone()), ("name", " ".to_owned()), ("credential", BOGUS_ATTESTATION.to_owned())];
    assert!(flash(&first, unnamed).await.contains("name must be 1 to 60 characters"));
    assert!(flash(&first, add(&token)).await.contains("could not be verified"));
    assert!(flash(&first, add(&token)).await.contains("expired or was used already"), "used up by the wrong answer");
    assert!(flash(&first, vec![("_csrf", token.clone()), ("name", "Laptop".to_owned())]).await.contains("need JavaScript"));
    let account = app.store.account_by_email("ada@example.com").await.unwrap().unwrap();
    assert_eq!(app.store.passkeys(account.id).await.unwrap(), vec![]);
}

/// Submits the "Add a passkey" form with `fields`; answers the account page it leads back to.
async fn flash(web: &WebClient, fields: Vec<(&str, String)>) -> String {
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let back = web.post_raw("/account/passkeys", &fields, StatusCode::SEE_OTHER).await;
    assert_eq!(back.location.as_deref(), Some("/account"));
    web.get("/account", StatusCode::OK).await.body
}

fn stored(account: AccountId, name: &str, credential_id: &[u8]) -> StoredPasskey {
    StoredPasskey {
        id: PasskeyId::generate(),
        account_id: account,
        name: name.into(),
        credential_id: credential_id.to_vec(),
        credential: "{}".into(),
        created_at: oakallow_domain::Timestamp::from_micros(1_790_000_000_000_000),
        last_used_at: None,
    }
}

#[tokio::test]
async fn only_its_own_account_sees_and_removes_a_passkey() {
    own_passkeys_only(Backend::Sqlite).await;
}

#[tokio::test]
#[cfg_attr(not(postgres_tests), ignore = "needs PostgreSQL: set OAKALLOW_TEST_POSTGRES_URL when building the tests")]
async fn only_its_own_account_sees_and_removes_a_passkey_postgres() {
    own_passkeys_only(Backend::Postgres).await;
}

async fn own_passkeys_only(backend: Backend) {
    let app = TestApp::start_with(TestOptions::new(backend).empty()).await;
    let (web, _) = operator(&app).await;
    let ada = app.store.account_by_email("ada@example.com").await.unwrap().unwrap();
    let bob = Account { id: AccountId::generate(), email: "bob@example.com".into(), name: "Bob".into(), created_at: ada.created_at };
    app.store.create_account(&bob, None, None).await.unwrap();
    let (adas, bobs) = (stored(ada.id, "Ada's <laptop>", &[1, 2, 3]), stored(bob.id, "Bob's phone", &[4, 5, 6]));
    app.store.add_passkey(&adas).await.unwrap();
    app.store.add_passkey(&bobs).await.unwrap();

    let page = web.get("/account", StatusCode::OK).await;
    assert!(page.shows("Ada&#39;s &#60;laptop&#62;") && !page.shows("Bob&#39;s phone"), "{}", page.body);
    let token = page.csrf();
    for id in [bobs.id.to_string(), "pkey_nonsense".to_owned(), adas.id.to_string().replace("pkey_", "ses_")] {
        web.post_raw(&format!("/account/passkeys/{id}/remove"), &[("_csrf", &token)], StatusCode::NOT_FOUND).await;
    }
    assert_eq!(app.store.passkeys(bob.id).await.unwrap(), vec![bobs]);
    web.post_raw(&format!("/account/passkeys/{}/remove", adas.id), &[("_csrf", &token)], StatusCode::SEE_OTHER).await;
    assert!(web.get("/account", StatusCode::OK).await.shows("Passkey removed"));
    assert_eq!(app.store.passkeys(ada.id).await.unwrap(), vec![]);
    web.post_raw(&format!("/account/passkeys/{}/remove", adas.id), &[("_csrf", &token)], StatusCode::NOT_FOUND).await;
}
