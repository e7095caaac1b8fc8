//! The keys page: keys made there work against the API, are shown once, and revoke.

use oakallow_domain::id::OrgId;
use reqwest::StatusCode;
use serde_json::json;

use super::super::{empty_app, operator};
use super::{key_page, new_key, text_of};

#[tokio::test]
async fn a_key_made_on_the_page_works_once_shown_and_is_never_shown_again() {
    let app = empty_app().await;
    let (web, org) = operator(&app).await;
    let page = key_page(&web, &org, "support agent", "standard").await;
    let raw = text_of(&page, "new-key");
    assert!(raw.starts_with("oak_live_") && raw.len() == 41, "{raw}");
    assert!(page.shows("this is the only time it is shown"), "{}", page.body);
    assert_eq!(app.check_with(&raw).await, StatusCode::OK, "a standard key checks");

    let later = web.get(&format!("/orgs/{org}/keys"), StatusCode::OK).await;
    assert!(!later.shows(&raw[12..]) && !later.shows("id=\"new-key\""), "the raw key is shown only once:\n{}", later.body);
    assert!(later.shows(&format!("<code>{}…</code>", &raw[..12])) && later.shows("support agent"), "{}", later.body);
}

#[tokio::test]
async fn the_page_with_a_new_key_is_never_cached() {
    let app = empty_app().await;
    let (web, org) = operator(&app).await;
    let keys = format!("{}/orgs/{org}/keys", app.base);
    let token = web.get(&format!("/orgs/{org}/keys"), StatusCode::OK).await.csrf();
    let response = reqwest::Client::new()
        .post(&keys)
        .header("cookie", format!("oak_session={}", web.cookie("oak_session").unwrap()))
        .form(&[("_csrf", token.as_str()), ("name", "agent"), ("tier", "approver")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert!(response.text().await.unwrap().contains("id=\"new-key\">oak_live_"));
}

#[tokio::test]
async fn an_owner_makes_management_keys_that_cannot_make_more_of_their_kind() {
    let app = empty_app().await;
    let (web, org) = operator(&app).await;
    let management = new_key(&web, &org, "deploy script", "management").await;
    let (status, settings) = app.get("/v1/org", &management).await;
    assert_eq!((status, settings["id"].as_str()), (StatusCode::OK, Some(org.as_str())));
    let (status, _) = app.post("/v1/keys", &management, &json!({"name": "more", "tier": "management"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a leaked management key cannot mint more of its kind");
    let (_, activity) = app.get("/v1/activity?type=key.created", &management).await;
    let ada = app.store.account_by_email("ada@example.com").await.unwrap().unwrap().id.to_string();
    let actor = &activity["data"][0]["actor"];
    assert_eq!((actor["kind"].as_str(), actor["id"].as_str()), (Some("user"), Some(ada.as_str())), "recorded as the person: {activity}");
    assert_eq!(actor["label"], ada, "by account id, never by name or email (the chain outlives the account)");
    let page = web.get(&format!("/orgs/{org}/activity"), StatusCode::OK).await;
    assert!(page.shows("Ada Lovelace <span class=\"muted\">(user)</span>"), "the page shows the member's name: {}", page.body);
}

#[tokio::test]
async fn revoking_on_the_page_stops_the_key_at_once() {
    let app = empty_app().await;
    let (web, org) = operator(&app).await;
    let raw = new_key(&web, &org, "agent", "standard").await;
    let keys = app.store.list_keys(OrgId::parse(&org).unwrap(), None, 10).await.unwrap();
    let id = keys.iter().find(|k| raw.starts_with(&k.prefix)).unwrap().id;
    let page = format!("/orgs/{org}/keys");
    let done = web.submit(&page, &format!("{page}/{id}/revoke"), &[], StatusCode::SEE_OTHER).await;
    assert_eq!(done.location.as_deref(), Some(page.as_str()));
    assert_eq!(app.check_with(&raw).await, StatusCode::UNAUTHORIZED);
    let listed = web.get(&page, StatusCode::OK).await;
    assert!(listed.shows("is revoked; it no longer works") && listed.shows(">revoked</span>"), "{}", listed.body);
    assert!(!listed.shows(&format!("{id}/revoke")), "a revoked key has no revoke button");
}

#[tokio::test]
async fn a_key_needs_a_name_and_a_tier() {
    let app = empty_app().await;
    let (web, org) = operator(&app).await;
    let page = format!("/orgs/{org}/keys");
    let nameless = web.submit(&page, &page, &[("name", ""), ("tier", "standard")], StatusCode::SEE_OTHER).await;
    assert_eq!(nameless.location.as_deref(), Some(page.as_str()));
    assert!(web.get(&page, StatusCode::OK).await.shows("class=\"flash error\""));
    web.submit(&page, &page, &[("name", "x"), ("tier", "root")], StatusCode::SEE_OTHER).await;
    assert!(web.get(&page, StatusCode::OK).await.shows("Choose the key&#39;s tier"));
    assert!(app.store.list_keys(OrgId::parse(&org).unwrap(), None, 10).await.unwrap().is_empty(), "no key was made");
}
