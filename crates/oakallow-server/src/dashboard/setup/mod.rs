//! Setting an org up: the quickstart, API keys, the team and its invitations, and the org's
//! settings. Every action goes through the service with the member's caller; a refusal by
//! role answers 403 and an id that is not this org's answers 404, whatever the page showed.

mod invites;
mod keys;
mod quickstart;
mod settings;
mod team;

use axum::Router;
use axum::response::{IntoResponse, Response};
use oakallow_domain::Timestamp;
use oakallow_service::ServiceError;
use oakallow_service::people::OrgMember;

use super::pages::{ErrorPage, Shell, after, org_page};
use super::web::CheckedForm;
pub(super) use super::web::base_url;
use crate::AppState;

/// The quickstart, keys, team and settings pages.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().merge(quickstart::routes()).merge(keys::routes()).merge(team::routes()).merge(invites::routes()).merge(settings::routes())
}

/// The member who sent `form` on a page of org `org`, and the shell to answer with; the
/// sign-in page if the form came from nobody signed in, 404 if they are not a member.
async fn form_member(
    state: &AppState,
    form: &CheckedForm,
    org: &str,
    section: &'static str,
    title: &str,
) -> Result<(OrgMember, Shell), Response> {
    let visitor = form.signed_in()?;
    org_page(state, visitor, org, section, title, &form.headers).await
}

/// The error page for a use case that refused or failed.
fn refused(error: &ServiceError) -> Response {
    ErrorPage::from_service(error).into_response()
}

/// A time as the tables show it, to the minute: `2026-11-28 02:12 UTC`.
fn short_time(at: Timestamp) -> String {
    let text = at.to_string();
    match (text.get(..10), text.get(11..16)) {
        (Some(day), Some(minute)) => format!("{day} {minute} UTC"),
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, HeaderValue, header};

    use super::*;

    fn headers(host: &str, proto: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_str(host).unwrap());
        if let Some(proto) = proto {
            headers.insert("x-forwarded-proto", HeaderValue::from_str(proto).unwrap());
        }
        headers
    }

    #[test]
    fn the_base_url_is_the_host_the_browser_used() {
        assert_eq!(base_url(&headers("oak.example.com", Some("HTTPS"))), "https://oak.example.com");
        assert_eq!(base_url(&headers("127.0.0.1:40123", None)), "http://127.0.0.1:40123");
        assert_eq!(base_url(&headers("[::1]:8080", Some("http"))), "http://[::1]:8080");
    }

    #[test]
    fn a_host_that_could_break_out_of_a_shell_command_is_not_used() {
        for host in ["evil.example;rm -rf ~", "a$(id)", "x\"y", "a b", ""] {
            assert_eq!(base_url(&headers(host, None)), "http://127.0.0.1:8080", "{host}");
        }
        assert_eq!(base_url(&HeaderMap::new()), "http://127.0.0.1:8080");
    }

    #[test]
    fn times_are_shown_to_the_minute() {
        let at = Timestamp::parse_rfc3339("2026-11-28T02:12:30.123456Z").unwrap();
        assert_eq!(short_time(at), "2026-11-28 02:12 UTC");
    }
}
