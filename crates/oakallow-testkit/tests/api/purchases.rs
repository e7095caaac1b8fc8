//! Buying credit through Stripe Checkout, against a local server that plays Stripe in its
//! documented shapes (`oakallow_testkit::stripe`): the dashboard's checkout ends with the
//! balance credited; a signed event credits once however often it arrives, and different events
//! racing are all credited; bad, stale or missing signatures credit nothing; a paid session that
//! matches no package credits nothing; and Stripe's own Python library agrees with the
//! signature check both ways.

use std::io::Write as _;
use std::process::{Command, Stdio};

use oakallow_domain::clock::{Clock as _, SystemClock};
use oakallow_service::people::OrgMember;
use oakallow_testkit::stripe::{FakeStripe, RefundAnswer, WEBHOOK_SECRET, event};
use oakallow_testkit::{Backend, TestApp, TestOptions};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::dashboard::ops::{invited, member_of, standard_key, token, tool};
use crate::dashboard::{PASSWORD, operator, org_of};

/// A server selling credit through `stripe`.
async fn selling(backend: Backend, stripe: &FakeStripe, empty: bool) -> TestApp {
    let mut options = TestOptions::new(backend);
    options.config.stripe = Some(stripe.config());
    options.empty = empty;
    TestApp::start_with(options).await
}

fn now_seconds() -> i64 {
    SystemClock.now().micros() / 1_000_000
}

