//! Reading the audit trail: filtered, paginated lists, single entries, and chain verification.

use oakallow_domain::Timestamp;
use oakallow_domain::audit::{ActivityEntry, ActivityType};
use oakallow_domain::id::ActivityId;
use oakallow_domain::permission::Permission;
use oakallow_store::ActivityFilter;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use futures_util::stream::{self, BoxStream, StreamExt};
use oakallow_domain::id::OrgId;
use oakallow_store::Store;
use std::sync::Arc;

use crate::Service;
use crate::auth::Reader;
use crate::error::{ServiceError, ServiceResult};
use crate::page::{Page, PageRequest};

/// Query of `GET /v1/activity`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ActivityQuery {
    /// Entry type, e.g. `permission.checked`.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    #[param(value_type = Option<oakallow_domain::audit::ActivityType>)]
    pub kind: Option<String>,
    /// Tool name.
    pub tool: Option<String>,
    /// Tenant external id.
    pub tenant: Option<String>,
    /// Permission.
    #[param(value_type = Option<oakallow_domain::permission::Permission>)]
    pub permission: Option<String>,
    /// Result.
    pub result: Option<String>,
    /// RFC 3339; entries at or after.
    #[param(format = DateTime)]
    pub since: Option<String>,
    /// RFC 3339; entries before.
    #[param(format = DateTime)]
    pub until: Option<String>,
    /// Page size (1–500, default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// Cursor from the previous page.
    pub cursor: Option<String>,
}

/// Answer of `GET /v1/activity/verify`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ChainVerification {
    /// Every entry links to the one before and hashes to what it claims.
    pub valid: bool,
    /// Entries checked.
    pub entries: u64,
    /// Hash of the newest entry.
    pub head_hash: String,
    /// The first entry that does not fit.
    pub first_broken: Option<BrokenEntry>,
}

/// An entry where the chain breaks.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BrokenEntry {
    /// Entry id.
    pub id: String,
    /// Its position.
    pub seq: u64,
}

pub(crate) fn time(field: &str, value: Option<&str>) -> ServiceResult<Option<Timestamp>> {
    value
        .map(|v| Timestamp::parse_rfc3339(v).ok_or_else(|| ServiceError::invalid(format!("{field} must be an RFC 3339 timestamp"))))
        .transpose()
}

impl ActivityQuery {
    fn filter(&self) -> ServiceResult<ActivityFilter> {
        let page = PageRequest { limit: self.limit, cursor: self.cursor.clone() };
        Ok(ActivityFilter {
            kind: self
                .kind
                .as_deref()
                .map(|k| ActivityType::parse(k).ok_or_else(|| ServiceError::invalid(format!("unknown activity type {k:?}"))))
                .transpose()?,
            tool: self.tool.clone(),
            tenant: self.tenant.clone(),
            permission: self
                .permission
                .as_deref()
                .map(|p| Permission::parse(p).ok_or_else(|| ServiceError::invalid(format!("unknown permission {p:?}"))))
                .transpose()?,
            result: self.result.clone(),
            since: time("since", self.since.as_deref())?,
            until: time("until", self.until.as_deref())?,
            before_seq: page.position_as::<u64>()?,
            after_seq: None,
            ascending: false,
            limit: page.limit()? + 1,
        })
    }
}

impl Service {
    /// One page of the org's activity, newest first.
    pub async fn list_activity(&self, caller: &Reader, query: &ActivityQuery) -> ServiceResult<Page<ActivityEntry>> {
        let filter = query.filter()?;
        let entries = self.store.list_activity(caller.org_id(), &filter).await?;
        Ok(Page::from_probe(entries, filter.limit - 1, |e| e.seq.to_string()))
    }

    /// One entry of the org's activity.
    pub async fn get_activity(&self, caller: &Reader, id: &str) -> ServiceResult<ActivityEntry> {
        let id: ActivityId = id.parse().map_err(|_| ServiceError::NotFound { what: "activity entry" })?;
        self.store.activity(caller.org_id(), id).await?.ok_or(ServiceError::NotFound { what: "activity entry" })
    }

    /// Recomputes the org's hash chain (at most one walk per org at a time on this node; see
    /// [`crate::chain_walks`]).
    pub async fn verify_activity(&self, caller: &Reader) -> ServiceResult<ChainVerification> {
        let (store, org) = (Arc::clone(&self.store), caller.org_id());
        let check = self.walks.verify(org, async move { Ok(store.verify_chain(org).await?) }).await?;
        Ok(ChainVerification {
            valid: check.first_broken.is_none(),
            entries: check.entries,
            head_hash: check.head_hash,
            first_broken: check.first_broken.map(|(id, seq)| BrokenEntry { id, seq }),
        })
    }
}

/// Query of `GET /v1/activity/export`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `jsonl` (default), `csv`, or `cef` (ArcSight CEF, for SIEMs).
    #[param(pattern = "^(jsonl|csv|cef)$")]
    pub format: Option<String>,
    /// RFC 3339; entries at or after.
    #[param(format = DateTime)]
    pub since: Option<String>,
    /// RFC 3339; entries before.
    #[param(format = DateTime)]
    pub until: Option<String>,
    /// Keep the stream open after the last entry and send each new one as it is written (not
    /// with `until`), until the client disconnects.
    pub follow: Option<bool>,
}

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// One JSON entry per line.
    Jsonl,
    /// Comma-separated values with a header row.
    Csv,
    /// One ArcSight CEF event per line, for SIEMs.
    Cef,
}

