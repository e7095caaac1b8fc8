//! The team page: invitation links (shown once, used once), roles and approver groups, removing
//! and leaving.

use oakallow_domain::account::{ApproverLevels, Role};
use oakallow_domain::id::OrgId;
use oakallow_testkit::{TestApp, WebClient};
use reqwest::StatusCode;

use super::super::{empty_app, operator};
use super::{invite_link, join, with_teammate};

/// Grace's place in the org.
async fn grace(app: &TestApp, org: &str) -> Option<(Role, ApproverLevels)> {
    let account = app.store.account_by_email("grace@example.com").await.unwrap()?;
    let membership = app.store.membership(OrgId::parse(org).unwrap(), account.id).await.unwrap()?;
    Some((membership.role, membership.approver))
}

#[tokio::test]
async fn an_invitation_link_signs_up_a_second_browser_with_its_role_and_works_once() {
    let app = empty_app().await;
    let (owner, org) = operator(&app).await;
    let link = invite_link(&owner, &org, "admin", &["approves_level2"]).await;
    assert!(link.starts_with(&format!("{}/invites/", app.base)), "{link}");
    let team = owner.get(&format!("/orgs/{org}/team"), StatusCode::OK).await;
    let secret = link.rsplit('/').next().unwrap();
    assert!(!team.shows(secret) && team.shows("Withdraw"), "listed, but the link is not shown again:\n{}", team.body);

    let grace_web = join(&app, &link, "grace@example.com", "Grace Hopper").await;
    assert_eq!(grace(&app, &org).await, Some((Role::Admin, ApproverLevels { level1: false, level2: true })));
    grace_web.get(&format!("/orgs/{org}/team"), StatusCode::OK).await;

    let late = WebClient::new(&app.base);
    late.get(link.strip_prefix(&app.base).unwrap(), StatusCode::NOT_FOUND).await;
    assert!(!owner.get(&format!("/orgs/{org}/team"), StatusCode::OK).await.shows("Withdraw"), "no open invitation is left");
}

#[tokio::test]
async fn a_withdrawn_link_no_longer_works() {
    let app = empty_app().await;
    let (owner, org) = operator(&app).await;
    let link = invite_link(&owner, &org, "member", &[]).await;
    let invites = app.store.open_invites(OrgId::parse(&org).unwrap(), app.now()).await.unwrap();
    let team = format!("/orgs/{org}/team");
    owner.submit(&team, &format!("{team}/invites/{}/withdraw", invites[0].id), &[], StatusCode::SEE_OTHER).await;
    WebClient::new(&app.base).get(link.strip_prefix(&app.base).unwrap(), StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn an_owner_changes_a_role_and_the_approver_groups_then_removes_the_member() {
    let app = empty_app().await;
    let (owner, grace_web, org) = with_teammate(&app, "member").await;
    let grace_id = app.store.account_by_email("grace@example.com").await.unwrap().unwrap().id;
    let team = format!("/orgs/{org}/team");
    let fields = [("role", "admin"), ("approves_level1", "on"), ("approves_level2", "on")];
    owner.submit(&team, &format!("{team}/{grace_id}/change"), &fields, StatusCode::SEE_OTHER).await;
    assert_eq!(grace(&app, &org).await, Some((Role::Admin, ApproverLevels::BOTH)));
    // Unticked boxes are not sent: the groups are taken away.
    owner.submit(&team, &format!("{team}/{grace_id}/change"), &[("role", "admin")], StatusCode::SEE_OTHER).await;
    assert_eq!(grace(&app, &org).await, Some((Role::Admin, ApproverLevels::default())));

    owner.submit(&team, &format!("{team}/{grace_id}/remove"), &[], StatusCode::SEE_OTHER).await;
    assert_eq!(grace(&app, &org).await, None);
    grace_web.get(&team, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn an_admin_cannot_make_an_owner_and_the_last_owner_cannot_leave() {
    let app = empty_app().await;
    let (owner, admin, org) = with_teammate(&app, "admin").await;
    let team = format!("/orgs/{org}/team");
    let page = admin.get(&team, StatusCode::OK).await;
    assert!(page.shows("id=\"create-invite\"") && !page.shows("value=\"owner\""), "an admin is offered no owner role:\n{}", page.body);
    let grace_id = app.store.account_by_email("grace@example.com").await.unwrap().unwrap().id;
    admin.submit(&team, &format!("{team}/{grace_id}/change"), &[("role", "owner")], StatusCode::FORBIDDEN).await;
    admin.submit(&team, &format!("{team}/invites"), &[("role", "owner")], StatusCode::FORBIDDEN).await;
    assert_eq!(grace(&app, &org).await.unwrap().0, Role::Admin);

    let refused = owner.submit(&team, &format!("{team}/leave"), &[], StatusCode::SEE_OTHER).await;
    assert_eq!(refused.location.as_deref(), Some(team.as_str()));
    assert!(owner.get(&team, StatusCode::OK).await.shows("at least one owner"), "the refusal is explained");
    owner.get(&team, StatusCode::OK).await;

    let left = admin.submit(&team, &format!("{team}/leave"), &[], StatusCode::SEE_OTHER).await;
    assert_eq!(left.location.as_deref(), Some("/"));
    assert_eq!(grace(&app, &org).await, None);
}
