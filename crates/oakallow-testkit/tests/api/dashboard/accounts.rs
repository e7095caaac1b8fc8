//! Accounts and sessions (issue 8, "Security tests"): the first account is the operator and
//! later sign-ups need an invitation; CSRF; session rotation at sign-in; signed-out sessions stay
//! dead; argon2id hashes; the sign-in throttle; cookie attributes; and org isolation.

use oakallow_domain::id::AccountId;
use oakallow_testkit::WebClient;
use reqwest::StatusCode;

use super::{PASSWORD, empty_app, operator, org_of};

#[tokio::test]
async fn the_first_sign_up_is_the_operator_and_lands_in_its_new_orgs_quickstart() {
    let app = empty_app().await;
    let web = WebClient::new(&app.base);
    assert_eq!(web.get("/", StatusCode::SEE_OTHER).await.location.as_deref(), Some("/sign-up"));
    let page = web.sign_up("Ada@Example.com", "Ada Lovelace", PASSWORD).await;
    let location = page.location.unwrap();
    assert!(location.starts_with("/orgs/org_") && location.ends_with("/quickstart"), "{location}");
    let account = app.store.account_by_email("ada@example.com").await.unwrap().expect("the email is kept lower-cased");
    assert_eq!(app.store.operator().await.unwrap(), Some(account.id));
    assert_eq!(account.name, "Ada Lovelace");
    let overview = web.get(&format!("/orgs/{}/", org_of(&location)), StatusCode::OK).await;
    assert!(overview.shows("Overview") && overview.shows("My org"), "{}", overview.body);
}

#[tokio::test]
async fn after_the_operator_sign_up_needs_an_invitation_by_default() {
    let app = empty_app().await;
    let _ = operator(&app).await;
    let stranger = WebClient::new(&app.base);
    let form = stranger.get("/sign-up", StatusCode::OK).await;
    assert!(form.shows("need an invitation link") && !form.shows("<form"), "{}", form.body);
    // A hand-made POST (with a valid token, from the sign-in page) is refused by the service.
    let token = stranger.get("/sign-in", StatusCode::OK).await.csrf();
    let fields = [("_csrf", token), ("email", "eve@example.com".into()), ("name", "Eve".into()), ("password", PASSWORD.into())];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let refused = stranger.post_raw("/sign-up", &fields, StatusCode::BAD_REQUEST).await;
    assert!(refused.shows("invitation"), "{}", refused.body);
    assert_eq!(app.store.account_by_email("eve@example.com").await.unwrap(), None, "no account was made");
}

#[tokio::test]
async fn passwords_are_stored_as_argon2id_and_never_in_clear() {
    let app = empty_app().await;
    let _ = operator(&app).await;
    let account = app.store.account_by_email("ada@example.com").await.unwrap().unwrap();
    let hash = app.store.password_hash(account.id).await.unwrap().unwrap();
    assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
    assert!(!hash.contains(PASSWORD));
}

