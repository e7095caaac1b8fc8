//! `GET /v1/activity/verify` walks an org's whole chain, which may hold millions of entries.
//! On each node, at most one walk per org runs at a time, and callers that arrive while one runs
//! share the next walk instead of each starting their own ([`SharedRuns`]): the cost of
//! verifying is bounded by the chain's length, not by how often it is asked for. No verified
//! prefix is remembered between walks: every answer comes from a walk that began after its
//! request arrived, so an entry edited at any time is found by the next walk.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oakallow_domain::audit::ChainCheck;
use oakallow_domain::id::OrgId;

use crate::error::ServiceResult;
use crate::shared_runs::SharedRuns;

/// Walks of every org on this node.
#[derive(Default)]
pub(crate) struct ChainWalks {
    orgs: Mutex<HashMap<OrgId, Arc<SharedRuns<ChainCheck>>>>,
}

impl ChainWalks {
    /// The result of a walk of `org`'s chain (made by `walk`) that started after this call.
    pub(crate) async fn verify<W>(&self, org: OrgId, walk: W) -> ServiceResult<ChainCheck>
    where
        W: Future<Output = ServiceResult<ChainCheck>> + Send + 'static,
    {
        let walks = {
            let mut orgs = self.orgs.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            Arc::clone(orgs.entry(org).or_default())
        };
        walks.run(Duration::ZERO, walk).await
    }
}
