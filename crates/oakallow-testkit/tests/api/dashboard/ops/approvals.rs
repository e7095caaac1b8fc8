//! The approvals queue: what a pending approval shows, deciding it as a person, two-level
//! progress, who sees the form (and who is refused anyway), and other orgs' approvals.

use oakallow_domain::account::{ApproverLevels, Role};
use reqwest::StatusCode;

use super::{ask, invited, member_of, standard_key, token, tool};
use crate::dashboard::operator;

#[tokio::test]
async fn a_pending_approval_is_in_the_queue_and_a_decision_there_is_recorded_as_the_person() {
    let app = crate::dashboard::empty_app().await;
    let (ada, org) = operator(&app).await;
    let owner = member_of(&app, &ada, &org).await;
    let key = standard_key(&app, &owner).await;
    tool(&app, &owner, "refund", "high", false).await;
    let approval = ask(&app, &key, "refund", "Customer says the parcel never came").await;
    let (id, reference) = (approval["id"].as_str().unwrap(), approval["reference"].as_str().unwrap());

    let queue = ada.get(&format!("/orgs/{org}/approvals"), StatusCode::OK).await;
    let card = queue.body.split(&format!("id=\"approval-{id}\"")).nth(1).expect("the approval's card").split("</article>").next().unwrap();
    for shown in [reference, "refund", "tenant_42", "Customer says the parcel never came", "high", "Level 1 of 1"] {
        assert!(card.contains(shown), "{shown} missing from:\n{card}");
    }
    assert!(
        card.contains(r#"{&#34;amount&#34;:120,&#34;order&#34;:&#34;A-17&#34;}"#) || card.contains(r#"{"amount":120,"order":"A-17"}"#),
        "{card}"
    );
    assert!(card.contains(&format!("id=\"decide-{id}\"")) && card.contains(&format!("id=\"note-{id}\"")));
    assert!(card.contains(&format!("id=\"approve-{id}\"")) && card.contains(&format!("id=\"deny-{id}\"")));
    assert!(queue.shows("id=\"pending-approvals\" data-live-approvals"), "the live container");

    let fields = [("decision", "approved"), ("note", "Checked the order")];
    let done =
        ada.submit(&format!("/orgs/{org}/approvals"), &format!("/orgs/{org}/approvals/{id}/decide"), &fields, StatusCode::SEE_OTHER).await;
    assert_eq!(done.location, Some(format!("/orgs/{org}/approvals")));

    let (status, read) = app.get(&format!("/v1/approvals/{id}"), &key).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read["status"], "approved");
    assert_eq!(read["decided_by"], owner.account.id.to_string(), "recorded by account id (the pages show the name)");
    assert_eq!(read["note"], "Checked the order");
    assert_eq!(read["decisions"][0]["decider"]["kind"], "user");
    assert_eq!(read["decisions"][0]["decider"]["id"], owner.account.id.to_string());

    let after = ada.get(&format!("/orgs/{org}/approvals"), StatusCode::OK).await;
    assert!(after.shows(&format!("{reference} approved.")), "the flash says what happened");
    assert!(!after.shows(&format!("id=\"approval-{id}\"")), "no longer pending");
    let row = after.body.split(&format!("id=\"history-{id}\"")).nth(1).expect("in the history").split("</tr>").next().unwrap();
    assert!(row.contains("badge approved") && row.contains("Ada Lovelace") && row.contains("Checked the order"), "{row}");
}

