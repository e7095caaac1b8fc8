//! E-mail over SMTP (issue 11, "Must show 2"): a real SMTP server on loopback (Python's
//! `aiosmtpd`) receives the invitation and the sign-in codes the dashboard sends; the messages are
//! parsed by Python's MIME parser. Links and codes work once; wrong codes void a code; codes
//! expire; an unknown address gets the same answer and no mail; without e-mail settings the pages
//! offer none of it.

use oakallow_testkit::smtp::{DASHBOARD_URL, Mail, SmtpServer};
use oakallow_testkit::{Backend, TestApp, TestOptions, WebClient};
use reqwest::StatusCode;

use super::{PASSWORD, operator};

const ADA: &str = "ada@example.com";

/// An empty app that sends e-mail to a fresh SMTP server.
async fn app_with_email(backend: Backend, manual_clock: bool) -> (TestApp, SmtpServer) {
    let smtp = SmtpServer::start();
    let mut options = TestOptions::new(backend).empty();
    options.manual_clock = manual_clock;
    options.config.email = Some(smtp.email_config());
    (TestApp::start_with(options).await, smtp)
}

/// The path of the link in `mail` that starts with `DASHBOARD_URL` + `prefix`.
fn link_path(mail: &Mail, prefix: &str) -> String {
    let link = mail.line_starting(&format!("{DASHBOARD_URL}{prefix}")).unwrap_or_else(|| panic!("no {prefix} link in:\n{}", mail.body));
    link.strip_prefix(DASHBOARD_URL).unwrap().to_owned()
}

/// The eight-digit code in a sign-in mail.
fn code_of(mail: &Mail) -> String {
    let code = mail.body.lines().map(str::trim).find(|l| l.len() == 8 && l.bytes().all(|b| b.is_ascii_digit()));
    code.unwrap_or_else(|| panic!("no code in:\n{}", mail.body)).to_owned()
}

/// Asks for a sign-in code for `email` from a fresh browser; answers the browser and the page.
async fn ask_for_code(app: &TestApp, email: &str) -> (WebClient, String) {
    let web = WebClient::new(&app.base);
    let page = web.submit("/sign-in", "/sign-in/email", &[("email", email)], StatusCode::OK).await;
    (web, page.body)
}

async fn enter_code(web: &WebClient, email: &str, code: &str, expected: StatusCode) {
    web.submit("/sign-in", "/sign-in/code", &[("email", email), ("code", code)], expected).await;
}

/// Whether `web` is signed in as someone (the account page answers).
async fn signed_in(web: &WebClient) -> bool {
    web.get("/account", StatusCode::OK).await.shows(ADA)
}

/// Every message is plain text, 7-bit throughout (long lines quoted-printable), from the
/// configured sender.
fn plain(mail: &Mail) {
    assert_eq!(mail.content_type, "text/plain", "{mail:?}");
    assert!(mail.seven_bit && ["7bit", "quoted-printable"].contains(&mail.transfer_encoding.as_str()), "{mail:?}");
    assert_eq!(mail.from, "oakallow <oakallow@test.example>");
}

#[tokio::test]
#[cfg_attr(not(python_aiosmtpd), ignore = "needs Python's aiosmtpd: pip install aiosmtpd")]
async fn an_emailed_invitation_arrives_and_its_link_signs_up_the_invitee_once() {
    let (app, smtp) = app_with_email(Backend::Sqlite, false).await;
    let (owner, org) = operator(&app).await;
    let team = owner.get(&format!("/orgs/{org}/team"), StatusCode::OK).await;
    assert!(team.shows("E-mail the link to"), "{}", team.body);
    let fields = [("role", "admin"), ("email", "Grace@Example.com")];
    let page = owner.submit(&format!("/orgs/{org}/team"), &format!("/orgs/{org}/team/invites"), &fields, StatusCode::OK).await;
    assert!(page.shows("The link was e-mailed to Grace@Example.com.") && page.shows("invite-link"), "{}", page.body);

    let mail = smtp.wait_for(1).await.remove(0);
    plain(&mail);
    assert_eq!(mail.rcpt_tos, vec!["grace@example.com"]);
    assert_eq!(mail.subject, "Join My org on oakallow");
    assert!(mail.body.contains("Ada Lovelace invites you") && mail.body.contains("as admin"), "{}", mail.body);
    let path = link_path(&mail, "/invites/");
    assert!(page.shows(&path), "the link shown is the one e-mailed");

    let grace = WebClient::new(&app.base);
    let secret = path.trim_start_matches("/invites/");
    assert_eq!(grace.get(&path, StatusCode::SEE_OTHER).await.location, Some(format!("/sign-up?invite={secret}")));
    let fields = [("email", "grace@example.com"), ("name", "Grace Hopper"), ("password", PASSWORD), ("invite", secret)];
    grace.submit(&format!("/sign-up?invite={secret}"), "/sign-up", &fields, StatusCode::SEE_OTHER).await;
    let grace_id = app.store.account_by_email("grace@example.com").await.unwrap().unwrap().id;
    let joined = app.store.membership(org.parse().unwrap(), grace_id).await.unwrap().unwrap();
    assert_eq!(joined.role.as_str(), "admin");

    let again = WebClient::new(&app.base);
    again.get(&path, StatusCode::NOT_FOUND).await;
    again.get(&format!("/sign-up?invite={secret}"), StatusCode::NOT_FOUND).await;
    assert_eq!(smtp.received().len(), 1);
}

