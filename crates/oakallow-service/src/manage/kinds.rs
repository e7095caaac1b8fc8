//! The six kinds of policy objects behind one trait, so that listing, reading, creating,
//! patching and deleting are written once.

use std::str::FromStr;

use oakallow_domain::id::{CategoryId, MethodId, ResourceId, RuleId, TenantId, ToolId};
use oakallow_domain::policy::{CategorySpec, NamedSpec, ObjectKind, PolicyEdit, PolicyError, PolicyState, RuleSpec, TenantSpec, ToolSpec};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::views::{CategoryView, MethodView, ResourceView, RuleView, TenantView, ToolView};
use crate::redact::Redact;
use crate::schema;

/// A kind of policy object managed through `/v1/<collection>`.
pub trait ManagedKind: Send + Sync + 'static {
    /// Its id type.
    type Id: Copy + Ord + FromStr + ToString + Send + Sync + 'static;
    /// What people write.
    type Spec: Serialize + DeserializeOwned + Clone + Send + Redact + 'static;
    /// What the API answers.
    type View: Serialize + Send + 'static;
    /// The kind.
    const KIND: ObjectKind;

    /// Up to `take` ids, ascending, after `after`.
    fn ids_after(state: &PolicyState, after: Option<Self::Id>, take: usize) -> Vec<Self::Id>;
    /// The spec of one object.
    fn spec(state: &PolicyState, id: Self::Id) -> Option<Self::Spec>;
    /// The view of one object.
    fn view(state: &PolicyState, id: Self::Id) -> Option<Self::View>;
    /// Creates (`None`) or replaces an object in `edit`.
    fn put(edit: &mut PolicyEdit, id: Option<Self::Id>, spec: Self::Spec) -> Result<Self::Id, PolicyError>;
    /// Deletes an object in `edit`.
    fn delete(edit: &mut PolicyEdit, id: Self::Id, cascade: bool) -> Result<(), PolicyError>;
}

fn after<I: Ord + Copy, T>(map: &std::collections::BTreeMap<I, T>, after: Option<I>, take: usize) -> Vec<I> {
    let start = after.map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded);
    map.range((start, std::ops::Bound::Unbounded)).map(|(k, _)| *k).take(take).collect()
}

/// Tools.
pub struct Tools;
/// Categories.
pub struct Categories;
/// Tenants.
pub struct Tenants;
/// Resources.
pub struct Resources;
/// Methods.
pub struct Methods;
/// Rules.
pub struct Rules;

/// Refuses a tool whose `parameters_schema` is not a usable JSON Schema.
pub(crate) fn check_tool_schema(spec: &ToolSpec) -> Result<(), PolicyError> {
    match &spec.parameters_schema {
        // A boolean schema is JSON Schema too, but params are an object: `true` says nothing
        // `{}` does not, and `false` would refuse every call. One shape keeps the published type.
        Some(schema) if !schema.is_object() => Err(PolicyError::Invalid("parameters_schema must be a JSON Schema object".into())),
        Some(schema) => schema::compile(schema).map(drop).map_err(PolicyError::Invalid),
        None => Ok(()),
    }
}

impl ManagedKind for Tools {
    type Id = ToolId;
    type Spec = ToolSpec;
    type View = ToolView;
    const KIND: ObjectKind = ObjectKind::Tool;

    fn ids_after(state: &PolicyState, a: Option<ToolId>, take: usize) -> Vec<ToolId> {
        after(state.tools(), a, take)
    }
    fn spec(state: &PolicyState, id: ToolId) -> Option<ToolSpec> {
        state.tools().get(&id).map(|t| state.tool_spec(t))
    }
    fn view(state: &PolicyState, id: ToolId) -> Option<ToolView> {
        let t = state.tools().get(&id)?;
        Some(ToolView { id: id.to_string(), spec: state.tool_spec(t), created_at: t.created_at, updated_at: t.updated_at })
    }
    fn put(edit: &mut PolicyEdit, id: Option<ToolId>, spec: ToolSpec) -> Result<ToolId, PolicyError> {
        check_tool_schema(&spec)?;
        edit.put_tool(id, spec)
    }
    fn delete(edit: &mut PolicyEdit, id: ToolId, cascade: bool) -> Result<(), PolicyError> {
        edit.delete_tool(id, cascade)
    }
}

impl ManagedKind for Categories {
    type Id = CategoryId;
    type Spec = CategorySpec;
    type View = CategoryView;
    const KIND: ObjectKind = ObjectKind::Category;

    fn ids_after(state: &PolicyState, a: Option<CategoryId>, take: usize) -> Vec<CategoryId> {
        after(state.categories(), a, take)
    }
    fn spec(state: &PolicyState, id: CategoryId) -> Option<CategorySpec> {
        state.categories().get(&id).map(|c| state.category_spec(c))
    }
    fn view(state: &PolicyState, id: CategoryId) -> Option<CategoryView> {
        let c = state.categories().get(&id)?;
        Some(CategoryView { id: id.to_string(), spec: state.category_spec(c), created_at: c.created_at, updated_at: c.updated_at })
    }
    fn put(edit: &mut PolicyEdit, id: Option<CategoryId>, spec: CategorySpec) -> Result<CategoryId, PolicyError> {
        edit.put_category(id, spec)
    }
    fn delete(edit: &mut PolicyEdit, id: CategoryId, cascade: bool) -> Result<(), PolicyError> {
        edit.delete_category(id, cascade)
    }
}