impl ExportFormat {
    /// The response's content type.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Jsonl => "application/x-ndjson",
            Self::Csv => "text/csv; charset=utf-8",
            Self::Cef => "text/plain; charset=utf-8",
        }
    }

    /// The file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Jsonl => "jsonl",
            Self::Csv => "csv",
            Self::Cef => "cef",
        }
    }
}

/// Entries read per query while exporting.
const EXPORT_PAGE: u32 = 500;

const CSV_COLUMNS: [&str; 25] = [
    "id",
    "org_id",
    "seq",
    "at",
    "type",
    "actor_kind",
    "actor_id",
    "actor_label",
    "tenant",
    "resource",
    "tool",
    "method",
    "permission",
    "resolved_from",
    "rule_id",
    "params",
    "reason",
    "result",
    "duration_ms",
    "token_jti",
    "approval_id",
    "check_id",
    "details",
    "prev_hash",
    "hash",
];

/// First characters (after any leading whitespace) that make a spreadsheet read a cell as a
/// formula: the ASCII ones and their fullwidth forms, which some spreadsheets fold to ASCII.
const FORMULA_STARTS: [char; 10] = ['=', '+', '-', '@', '\t', '\r', '＝', '＋', '－', '＠'];

/// One CSV cell. A cell that a spreadsheet could run as a formula is prefixed with `'`.
fn csv_cell(value: &Value) -> String {
    let text = match value {
        Value::Null => return String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let text = if text.starts_with(FORMULA_STARTS) || text.trim_start().starts_with(FORMULA_STARTS) { format!("'{text}") } else { text };
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text }
}

fn csv_row(entry: &ActivityEntry) -> String {
    let value = serde_json::to_value(entry).unwrap_or(Value::Null);
    let cells: Vec<String> = CSV_COLUMNS
        .iter()
        .map(|column| match *column {
            "actor_kind" => csv_cell(&value["actor"]["kind"]),
            "actor_id" => csv_cell(&value["actor"]["id"]),
            "actor_label" => csv_cell(&value["actor"]["label"]),
            column => csv_cell(&value[column]),
        })
        .collect();
    cells.join(",") + "\n"
}

fn export_line(entry: &ActivityEntry, format: ExportFormat) -> String {
    match format {
        ExportFormat::Jsonl => serde_json::to_string(entry).unwrap_or_default() + "\n",
        ExportFormat::Csv => csv_row(entry),
        ExportFormat::Cef => crate::cef::line(entry),
    }
}

/// How often a followed export asks the store for new entries once it has sent them all. The
/// store is asked, not this node's committer, so entries other nodes write are followed too.
const FOLLOW_POLL: std::time::Duration = std::time::Duration::from_millis(250);

/// Streams `org`'s entries oldest first, a page at a time; `follow`ing, it does not end at the
/// last entry but waits for the next.
fn export_stream(
    store: Arc<dyn Store>,
    org: OrgId,
    filter: ActivityFilter,
    format: ExportFormat,
    follow: bool,
) -> BoxStream<'static, Result<String, ServiceError>> {
    let header = match format {
        ExportFormat::Csv => Some(Ok(CSV_COLUMNS.join(",") + "\n")),
        ExportFormat::Jsonl | ExportFormat::Cef => None,
    };
    let pages = stream::try_unfold(Some(filter), move |next| {
        let store = Arc::clone(&store);
        async move {
            let Some(filter) = next else { return Ok(None) };
            loop {
                let entries = store.list_activity(org, &filter).await.map_err(ServiceError::from)?;
                let more = entries.len() == filter.limit as usize;
                if entries.is_empty() && follow {
                    tokio::time::sleep(FOLLOW_POLL).await;
                    continue;
                }
                let chunk: String = entries.iter().map(|e| export_line(e, format)).collect();
                let after = ActivityFilter { after_seq: entries.last().map(|e| e.seq).or(filter.after_seq), ..filter };
                let next = (more || follow).then_some(after);
                return Ok(Some((chunk, next)));
            }
        }
    });
    stream::iter(header).chain(pages).boxed()
}

impl Service {
    /// The org's activity as a stream of JSON lines or CSV, oldest first. An org runs at most
    /// `rate_limits.exports_per_org` exports at once (429 beyond).
    pub fn export_activity(
        &self,
        caller: &Reader,
        query: &ExportQuery,
    ) -> ServiceResult<(ExportFormat, BoxStream<'static, Result<String, ServiceError>>)> {
        let format = match query.format.as_deref() {
            None | Some("jsonl") => ExportFormat::Jsonl,
            Some("csv") => ExportFormat::Csv,
            Some("cef") => ExportFormat::Cef,
            Some(other) => return Err(ServiceError::invalid(format!("unknown export format {other:?}; use jsonl, csv or cef"))),
        };
        let filter = ActivityFilter {
            since: time("since", query.since.as_deref())?,
            until: time("until", query.until.as_deref())?,
            ascending: true,
            after_seq: Some(0),
            limit: EXPORT_PAGE,
            ..ActivityFilter::default()
        };
        let follow = query.follow.unwrap_or(false);
        if follow && filter.until.is_some() {
            return Err(ServiceError::invalid("follow cannot be combined with until"));
        }
        // The stream holds the org's export place until it ends or is dropped.
        let permit = self.limits.export(caller.org_id())?;
        let lines = export_stream(Arc::clone(&self.store), caller.org_id(), filter, format, follow).inspect(move |_| {
            let _ = &permit;
        });
        Ok((format, lines.boxed()))
    }
}
