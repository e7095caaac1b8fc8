//! `GET /v1/activity/verify` walks an org's whole chain, which may hold millions of entries.
//! On each node, at most one walk per org runs at a time, and callers that arrive while one runs
//! share the next walk instead of each starting their own: the cost of verifying is bounded by
//! the chain's length, not by how often it is asked for. No verified prefix is remembered
//! between walks: every answer comes from a walk that began after its request arrived, so an
//! entry edited at any time is found by the next walk.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use oakallow_domain::audit::ChainCheck;
use oakallow_domain::id::OrgId;

use crate::error::{ServiceError, ServiceResult};

/// One org's walks: how many have started, and the last result with its walk's number.
#[derive(Default)]
struct OrgWalks {
    started: AtomicU64,
    last: Arc<tokio::sync::Mutex<Option<(u64, ChainCheck)>>>,
}

/// Walks of every org on this node.
#[derive(Default)]
pub(crate) struct ChainWalks {
    orgs: Mutex<HashMap<OrgId, Arc<OrgWalks>>>,
}

impl ChainWalks {
    fn of(&self, org: OrgId) -> Arc<OrgWalks> {
        let mut orgs = self.orgs.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(orgs.entry(org).or_default())
    }

    /// The result of a walk of `org`'s chain (made by `walk`) that started after this call.
    pub(crate) async fn verify<W>(&self, org: OrgId, walk: W) -> ServiceResult<ChainCheck>
    where
        W: Future<Output = ServiceResult<ChainCheck>> + Send + 'static,
    {
        let walks = self.of(org);
        let arrived = walks.started.load(Ordering::SeqCst);
        let mut last = Arc::clone(&walks.last).lock_owned().await;
        if let Some((number, check)) = &*last
            && *number > arrived
        {
            return Ok(check.clone());
        }
        let number = walks.started.fetch_add(1, Ordering::SeqCst) + 1;
        // The walk runs on its own task, which keeps the org's turn until it ends, even if the
        // caller goes away: a client that disconnects cannot start walks side by side.
        let task = tokio::spawn(async move {
            let check = walk.await?;
            *last = Some((number, check.clone()));
            Ok(check)
        });
        task.await.map_err(|error| {
            tracing::error!(%error, "a chain walk ended abnormally");
            ServiceError::Internal
        })?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walked(entries: u64) -> ChainCheck {
        ChainCheck { entries, ..ChainCheck::default() }
    }

    #[tokio::test]
    async fn callers_during_a_walk_share_the_next_one_and_never_an_older_one() {
        let walks = Arc::new(ChainWalks::default());
        let org = OrgId::generate();
        let (release, held) = tokio::sync::oneshot::channel::<()>();
        let first = {
            let walks = Arc::clone(&walks);
            tokio::spawn(async move {
                walks
                    .verify(org, async move {
                        let _ = held.await;
                        Ok(walked(1))
                    })
                    .await
            })
        };
        // Wait until the first walk holds the org's turn.
        while walks.of(org).started.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        let later = (0..5).map(|n| walks.verify(org, async move { Ok(walked(10 + n)) }));
        let (_, later, first) = tokio::join!(async { release.send(()) }, futures_util::future::join_all(later), first);
        assert_eq!(first.unwrap().unwrap(), walked(1));
        let later: Vec<u64> = later.into_iter().map(|check| check.unwrap().entries).collect();
        assert_eq!(later, vec![10; 5], "the five waiting callers share one new walk, not the one running when they came");
        assert_eq!(walks.of(org).started.load(Ordering::SeqCst), 2);
    }
}