#[tokio::test]
async fn a_form_post_without_the_csrf_token_is_refused_and_changes_nothing() {
    let app = empty_app().await;
    let (web, _) = operator(&app).await;
    let before = app.store.account_by_email("ada@example.com").await.unwrap().unwrap();
    let sessions = app.store.live_sessions(before.id, app.now()).await.unwrap().len();
    // A forged cross-site form: the victim's cookies go along, but not the token.
    let forged = web.post_raw("/orgs/new", &[("name", "Evil org")], StatusCode::FORBIDDEN).await;
    assert!(forged.shows("did not come from this dashboard"), "{}", forged.body);
    let wrong = web.post_raw("/sign-out", &[("_csrf", "0".repeat(64).as_str())], StatusCode::FORBIDDEN).await;
    assert!(wrong.location.is_none());
    assert_eq!(app.store.live_sessions(before.id, app.now()).await.unwrap().len(), sessions, "still signed in");
    let orgs = app.store.memberships_of_account(before.id).await.unwrap();
    assert_eq!(orgs.len(), 1, "no org was created");
    // The right token from another origin is refused too.
    let token = web.get("/orgs/new", StatusCode::OK).await.csrf();
    let response = reqwest::Client::new()
        .post(format!("{}/orgs/new", app.base))
        .header("cookie", format!("oak_session={}", web.cookie("oak_session").unwrap()))
        .header("origin", "https://evil.example")
        .form(&[("_csrf", token.as_str()), ("name", "Evil org")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.store.memberships_of_account(before.id).await.unwrap().len(), 1);
}

#[tokio::test]
async fn sign_in_rotates_the_session_and_a_signed_out_session_stays_dead() {
    let app = empty_app().await;
    let (web, org) = operator(&app).await;
    let first = web.cookie("oak_session").unwrap();
    // A session id planted in the browser before sign-in is replaced, never adopted.
    web.set_cookie("oak_session", "planted-by-an-attacker");
    let signed_in = web.sign_in("ada@example.com", PASSWORD).await;
    let second = web.cookie("oak_session").unwrap();
    assert!(second != first && second != "planted-by-an-attacker");
    assert!(signed_in.set_cookies.iter().any(|c| c.starts_with("oak_session=") && c.contains("HttpOnly") && c.contains("SameSite=Lax")));
    web.get(&format!("/orgs/{org}/"), StatusCode::OK).await;

    let token = web.get(&format!("/orgs/{org}/"), StatusCode::OK).await.csrf();
    let out = web.post_raw("/sign-out", &[("_csrf", token.as_str())], StatusCode::SEE_OTHER).await;
    assert_eq!(out.location.as_deref(), Some("/sign-in"));
    assert_eq!(web.cookie("oak_session"), None, "the cookie is dropped");
    // Replaying the signed-out cookie gets the sign-in page, not the org.
    let replay = WebClient::new(&app.base);
    replay.set_cookie("oak_session", &second);
    let bounced = replay.get(&format!("/orgs/{org}/"), StatusCode::SEE_OTHER).await;
    assert!(bounced.location.unwrap().starts_with("/sign-in"));
    // Sign-in ends only the session the browser came with (here the planted one), so the first
    // session, which this browser no longer sent, is still live until it is signed out itself.
    let other = WebClient::new(&app.base);
    other.set_cookie("oak_session", &first);
    other.get(&format!("/orgs/{org}/"), StatusCode::OK).await;
}

#[tokio::test]
async fn cookies_are_secure_behind_a_tls_proxy() {
    let app = empty_app().await;
    let response = reqwest::Client::new().get(format!("{}/sign-in", app.base)).header("x-forwarded-proto", "https").send().await.unwrap();
    let cookie = response.headers().get("set-cookie").unwrap().to_str().unwrap().to_owned();
    assert!(cookie.starts_with("oak_pre=") && cookie.contains("; Secure") && cookie.contains("HttpOnly"), "{cookie}");
    let plain = reqwest::Client::new().get(format!("{}/sign-in", app.base)).send().await.unwrap();
    assert!(!plain.headers().get("set-cookie").unwrap().to_str().unwrap().contains("Secure"));
}

#[tokio::test]
async fn the_sixth_bad_password_in_a_minute_is_refused_even_when_right() {
    let app = empty_app().await;
    let _ = operator(&app).await;
    let web = WebClient::new(&app.base);
    for _ in 0..5 {
        let page = web
            .submit("/sign-in", "/sign-in", &[("email", "ada@example.com"), ("password", "wrong password!")], StatusCode::UNAUTHORIZED)
            .await;
        assert!(page.shows("do not match"), "{}", page.body);
    }
    let refused =
        web.submit("/sign-in", "/sign-in", &[("email", "ada@example.com"), ("password", PASSWORD)], StatusCode::TOO_MANY_REQUESTS).await;
    assert!(refused.shows("Too many failed sign-ins"));
    assert_eq!(web.cookie("oak_session"), None, "not signed in");
    // Another account from elsewhere is unaffected; this address is limited for every email.
    let elsewhere = WebClient::new(&app.base);
    elsewhere
        .submit("/sign-in", "/sign-in", &[("email", "nobody@example.com"), ("password", PASSWORD)], StatusCode::TOO_MANY_REQUESTS)
        .await;
}

#[tokio::test]
async fn an_unknown_email_and_a_wrong_password_answer_alike() {
    let app = empty_app().await;
    let _ = operator(&app).await;
    let web = WebClient::new(&app.base);
    let unknown =
        web.submit("/sign-in", "/sign-in", &[("email", "nobody@example.com"), ("password", PASSWORD)], StatusCode::UNAUTHORIZED).await;
    let wrong = web
        .submit("/sign-in", "/sign-in", &[("email", "ada@example.com"), ("password", "not the password")], StatusCode::UNAUTHORIZED)
        .await;
    let message = |body: &str| body.split("role=\"alert\">").nth(1).unwrap().split('<').next().unwrap().to_owned();
    assert_eq!(message(&unknown.body), message(&wrong.body));
}

#[tokio::test]
async fn another_orgs_pages_answer_404_like_orgs_that_do_not_exist() {
    let app = empty_app().await;
    let (ada, ada_org) = operator(&app).await;
    // A second person with their own org (invited into nothing of Ada's).
    let grace_id = AccountId::generate();
    let grace =
        oakallow_domain::org::Account { id: grace_id, email: "grace@example.com".into(), name: "Grace".into(), created_at: app.now() };
    app.store.create_account(&grace, None, None).await.unwrap();
    let grace_org = oakallow_domain::org::Org::new(grace_id, "Grace's org".into(), app.now());
    app.store.create_org(&grace_org, &[], vec![]).await.unwrap();

    let theirs = ada.get(&format!("/orgs/{}/", grace_org.id), StatusCode::NOT_FOUND).await;
    let missing = ada.get(&format!("/orgs/{}/", oakallow_domain::id::OrgId::generate()), StatusCode::NOT_FOUND).await;
    assert_eq!(theirs.body, missing.body, "indistinguishable");
    assert!(!theirs.shows("Grace"));
    ada.get(&format!("/orgs/{ada_org}/"), StatusCode::OK).await;
}

#[tokio::test]
async fn signed_out_visitors_are_sent_to_sign_in_and_back() {
    let app = empty_app().await;
    let (_, org) = operator(&app).await;
    let web = WebClient::new(&app.base);
    let bounced = web.get(&format!("/orgs/{org}/"), StatusCode::SEE_OTHER).await;
    let location = bounced.location.unwrap();
    assert_eq!(location, format!("/sign-in?next=%2Forgs%2F{org}%2F"));
    let page = web.get(&location, StatusCode::OK).await;
    let fields =
        [("_csrf", page.csrf()), ("email", "ada@example.com".into()), ("password", PASSWORD.into()), ("next", format!("/orgs/{org}/"))];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let signed_in = web.post_raw("/sign-in", &fields, StatusCode::SEE_OTHER).await;
    assert_eq!(signed_in.location, Some(format!("/orgs/{org}/")));
    // An off-site `next` is ignored.
    let token = web.get("/sign-in?next=//evil.example", StatusCode::OK).await.csrf();
    let fields = [("_csrf", token.as_str()), ("email", "ada@example.com"), ("password", PASSWORD), ("next", "//evil.example")];
    assert_eq!(web.post_raw("/sign-in", &fields, StatusCode::SEE_OTHER).await.location.as_deref(), Some("/"));
}

#[tokio::test]
async fn a_browser_gets_pages_and_an_api_client_gets_envelopes() {
    let app = empty_app().await;
    let html = reqwest::Client::new().get(format!("{}/no-such-page", app.base)).header("accept", "text/html").send().await.unwrap();
    assert_eq!(html.status(), StatusCode::NOT_FOUND);
    assert!(html.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let api = reqwest::Client::new().get(format!("{}/v1/no-such-thing", app.base)).header("accept", "text/html").send().await.unwrap();
    assert_eq!(api.status(), StatusCode::NOT_FOUND);
    assert!(api.headers()["content-type"].to_str().unwrap().starts_with("application/json"), "the API answers JSON whatever the Accept");
    let page = reqwest::Client::new().get(format!("{}/sign-in", app.base)).send().await.unwrap();
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(page.headers()["cache-control"], "no-store");
}
