//! oakallow's use cases. Each public method of [`Service`] is one thing a caller can do; it
//! takes a tier-typed caller from [`auth`], decides with the domain crate, and persists through
//! the [`Store`] trait. HTTP lives elsewhere; this crate is testable without it.

pub mod activity;
pub mod auth;
pub mod bootstrap;
pub mod check;
pub mod commit;
pub mod error;
pub mod keys;
pub mod manage;
pub mod org;
mod orgs_cache;
pub mod page;
pub mod policy_doc;
pub mod schema;

use std::sync::Arc;

use oakallow_domain::Clock;
use oakallow_domain::id::OrgId;
use oakallow_domain::policy::PolicyDiff;
use oakallow_store::Store;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use crate::auth::{Caller, KeyCache};
use crate::commit::Committer;
use crate::error::ServiceResult;
use crate::orgs_cache::{OrgCache, OrgRuntime};

pub use error::{ServiceError, ServiceResult as Result};

/// The application: storage, time, and the per-node caches.
pub struct Service {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    orgs: OrgCache,
    keys: KeyCache,
    committer: Committer,
}

/// Background tasks owned by a [`Service`]; await [`ServiceTasks::finished`] after dropping the
/// service to be sure every queued write was committed.
pub struct ServiceTasks {
    committer: JoinHandle<()>,
}

impl ServiceTasks {
    /// Waits for the background tasks to end (they end once the service is dropped).
    pub async fn finished(self) {
        if let Err(error) = self.committer.await {
            tracing::error!(%error, "the group committer ended abnormally");
        }
    }
}

/// Answer of `GET /v1/health`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok` or `degraded`.
    pub status: &'static str,
    /// oakallow's version.
    pub version: &'static str,
    /// Backend name and whether it answers.
    pub database: DatabaseHealth,
}

/// The database part of the health answer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DatabaseHealth {
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// `ok` or `unavailable`.
    pub status: &'static str,
}

impl Service {
    /// A service on `store`, with time from `clock`. Must be called inside a tokio runtime.
    pub fn start(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> (Arc<Self>, ServiceTasks) {
        let (committer, task) = Committer::start(Arc::clone(&store));
        let service = Self { store, clock, orgs: OrgCache::default(), keys: KeyCache::default(), committer };
        (Arc::new(service), ServiceTasks { committer: task })
    }

    /// The caller behind a presented API key, or 401.
    pub async fn authenticate(&self, presented: &str) -> ServiceResult<Caller> {
        auth::authenticate(self.store.as_ref(), &self.keys, presented).await
    }

    /// Whether the service can reach its database.
    pub async fn health(&self) -> Health {
        let ok = self.store.ping().await.is_ok();
        Health {
            status: if ok { "ok" } else { "degraded" },
            version: env!("CARGO_PKG_VERSION"),
            database: DatabaseHealth { backend: self.store.backend(), status: if ok { "ok" } else { "unavailable" } },
        }
    }

    /// The org's in-memory state.
    async fn org_runtime(&self, org: OrgId) -> ServiceResult<Arc<OrgRuntime>> {
        self.orgs.get(self.store.as_ref(), org).await
    }
}

/// The `details` of a `config.changed` entry.
pub(crate) fn audit_details(action: &str, kind: &str, id: Option<&str>, diff: &PolicyDiff, extra: Value) -> Value {
    let mut details = json!({ "action": action, "kind": kind, "changes": diff });
    if let Some(id) = id {
        details["id"] = Value::String(id.to_owned());
    }
    if let (Some(details), Value::Object(extra)) = (details.as_object_mut(), extra) {
        details.extend(extra);
    }
    details
}
