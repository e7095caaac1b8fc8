//! The settings page: owners and admins change the org's settings through the same rules as
//! `PATCH /v1/org`; only the fields they changed are sent.

use oakallow_domain::id::OrgId;
use oakallow_domain::org::TokenSigning;
use reqwest::StatusCode;

use super::super::{empty_app, operator};

#[tokio::test]
async fn an_owner_changes_every_setting_and_the_api_sees_it() {
    let app = empty_app().await;
    let (web, org) = operator(&app).await;
    let page = format!("/orgs/{org}/settings");
    let shown = web.get(&page, StatusCode::OK).await;
    assert!(shown.shows("value=\"My org\"") && shown.shows("id=\"redact_pii\" name=\"redact_pii\" checked"), "{}", shown.body);
    assert!(shown.shows("href=\"/orgs/new\""), "a way to another org");

    let fields = [("name", "Acme support"), ("approval_timeout_seconds", "900"), ("token_signing", "ed25519")];
    let saved = web.submit(&page, &page, &fields, StatusCode::SEE_OTHER).await;
    assert_eq!(saved.location.as_deref(), Some(page.as_str()));
    let settings = app.store.org(OrgId::parse(&org).unwrap()).await.unwrap().unwrap();
    assert_eq!(settings.name, "Acme support");
    assert_eq!(settings.approval_timeout_seconds, Some(900));
    assert_eq!(settings.token_signing, TokenSigning::Ed25519);
    assert!(!settings.redact_pii, "an unticked box turns redaction off");
    let again = web.get(&page, StatusCode::OK).await;
    assert!(again.shows("Settings saved") && again.shows("value=\"900\"") && again.shows("value=\"ed25519\" selected"), "{}", again.body);

    // The same values again change nothing; an empty timeout goes back to the default.
    let unchanged = [("name", "Acme support"), ("approval_timeout_seconds", "900"), ("token_signing", "ed25519")];
    web.submit(&page, &page, &unchanged, StatusCode::SEE_OTHER).await;
    assert!(web.get(&page, StatusCode::OK).await.shows("Nothing changed"));
    let reset = [("name", "Acme support"), ("approval_timeout_seconds", ""), ("redact_pii", "on"), ("token_signing", "ed25519")];
    web.submit(&page, &page, &reset, StatusCode::SEE_OTHER).await;
    let settings = app.store.org(OrgId::parse(&org).unwrap()).await.unwrap().unwrap();
    assert_eq!((settings.approval_timeout_seconds, settings.redact_pii), (None, true));
}

#[tokio::test]
async fn a_refused_setting_says_why_and_changes_nothing() {
    let app = empty_app().await;
    let (web, org) = operator(&app).await;
    let page = format!("/orgs/{org}/settings");
    for fields in [[("name", ""), ("approval_timeout_seconds", "")], [("name", "My org"), ("approval_timeout_seconds", "soon")]] {
        let refused = web.submit(&page, &page, &fields, StatusCode::SEE_OTHER).await;
        assert_eq!(refused.location.as_deref(), Some(page.as_str()));
        let shown = web.get(&page, StatusCode::OK).await;
        assert!(shown.shows("class=\"flash error\""), "{fields:?}: {}", shown.body);
    }
    let settings = app.store.org(OrgId::parse(&org).unwrap()).await.unwrap().unwrap();
    assert_eq!((settings.name.as_str(), settings.approval_timeout_seconds, settings.redact_pii), ("My org", None, true));
}
