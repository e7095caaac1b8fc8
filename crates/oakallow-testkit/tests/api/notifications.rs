//! The dashboard's Notifications page (owners and admins set channels through the same call as
//! `PATCH /v1/org/notifications`; members are refused) and the e-mail channel, received by a real
//! SMTP server (Python's `aiosmtpd`).

use oakallow_domain::account::{ApproverLevels, Role};
use oakallow_testkit::smtp::{DASHBOARD_URL, SmtpServer};
use oakallow_testkit::{Backend, TestApp, TestOptions};
use reqwest::StatusCode;
use serde_json::json;

use crate::dashboard::operator;
use crate::dashboard::ops::{invited, member_of, standard_key, tool};

#[tokio::test]
#[cfg_attr(not(python_aiosmtpd), ignore = "needs Python's aiosmtpd: pip install aiosmtpd")]
async fn channels_are_set_in_the_dashboard_and_new_approvals_are_e_mailed() {
    let smtp = SmtpServer::start();
    let mut options = TestOptions::new(Backend::Sqlite).empty();
    options.config.email = Some(smtp.email_config());
    let app = TestApp::start_with(options).await;
    let (web, org) = operator(&app).await;
    let owner = member_of(&app, &web, &org).await;
    let agent = standard_key(&app, &owner).await;
    tool(&app, &owner, "send_email", "high", false).await;
    let page = format!("/orgs/{org}/notifications");
    let shown = web.get(&page, StatusCode::OK).await;
    assert!(shown.shows("Notifications") && shown.shows(&format!("/integrations/slack/{org}/interactions")));

    // Each form sets its channel; a refusal comes back as the reason.
    let email = [("channel", "email"), ("action", "save"), ("to", "oncall@example.com, security@example.com")];
    web.submit(&page, &page, &email, StatusCode::SEE_OTHER).await;
    let slack = [("channel", "slack"), ("action", "save"), ("bot_token", "xoxb-1"), ("signing_secret", "s3cret")];
    web.submit(&page, &page, &slack, StatusCode::SEE_OTHER).await;
    let shown = web.get(&page, StatusCode::OK).await;
    assert!(shown.shows("Slack takes either bot_token and channel, or webhook_url."), "{}", shown.body);
    let pagerduty = [("channel", "pagerduty"), ("action", "save"), ("routing_key", "R0UTE")];
    web.submit(&page, &page, &pagerduty, StatusCode::SEE_OTHER).await;
    let view = app.service.notification_channels(&owner.management().unwrap()).await.unwrap();
    assert_eq!(view.email.as_ref().map(|e| e.to.clone()), Some(vec!["oncall@example.com".to_owned(), "security@example.com".to_owned()]));
    assert!(view.slack.is_none() && view.pagerduty.is_some());
    let shown = web.get(&page, StatusCode::OK).await;
    assert!(shown.shows("oncall@example.com, security@example.com") && !shown.shows("R0UTE"), "secrets are never shown again");

    // A member may not see or change them.
    let member = invited(&app, &owner, "grace@example.com", Role::Member, ApproverLevels { level1: true, level2: false }).await;
    member.get(&page, StatusCode::FORBIDDEN).await;
    let token = member.get(&format!("/orgs/{org}/"), StatusCode::OK).await.csrf();
    member.post_raw(&page, &[("_csrf", &token), ("channel", "email"), ("action", "remove")], StatusCode::FORBIDDEN).await;

    // A new approval is e-mailed to every address, with its link; a decision is not.
    let body = json!({ "tool": "send_email", "tenant": "tenant_42", "reason": "Quarterly report", "params": { "n": 3 } });
    let (status, approval) = app.post("/v1/approvals", &agent, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{approval}");
    let mails = smtp.wait_for(2).await;
    let mut to: Vec<&str> = mails.iter().flat_map(|m| m.rcpt_tos.iter().map(String::as_str)).collect();
    to.sort_unstable();
    assert_eq!(to, ["oncall@example.com", "security@example.com"]);
    let mail = &mails[0];
    assert_eq!(mail.subject, format!("Approval needed: send_email ({})", approval["reference"].as_str().unwrap()));
    assert!(mail.body.contains("Quarterly report") && mail.body.contains("(risk: high)"), "{}", mail.body);
    let link = format!("{DASHBOARD_URL}/orgs/{org}/approvals/{}", approval["id"].as_str().unwrap());
    assert!(mail.body.contains(&link), "{}", mail.body);

    // Removed, nothing more is sent.
    web.submit(&page, &page, &[("channel", "email"), ("action", "remove")], StatusCode::SEE_OTHER).await;
    let view = app.service.notification_channels(&owner.management().unwrap()).await.unwrap();
    assert!(view.email.is_none());
    let (status, _) = app.post("/v1/approvals", &agent, &body).await;
    assert_eq!(status, StatusCode::CREATED);
    app.webhook_pass().await;
    assert_eq!(smtp.received().len(), 2, "no mail once removed");
}
