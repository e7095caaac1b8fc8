//! What every page shares: the shell (navigation, org switcher, the visitor's CSRF token, a
//! one-shot message), rendering with the page headers, redirects with a message, and error
//! pages. Templates are compiled into the binary and escape every value by default.

use askama::Template;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use oakallow_service::ServiceError;
use oakallow_service::people::OrgMember;

use super::web::{FLASH_COOKIE, Visitor, cookie, page_headers, set_cookie, urlencoding};
use crate::AppState;

/// An org in the switcher and the current org's navigation.
#[derive(Debug, Clone)]
pub(crate) struct OrgNav {
    /// Its id.
    pub(crate) id: String,
    /// Its name.
    pub(crate) name: String,
    /// The visitor's role in it.
    pub(crate) role: &'static str,
    /// Whether the visitor may change its configuration.
    pub(crate) can_configure: bool,
}

/// A one-shot message shown on the next page.
#[derive(Debug, Clone)]
pub(crate) struct Flash {
    /// `success` or `error`.
    pub(crate) kind: &'static str,
    /// The text.
    pub(crate) text: String,
}

/// The frame around every page.
#[derive(Debug, Clone)]
pub(crate) struct Shell {
    /// The page title.
    pub(crate) title: String,
    /// The signed-in visitor's name, if any.
    pub(crate) account: Option<String>,
    /// The CSRF token for this page's forms.
    pub(crate) csrf: String,
    /// The org the page is about.
    pub(crate) org: Option<OrgNav>,
    /// Every org the visitor belongs to.
    pub(crate) orgs: Vec<OrgNav>,
    /// The navigation entry to mark current.
    pub(crate) section: &'static str,
    /// A message from the previous action.
    pub(crate) flash: Option<Flash>,
}

impl Shell {
    /// A shell for a page outside any org (sign-in, account, new org).
    pub(crate) fn bare(title: impl Into<String>, csrf: String, headers: &HeaderMap) -> Self {
        Self { title: title.into(), account: None, csrf, org: None, orgs: Vec::new(), section: "", flash: read_flash(headers) }
    }

    /// Whether `section` is the current navigation entry (for `aria-current`).
    pub(crate) fn is(&self, section: &str) -> bool {
        self.section == section
    }
}

fn nav(member: &OrgMember) -> OrgNav {
    OrgNav {
        id: member.org.id.to_string(),
        name: member.org.name.clone(),
        role: member.role().as_str(),
        can_configure: member.role().can_configure(),
    }
}

/// The org page context: the visitor as a member of org `org` (404 page if they are not one)
/// and the shell for a page of `section`.
pub(crate) async fn org_page(
    state: &AppState,
    visitor: &Visitor,
    org: &str,
    section: &'static str,
    title: &str,
    headers: &HeaderMap,
) -> Result<(OrgMember, Shell), Response> {
    let service = &state.service;
    let member = service.member(&visitor.signed_in, org).await.map_err(|e| ErrorPage::from_service(&e).into_response())?;
    let orgs = service.my_orgs(&visitor.signed_in).await.map_err(|e| ErrorPage::from_service(&e).into_response())?;
    let orgs = orgs
        .iter()
        .map(|m| OrgNav {
            id: m.org.id.to_string(),
            name: m.org.name.clone(),
            role: m.membership.role.as_str(),
            can_configure: m.membership.role.can_configure(),
        })
        .collect();
    let shell = Shell {
        title: format!("{title} · {}", member.org.name),
        account: Some(visitor.signed_in.account.name.clone()),
        csrf: visitor.csrf(),
        org: Some(nav(&member)),
        orgs,
        section,
        flash: read_flash(headers),
    };
    Ok((member, shell))
}

fn read_flash(headers: &HeaderMap) -> Option<Flash> {
    let value = cookie(headers, FLASH_COOKIE)?;
    let decoded = percent_decode(value);
    let (kind, text) = decoded.split_once(':')?;
    let kind = if kind == "e" { "error" } else { "success" };
    Some(Flash { kind, text: text.chars().take(300).collect() })
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok()).and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Renders a page (status 200) with the page headers; a page that shows a flash clears it.
pub(crate) fn render(page: &impl Template, shell: &Shell) -> Response {
    render_status(StatusCode::OK, page, shell.flash.is_some())
}

