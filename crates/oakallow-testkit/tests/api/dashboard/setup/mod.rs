//! Setting an org up in the dashboard (issue 8): the quickstart whose commands run when
//! pasted, API keys shown once, the team and its invitation links, and the org settings; who
//! may do what (members read, a forged POST is refused with 403), and another org's ids
//! answering 404.

mod browser;
mod keys;
mod quickstart;
mod roles;
mod settings;
mod team;

use oakallow_testkit::{TestApp, WebClient, WebPage};
use reqwest::StatusCode;

use super::PASSWORD;

/// The text of the element with id `id` (up to its first tag), as a browser shows it.
pub(crate) fn text_of(page: &WebPage, id: &str) -> String {
    let marker = format!("id=\"{id}\">");
    let start = page.body.find(&marker).map(|i| i + marker.len()).unwrap_or_else(|| panic!("no #{id} on the page:\n{}", page.body));
    unescape(page.body[start..].split('<').next().unwrap_or_default())
}

/// HTML text with the entities the templates write turned back into characters.
pub(crate) fn unescape(html: &str) -> String {
    let entities = [("&lt;", "<"), ("&gt;", ">"), ("&quot;", "\""), ("&#34;", "\""), ("&#39;", "'"), ("&#x27;", "'"), ("&amp;", "&")];
    entities.iter().fold(html.to_owned(), |text, (entity, character)| text.replace(entity, character))
}

/// Makes a key of `tier` on the keys page; answers the page (with the key shown once).
pub(crate) async fn key_page(web: &WebClient, org: &str, name: &str, tier: &str) -> WebPage {
    let keys = format!("/orgs/{org}/keys");
    web.submit(&keys, &keys, &[("name", name), ("tier", tier)], StatusCode::OK).await
}

/// Makes a key of `tier` on the keys page; answers the raw key.
pub(crate) async fn new_key(web: &WebClient, org: &str, name: &str, tier: &str) -> String {
    text_of(&key_page(web, org, name, tier).await, "new-key")
}

/// Makes an invitation on the team page; answers the link.
pub(crate) async fn invite_link(web: &WebClient, org: &str, role: &str, levels: &[&str]) -> String {
    let team = format!("/orgs/{org}/team");
    let mut fields = vec![("role", role)];
    fields.extend(levels.iter().map(|level| (*level, "on")));
    let page = web.submit(&team, &format!("{team}/invites"), &fields, StatusCode::OK).await;
    text_of(&page, "invite-link")
}

/// A new browser that signs up through `link` as `email`; answers the browser, signed in.
pub(crate) async fn join(app: &TestApp, link: &str, email: &str, name: &str) -> WebClient {
    let web = WebClient::new(&app.base);
    let path = link.strip_prefix(&app.base).unwrap_or_else(|| panic!("{link} is not on {}", app.base));
    let secret = path.strip_prefix("/invites/").unwrap();
    let to_sign_up = web.get(path, StatusCode::SEE_OTHER).await;
    let sign_up = to_sign_up.location.unwrap();
    let fields = [("email", email), ("name", name), ("password", PASSWORD), ("invite", secret)];
    web.submit(&sign_up, "/sign-up", &fields, StatusCode::SEE_OTHER).await;
    web
}

/// The operator's org with a second account in it as `role`; answers both browsers.
pub(crate) async fn with_teammate(app: &TestApp, role: &str) -> (WebClient, WebClient, String) {
    let (owner, org) = super::operator(app).await;
    let link = invite_link(&owner, &org, role, &[]).await;
    let teammate = join(app, &link, "grace@example.com", "Grace Hopper").await;
    (owner, teammate, org)
}

/// Posts `fields` to `action` with the CSRF token of the visitor's own pages (as a hand-made
/// form would), expecting `expected`.
pub(crate) async fn forge(web: &WebClient, org: &str, action: &str, fields: &[(&str, &str)], expected: StatusCode) -> WebPage {
    web.submit(&format!("/orgs/{org}/"), action, fields, expected).await
}