#[tokio::test]
#[cfg_attr(not(python_aiosmtpd), ignore = "needs Python's aiosmtpd: pip install aiosmtpd")]
async fn an_invitation_that_cannot_be_mailed_says_so_and_the_link_still_works() {
    let smtp = SmtpServer::start();
    let mut options = TestOptions::new(Backend::Sqlite).empty();
    let mut config = smtp.email_config();
    // A port nothing listens on (the server is stopped before it is used).
    drop(smtp);
    config.timeout = std::time::Duration::from_secs(2);
    options.config.email = Some(config);
    let app = TestApp::start_with(options).await;
    let (owner, org) = operator(&app).await;
    let bad = owner
        .submit(
            &format!("/orgs/{org}/team"),
            &format!("/orgs/{org}/team/invites"),
            &[("role", "member"), ("email", "not an address")],
            StatusCode::SEE_OTHER,
        )
        .await;
    assert_eq!(bad.location, Some(format!("/orgs/{org}/team")), "refused before any invitation is made");
    let page = owner
        .submit(
            &format!("/orgs/{org}/team"),
            &format!("/orgs/{org}/team/invites"),
            &[("role", "member"), ("email", "grace@example.com")],
            StatusCode::OK,
        )
        .await;
    assert!(page.shows("Not e-mailed: the e-mail could not be sent"), "{}", page.body);
    assert!(page.shows("invite-link"), "the link is shown all the same");
}

/// A sign-in code arrives, signs in once, and is refused the second time (also as a link).
async fn a_code_signs_in_once(backend: Backend) {
    let (app, smtp) = app_with_email(backend, false).await;
    let _ = operator(&app).await;
    let form = WebClient::new(&app.base).get("/sign-in", StatusCode::OK).await;
    assert!(form.shows("E-mail me a sign-in code"), "{}", form.body);

    let (web, page) = ask_for_code(&app, "Ada@Example.com").await;
    assert!(page.contains("we e-mailed it a sign-in code"), "{page}");
    let mail = smtp.wait_for(1).await.remove(0);
    plain(&mail);
    assert_eq!((mail.rcpt_tos.clone(), mail.subject.as_str()), (vec![ADA.to_owned()], "Your oakallow sign-in code"));
    let code = code_of(&mail);
    enter_code(&web, ADA, &code, StatusCode::SEE_OTHER).await;
    assert!(signed_in(&web).await);

    let thief = WebClient::new(&app.base);
    enter_code(&thief, ADA, &code, StatusCode::UNAUTHORIZED).await;
    thief.get("/account", StatusCode::SEE_OTHER).await;
    let link = link_path(&mail, "/sign-in/email/");
    thief.submit(&link, &link, &[], StatusCode::NOT_FOUND).await;
    thief.get("/account", StatusCode::SEE_OTHER).await;
}

#[tokio::test]
#[cfg_attr(not(python_aiosmtpd), ignore = "needs Python's aiosmtpd: pip install aiosmtpd")]
async fn an_emailed_code_signs_in_once_on_sqlite() {
    a_code_signs_in_once(Backend::Sqlite).await;
}

#[tokio::test]
#[cfg_attr(
    not(all(python_aiosmtpd, postgres_tests)),
    ignore = "needs Python's aiosmtpd (pip install aiosmtpd) and PostgreSQL (set OAKALLOW_TEST_POSTGRES_URL when building the tests)"
)]
async fn an_emailed_code_signs_in_once_on_postgres() {
    a_code_signs_in_once(Backend::Postgres).await;
}

#[tokio::test]
#[cfg_attr(not(python_aiosmtpd), ignore = "needs Python's aiosmtpd: pip install aiosmtpd")]
async fn the_emailed_link_signs_in_once_and_spends_the_code() {
    let (app, smtp) = app_with_email(Backend::Sqlite, false).await;
    let _ = operator(&app).await;
    let _ = ask_for_code(&app, ADA).await;
    let mail = smtp.wait_for(1).await.remove(0);
    let link = link_path(&mail, "/sign-in/email/");

    let web = WebClient::new(&app.base);
    let page = web.get(&link, StatusCode::OK).await;
    assert!(page.shows("sign-in-link"), "opening the link spends nothing: a button does");
    let signed = web.submit(&link, &link, &[], StatusCode::SEE_OTHER).await;
    assert_eq!(signed.location.as_deref(), Some("/"));
    assert!(signed_in(&web).await);

    let again = WebClient::new(&app.base);
    again.submit(&link, &link, &[], StatusCode::NOT_FOUND).await;
    enter_code(&again, ADA, &code_of(&mail), StatusCode::UNAUTHORIZED).await;
    again.get("/account", StatusCode::SEE_OTHER).await;
}

