//! Keeping this node's caches current when other nodes change things: announcements from the
//! store (PostgreSQL LISTEN/NOTIFY) are applied as they arrive, and a periodic comparison of
//! versions catches any announcement that was missed, so no node stays stale for more than a few
//! seconds even then. Approval announcements wake long-polls; webhook announcements wake the
//! delivery worker.

use std::sync::{Arc, Weak};

use oakallow_store::{Change, ChangeSink};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::Service;

/// Starts following changes for `service` until it stops.
pub(crate) fn start(service: &Arc<Service>, stopping: watch::Receiver<bool>) -> JoinHandle<()> {
    let (sender, receiver) = mpsc::unbounded_channel();
    let sink: ChangeSink = Arc::new(move |change| {
        let _ = sender.send(change);
    });
    if let Err(error) = service.store.watch_changes(sink) {
        tracing::warn!(%error, "cannot follow changes from other nodes; relying on the periodic check");
    }
    tokio::spawn(run(Arc::downgrade(service), Some(receiver), stopping))
}

async fn run(service: Weak<Service>, mut changes: Option<mpsc::UnboundedReceiver<Change>>, mut stopping: watch::Receiver<bool>) {
    let Some(interval) = service.upgrade().map(|s| s.config.sync_interval) else { return };
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let next = async {
            match changes.as_mut() {
                Some(receiver) => receiver.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            change = next => match change {
                Some(change) => {
                    let Some(service) = service.upgrade() else { return };
                    service.apply_change(change).await;
                }
                // The store announces nothing (one process only): the periodic check remains.
                None => changes = None,
            },
            _ = ticks.tick() => {
                let Some(service) = service.upgrade() else { return };
                service.resync().await;
            }
            changed = stopping.changed() => {
                if changed.is_err() || *stopping.borrow() {
                    return;
                }
            }
        }
    }
}

impl Service {
    async fn apply_change(&self, change: Change) {
        match change {
            Change::Policy(org, version) => {
                if self.orgs.cached_version(org).is_some_and(|cached| cached < version) {
                    self.refresh_org(org).await;
                }
            }
            Change::Org(org) => {
                if self.orgs.cached_version(org).is_some() {
                    self.refresh_org(org).await;
                }
            }
            Change::KeyRevoked(key) => self.keys.evict(key),
            Change::Approval(id) => self.wakeups.notify(id),
            Change::Webhooks => self.webhook_wake.notify_one(),
            Change::Resync => self.resync().await,
        }
    }

    async fn refresh_org(&self, org: oakallow_domain::id::OrgId) {
        self.pauses.pass(crate::pauses::PausePoint::OrgReload).await;
        if let Err(error) = self.orgs.refresh(self.store.as_ref(), org).await {
            tracing::warn!(%error, %org, "cannot reload an org changed elsewhere");
        }
    }

    /// Compares every cached org and key with the database and reloads what changed.
    async fn resync(&self) {
        let cached = self.orgs.cached();
        if !cached.is_empty() {
            let ids: Vec<_> = cached.iter().map(|(org, ..)| *org).collect();
            match self.store.org_versions(&ids).await {
                Ok(versions) => {
                    for current in versions {
                        let stale = cached.iter().any(|(org, version, updated_at)| {
                            *org == current.org_id && (*version != current.policy_version || *updated_at != current.updated_at)
                        });
                        if stale {
                            self.refresh_org(current.org_id).await;
                        }
                    }
                }
                Err(error) => tracing::warn!(%error, "cannot compare cached orgs with the database"),
            }
        }
        let keys = self.keys.ids();
        if !keys.is_empty() {
            match self.store.revoked_keys(&keys).await {
                Ok(revoked) => revoked.into_iter().for_each(|key| self.keys.evict(key)),
                Err(error) => tracing::warn!(%error, "cannot compare cached keys with the database"),
            }
        }
    }
}