/// Posts `body` to `/webhooks/stripe` with `signature` (none if `None`).
async fn deliver(app: &TestApp, body: &[u8], signature: Option<&str>) -> (StatusCode, Value) {
    let mut request = app.request(reqwest::Method::POST, "/webhooks/stripe").header("content-type", "application/json").body(body.to_vec());
    if let Some(signature) = signature {
        request = request.header("stripe-signature", signature);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Delivers `body` signed now, as Stripe would.
async fn deliver_signed(app: &TestApp, body: &[u8]) -> (StatusCode, Value) {
    deliver(app, body, Some(&FakeStripe::sign(body, now_seconds()))).await
}

/// A paid checkout of `package` for the app's account, as the event about it.
fn paid_session(app: &TestApp, stripe_session: &str, package: &str, amount: i64) -> Value {
    json!({
        "id": stripe_session,
        "object": "checkout.session",
        "status": "complete",
        "payment_status": "paid",
        "amount_total": amount,
        "currency": "usd",
        "client_reference_id": app.keys.account_id,
        "metadata": {"account_id": app.keys.account_id, "org_id": app.keys.org_id, "package": package},
        "payment_intent": format!("pi_{stripe_session}"),
    })
}

async fn balance(app: &TestApp) -> i64 {
    app.expect(StatusCode::OK, reqwest::Method::GET, "/v1/billing", &app.keys.management, None).await["balance_microusd"].as_i64().unwrap()
}

async fn purchase_rows(app: &TestApp) -> usize {
    let ledger = app.expect(StatusCode::OK, reqwest::Method::GET, "/v1/billing/ledger?limit=500", &app.keys.management, None).await;
    ledger["data"].as_array().unwrap().iter().filter(|row| row["kind"] == "purchase").count()
}

#[tokio::test]
async fn checkout_from_the_dashboard_ends_with_the_balance_credited() {
    let stripe = FakeStripe::start().await;
    let app = selling(Backend::Sqlite, &stripe, true).await;
    let (ada, org) = operator(&app).await;
    let billing = format!("/orgs/{org}/billing");
    let page = ada.get(&billing, StatusCode::OK).await;
    assert!(page.shows("Buy credit") && page.shows("Buy Starter") && page.shows("$10.00 · 2000 calls"), "{}", page.body);
    assert!(page.shows("No purchases yet."));

    let sent = ada.submit(&billing, &format!("{billing}/checkout"), &[("package", "starter")], StatusCode::SEE_OTHER).await;
    let pay_page = sent.location.unwrap();
    let session_id = pay_page.rsplit('/').next().unwrap().to_owned();
    assert_eq!(pay_page, format!("{}/pay/{session_id}", stripe.base), "the buyer is sent to Stripe's payment page");
    let session = stripe.session(&session_id);
    assert_eq!((session["amount_total"].as_i64(), session["currency"].as_str()), (Some(1_000), Some("usd")));
    assert_eq!(session["metadata"]["package"], "starter");
    assert_eq!(session["metadata"]["org_id"], org);
    assert_eq!(session["client_reference_id"], session["metadata"]["account_id"]);
    assert!(session["success_url"].as_str().unwrap().ends_with(&format!("{billing}?purchase=done")), "{session}");
    assert!(session["cancel_url"].as_str().unwrap().ends_with(&format!("{billing}?purchase=cancelled")));
    assert_eq!(stripe.requests()[0].iter().find(|(k, _)| k == "mode").map(|(_, v)| v.as_str()), Some("payment"));

    let back = ada.get(&format!("{billing}?purchase=done"), StatusCode::OK).await;
    assert!(back.shows("Payment received"), "the way back says the credit follows Stripe's confirmation");
    let body = stripe.complete(&session_id, "evt_dashboard_1");
    let (status, answer) = deliver_signed(&app, &body).await;
    assert_eq!((status, answer["outcome"].as_str()), (StatusCode::OK, Some("credited")), "{answer}");

    let page = ada.get(&billing, StatusCode::OK).await;
    let stat = |id: &str| page.body.split(&format!("id=\"{id}\"><strong>")).nth(1).unwrap().split('<').next().unwrap().to_owned();
    assert_eq!(stat("balance-usd"), "$15.00", "$5.00 of sign-up credit and $10.00 bought");
    assert_eq!(stat("balance-calls"), "3000");
    let purchases = page.body.split("id=\"purchases\"").nth(1).unwrap().split("</table>").next().unwrap();
    assert!(purchases.contains("<td>starter</td>") && purchases.contains("$10.00") && purchases.contains("2000"), "{purchases}");
    assert!(page.shows("<td>purchase</td>") && page.shows("starter package, 2000 calls (Stripe)"), "the ledger row");

    let unknown = ada.submit(&billing, &format!("{billing}/checkout"), &[("package", "platinum")], StatusCode::SEE_OTHER).await;
    assert_eq!(unknown.location.as_deref(), Some(billing.as_str()));
    assert!(ada.get(&billing, StatusCode::OK).await.shows("No such package"), "an unknown package is refused with a message");
    assert_eq!(stripe.requests().len(), 1, "and Stripe is not asked");
}

#[tokio::test]
async fn a_member_cannot_buy_and_a_server_without_stripe_sells_nothing() {
    let app = TestApp::start_with(TestOptions::new(Backend::Sqlite).empty()).await;
    let (ada, org) = operator(&app).await;
    let page = ada.get(&format!("/orgs/{org}/billing"), StatusCode::OK).await;
    assert!(!page.shows("Buy credit") && !page.shows("Purchases"), "purchases are hidden without Stripe");
    let csrf = page.csrf();
    ada.post_raw(&format!("/orgs/{org}/billing/checkout"), &[("_csrf", csrf.as_str()), ("package", "starter")], StatusCode::NOT_FOUND)
        .await;
    let body = event("evt_1", "checkout.session.completed", json!({}));
    let (status, answer) = deliver_signed(&app, &body).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")), "{answer}");

    let stripe = FakeStripe::start().await;
    let app = selling(Backend::Sqlite, &stripe, true).await;
    let web = oakallow_testkit::WebClient::new(&app.base);
    let org = org_of(web.sign_up("ada@example.com", "Ada", PASSWORD).await.location.as_deref().unwrap());
    let owner = member_of(&app, &web, &org).await;
    let grace =
        invited(&app, &owner, "grace@example.com", oakallow_domain::account::Role::Member, oakallow_domain::account::ApproverLevels::BOTH)
            .await;
    let csrf = token(&grace, &org).await;
    let refused = grace
        .post_raw(&format!("/orgs/{org}/billing/checkout"), &[("_csrf", csrf.as_str()), ("package", "starter")], StatusCode::FORBIDDEN)
        .await;
    assert!(refused.shows("owners and admins"));
    assert!(stripe.requests().is_empty(), "Stripe is never asked for a member");
}

async fn replays_credit_once_and_different_events_all_credit(backend: Backend) {
    let stripe = FakeStripe::start().await;
    let app = selling(backend, &stripe, false).await;
    let before = balance(&app).await;
    let body = event("evt_replayed", "checkout.session.completed", paid_session(&app, "cs_replayed", "builder", 2_500));
    let mut outcomes = Vec::new();
    for _ in 0..5 {
        let (status, answer) = deliver_signed(&app, &body).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        outcomes.push(answer["outcome"].as_str().unwrap().to_owned());
    }
    assert_eq!(outcomes, ["credited", "already_credited", "already_credited", "already_credited", "already_credited"]);
    let resent = event(
        "evt_other_about_same_session",
        "checkout.session.async_payment_succeeded",
        paid_session(&app, "cs_replayed", "builder", 2_500),
    );
    assert_eq!(deliver_signed(&app, &resent).await.1["outcome"], "already_credited", "another event about the same session");
    assert_eq!(balance(&app).await - before, 5_000 * 5_000, "Builder: 5,000 calls at $0.005, once");

    let racing: Vec<_> = (0..6)
        .map(|n| {
            // Three different events, each delivered twice at once.
            let session = format!("cs_race_{}", n % 3);
            let body = event(&format!("evt_race_{}", n % 3), "checkout.session.completed", paid_session(&app, &session, "starter", 1_000));
            let app = &app;
            async move { deliver_signed(app, &body).await }
        })
        .collect();
    let answers = futures_util::future::join_all(racing).await;
    assert!(answers.iter().all(|(status, _)| *status == StatusCode::OK), "{answers:?}");
    let credited = answers.iter().filter(|(_, a)| a["outcome"] == "credited").count();
    assert_eq!(credited, 3, "each of three racing events credited once: {answers:?}");
    assert_eq!(balance(&app).await - before, 5_000 * 5_000 + 3 * 2_000 * 5_000);
    assert_eq!(purchase_rows(&app).await, 4);
}

#[tokio::test]
async fn replays_credit_once_and_different_events_all_credit_sqlite() {
    replays_credit_once_and_different_events_all_credit(Backend::Sqlite).await;
}

#[tokio::test]
#[cfg_attr(not(postgres_tests), ignore = "needs PostgreSQL: set OAKALLOW_TEST_POSTGRES_URL when building the tests")]
async fn replays_credit_once_and_different_events_all_credit_postgres() {
    replays_credit_once_and_different_events_all_credit(Backend::Postgres).await;
}

#[tokio::test]
async fn bad_stale_or_missing_signatures_credit_nothing() {
    let stripe = FakeStripe::start().await;
    let app = selling(Backend::Sqlite, &stripe, false).await;
    let before = balance(&app).await;
    let body = event("evt_signed", "checkout.session.completed", paid_session(&app, "cs_signed", "starter", 1_000));
    let now = now_seconds();
    let mut tampered = body.clone();
    let at = tampered.windows(4).position(|w| w == b"1000").unwrap();
    tampered[at] = b'9';
    let wrong_secret = oakallow_domain::stripe::signature_header(&body, "whsec_not_the_secret", now);
    let cases: [(&str, &[u8], Option<String>); 6] = [
        ("no header", &body, None),
        ("another secret", &body, Some(wrong_secret)),
        ("a changed body", &tampered, Some(FakeStripe::sign(&body, now))),
        ("signed 6 minutes ago", &body, Some(FakeStripe::sign(&body, now - 360))),
        ("signed 6 minutes ahead", &body, Some(FakeStripe::sign(&body, now + 360))),
        ("not a signature", &body, Some("t=soon,v1=nothing".into())),
    ];
    for (case, body, signature) in cases {
        let (status, answer) = deliver(&app, body, signature.as_deref()).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")), "{case}: {answer}");
        assert!(!answer.to_string().contains(WEBHOOK_SECRET), "{case}: the secret is never quoted");
    }
    assert_eq!(balance(&app).await, before, "nothing credited");
    assert_eq!(deliver_signed(&app, &body).await.1["outcome"], "credited", "the same event, signed properly, is");
}

#[tokio::test]
async fn a_paid_session_that_matches_no_package_credits_nothing() {
    let stripe = FakeStripe::start().await;
    let app = selling(Backend::Sqlite, &stripe, false).await;
    let before = balance(&app).await;
    let mut wrong_currency = paid_session(&app, "cs_eur", "starter", 1_000);
    wrong_currency["currency"] = json!("eur");
    let mut other_account = paid_session(&app, "cs_other", "starter", 1_000);
    other_account["client_reference_id"] = json!("acc_someone_else");
    let mut unpaid = paid_session(&app, "cs_unpaid", "starter", 1_000);
    unpaid["payment_status"] = json!("unpaid");
    let cases = [
        ("a cheaper price", paid_session(&app, "cs_cheap", "scale", 1)),
        ("an unknown package", paid_session(&app, "cs_unknown", "platinum", 1_000)),
        ("another currency", wrong_currency),
        ("two different accounts named", other_account),
        ("not paid yet", unpaid),
    ];
    for (n, (case, session)) in cases.into_iter().enumerate() {
        let body = event(&format!("evt_nomatch_{n}"), "checkout.session.completed", session);
        let (status, answer) = deliver_signed(&app, &body).await;
        assert_eq!((status, answer["outcome"].as_str()), (StatusCode::OK, Some("ignored")), "{case}: {answer}");
    }
    let other_type = event("evt_refund", "charge.refunded", json!({"id": "ch_1"}));
    assert_eq!(deliver_signed(&app, &other_type).await.1["outcome"], "ignored");
    assert_eq!(balance(&app).await, before);
    assert_eq!(purchase_rows(&app).await, 0);
}

/// Asks Stripe's Python library (`stripe` on PyPI) to verify `header` on `body`, and to sign
/// `body` itself now: answers whether it accepted, and its header.
fn stripe_python(body: &[u8], header: &str, secret: &str) -> (bool, String) {
    let script = r#"
import json, sys, time
import stripe
case = json.load(sys.stdin)
try:
    stripe.WebhookSignature.verify_header(case["body"], case["header"], case["secret"], tolerance=300)
    verdict = "ok"
except stripe.SignatureVerificationError as error:
    verdict = "refused"
t = int(time.time())
signature = stripe.WebhookSignature._compute_signature("%d.%s" % (t, case["body"]), case["secret"])
print(json.dumps({"verdict": verdict, "header": "t=%d,v1=%s" % (t, signature)}))
"#;
    let case = json!({"body": String::from_utf8(body.to_vec()).unwrap(), "header": header, "secret": secret});
    let mut child = Command::new("python3").args(["-c", script]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(case.to_string().as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    let answer: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&output.stdout)));
    (answer["verdict"] == "ok", answer["header"].as_str().unwrap().to_owned())
}

#[tokio::test]
#[cfg_attr(not(python_stripe), ignore = "needs the stripe Python package: pip install stripe")]
async fn signatures_agree_with_stripes_own_library() {
    let stripe = FakeStripe::start().await;
    let app = selling(Backend::Sqlite, &stripe, false).await;
    let before = balance(&app).await;
    let body = event("evt_python", "checkout.session.completed", paid_session(&app, "cs_python", "growth", 5_000));
    let ours = FakeStripe::sign(&body, now_seconds());
    let (accepted, theirs) = stripe_python(&body, &ours, WEBHOOK_SECRET);
    assert!(accepted, "Stripe's library accepts the header this test signs as Stripe does");
    let (accepted, _) = stripe_python(&body, &ours, "whsec_another");
    assert!(!accepted, "and refuses it under another secret (its check can fail)");
    let stale = FakeStripe::sign(&body, now_seconds() - 301);
    assert!(!stripe_python(&body, &stale, WEBHOOK_SECRET).0, "both refuse a signature older than 5 minutes");
    assert_eq!(deliver(&app, &body, Some(&stale)).await.0, StatusCode::BAD_REQUEST);

    let mut changed = body.clone();
    changed.extend_from_slice(b" ");
    let (status, _) = deliver(&app, &changed, Some(&theirs)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "oakallow refuses Stripe's header on a changed body");
    let (status, answer) = deliver(&app, &body, Some(&theirs)).await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (StatusCode::OK, Some("credited")),
        "and accepts a header Stripe's library made: {answer}"
    );
    let growth = oakallow_domain::stripe::default_packages().into_iter().find(|p| p.id == "growth").unwrap();
    assert_eq!(purchase_rows(&app).await, 1);
    assert_eq!(balance(&app).await - before, growth.credit_microusd(), "10,250 calls, once");
}