#[tokio::test]
async fn two_levels_show_their_progress_and_need_two_people() {
    let app = crate::dashboard::empty_app().await;
    let (ada, org) = operator(&app).await;
    let owner = member_of(&app, &ada, &org).await;
    let key = standard_key(&app, &owner).await;
    tool(&app, &owner, "wire_transfer", "critical", true).await;
    let id = ask(&app, &key, "wire_transfer", "Supplier invoice").await["id"].as_str().unwrap().to_owned();
    let queue = format!("/orgs/{org}/approvals");
    let decide = format!("/orgs/{org}/approvals/{id}/decide");

    assert!(ada.get(&queue, StatusCode::OK).await.shows("Level 1 of 2"));
    let first = ada.submit(&queue, &decide, &[("decision", "approved"), ("note", "Invoice matches")], StatusCode::SEE_OTHER).await;
    assert_eq!(first.location.as_deref(), Some(queue.as_str()));
    let waiting = ada.get(&queue, StatusCode::OK).await;
    assert!(waiting.shows("level 1 approved; it now waits for level 2"), "{}", waiting.body);
    assert!(waiting.shows("Level 2 of 2 · level 1 approved by Ada Lovelace: “Invoice matches”"), "{}", waiting.body);

    // The same person cannot decide level 2: the service refuses, the queue says why.
    ada.submit(&queue, &decide, &[("decision", "approved")], StatusCode::SEE_OTHER).await;
    let refused = ada.get(&queue, StatusCode::OK).await;
    assert!(refused.shows("flash error"), "{}", refused.body);
    assert_eq!(app.get(&format!("/v1/approvals/{id}"), &key).await.1["status"], "pending");

    let grace = invited(&app, &owner, "grace@example.com", Role::Member, ApproverLevels { level1: false, level2: true }).await;
    assert!(grace.get(&queue, StatusCode::OK).await.shows(&format!("id=\"decide-{id}\"")), "level 2 approvers see the form");
    grace.submit(&queue, &decide, &[("decision", "denied"), ("note", "Not this month")], StatusCode::SEE_OTHER).await;
    let read = app.get(&format!("/v1/approvals/{id}"), &key).await.1;
    let grace_id = app.store.account_by_email("grace@example.com").await.unwrap().unwrap().id.to_string();
    assert_eq!((read["status"].as_str(), read["decided_by"].as_str()), (Some("denied"), Some(grace_id.as_str())));
    let detail = grace.get(&format!("/orgs/{org}/approvals/{id}"), StatusCode::OK).await;
    assert!(detail.shows("Invoice matches") && detail.shows("Not this month") && detail.shows("badge denied"), "{}", detail.body);
    assert!(detail.shows("Ada Lovelace") && detail.shows("Grace Hopper") && !detail.shows(&grace_id), "deciders by name: {}", detail.body);
}

#[tokio::test]
async fn a_member_outside_the_approver_group_sees_no_form_and_is_refused_anyway() {
    let app = crate::dashboard::empty_app().await;
    let (ada, org) = operator(&app).await;
    let owner = member_of(&app, &ada, &org).await;
    let key = standard_key(&app, &owner).await;
    let id = ask(&app, &key, "refund", "Asked twice").await["id"].as_str().unwrap().to_owned();
    let grace = invited(&app, &owner, "grace@example.com", Role::Member, ApproverLevels::default()).await;

    let queue = grace.get(&format!("/orgs/{org}/approvals"), StatusCode::OK).await;
    assert!(queue.shows(&format!("id=\"approval-{id}\"")), "members read the queue");
    assert!(!queue.shows(&format!("id=\"decide-{id}\"")) && !queue.shows("name=\"decision\""), "but get no form");
    assert!(queue.shows("approver group, which you are not in"));
    let detail = grace.get(&format!("/orgs/{org}/approvals/{id}"), StatusCode::OK).await;
    assert!(!detail.shows("name=\"decision\""));

    let token = token(&grace, &org).await;
    let fields = [("_csrf", token.as_str()), ("decision", "approved"), ("note", "sneaky")];
    let refused = grace.post_raw(&format!("/orgs/{org}/approvals/{id}/decide"), &fields, StatusCode::FORBIDDEN).await;
    assert!(refused.shows("level-1 approver group"), "{}", refused.body);
    assert_eq!(app.get(&format!("/v1/approvals/{id}"), &key).await.1["status"], "pending");
}

#[tokio::test]
async fn another_orgs_approval_answers_404_in_the_dashboard() {
    let app = crate::dashboard::empty_app().await;
    let (ada, org) = operator(&app).await;
    let theirs = app.another_org("grace@example.com").await;
    let id = ask(&app, &theirs.standard, "refund", "Theirs").await["id"].as_str().unwrap().to_owned();

    let missing = ada.get(&format!("/orgs/{org}/approvals/{}", oakallow_domain::id::ApprovalId::generate()), StatusCode::NOT_FOUND).await;
    let other = ada.get(&format!("/orgs/{org}/approvals/{id}"), StatusCode::NOT_FOUND).await;
    assert_eq!(other.body, missing.body, "indistinguishable from an id that does not exist");
    ada.get(&format!("/orgs/{}/approvals", theirs.org_id), StatusCode::NOT_FOUND).await;
    ada.get(&format!("/orgs/{}/approvals/live", theirs.org_id), StatusCode::NOT_FOUND).await;

    let token = token(&ada, &org).await;
    let fields = [("_csrf", token.as_str()), ("decision", "approved")];
    ada.post_raw(&format!("/orgs/{org}/approvals/{id}/decide"), &fields, StatusCode::NOT_FOUND).await;
    ada.post_raw(&format!("/orgs/{}/approvals/{id}/decide", theirs.org_id), &fields, StatusCode::NOT_FOUND).await;
    assert_eq!(app.get(&format!("/v1/approvals/{id}"), &theirs.standard).await.1["status"], "pending");
}
