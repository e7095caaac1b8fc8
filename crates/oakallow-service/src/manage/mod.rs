//! Management of policy objects (`/v1/tools`, `/v1/categories`, `/v1/tenants`,
//! `/v1/resources`, `/v1/methods`, `/v1/rules`): list, read, create, patch, delete. Every change
//! is one store transaction with its `config.changed` audit entry, and is visible to the next
//! check on this node.

mod kinds;
mod views;

use oakallow_domain::audit::{ActivityRecord, ActivityType};
use oakallow_domain::json;
use oakallow_domain::policy::{PolicyEdit, describe};
use serde_json::{Map, Value, json};

pub(crate) use kinds::check_tool_schema;
pub use kinds::{Categories, ManagedKind, Methods, Resources, Rules, Tenants, Tools};
pub use views::{CategoryView, MethodView, ResourceView, RuleView, TenantView, ToolView};

use crate::auth::{Management, Reader};
use crate::error::{ServiceError, ServiceResult};
use crate::orgs_cache::{OrgRuntime, PolicyPlan};
use crate::page::{Page, PageRequest};
use crate::{Service, audit_details, redact};

fn parse_id<K: ManagedKind>(text: &str) -> ServiceResult<K::Id> {
    text.parse().map_err(|_| ServiceError::NotFound { what: K::KIND.as_str() })
}

/// Applies a shallow merge patch: each key replaces the field, `null` clears it (an optional
/// field reads `null` as unset). Every key goes through the spec's parser, so an unknown field
/// is refused even when its value is `null`.
fn merge_patch<S: serde::Serialize + serde::de::DeserializeOwned>(current: &S, patch: Map<String, Value>) -> ServiceResult<S> {
    let mut fields = match serde_json::to_value(current) {
        Ok(Value::Object(fields)) => fields,
        _ => return Err(ServiceError::Internal),
    };
    fields.extend(patch);
    json::from_value(Value::Object(fields)).map_err(|e| ServiceError::invalid(format!("invalid body: {e}")))
}

impl Service {
    /// One page of objects of kind `K`, in creation order.
    pub async fn list_objects<K: ManagedKind>(&self, caller: &Reader, page: &PageRequest) -> ServiceResult<Page<K::View>> {
        let limit = page.limit()?;
        let after = page.position_as::<K::Id>()?;
        let runtime = self.org_runtime(caller.org_id()).await?;
        let ids = K::ids_after(&runtime.policy, after, limit as usize + 1);
        let views: Vec<(K::Id, K::View)> = ids.into_iter().filter_map(|id| K::view(&runtime.policy, id).map(|v| (id, v))).collect();
        let page = Page::from_probe(views, limit, |(id, _)| id.to_string());
        Ok(Page { data: page.data.into_iter().map(|(_, v)| v).collect(), next_cursor: page.next_cursor })
    }

    /// One object of kind `K`; 404 for unknown ids and other orgs' ids alike.
    pub async fn get_object<K: ManagedKind>(&self, caller: &Reader, id: &str) -> ServiceResult<K::View> {
        let id = parse_id::<K>(id)?;
        let runtime = self.org_runtime(caller.org_id()).await?;
        K::view(&runtime.policy, id).ok_or(ServiceError::NotFound { what: K::KIND.as_str() })
    }

    /// Creates an object.
    pub async fn create_object<K: ManagedKind>(&self, caller: &Management, spec: K::Spec) -> ServiceResult<K::View> {
        self.edit_object::<K>(caller, "created", move |edit, runtime| Ok(K::put(edit, None, redact::spec(&runtime.org, spec.clone()))?))
            .await
    }

    /// Changes some fields of an object (`null` clears a field).
    pub async fn update_object<K: ManagedKind>(&self, caller: &Management, id: &str, patch: Map<String, Value>) -> ServiceResult<K::View> {
        let id = parse_id::<K>(id)?;
        self.edit_object::<K>(caller, "updated", move |edit, runtime| {
            let current = K::spec(&runtime.policy, id).ok_or(ServiceError::NotFound { what: K::KIND.as_str() })?;
            let spec = merge_patch(&current, patch.clone())?;
            Ok(K::put(edit, Some(id), redact::spec(&runtime.org, spec))?)
        })
        .await
    }

    /// Deletes an object; with `cascade`, also what references it (rules; a category's tools
    /// lose their category).
    pub async fn delete_object<K: ManagedKind>(&self, caller: &Management, id: &str, cascade: bool) -> ServiceResult<()> {
        let id = parse_id::<K>(id)?;
        let now = self.clock.now();
        self.orgs
            .edit_policy(self.store.as_ref(), caller.org_id(), |runtime| {
                let mut edit = PolicyEdit::new(runtime.policy.clone(), now);
                K::delete(&mut edit, id, cascade)?;
                let (state, changes) = edit.finish();
                let diff = describe(&runtime.policy, &state, &changes);
                let details = audit_details("deleted", K::KIND.as_str(), Some(&id.to_string()), &diff, json!({ "cascade": cascade }));
                let activity = vec![self.config_changed(caller, details)];
                Ok(PolicyPlan { state, changes, activity, outbox: Vec::new(), answer: () })
            })
            .await
    }

    /// Runs a create or update of one object and answers its view as committed.
    async fn edit_object<K: ManagedKind>(
        &self,
        caller: &Management,
        action: &'static str,
        put: impl Fn(&mut PolicyEdit, &OrgRuntime) -> ServiceResult<K::Id>,
    ) -> ServiceResult<K::View> {
        let now = self.clock.now();
        self.orgs
            .edit_policy(self.store.as_ref(), caller.org_id(), |runtime| {
                let mut edit = PolicyEdit::new(runtime.policy.clone(), now);
                let id = put(&mut edit, runtime)?;
                let (state, changes) = edit.finish();
                let view = K::view(&state, id).ok_or(ServiceError::Internal)?;
                let diff = describe(&runtime.policy, &state, &changes);
                let details = audit_details(action, K::KIND.as_str(), Some(&id.to_string()), &diff, json!({}));
                let activity = vec![self.config_changed(caller, details)];
                Ok(PolicyPlan { state, changes, activity, outbox: Vec::new(), answer: view })
            })
            .await
    }

    /// A `config.changed` entry by `caller`.
    pub(crate) fn config_changed(&self, caller: &Management, details: Value) -> ActivityRecord {
        let mut record = ActivityRecord::new(caller.org_id(), self.clock.now(), ActivityType::ConfigChanged, caller.actor());
        record.details = Some(details);
        record
    }
}
