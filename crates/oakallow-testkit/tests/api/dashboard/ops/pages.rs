//! Activity (filters, chain status, export), webhooks (settings, rotation, test event,
//! deliveries, retry) and billing, as owners see them, and what members are refused.

use std::time::Duration;

use oakallow_domain::account::{ApproverLevels, Role};
use oakallow_testkit::receiver::Receiver;
use reqwest::StatusCode;

use super::{ask, invited, member_of, standard_key, token};
use crate::dashboard::operator;
use crate::workflow::assert_oakallow_signature;

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn activity_shows_the_steps_filters_them_says_the_chain_is_valid_and_exports() {
    let app = crate::dashboard::empty_app().await;
    let (ada, org) = operator(&app).await;
    let owner = member_of(&app, &ada, &org).await;
    let key = standard_key(&app, &owner).await;
    let id = ask(&app, &key, "refund", "For the log").await["id"].as_str().unwrap().to_owned();
    let queue = format!("/orgs/{org}/approvals");
    ada.submit(&queue, &format!("{queue}/{id}/decide"), &[("decision", "denied"), ("note", "No")], StatusCode::SEE_OTHER).await;

    let page = ada.get(&format!("/orgs/{org}/activity"), StatusCode::OK).await;
    let status = page.body.split("id=\"chain-status\">").nth(1).unwrap().split("</p>").next().unwrap();
    assert!(status.contains("valid") && !status.contains("broken"), "{status}");
    for kind in ["approval.created", "approval.decided", "key.created"] {
        assert!(page.shows(&format!("<td><code>{kind}</code></td>")), "{kind} missing:\n{}", page.body);
    }
    assert!(page.shows("Ada Lovelace"), "the decider is the actor");

    let decided = ada.get(&format!("/orgs/{org}/activity?type=approval.decided&tool=refund&tenant=&since=&until="), StatusCode::OK).await;
    assert!(decided.shows("<td><code>approval.decided</code></td>") && !decided.shows("<td><code>approval.created</code></td>"));
    assert!(decided.shows("<option value=\"approval.decided\" selected>"), "the filter is kept");
    let bad = ada.get(&format!("/orgs/{org}/activity?since=yesterday"), StatusCode::OK).await;
    assert!(bad.shows("RFC 3339") && bad.shows("role=\"alert\""), "{}", bad.body);

    let response = reqwest::Client::new()
        .get(format!("{}/orgs/{org}/activity/export?format=csv", app.base))
        .header("cookie", format!("oak_session={}", ada.cookie("oak_session").unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/csv; charset=utf-8");
    assert_eq!(response.headers()["content-disposition"], "attachment; filename=\"activity.csv\"");
    let csv = response.text().await.unwrap();
    assert!(csv.starts_with("id,org_id,seq,at,type,") && csv.contains("approval.decided"), "{csv}");
    let jsonl = ada.get(&format!("/orgs/{org}/activity/export?format=jsonl"), StatusCode::OK).await;
    assert!(jsonl.body.lines().all(|line| serde_json::from_str::<serde_json::Value>(line).is_ok()) && jsonl.shows("approval.created"));
    let stranger = oakallow_testkit::WebClient::new(&app.base);
    stranger.get(&format!("/orgs/{org}/activity/export?format=csv"), StatusCode::SEE_OTHER).await;
}

#[tokio::test]
async fn webhooks_save_rotate_test_and_retry_from_the_page() {
    let app = crate::dashboard::empty_app().await;
    let (ada, org) = operator(&app).await;
    let owner = member_of(&app, &ada, &org).await;
    let receiver = Receiver::start().await;
    let page = format!("/orgs/{org}/webhooks");

    let fields = [("webhook_url", receiver.url.as_str()), ("events", "webhook.test"), ("events", "approval.decided")];
    let saved = ada.submit(&page, &page, &fields, StatusCode::SEE_OTHER).await;
    assert_eq!(saved.location.as_deref(), Some(page.as_str()));
    let settings = app.service.get_org(&owner.management().unwrap()).await.unwrap();
    assert_eq!(settings.webhook_url.as_deref(), Some(receiver.url.as_str()));
    assert_eq!(settings.webhook_events, Some(vec!["webhook.test".to_owned(), "approval.decided".to_owned()]));
    let shown = ada.get(&page, StatusCode::OK).await;
    assert!(shown.shows("value=\"webhook.test\" checked") && !shown.shows("value=\"approval.created\" checked"), "{}", shown.body);

    let rotated = ada.submit(&page, &format!("{page}/secret"), &[], StatusCode::OK).await;
    let secret = rotated.body.split("<code id=\"webhook-secret\">").nth(1).unwrap().split('<').next().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    assert!(!ada.get(&page, StatusCode::OK).await.shows(&secret), "shown once");

    ada.submit(&page, &format!("{page}/test"), &[], StatusCode::SEE_OTHER).await;
    let received = receiver.wait_for(1, WAIT).await.remove(0);
    assert_eq!(received.json()["type"], "webhook.test");
    assert_oakallow_signature(&received, &secret);
    app.webhook_pass().await;
    let log = ada.get(&page, StatusCode::OK).await;
    let row = log.body.split("<tr id=\"delivery-").nth(1).expect("a delivery row").split("</tr>").next().unwrap();
    assert!(row.contains("webhook.test") && row.contains(">delivered<") && row.contains(">204<"), "{row}");

    let delivery = row.split('"').next().unwrap().to_owned();
    ada.submit(&page, &format!("{page}/deliveries/{delivery}/retry"), &[], StatusCode::SEE_OTHER).await;
    assert_eq!(receiver.wait_for(2, WAIT).await[1].header("webhook-id"), received.header("webhook-id"), "the same event again");

    // Another org's delivery id is not found here.
    let token = token(&ada, &org).await;
    let other = oakallow_domain::id::DeliveryId::generate();
    ada.post_raw(&format!("{page}/deliveries/{other}/retry"), &[("_csrf", token.as_str())], StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn billing_shows_the_balance_the_free_credit_and_the_ledger() {
    let app = crate::dashboard::empty_app().await;
    let (ada, org) = operator(&app).await;
    let page = ada.get(&format!("/orgs/{org}/billing"), StatusCode::OK).await;
    let stat = |id: &str| page.body.split(&format!("id=\"{id}\"><strong>")).nth(1).unwrap().split('<').next().unwrap().to_owned();
    assert_eq!(stat("balance-usd"), "$5.00");
    assert_eq!(stat("balance-calls"), "1000");
    assert_eq!(stat("free-credit"), "$5.00");
    assert!(page.shows("free credit left, expires 20"), "{}", page.body);
    assert!(page.shows("<td>free_credit</td>") && page.shows("sign-up credit"), "the ledger's first row");
}

#[tokio::test]
async fn members_are_told_webhooks_and_billing_are_for_owners_and_admins() {
    let app = crate::dashboard::empty_app().await;
    let (ada, org) = operator(&app).await;
    let owner = member_of(&app, &ada, &org).await;
    let grace = invited(&app, &owner, "grace@example.com", Role::Member, ApproverLevels::BOTH).await;

    let webhooks = grace.get(&format!("/orgs/{org}/webhooks"), StatusCode::FORBIDDEN).await;
    assert!(webhooks.shows("owners and admins"), "{}", webhooks.body);
    let billing = grace.get(&format!("/orgs/{org}/billing"), StatusCode::FORBIDDEN).await;
    assert!(billing.shows("owners and admins"));
    let token = token(&grace, &org).await;
    for action in ["webhooks", "webhooks/secret", "webhooks/test"] {
        let fields = [("_csrf", token.as_str()), ("webhook_url", "http://127.0.0.1:9/evil")];
        grace.post_raw(&format!("/orgs/{org}/{action}"), &fields, StatusCode::FORBIDDEN).await;
    }
    assert_eq!(app.service.get_org(&owner.management().unwrap()).await.unwrap().webhook_url, None, "nothing changed");
    // Every member reads the activity.
    let activity = grace.get(&format!("/orgs/{org}/activity"), StatusCode::OK).await;
    assert!(activity.shows("id=\"chain-status\""));
}
