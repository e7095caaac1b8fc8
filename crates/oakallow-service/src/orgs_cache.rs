//! The per-org runtime state every node keeps in memory: the org's settings, its policy with the
//! resolver index, and compiled params validators. Checks read it without locks or I/O; edits go
//! through [`OrgCache::edit_policy`], which commits to the store first and only then publishes the
//! new state, so the next check on this node sees every acknowledged change.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use arc_swap::ArcSwapOption;
use jsonschema::Validator;
use oakallow_domain::audit::ActivityRecord;
use oakallow_domain::id::{OrgId, ToolId};
use oakallow_domain::org::Org;
use oakallow_domain::policy::{PolicyChange, PolicyParts, PolicyState, check_document_size};
use oakallow_store::{Outbox, Store, StoreError};

use crate::error::{ServiceError, ServiceResult};
use crate::schema;

/// A tool's compiled schema, or why the stored schema cannot be used (checks then fail closed).
pub(crate) type CompiledSchema = Result<Arc<Validator>, String>;

/// One org's in-memory state.
pub(crate) struct OrgRuntime {
    /// Settings.
    pub(crate) org: Org,
    /// Policy and resolver index.
    pub(crate) policy: PolicyState,
    validators: HashMap<ToolId, CompiledSchema>,
}

impl OrgRuntime {
    /// Builds the runtime, reusing `previous`'s compiled schemas where a tool's schema is unchanged.
    fn build(org: Org, policy: PolicyState, previous: Option<&OrgRuntime>) -> Self {
        let mut validators = HashMap::new();
        for tool in policy.tools().values() {
            let Some(schema) = &tool.parameters_schema else { continue };
            let reused = previous.and_then(|p| {
                let unchanged = p.policy.tools().get(&tool.id).is_some_and(|old| old.parameters_schema.as_ref() == Some(schema));
                unchanged.then(|| p.validators.get(&tool.id).cloned()).flatten()
            });
            let compiled = reused.unwrap_or_else(|| schema::compile(schema).map(Arc::new));
            validators.insert(tool.id, compiled);
        }
        Self { org, policy, validators }
    }

    /// The compiled schema of a tool that has one.
    pub(crate) fn validator(&self, tool: ToolId) -> Option<&CompiledSchema> {
        self.validators.get(&tool)
    }
}

/// What an edit wants committed, and what it answers when committed.
pub(crate) struct PolicyPlan<R> {
    /// The policy after the changes.
    pub(crate) state: PolicyState,
    /// The changes, in commit order (empty: nothing to do).
    pub(crate) changes: Vec<PolicyChange>,
    /// Audit entries committed with them.
    pub(crate) activity: Vec<ActivityRecord>,
    /// Webhook events committed with them.
    pub(crate) outbox: Vec<Outbox>,
    /// The edit's answer.
    pub(crate) answer: R,
}

#[derive(Default)]
struct Slot {
    current: ArcSwapOption<OrgRuntime>,
    /// Serializes loads and edits of this org on this node.
    edit: tokio::sync::Mutex<()>,
}

/// How many times an edit is re-planned when another node committed first.
const EDIT_ATTEMPTS: usize = 5;

/// Every org this node has served.
#[derive(Default)]
pub(crate) struct OrgCache {
    slots: RwLock<HashMap<OrgId, Arc<Slot>>>,
}

impl OrgCache {
    fn slot(&self, org: OrgId) -> ServiceResult<Arc<Slot>> {
        if let Some(slot) = self.slots.read().map_err(|_| ServiceError::Internal)?.get(&org) {
            return Ok(Arc::clone(slot));
        }
        let mut slots = self.slots.write().map_err(|_| ServiceError::Internal)?;
        Ok(Arc::clone(slots.entry(org).or_default()))
    }

    /// The org's current state, loading it on first use.
    pub(crate) async fn get(&self, store: &dyn Store, org: OrgId) -> ServiceResult<Arc<OrgRuntime>> {
        let slot = self.slot(org)?;
        if let Some(runtime) = slot.current.load_full() {
            return Ok(runtime);
        }
        let _edit = slot.edit.lock().await;
        current_or_load(store, &slot, org).await
    }

    /// The cached policy version of an org, if it is cached.
    pub(crate) fn cached_version(&self, org: OrgId) -> Option<u64> {
        let slot = self.slots.read().ok()?.get(&org).cloned()?;
        slot.current.load().as_ref().map(|runtime| runtime.policy.version)
    }