/// A server selling credit through `stripe`, with no account yet and a manual clock; its
/// operator signed in, their org, and the org's owner.
async fn shop(stripe: &FakeStripe) -> (TestApp, oakallow_testkit::WebClient, String, OrgMember) {
    let mut options = TestOptions::new(Backend::Sqlite).empty().manual_clock();
    options.config.stripe = Some(stripe.config());
    let app = TestApp::start_with(options).await;
    let (ada, org) = operator(&app).await;
    let owner = member_of(&app, &ada, &org).await;
    (app, ada, org, owner)
}

/// Delivers a paid checkout of `package` for the account that pays for `owner`'s org, signed at
/// the app's time, and answers the purchase's id.
async fn bought(app: &TestApp, owner: &OrgMember, n: u32, package: &str, cents: i64) -> String {
    let account = app.store.org(owner.org_id()).await.unwrap().unwrap().account_id.to_string();
    let session = json!({
        "id": format!("cs_shop_{n}"), "object": "checkout.session", "payment_status": "paid", "amount_total": cents,
        "currency": "usd", "client_reference_id": account, "metadata": {"account_id": account, "package": package},
        "payment_intent": format!("pi_shop_{n}"),
    });
    let body = event(&format!("evt_shop_{n}"), "checkout.session.completed", session);
    let (status, answer) = deliver(app, &body, Some(&FakeStripe::sign(&body, app.now().micros() / 1_000_000))).await;
    assert_eq!((status, answer["outcome"].as_str()), (StatusCode::OK, Some("credited")), "{answer}");
    let purchases = app.service.purchases(&owner.management().unwrap()).await.unwrap();
    purchases.into_iter().find(|p| p.package == package && p.refund.is_none() && p.not_refundable.is_none()).unwrap().id
}

