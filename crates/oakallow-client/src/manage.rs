//! Management (collections, org, policy), approval lists and the activity trail. Objects are
//! answered as JSON values, exactly as the server wrote them.

use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::runtime::Approval;
use crate::{ApprovalStatus, Client, ClientError};

/// One page of a list: `{data, next_cursor}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The items.
    pub data: Vec<T>,
    /// The cursor of the next page, when there is one.
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// Answer of `GET /v1/activity/verify`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChainVerification {
    /// Every entry links to the one before and hashes to what it claims.
    pub valid: bool,
    /// Entries checked.
    pub entries: u64,
    /// Hash of the newest entry.
    pub head_hash: String,
    /// The first entry that does not fit: `{id, seq}`.
    #[serde(default)]
    pub first_broken: Option<Value>,
}

/// Filters of `GET /v1/approvals`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApprovalQuery {
    /// Only this status.
    pub status: Option<ApprovalStatus>,
    /// Only this tool.
    pub tool: Option<String>,
    /// Only this tenant (external id).
    pub tenant: Option<String>,
}

/// Filters of `GET /v1/activity`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActivityQuery {
    /// Only this entry type (`permission.checked`, …).
    pub kind: Option<String>,
    /// Only this tool.
    pub tool: Option<String>,
    /// Only this tenant.
    pub tenant: Option<String>,
    /// Only checks with this permission.
    pub permission: Option<String>,
    /// Only this result.
    pub result: Option<String>,
    /// From this time on (RFC 3339).
    pub since: Option<String>,
    /// Before this time (RFC 3339).
    pub until: Option<String>,
}

/// The largest page the server gives.
const PAGE: u32 = 500;

/// A management collection (`/v1/tools`, `/v1/rules`, `/v1/keys`, …).
#[derive(Debug, Clone)]
pub struct Collection<'c> {
    client: &'c Client,
    name: &'static str,
}

impl Collection<'_> {
    /// One page of the collection.
    pub async fn list(&self, limit: Option<u32>, cursor: Option<&str>) -> Result<Page<Value>, ClientError> {
        self.client.page(&["v1", self.name], Vec::new(), limit, cursor).await
    }

    /// Every object, following the cursors.
    pub async fn list_all(&self) -> Result<Vec<Value>, ClientError> {
        self.client.all(&["v1", self.name], Vec::new()).await
    }

    /// Creates an object.
    pub async fn create(&self, body: &Value) -> Result<Value, ClientError> {
        let url = self.client.url(&["v1", self.name], &[])?;
        self.client.json(Client::outgoing(Method::POST, url, Some(body))?).await
    }

    /// One object by id.
    pub async fn get(&self, id: &str) -> Result<Value, ClientError> {
        let url = self.client.url(&["v1", self.name, id], &[])?;
        self.client.json(Client::outgoing::<Value>(Method::GET, url, None)?).await
    }

    /// Replaces the given fields (`null` resets one).
    pub async fn update(&self, id: &str, patch: &Value) -> Result<Value, ClientError> {
        let url = self.client.url(&["v1", self.name, id], &[])?;
        self.client.json(Client::outgoing(Method::PATCH, url, Some(patch))?).await
    }

    /// Deletes it (a key: revokes it); `cascade` also deletes the rules naming it.
    pub async fn delete(&self, id: &str, cascade: bool) -> Result<Value, ClientError> {
        let url = self.client.url(&["v1", self.name, id], &[("cascade", cascade.then(|| "true".to_owned()))])?;
        self.client.json(Client::outgoing::<Value>(Method::DELETE, url, None)?).await
    }
}

