//! The operations pages (issue 8): the approvals queue and its live stream, activity,
//! webhooks and billing, driven over HTTP as a browser would, with their effects checked
//! through the API and the service; and once in Chromium, with screenshots.

mod approvals;
mod browser;
mod live;
mod pages;

use oakallow_domain::account::{ApproverLevels, Role};
use oakallow_domain::keys::KeyTier;
use oakallow_service::keys::CreateKeyRequest;
use oakallow_service::manage::Tools;
use oakallow_service::people::OrgMember;
use oakallow_testkit::{TestApp, WebClient};
use reqwest::StatusCode;
use serde_json::{Value, json};

pub(crate) use super::PASSWORD;

/// The signed-in account of `web` as a member of `org`.
pub(crate) async fn member_of(app: &TestApp, web: &WebClient, org: &str) -> OrgMember {
    let signed_in = app.service.signed_in(&web.cookie("oak_session").unwrap()).await.unwrap();
    app.service.member(&signed_in, org).await.unwrap()
}

/// A new standard key of `owner`'s org.
pub(crate) async fn standard_key(app: &TestApp, owner: &OrgMember) -> String {
    let request = CreateKeyRequest { name: "agent".into(), tier: KeyTier::Standard };
    app.service.create_key(&owner.management().unwrap(), request).await.unwrap().key
}

/// Registers tool `name` in `owner`'s org with `risk`, needing two approvers if `two_levels`.
pub(crate) async fn tool(app: &TestApp, owner: &OrgMember, name: &str, risk: &str, two_levels: bool) {
    let spec =
        json!({ "name": name, "risk_level": risk, "default_permission": "requires_approval", "requires_second_approval": two_levels });
    app.service.create_object::<Tools>(&owner.management().unwrap(), serde_json::from_value(spec).unwrap()).await.unwrap();
}

/// An approval asked for with `key`: its API body.
pub(crate) async fn ask(app: &TestApp, key: &str, tool: &str, reason: &str) -> Value {
    let body = json!({ "tool": tool, "tenant": "tenant_42", "reason": reason, "params": { "amount": 120, "order": "A-17" } });
    let (status, approval) = app.post("/v1/approvals", key, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{approval}");
    approval
}

/// Someone invited into `owner`'s org with `role` and `approver` groups, signed up and in.
pub(crate) async fn invited(app: &TestApp, owner: &OrgMember, email: &str, role: Role, approver: ApproverLevels) -> WebClient {
    let invite = app.service.invite(owner, role, approver).await.unwrap();
    let secret = invite.secret.expose();
    let web = WebClient::new(&app.base);
    let fields = [("email", email), ("name", "Grace Hopper"), ("password", PASSWORD), ("invite", secret)];
    web.submit(&format!("/sign-up?invite={secret}"), "/sign-up", &fields, StatusCode::SEE_OTHER).await;
    web
}

/// The CSRF token of `web`'s session (every page's sign-out form carries it).
pub(crate) async fn token(web: &WebClient, org: &str) -> String {
    web.get(&format!("/orgs/{org}/"), StatusCode::OK).await.csrf()
}
