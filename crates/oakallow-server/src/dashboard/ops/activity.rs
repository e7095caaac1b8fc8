//! The activity page: the audit trail filtered by type, tool, tenant, permission and time,
//! a page at a time; whether its hash chain is intact; and the export, streamed by the same
//! service method as `GET /v1/activity/export`, with the member's reader.

use askama::Template;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use oakallow_domain::audit::{ActivityEntry, ActivityType};
use oakallow_service::ServiceError;
use oakallow_service::activity::{ActivityQuery, ChainVerification, ExportQuery};
use serde::Deserialize;

use super::names::Names;
use super::text;
use crate::AppState;
use crate::dashboard::pages::{ErrorPage, Shell, error_text, org_page, render};
use crate::dashboard::web::{Visitor, urlencoding};

/// Entries per page.
const PAGE: u32 = 50;

/// The filter form's fields, as sent (blank means "any").
#[derive(Debug, Clone, Default, Deserialize)]
pub(super) struct Filters {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    tool: String,
    #[serde(default)]
    tenant: String,
    #[serde(default)]
    permission: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    cursor: String,
}

fn given(value: &str) -> Option<String> {
    Some(value.trim()).filter(|v| !v.is_empty()).map(str::to_owned)
}

/// A time as typed: RFC 3339, or what a `datetime-local` field sends (`2026-05-01T09:30`,
/// read as UTC).
fn instant(value: &str) -> Option<String> {
    let value = given(value)?;
    let clock = value.get(11..).unwrap_or("");
    let zoned = clock.contains(['Z', 'z', '+', '-']);
    Some(match (zoned, clock.len()) {
        (false, 5) => format!("{value}:00Z"),
        (false, 8) => format!("{value}Z"),
        _ => value,
    })
}

impl Filters {
    fn query(&self) -> ActivityQuery {
        ActivityQuery {
            kind: given(&self.kind),
            tool: given(&self.tool),
            tenant: given(&self.tenant),
            permission: given(&self.permission),
            result: None,
            since: instant(&self.since),
            until: instant(&self.until),
            limit: Some(PAGE),
            cursor: given(&self.cursor),
        }
    }

    /// The query string of these filters (without the cursor).
    fn link(&self) -> String {
        let pairs = [("type", &self.kind), ("tool", &self.tool), ("tenant", &self.tenant), ("permission", &self.permission)];
        let times = [("since", &self.since), ("until", &self.until)];
        pairs
            .iter()
            .chain(times.iter())
            .filter(|(_, v)| !v.trim().is_empty())
            .map(|(k, v)| format!("{k}={}&", urlencoding(v.trim())))
            .collect()
    }

    /// The export's query string for `format`, over the same time window.
    fn export(&self, format: &str) -> String {
        let times = [("since", &self.since), ("until", &self.until)];
        let window: String =
            times.iter().filter(|(_, v)| !v.trim().is_empty()).map(|(k, v)| format!("&{k}={}", urlencoding(v.trim()))).collect();
        format!("format={format}{window}")
    }
}

/// One entry as the table shows it.
struct Row {
    entry: ActivityEntry,
    at: String,
    /// Who did it: a member's name, or the actor's label.
    actor: String,
}

#[derive(Template)]
#[template(path = "ops_activity.html")]
struct ActivityPage {
    shell: Shell,
    org_id: String,
    filters: Filters,
    types: [ActivityType; 15],
    rows: Vec<Row>,
    next: Option<String>,
    error: Option<String>,
    chain: ChainVerification,
}

impl ActivityPage {
    /// Whether the permission filter is `permission`.
    fn permission_is(&self, permission: &str) -> bool {
        self.filters.permission == permission
    }

    /// Whether the type filter is `kind`.
    fn type_is(&self, kind: &ActivityType) -> bool {
        self.filters.kind == kind.as_str()
    }
}

/// `GET /orgs/{org}/activity`.
pub(super) async fn page(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    Path(org): Path<String>,
    Query(filters): Query<Filters>,
) -> Response {
    let (member, shell) = match org_page(&state, &visitor, &org, "activity", "Activity", &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let reader = member.reader();
    let chain = match state.service.verify_activity(&reader).await {
        Ok(chain) => chain,
        Err(error) => return ErrorPage::from_service(&error).into_response(),
    };
    let names = match Names::load(&state.service, &member).await {
        Ok(names) => names,
        Err(error) => return ErrorPage::from_service(&error).into_response(),
    };
    let (rows, next, error) = match state.service.list_activity(&reader, &filters.query()).await {
        Ok(page) => {
            let next = page.next_cursor.map(|cursor| format!("?{}cursor={}", filters.link(), urlencoding(&cursor)));
            let row = |entry: ActivityEntry| Row { at: text::time(entry.record.at), actor: names.actor(&entry.record.actor), entry };
            (page.data.into_iter().map(row).collect(), next, None)
        }
        Err(error @ ServiceError::InvalidRequest { .. }) => (Vec::new(), None, Some(error_text(&error))),
        Err(error) => return ErrorPage::from_service(&error).into_response(),
    };
    let page = ActivityPage { shell, org_id: member.org_id().to_string(), filters, types: ActivityType::ALL, rows, next, error, chain };
    render(&page, &page.shell)
}

/// `?format=&since=&until=` of the export link.
#[derive(Debug, Default, Deserialize)]
pub(super) struct ExportFilters {
    #[serde(default)]
    format: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
}

/// `GET /orgs/{org}/activity/export?format=csv|jsonl|cef`: every entry, oldest first, as a file.
pub(super) async fn export(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(org): Path<String>,
    Query(filters): Query<ExportFilters>,
) -> Response {
    let member = match state.service.member(&visitor.signed_in, &org).await {
        Ok(member) => member,
        Err(error) => return ErrorPage::from_service(&error).into_response(),
    };
    let query =
        ExportQuery { format: given(&filters.format), since: instant(&filters.since), until: instant(&filters.until), follow: None };
    let (format, lines) = match state.service.export_activity(&member.reader(), &query) {
        Ok(export) => export,
        Err(error) => return ErrorPage::from_service(&error).into_response(),
    };
    let body = Body::from_stream(lines.map(|chunk| {
        chunk.map_err(|error| {
            tracing::warn!(code = error.code(), "activity export stopped early");
            std::io::Error::other(error.code())
        })
    }));
    let disposition = format!("attachment; filename=\"activity.{}\"", format.extension());
    let headers =
        [(CONTENT_TYPE, format.content_type().to_owned()), (CONTENT_DISPOSITION, disposition), (CACHE_CONTROL, "no-store".to_owned())];
    (StatusCode::OK, headers, body).into_response()
}

#[cfg(test)]
mod tests {
    use super::instant;

    #[test]
    fn a_local_time_field_reads_as_utc_and_rfc_3339_passes_as_written() {
        assert_eq!(instant("2026-05-01T09:30").as_deref(), Some("2026-05-01T09:30:00Z"));
        assert_eq!(instant("2026-05-01T09:30:15").as_deref(), Some("2026-05-01T09:30:15Z"));
        assert_eq!(instant("2026-05-01T09:30:00+02:00").as_deref(), Some("2026-05-01T09:30:00+02:00"));
        assert_eq!(instant(" "), None);
    }
}