impl Client {
    /// A management collection by name: `tools`, `categories`, `tenants`, `resources`,
    /// `methods`, `rules`, `keys`.
    pub fn collection(&self, name: &str) -> Result<Collection<'_>, ClientError> {
        const NAMES: [&str; 7] = ["tools", "categories", "tenants", "resources", "methods", "rules", "keys"];
        let name = NAMES.into_iter().find(|known| *known == name).ok_or(ClientError::Invalid("no such collection"))?;
        Ok(Collection { client: self, name })
    }

    /// `/v1/keys` (create answers the raw key once; delete revokes).
    pub fn keys(&self) -> Collection<'_> {
        Collection { client: self, name: "keys" }
    }

    /// `/v1/tools`.
    pub fn tools(&self) -> Collection<'_> {
        Collection { client: self, name: "tools" }
    }

    /// `/v1/rules`.
    pub fn rules(&self) -> Collection<'_> {
        Collection { client: self, name: "rules" }
    }

    /// `GET /v1/org`.
    pub async fn org(&self) -> Result<Value, ClientError> {
        self.json(Self::outgoing::<Value>(Method::GET, self.url(&["v1", "org"], &[])?, None)?).await
    }

    /// `PATCH /v1/org` (`null` resets a setting).
    pub async fn update_org(&self, patch: &Value) -> Result<Value, ClientError> {
        self.json(Self::outgoing(Method::PATCH, self.url(&["v1", "org"], &[])?, Some(patch))?).await
    }

    /// `GET /v1/policy`: the policy document.
    pub async fn export_policy(&self) -> Result<Value, ClientError> {
        self.json(Self::outgoing::<Value>(Method::GET, self.url(&["v1", "policy"], &[])?, None)?).await
    }

    /// `PUT /v1/policy` with a policy document; answers `{applied, diff}`. Idempotent, so
    /// retried.
    pub async fn apply_policy(&self, document: &Value, dry_run: bool) -> Result<Value, ClientError> {
        let url = self.url(&["v1", "policy"], &[("dry_run", dry_run.then(|| "true".to_owned()))])?;
        let mut outgoing = Self::outgoing(Method::PUT, url, Some(document))?;
        outgoing.retry = true;
        self.json(outgoing).await
    }

    /// `POST /v1/policy/simulate`: the org's recorded checks in the window decided again under
    /// `document` (nothing is applied): counts old → new, and up to `limit` changed calls.
    pub async fn simulate_policy(
        &self,
        document: &Value,
        since: Option<&str>,
        until: Option<&str>,
        limit: Option<u32>,
    ) -> Result<Value, ClientError> {
        let body = serde_json::json!({ "policy": document, "since": since, "until": until, "limit": limit });
        self.json(Self::outgoing(Method::POST, self.url(&["v1", "policy", "simulate"], &[])?, Some(&body))?).await
    }

    /// `GET /v1/approvals`: one page, newest first.
    pub async fn list_approvals(
        &self,
        query: &ApprovalQuery,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Result<Page<Approval>, ClientError> {
        self.page(&["v1", "approvals"], approval_filters(query), limit, cursor).await
    }

    /// Every approval that matches, newest first.
    pub async fn all_approvals(&self, query: &ApprovalQuery) -> Result<Vec<Approval>, ClientError> {
        self.all(&["v1", "approvals"], approval_filters(query)).await
    }

    /// `GET /v1/activity`: one page, newest first.
    pub async fn list_activity(&self, query: &ActivityQuery, limit: Option<u32>, cursor: Option<&str>) -> Result<Page<Value>, ClientError> {
        let filters = vec![
            ("type", query.kind.clone()),
            ("tool", query.tool.clone()),
            ("tenant", query.tenant.clone()),
            ("permission", query.permission.clone()),
            ("result", query.result.clone()),
            ("since", query.since.clone()),
            ("until", query.until.clone()),
        ];
        self.page(&["v1", "activity"], filters, limit, cursor).await
    }

    /// `GET /v1/activity/verify`: walks the whole hash chain.
    pub async fn verify_activity(&self) -> Result<ChainVerification, ClientError> {
        self.json(Self::outgoing::<Value>(Method::GET, self.url(&["v1", "activity", "verify"], &[])?, None)?).await
    }

    /// `GET /v1/activity/export` (`jsonl` or `csv`, oldest first), the body left to be read as
    /// it streams in.
    pub async fn export_activity(&self, format: &str, since: Option<&str>, until: Option<&str>) -> Result<reqwest::Response, ClientError> {
        let query = [("format", Some(format.to_owned())), ("since", since.map(str::to_owned)), ("until", until.map(str::to_owned))];
        self.execute(&Self::outgoing::<Value>(Method::GET, self.url(&["v1", "activity", "export"], &query)?, None)?).await
    }

    async fn page<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        mut query: Vec<(&str, Option<String>)>,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Result<Page<T>, ClientError> {
        query.push(("limit", limit.map(|limit| limit.to_string())));
        query.push(("cursor", cursor.map(str::to_owned)));
        self.json(Self::outgoing::<Value>(Method::GET, self.url(segments, &query)?, None)?).await
    }

    async fn all<T: DeserializeOwned>(&self, segments: &[&str], query: Vec<(&str, Option<String>)>) -> Result<Vec<T>, ClientError> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page: Page<T> = self.page(segments, query.clone(), Some(PAGE), cursor.as_deref()).await?;
            items.extend(page.data);
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(items),
            }
        }
    }
}

fn approval_filters(query: &ApprovalQuery) -> Vec<(&'static str, Option<String>)> {
    vec![("status", query.status.map(|status| status.as_str().to_owned())), ("tool", query.tool.clone()), ("tenant", query.tenant.clone())]
}