fn render_status(status: StatusCode, page: &impl Template, clear_flash: bool) -> Response {
    let mut response = match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(error) => {
            tracing::error!(%error, "a dashboard template failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, Html("<h1>Something went wrong</h1>".to_owned())).into_response()
        }
    };
    if clear_flash {
        response
            .headers_mut()
            .append(header::SET_COOKIE, HeaderValue::from_static("oak_flash=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax"));
    }
    page_headers(&mut response);
    response
}

/// A redirect (303, so the browser GETs the target) carrying a one-shot message.
pub(crate) fn redirect_with(state: &AppState, headers: &HeaderMap, to: &str, ok: bool, text: &str) -> Response {
    let value = urlencoding(&format!("{}:{text}", if ok { "s" } else { "e" }));
    let mut response = Redirect::to(to).into_response();
    response.headers_mut().append(header::SET_COOKIE, set_cookie(state, headers, FLASH_COOKIE, &value, Some(60)));
    response
}

/// After a form: back to `to` with "done" or with the reason it was refused; a refusal by role
/// (403), something that is not there or not the visitor's (404), and failures get their error
/// page instead, with their status.
pub(crate) fn after<T>(state: &AppState, headers: &HeaderMap, to: &str, result: Result<T, ServiceError>, done: &str) -> Response {
    match result {
        Ok(_) => redirect_with(state, headers, to, true, done),
        Err(
            error @ (ServiceError::ForbiddenRole { .. }
            | ServiceError::ForbiddenTier { .. }
            | ServiceError::NotFound { .. }
            | ServiceError::Unavailable
            | ServiceError::Internal),
        ) => ErrorPage::from_service(&error).into_response(),
        Err(error) => redirect_with(state, headers, to, false, &error_text(&error)),
    }
}

/// What a refusal says to a person.
pub(crate) fn error_text(error: &ServiceError) -> String {
    match error {
        ServiceError::InvalidParams { errors } => {
            let first = errors.first().map(|e| format!("{} {}", e.path, e.message)).unwrap_or_default();
            format!("The parameters do not match the schema: {first}")
        }
        other => {
            // A sentence, except where it starts with a field name (`parameters_schema …`), which
            // stays as the API spells it.
            let text = other.to_string();
            let starts_with_name = text.split_whitespace().next().is_some_and(|word| word.contains('_'));
            let mut chars = text.chars();
            match chars.next() {
                Some(first) if !starts_with_name => first.to_uppercase().chain(chars).collect::<String>() + ".",
                _ => text + ".",
            }
        }
    }
}

/// A page that explains why the request did not work.
#[derive(Template)]
#[template(path = "error.html")]
pub(crate) struct ErrorPage {
    status: StatusCode,
    title: &'static str,
    message: String,
}

impl ErrorPage {
    /// An error page with `status` and a message.
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        let title = status.canonical_reason().unwrap_or("Error");
        Self { status, title, message: message.into() }
    }

    /// 403 with a message.
    pub(crate) fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    /// 404: the same for what does not exist and what is not the visitor's to see.
    pub(crate) fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "There is nothing here, or it is not yours to see.")
    }

    /// The page for a refused or failed use case.
    pub(crate) fn from_service(error: &ServiceError) -> Self {
        match error {
            ServiceError::NotFound { .. } | ServiceError::ToolNotFound { .. } => Self::not_found(),
            ServiceError::ForbiddenRole { .. } | ServiceError::ForbiddenTier { .. } => Self::forbidden(error_text(error)),
            ServiceError::RateLimited { .. } => Self::new(StatusCode::TOO_MANY_REQUESTS, error_text(error)),
            ServiceError::Unavailable => Self::new(StatusCode::SERVICE_UNAVAILABLE, "The database cannot be reached. Try again shortly."),
            ServiceError::Internal => Self::new(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong on our side; it has been logged."),
            ServiceError::Unauthenticated => Self::new(StatusCode::UNAUTHORIZED, "Please sign in."),
            other => Self::new(StatusCode::BAD_REQUEST, error_text(other)),
        }
    }
}

impl IntoResponse for ErrorPage {
    fn into_response(self) -> Response {
        let status = self.status;
        render_status(status, &self, false)
    }
}
