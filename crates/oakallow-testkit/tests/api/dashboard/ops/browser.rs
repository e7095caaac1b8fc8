//! The operations pages in Chromium: the queue updates without a reload and decides with a
//! note; activity, webhooks, billing and an approval's page render, and each is screenshot at
//! desktop and phone widths (and fails if anything overflows them).

use std::time::Duration;

use oakallow_domain::approval::Verdict;
use oakallow_testkit::receiver::Receiver;
use oakallow_testkit::{Appears, Browser};
use serde_json::{Map, json};

use super::{PASSWORD, ask, standard_key, tool};
use crate::dashboard::empty_app;

const WAIT: Duration = Duration::from_secs(10);

/// Screenshots `name` at 1280 and 390 px, then goes back to the desktop width.
async fn pictures(browser: &Browser, name: &str) {
    for width in [1280, 390] {
        browser.screenshot(&format!("ops-{name}"), width).await;
    }
    browser.set_viewport(1280, 900).await;
}

#[tokio::test]
#[cfg_attr(not(browser_tests), ignore = "needs chromium and chromedriver")]
async fn the_operations_pages_work_in_a_browser_and_fit_a_desktop_and_a_phone() {
    let app = empty_app().await;
    let browser = Browser::start().await;
    browser.goto(&format!("{}/sign-up", app.base)).await;
    browser.fill("Your name", "Ada Lovelace").await;
    browser.fill("Email", "ada@example.com").await;
    browser.fill("Password", PASSWORD).await;
    browser.fill("Organization name", "Acme Support").await;
    browser.click("form.stack button.primary").await;
    // Signed up, the browser lands in the new org (whatever page that is).
    let landed = async {
        loop {
            let url = browser.url().await;
            if url.contains("/orgs/org_") {
                break url;
            }
        }
    };
    let url = tokio::time::timeout(WAIT, landed).await.expect("the sign-up leads into the new org");
    let org = url.split("/orgs/").nth(1).unwrap().split('/').next().unwrap().to_owned();
    let signed_in = app.service.signed_in(&browser.cookie("oak_session").await.unwrap()).await.unwrap();
    let owner = app.service.member(&signed_in, &org).await.unwrap();

    // Something of everything: a two-level approval half decided, a denied and a cancelled one,
    // a webhook delivery.
    let key = standard_key(&app, &owner).await;
    tool(&app, &owner, "refund", "high", false).await;
    tool(&app, &owner, "wire_transfer", "critical", true).await;
    let wire = ask(&app, &key, "wire_transfer", "Pay supplier invoice INV-2024-0193 for the spring restock").await;
    let wire_id = wire["id"].as_str().unwrap();
    app.service.decide_as_member(&owner, wire_id, Verdict::Approved, Some("Invoice matches the order".into())).await.unwrap();
    let denied = ask(&app, &key, "refund", "Refund of an order that shipped yesterday").await;
    app.service.decide_as_member(&owner, denied["id"].as_str().unwrap(), Verdict::Denied, Some("It shipped".into())).await.unwrap();
    let cancelled = ask(&app, &key, "refund", "Asked by mistake").await;
    let _ = app.post(&format!("/v1/approvals/{}/cancel", cancelled["id"].as_str().unwrap()), &key, &json!({})).await;
    let receiver = Receiver::start().await;
    let mut fields = Map::new();
    fields.insert("webhook_url".into(), json!(receiver.url));
    let manager = owner.management().unwrap();
    app.service.update_org(&manager, fields).await.unwrap();
    app.service.test_webhook(&manager).await.unwrap();
    receiver.wait_for(1, WAIT).await;
    app.webhook_pass().await;

    browser.goto(&format!("{}/orgs/{org}/approvals", app.base)).await;
    browser.wait_for(Appears::Css(&format!("#approval-{wire_id}")), WAIT).await;
    browser.run("window.stillThisPage = true", vec![]).await;
    let new = ask(&app, &key, "refund", "Customer says the parcel never came").await;
    let (id, reference) = (new["id"].as_str().unwrap(), new["reference"].as_str().unwrap());
    browser.wait_for(Appears::Css(&format!("#approval-{id}")), WAIT).await;
    assert_eq!(browser.run("return window.stillThisPage === true", vec![]).await, true, "it came without a reload");
    pictures(&browser, "approvals").await;

    browser.fill(&format!("#note-{id}"), "Checked the order").await;
    browser.click(&format!("#approve-{id}")).await;
    browser.wait_for(Appears::Text(&format!("{reference} approved.")), WAIT).await;
    let read = app.get(&format!("/v1/approvals/{id}"), &key).await.1;
    assert_eq!((read["status"].as_str(), read["note"].as_str()), (Some("approved"), Some("Checked the order")));

    browser.goto(&format!("{}/orgs/{org}/approvals/{wire_id}", app.base)).await;
    assert!(browser.text("main").await.contains("Invoice matches the order"));
    pictures(&browser, "approval").await;
    browser.goto(&format!("{}/orgs/{org}/activity", app.base)).await;
    assert!(browser.text("#chain-status").await.contains("valid"));
    pictures(&browser, "activity").await;
    browser.goto(&format!("{}/orgs/{org}/webhooks", app.base)).await;
    assert!(browser.text("main").await.contains("webhook.test"));
    pictures(&browser, "webhooks").await;
    browser.goto(&format!("{}/orgs/{org}/billing", app.base)).await;
    assert!(browser.text("#balance-usd strong").await.starts_with('$'));
    pictures(&browser, "billing").await;
}