    /// Every cached org with its policy version and settings' time.
    pub(crate) fn cached(&self) -> Vec<(OrgId, u64, oakallow_domain::Timestamp)> {
        let Ok(slots) = self.slots.read() else { return Vec::new() };
        slots
            .iter()
            .filter_map(|(org, slot)| slot.current.load().as_ref().map(|runtime| (*org, runtime.policy.version, runtime.org.updated_at)))
            .collect()
    }

    /// Re-reads an org from the store (it changed elsewhere).
    pub(crate) async fn refresh(&self, store: &dyn Store, org: OrgId) -> ServiceResult<()> {
        let slot = self.slot(org)?;
        let _edit = slot.edit.lock().await;
        let previous = slot.current.load_full();
        let runtime = load(store, org, previous.as_deref()).await?;
        slot.current.store(Some(Arc::new(runtime)));
        Ok(())
    }

    /// Plans and commits a policy edit, re-planning on a concurrent change elsewhere, then
    /// publishes the new state. `plan` sees the current state and must not have side effects.
    pub(crate) async fn edit_policy<R>(
        &self,
        store: &dyn Store,
        org: OrgId,
        mut plan: impl FnMut(&OrgRuntime) -> ServiceResult<PolicyPlan<R>>,
    ) -> ServiceResult<R> {
        let slot = self.slot(org)?;
        let _edit = slot.edit.lock().await;
        let mut current = current_or_load(store, &slot, org).await?;
        for _ in 0..EDIT_ATTEMPTS {
            let PolicyPlan { mut state, changes, activity, outbox, answer } = plan(&current)?;
            if changes.is_empty() {
                return Ok(answer);
            }
            check_document_size(&current.policy, &state)?;
            match store.commit_policy(org, current.policy.version, &changes, activity, outbox).await {
                Ok(version) => {
                    state.version = version;
                    let next = OrgRuntime::build(current.org.clone(), state, Some(&current));
                    slot.current.store(Some(Arc::new(next)));
                    return Ok(answer);
                }
                Err(StoreError::VersionConflict) => current = reload(store, &slot, org, &current).await?,
                Err(error) => return Err(error.into()),
            }
        }
        Err(StoreError::VersionConflict.into())
    }

    /// Applies `edit` to the org's settings as they are in the store and publishes the result.
    /// The write is conditional on the settings `edit` saw; when another node (or a write
    /// behind this cache's back) changed them first, they are read again and `edit` re-applied,
    /// so no change is ever reverted by a stale copy. The org gets `first_secret` as its webhook
    /// secret if it ends up with a webhook URL and has no secret yet.
    pub(crate) async fn update_org(
        &self,
        store: &dyn Store,
        org: OrgId,
        edit: impl Fn(&Org) -> Org,
        first_secret: &str,
        activity: ActivityRecord,
    ) -> ServiceResult<Org> {
        let slot = self.slot(org)?;
        let _edit = slot.edit.lock().await;
        let mut current = current_or_load(store, &slot, org).await?;
        for _ in 0..EDIT_ATTEMPTS {
            let next = edit(&current.org);
            let secret = next.webhook_url.is_some().then_some(first_secret);
            match store.update_org(&next, current.org.updated_at, secret, activity.clone()).await {
                Ok(()) => {
                    let runtime = OrgRuntime::build(next.clone(), current.policy.clone(), Some(&current));
                    slot.current.store(Some(Arc::new(runtime)));
                    return Ok(next);
                }
                Err(StoreError::VersionConflict) => current = reload(store, &slot, org, &current).await?,
                Err(error) => return Err(error.into()),
            }
        }
        Err(StoreError::VersionConflict.into())
    }
}

async fn current_or_load(store: &dyn Store, slot: &Slot, org: OrgId) -> ServiceResult<Arc<OrgRuntime>> {
    if let Some(runtime) = slot.current.load_full() {
        return Ok(runtime);
    }
    let runtime = Arc::new(load(store, org, None).await?);
    slot.current.store(Some(Arc::clone(&runtime)));
    Ok(runtime)
}

/// Reads the org again after a write found it changed, and publishes what was read.
async fn reload(store: &dyn Store, slot: &Slot, org: OrgId, stale: &OrgRuntime) -> ServiceResult<Arc<OrgRuntime>> {
    let runtime = Arc::new(load(store, org, Some(stale)).await?);
    slot.current.store(Some(Arc::clone(&runtime)));
    Ok(runtime)
}

async fn load(store: &dyn Store, org: OrgId, previous: Option<&OrgRuntime>) -> ServiceResult<OrgRuntime> {
    let settings = store.org(org).await?.ok_or(ServiceError::NotFound { what: "org" })?;
    let (version, parts): (u64, PolicyParts) = store.load_policy(org).await?;
    Ok(OrgRuntime::build(settings, PolicyState::from_parts(version, parts), previous))
}