impl ManagedKind for Tenants {
    type Id = TenantId;
    type Spec = TenantSpec;
    type View = TenantView;
    const KIND: ObjectKind = ObjectKind::Tenant;

    fn ids_after(state: &PolicyState, a: Option<TenantId>, take: usize) -> Vec<TenantId> {
        after(state.tenants(), a, take)
    }
    fn spec(state: &PolicyState, id: TenantId) -> Option<TenantSpec> {
        state.tenants().get(&id).map(|t| state.tenant_spec(t))
    }
    fn view(state: &PolicyState, id: TenantId) -> Option<TenantView> {
        let t = state.tenants().get(&id)?;
        Some(TenantView { id: id.to_string(), spec: state.tenant_spec(t), created_at: t.created_at, updated_at: t.updated_at })
    }
    fn put(edit: &mut PolicyEdit, id: Option<TenantId>, spec: TenantSpec) -> Result<TenantId, PolicyError> {
        edit.put_tenant(id, spec)
    }
    fn delete(edit: &mut PolicyEdit, id: TenantId, cascade: bool) -> Result<(), PolicyError> {
        edit.delete_tenant(id, cascade)
    }
}

impl ManagedKind for Resources {
    type Id = ResourceId;
    type Spec = NamedSpec;
    type View = ResourceView;
    const KIND: ObjectKind = ObjectKind::Resource;

    fn ids_after(state: &PolicyState, a: Option<ResourceId>, take: usize) -> Vec<ResourceId> {
        after(state.resources(), a, take)
    }
    fn spec(state: &PolicyState, id: ResourceId) -> Option<NamedSpec> {
        state.resources().get(&id).map(|r| state.resource_spec(r))
    }
    fn view(state: &PolicyState, id: ResourceId) -> Option<ResourceView> {
        let r = state.resources().get(&id)?;
        Some(ResourceView { id: id.to_string(), spec: state.resource_spec(r), created_at: r.created_at, updated_at: r.updated_at })
    }
    fn put(edit: &mut PolicyEdit, id: Option<ResourceId>, spec: NamedSpec) -> Result<ResourceId, PolicyError> {
        edit.put_resource(id, spec)
    }
    fn delete(edit: &mut PolicyEdit, id: ResourceId, cascade: bool) -> Result<(), PolicyError> {
        edit.delete_resource(id, cascade)
    }
}

impl ManagedKind for Methods {
    type Id = MethodId;
    type Spec = NamedSpec;
    type View = MethodView;
    const KIND: ObjectKind = ObjectKind::Method;

    fn ids_after(state: &PolicyState, a: Option<MethodId>, take: usize) -> Vec<MethodId> {
        after(state.methods(), a, take)
    }
    fn spec(state: &PolicyState, id: MethodId) -> Option<NamedSpec> {
        state.methods().get(&id).map(|m| state.method_spec(m))
    }
    fn view(state: &PolicyState, id: MethodId) -> Option<MethodView> {
        let m = state.methods().get(&id)?;
        Some(MethodView { id: id.to_string(), spec: state.method_spec(m), created_at: m.created_at, updated_at: m.updated_at })
    }
    fn put(edit: &mut PolicyEdit, id: Option<MethodId>, spec: NamedSpec) -> Result<MethodId, PolicyError> {
        edit.put_method(id, spec)
    }
    fn delete(edit: &mut PolicyEdit, id: MethodId, cascade: bool) -> Result<(), PolicyError> {
        edit.delete_method(id, cascade)
    }
}

impl ManagedKind for Rules {
    type Id = RuleId;
    type Spec = RuleSpec;
    type View = RuleView;
    const KIND: ObjectKind = ObjectKind::Rule;

    fn ids_after(state: &PolicyState, a: Option<RuleId>, take: usize) -> Vec<RuleId> {
        after(state.rules(), a, take)
    }
    fn spec(state: &PolicyState, id: RuleId) -> Option<RuleSpec> {
        state.rules().get(&id).map(|r| state.rule_spec(r))
    }
    fn view(state: &PolicyState, id: RuleId) -> Option<RuleView> {
        let r = state.rules().get(&id)?;
        Some(RuleView {
            id: id.to_string(),
            spec: state.rule_spec(r),
            level: r.scope.shape().resolved_from(),
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
    fn put(edit: &mut PolicyEdit, id: Option<RuleId>, spec: RuleSpec) -> Result<RuleId, PolicyError> {
        edit.put_rule(id, spec)
    }
    fn delete(edit: &mut PolicyEdit, id: RuleId, _cascade: bool) -> Result<(), PolicyError> {
        edit.delete_rule(id)
    }
}
