//! Reading the audit trail: filtered, paginated lists, single entries, and chain verification.

use oakallow_domain::Timestamp;
use oakallow_domain::audit::{ActivityEntry, ActivityType};
use oakallow_domain::id::ActivityId;
use oakallow_domain::permission::Permission;
use oakallow_store::ActivityFilter;
use serde::{Deserialize, Serialize};

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
    pub kind: Option<String>,
    /// Tool name.
    pub tool: Option<String>,
    /// Tenant external id.
    pub tenant: Option<String>,
    /// Permission.
    pub permission: Option<String>,
    /// Result.
    pub result: Option<String>,
    /// RFC 3339; entries at or after.
    pub since: Option<String>,
    /// RFC 3339; entries before.
    pub until: Option<String>,
    /// Page size (1–500, default 50).
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

fn time(field: &str, value: Option<&str>) -> ServiceResult<Option<Timestamp>> {
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

    /// Recomputes the org's hash chain.
    pub async fn verify_activity(&self, caller: &Reader) -> ServiceResult<ChainVerification> {
        let check = self.store.verify_chain(caller.org_id()).await?;
        Ok(ChainVerification {
            valid: check.first_broken.is_none(),
            entries: check.entries,
            head_hash: check.head_hash,
            first_broken: check.first_broken.map(|(id, seq)| BrokenEntry { id, seq }),
        })
    }
}