async fn credit_of(app: &TestApp, owner: &OrgMember) -> i64 {
    app.service.billing(&owner.management().unwrap()).await.unwrap().balance_microusd
}

#[tokio::test]
async fn an_unspent_purchase_is_refunded_once_from_the_billing_page() {
    let stripe = FakeStripe::start().await;
    let (app, ada, org, owner) = shop(&stripe).await;
    let id = bought(&app, &owner, 1, "builder", 2_500).await;
    let billing = format!("/orgs/{org}/billing");
    assert_eq!(credit_of(&app, &owner).await, 5_000_000 + 25_000_000);
    let page = ada.get(&billing, StatusCode::OK).await;
    assert!(page.shows(&format!("id=\"refund-{id}\"")), "an unspent purchase offers a refund:\n{}", page.body);

    let action = format!("{billing}/purchases/{id}/refund");
    let done = ada.submit(&billing, &action, &[], StatusCode::SEE_OTHER).await;
    assert_eq!(done.location.as_deref(), Some(billing.as_str()));
    let page = ada.get(&billing, StatusCode::OK).await;
    assert!(page.shows("Refunded: Stripe returns $25.00"), "{}", page.body);
    assert!(page.shows("refunded 20") && !page.shows(&format!("id=\"refund-{id}\"")), "the purchase is marked refunded");
    assert!(page.shows("<td>refund</td>"), "the ledger shows the credit taken back");
    assert_eq!(credit_of(&app, &owner).await, 5_000_000, "the bought credit is gone");
    assert_eq!(stripe.refunds(), [(format!("oakallow-refund-{id}"), "pi_shop_1".to_owned())], "Stripe refunded the payment");

    let token = page.csrf();
    ada.post_raw(&action, &[("_csrf", token.as_str())], StatusCode::SEE_OTHER).await;
    assert!(ada.get(&billing, StatusCode::OK).await.shows("This purchase was refunded already"));
    assert_eq!(stripe.refunds().len(), 1, "and Stripe is not asked twice");
}

