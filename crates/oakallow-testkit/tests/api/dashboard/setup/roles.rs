//! Who may do what on the setup pages: a member reads and sees no forms, and a hand-made POST
//! is refused (403) by the service; another org's pages and ids answer 404.

use oakallow_domain::id::OrgId;
use reqwest::StatusCode;

use super::super::{empty_app, operator, org_of};
use super::{forge, invite_link, with_teammate};

#[tokio::test]
async fn a_member_sees_no_forms_and_a_forged_post_is_refused() {
    let app = empty_app().await;
    let (owner, member, org) = with_teammate(&app, "member").await;
    let keys = member.get(&format!("/orgs/{org}/keys"), StatusCode::OK).await;
    assert!(!keys.shows("id=\"create-key\"") && keys.shows("Only owners and admins"), "{}", keys.body);
    let team = member.get(&format!("/orgs/{org}/team"), StatusCode::OK).await;
    assert!(!team.shows("id=\"create-invite\"") && !team.shows("/change\"") && team.shows("Ada Lovelace"), "{}", team.body);
    let settings = member.get(&format!("/orgs/{org}/settings"), StatusCode::OK).await;
    assert!(!settings.shows("id=\"save-settings\"") && settings.shows("My org"), "{}", settings.body);
    let quickstart = member.get(&format!("/orgs/{org}/quickstart"), StatusCode::OK).await;
    assert!(!quickstart.shows("id=\"create-quickstart-keys\"") && quickstart.shows("$OAKALLOW_KEY"), "{}", quickstart.body);

    let owner_id = app.store.account_by_email("ada@example.com").await.unwrap().unwrap().id;
    let posts = [
        (format!("/orgs/{org}/keys"), vec![("name", "mine"), ("tier", "management")]),
        (format!("/orgs/{org}/quickstart"), vec![]),
        (format!("/orgs/{org}/team/invites"), vec![("role", "member")]),
        (format!("/orgs/{org}/team/{owner_id}/change"), vec![("role", "member")]),
        (format!("/orgs/{org}/team/{owner_id}/remove"), vec![]),
        (format!("/orgs/{org}/settings"), vec![("name", "Taken over")]),
    ];
    for (action, fields) in posts {
        let refused = forge(&member, &org, &action, &fields, StatusCode::FORBIDDEN).await;
        assert!(refused.shows("role"), "{action}: {}", refused.body);
    }
    let org_id = OrgId::parse(&org).unwrap();
    assert!(app.store.list_keys(org_id, None, 10).await.unwrap().is_empty(), "no key was made");
    assert!(app.store.open_invites(org_id, app.now()).await.unwrap().is_empty(), "no invitation was made");
    assert_eq!(app.store.org(org_id).await.unwrap().unwrap().name, "My org");
    assert_eq!(app.store.members(org_id).await.unwrap().len(), 2);
    owner.get(&format!("/orgs/{org}/keys"), StatusCode::OK).await;
}

#[tokio::test]
async fn another_orgs_pages_and_ids_answer_404() {
    let app = empty_app().await;
    let (web, org) = operator(&app).await;
    let other = app.another_org("bob@example.com").await;
    for section in ["quickstart", "keys", "team", "settings"] {
        web.get(&format!("/orgs/{}/{section}", other.org_id), StatusCode::NOT_FOUND).await;
        web.get(&format!("/orgs/org_nonsense/{section}"), StatusCode::NOT_FOUND).await;
    }
    forge(&web, &org, &format!("/orgs/{}/keys", other.org_id), &[("name", "x"), ("tier", "standard")], StatusCode::NOT_FOUND).await;

    // Ids of the other org, used on this org's pages.
    let other_org = OrgId::parse(&other.org_id).unwrap();
    let other_key = app.store.list_keys(other_org, None, 10).await.unwrap()[0].id;
    forge(&web, &org, &format!("/orgs/{org}/keys/{other_key}/revoke"), &[], StatusCode::NOT_FOUND).await;
    assert_eq!(app.check_with(&other.standard).await, StatusCode::OK, "the other org's keys still work");
    let bob = other.account_id.clone();
    forge(&web, &org, &format!("/orgs/{org}/team/{bob}/change"), &[("role", "member")], StatusCode::NOT_FOUND).await;
    forge(&web, &org, &format!("/orgs/{org}/team/{bob}/remove"), &[], StatusCode::NOT_FOUND).await;

    // Even an org of the same person: its invitation is not this org's.
    let created = web.submit("/orgs/new", "/orgs/new", &[("name", "Elsewhere")], StatusCode::SEE_OTHER).await;
    let elsewhere = org_of(created.location.as_deref().unwrap());
    let _ = invite_link(&web, &elsewhere, "member", &[]).await;
    let elsewhere = OrgId::parse(&elsewhere).unwrap();
    let invite = app.store.open_invites(elsewhere, app.now()).await.unwrap()[0].id;
    forge(&web, &org, &format!("/orgs/{org}/team/invites/{invite}/withdraw"), &[], StatusCode::NOT_FOUND).await;
    assert_eq!(app.store.open_invites(elsewhere, app.now()).await.unwrap().len(), 1, "still open");
}