#[tokio::test]
#[cfg_attr(not(python_aiosmtpd), ignore = "needs Python's aiosmtpd: pip install aiosmtpd")]
async fn wrong_codes_void_the_code_and_count_as_failed_sign_ins() {
    let (app, smtp) = app_with_email(Backend::Sqlite, false).await;
    let _ = operator(&app).await;
    let (web, _) = ask_for_code(&app, ADA).await;
    let mail = smtp.wait_for(1).await.remove(0);
    let code = code_of(&mail);
    let wrong = if code == "00000000" { "11111111" } else { "00000000" };
    for _ in 0..3 {
        enter_code(&web, ADA, wrong, StatusCode::UNAUTHORIZED).await;
    }
    enter_code(&web, ADA, &code, StatusCode::UNAUTHORIZED).await;
    web.submit(&link_path(&mail, "/sign-in/email/"), &link_path(&mail, "/sign-in/email/"), &[], StatusCode::NOT_FOUND).await;
    web.get("/account", StatusCode::SEE_OTHER).await;
    // Five failed sign-ins for the address within a minute (the default limit): the sixth
    // attempt, by code or by password, is refused before it is checked.
    enter_code(&web, ADA, wrong, StatusCode::UNAUTHORIZED).await;
    enter_code(&web, ADA, wrong, StatusCode::TOO_MANY_REQUESTS).await;
    web.submit("/sign-in", "/sign-in", &[("email", ADA), ("password", PASSWORD)], StatusCode::TOO_MANY_REQUESTS).await;
}

#[tokio::test]
#[cfg_attr(not(python_aiosmtpd), ignore = "needs Python's aiosmtpd: pip install aiosmtpd")]
async fn codes_expire_and_a_new_code_replaces_the_old_one() {
    let (app, smtp) = app_with_email(Backend::Sqlite, true).await;
    let _ = operator(&app).await;
    let (web, _) = ask_for_code(&app, ADA).await;
    let expired = smtp.wait_for(1).await.remove(0);
    app.advance(600);
    enter_code(&web, ADA, &code_of(&expired), StatusCode::UNAUTHORIZED).await;
    let link = link_path(&expired, "/sign-in/email/");
    web.submit(&link, &link, &[], StatusCode::NOT_FOUND).await;

    let _ = ask_for_code(&app, ADA).await;
    let replaced = smtp.wait_for(2).await.remove(1);
    let _ = ask_for_code(&app, ADA).await;
    let newest = smtp.wait_for(3).await.remove(2);
    enter_code(&web, ADA, &code_of(&replaced), StatusCode::UNAUTHORIZED).await;
    app.advance(599);
    enter_code(&web, ADA, &code_of(&newest), StatusCode::SEE_OTHER).await;
    assert!(signed_in(&web).await, "the newest code works until its ten minutes are up");
}

#[tokio::test]
#[cfg_attr(not(python_aiosmtpd), ignore = "needs Python's aiosmtpd: pip install aiosmtpd")]
async fn an_unknown_address_gets_the_same_answer_and_no_mail() {
    let (app, smtp) = app_with_email(Backend::Sqlite, false).await;
    let _ = operator(&app).await;
    let (_, unknown) = ask_for_code(&app, "nobody@example.com").await;
    let (_, known) = ask_for_code(&app, ADA).await;
    let without = |page: &str, email: &str| {
        let page = page.replace(email, "EMAIL");
        // The CSRF tokens differ (each browser has its own); the rest is the same.
        let marker = "name=\"_csrf\" value=\"";
        page.split(marker).map(|part| part.split_once('"').map_or(part, |(_, rest)| rest).to_owned()).collect::<Vec<_>>()
    };
    assert_eq!(without(&unknown, "nobody@example.com"), without(&known, ADA));
    // The unknown address was answered before the known one was asked for; only the known one's
    // message arrives.
    let mails = smtp.wait_for(1).await;
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].rcpt_tos, vec![ADA]);
    assert_eq!(smtp.received().len(), 1);
}

#[tokio::test]
async fn without_email_settings_no_page_offers_email() {
    let app = TestApp::start_with(TestOptions::new(Backend::Sqlite).empty()).await;
    let (owner, org) = operator(&app).await;
    let team = owner.get(&format!("/orgs/{org}/team"), StatusCode::OK).await;
    assert!(team.shows("Create invitation link") && !team.shows("E-mail the link"), "{}", team.body);
    let visitor = WebClient::new(&app.base);
    let form = visitor.get("/sign-in", StatusCode::OK).await;
    assert!(form.shows("Sign in to oakallow") && !form.shows("E-mail me"), "{}", form.body);
    visitor.submit("/sign-in", "/sign-in/email", &[("email", ADA)], StatusCode::NOT_FOUND).await;
    visitor.submit("/sign-in", "/sign-in/code", &[("email", ADA), ("code", "12345678")], StatusCode::NOT_FOUND).await;
    visitor.get("/sign-in/email/anything", StatusCode::NOT_FOUND).await;
}