#[tokio::test]
async fn only_unspent_purchases_within_30_days_are_refunded_and_stripe_failures_lose_nothing() {
    let stripe = FakeStripe::start().await;
    let (app, _ada, _org, owner) = shop(&stripe).await;
    let manager = owner.management().unwrap();
    app.advance(31 * 86_400);
    assert_eq!(credit_of(&app, &owner).await, 0, "the sign-up credit expired");

    let spent = bought(&app, &owner, 1, "starter", 1_000).await;
    tool(&app, &owner, "read_file", "low", false).await;
    let key = standard_key(&app, &owner).await;
    let (status, check) = app.post("/v1/check", &key, &json!({"tool": "read_file"})).await;
    assert_eq!(status, StatusCode::OK, "{check}");
    let refused = app.service.refund_purchase(&manager, &spent).await.unwrap_err();
    assert!(refused.to_string().contains("only an unspent purchase"), "{refused}");

    let old = bought(&app, &owner, 2, "starter", 1_000).await;
    app.advance(30 * 86_400 + 1);
    let refused = app.service.refund_purchase(&manager, &old).await.unwrap_err();
    assert!(refused.to_string().contains("within 30 days"), "{refused}");
    assert!(stripe.refunds().is_empty(), "Stripe was never asked");

    let fresh = bought(&app, &owner, 3, "growth", 5_000).await;
    let with = credit_of(&app, &owner).await;
    stripe.answer_refunds(&[RefundAnswer::Refuse]);
    let refused = app.service.refund_purchase(&manager, &fresh).await.unwrap_err();
    assert!(refused.to_string().contains("Stripe refused the refund (This charge is disputed.)"), "{refused}");
    assert_eq!(credit_of(&app, &owner).await, with, "a refused refund gives the credit back");

    stripe.answer_refunds(&[RefundAnswer::Fail]);
    let failed = app.service.refund_purchase(&manager, &fresh).await.unwrap_err();
    assert_eq!(failed, oakallow_service::ServiceError::Unavailable);
    let pending = app.service.purchases(&manager).await.unwrap().into_iter().find(|p| p.id == fresh).unwrap();
    assert_eq!((pending.refund, pending.remaining_microusd), (Some("pending"), 0), "pending: its credit stays taken back");
    assert_eq!(credit_of(&app, &owner).await, with - 51_250_000);

    let refunded = app.service.refund_purchase(&manager, &fresh).await.unwrap();
    assert_eq!(refunded.refund, Some("refunded"));
    assert_eq!(stripe.refunds(), [(format!("oakallow-refund-{fresh}"), "pi_shop_3".to_owned())], "asked again: refunded once");
    assert_eq!(credit_of(&app, &owner).await, with - 51_250_000);
    let missing = app.service.refund_purchase(&manager, "led_nothing").await.unwrap_err();
    assert_eq!(missing, oakallow_service::ServiceError::NotFound { what: "purchase" });
}
