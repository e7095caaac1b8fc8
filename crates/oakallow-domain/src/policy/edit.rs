//! [`PolicyEdit`]: validated changes to a policy. Each operation checks names, uniqueness and
//! references against the draft state, applies itself to the draft, and records the
//! [`PolicyChange`]s the store must commit. The draft after the last operation is exactly the
//! state the store will hold after the commit.

use std::collections::BTreeMap;
use std::fmt;

use super::change::{ObjectKind, PolicyChange};
use super::model::{Category, Method, Resource, Rule, RuleScope, Stamped, Tenant, Tool};
use super::spec::{CategorySpec, NamedSpec, RuleSpec, TenantSpec, ToolSpec};
use super::state::{FastMap, PolicyState};
use crate::clock::Timestamp;
use crate::id::{CategoryId, MethodId, ResourceId, RuleId, TenantId, ToolId};
use crate::json;

/// Longest name, external id or tag, in characters.
pub const MAX_NAME_LEN: usize = 200;
/// Longest description or note, in characters.
pub const MAX_TEXT_LEN: usize = 4096;
/// Longest `reference_id` of a check, in characters.
pub const MAX_REFERENCE_LEN: usize = 200;
/// Longest `decided_by` or `Idempotency-Key`, in characters.
pub const MAX_LABEL_LEN: usize = 255;
/// Most tags on one tool.
pub const MAX_TAGS: usize = 64;

/// Why a policy change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The object to change does not exist in this org.
    #[error("{kind} not found")]
    NotFound {
        /// Its kind.
        kind: ObjectKind,
    },
    /// Another object of the kind already has this name (or a rule this scope).
    #[error("a {kind} with {field} {name:?} already exists")]
    Duplicate {
        /// The kind.
        kind: ObjectKind,
        /// The unique field (`name`, `external_id`, `scope`).
        field: &'static str,
        /// The value.
        name: String,
    },
    /// The object is still referenced and `cascade` was not asked for.
    #[error(
        "{kind} {name:?} is referenced by {rules} rule(s) and {tools} tool(s); repeat with cascade=true to remove those references too"
    )]
    Referenced {
        /// The kind.
        kind: ObjectKind,
        /// Its name.
        name: String,
        /// Rules that name it.
        rules: usize,
        /// Tools in it (categories only).
        tools: usize,
    },
    /// A name or id given as a reference does not exist in this org.
    #[error("{kind} {value:?} does not exist")]
    UnknownReference {
        /// The kind referenced.
        kind: ObjectKind,
        /// The name or id given.
        value: String,
    },
    /// A field's value is not acceptable.
    #[error("{0}")]
    Invalid(String),
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Checks a name-like field: non-empty, at most [`MAX_NAME_LEN`] characters, no surrounding
/// whitespace, no control characters (the `Name` schema of the API document says the same).
pub fn check_name(field: &str, value: &str) -> Result<(), PolicyError> {
    let bad = value.is_empty() || value.chars().count() > MAX_NAME_LEN || value.trim() != value || value.chars().any(char::is_control);
    if bad {
        return Err(PolicyError::Invalid(format!(
            "{field} must be 1 to {MAX_NAME_LEN} characters, without control characters or surrounding whitespace"
        )));
    }
    Ok(())
}

/// Checks a free-text field: at most [`MAX_TEXT_LEN`] characters and no NUL characters (which no
/// database stores faithfully).
pub fn check_text(field: &str, value: Option<&str>) -> Result<(), PolicyError> {
    match value {
        Some(text) if text.chars().count() > MAX_TEXT_LEN || text.contains('\0') => {
            Err(PolicyError::Invalid(format!("{field} must be at most {MAX_TEXT_LEN} characters, without NUL characters")))
        }
        _ => Ok(()),
    }
}

fn check_tags(tags: &[String]) -> Result<(), PolicyError> {
    if tags.len() > MAX_TAGS {
        return Err(PolicyError::Invalid(format!("at most {MAX_TAGS} tags")));
    }
    tags.iter().try_for_each(|tag| check_name("tag", tag))
}

/// Finds an object by name, else by id text. Names come first: a name may look like another
/// object's id (names are free text), and an exported policy refers by name only, so it must
/// re-apply to the same objects.
fn lookup<I: Ord + Copy + std::str::FromStr, T>(
    objects: &BTreeMap<I, T>,
    names: &FastMap<String, I>,
    kind: ObjectKind,
    value: &str,
) -> Result<I, PolicyError> {
    if let Some(id) = names.get(value) {
        return Ok(*id);
    }
    match value.parse::<I>() {
        Ok(id) if objects.contains_key(&id) => Ok(id),
        _ => Err(PolicyError::UnknownReference { kind, value: value.to_owned() }),
    }
}

/// Refuses a name already used by another object of the same kind.
fn ensure_unique<I: PartialEq + Copy>(
    names: &FastMap<String, I>,
    kind: ObjectKind,
    field: &'static str,
    name: &str,
    id: I,
) -> Result<(), PolicyError> {
    match names.get(name) {
        Some(existing) if *existing != id => Err(PolicyError::Duplicate { kind, field, name: name.to_owned() }),
        _ => Ok(()),
    }
}

/// A draft of an org's policy plus the changes made to it so far.
#[derive(Debug, Clone)]
pub struct PolicyEdit {
    draft: PolicyState,
    changes: Vec<PolicyChange>,
    now: Timestamp,
}

impl PolicyEdit {
    /// Starts editing a copy of `state`; `now` stamps created and updated objects.
    pub fn new(state: PolicyState, now: Timestamp) -> Self {
        Self { draft: state, changes: Vec::new(), now }
    }

    /// The draft as it stands.
    pub fn draft(&self) -> &PolicyState {
        &self.draft
    }

    /// Ends the edit: the resulting state and the changes, in commit order.
    pub fn finish(self) -> (PolicyState, Vec<PolicyChange>) {
        let mut changes = self.changes;
        super::change::order_changes(&mut changes);
        (self.draft, changes)
    }

    fn record(&mut self, change: PolicyChange) {
        self.draft.apply(change.clone());
        self.changes.push(change);
    }

    /// Stamps `new` as a create, or as an update of `old` that keeps `created_at`. Returns
    /// `false` (nothing to record) when the update changes nothing.
    fn stamp<T: Stamped>(&self, old: Option<&T>, new: &mut T) -> bool {
        let Some(old) = old else {
            new.set_times(self.now, self.now);
            return true;
        };
        let (created, updated) = old.times();
        new.set_times(created, updated);
        if new == old {
            return false;
        }
        new.set_times(created, self.now);
        true
    }

    // ----- categories -------------------------------------------------------------------------

    /// Creates (`id = None`) or replaces a category.
    pub fn put_category(&mut self, id: Option<CategoryId>, spec: CategorySpec) -> Result<CategoryId, PolicyError> {
        check_name("name", &spec.name)?;
        check_text("description", spec.description.as_deref())?;
        let id = self.existing_or_new(id, &self.draft.categories, ObjectKind::Category, CategoryId::generate)?;
        ensure_unique(&self.draft.category_names, ObjectKind::Category, "name", &spec.name, id)?;
        let mut category = Category {
            id,
            name: spec.name,
            description: spec.description,
            default_permission: spec.default_permission,
            created_at: self.now,
            updated_at: self.now,
        };
        if self.stamp(self.draft.categories.get(&id), &mut category) {
            self.record(PolicyChange::PutCategory(category));
        }
        Ok(id)
    }

    /// Deletes a category; with `cascade` its tools lose their category, else they block it.
    pub fn delete_category(&mut self, id: CategoryId, cascade: bool) -> Result<(), PolicyError> {
        let category = self.draft.categories.get(&id).ok_or(PolicyError::NotFound { kind: ObjectKind::Category })?;
        let members: Vec<Tool> = self.draft.tools.values().filter(|t| t.category == Some(id)).cloned().collect();
        if !members.is_empty() && !cascade {
            return Err(PolicyError::Referenced {
                kind: ObjectKind::Category,
                name: category.name.clone(),
                rules: 0,
                tools: members.len(),
            });
        }
        for mut tool in members {
            tool.category = None;
            tool.updated_at = self.now;
            self.record(PolicyChange::PutTool(tool));
        }
        self.record(PolicyChange::DeleteCategory(id));
        Ok(())
    }

    // ----- tools ------------------------------------------------------------------------------

    /// Creates (`id = None`) or replaces a tool. The JSON Schema is checked by the caller, which
    /// owns a schema compiler.
    pub fn put_tool(&mut self, id: Option<ToolId>, spec: ToolSpec) -> Result<ToolId, PolicyError> {
        check_name("name", &spec.name)?;
        check_text("description", spec.description.as_deref())?;
        if let Some(schema) = &spec.parameters_schema {
            json::check_depth("parameters_schema", schema).map_err(PolicyError::Invalid)?;
        }
        let tags = spec.tags.unwrap_or_default();
        check_tags(&tags)?;
        let id = self.existing_or_new(id, &self.draft.tools, ObjectKind::Tool, ToolId::generate)?;
        ensure_unique(&self.draft.tool_names, ObjectKind::Tool, "name", &spec.name, id)?;
        let category = match spec.category.as_deref() {
            Some(name) => Some(lookup(&self.draft.categories, &self.draft.category_names, ObjectKind::Category, name)?),
            None => None,
        };
        let mut tool = Tool {
            id,
            name: spec.name,
            description: spec.description,
            category,
            risk_level: spec.risk_level.unwrap_or_default(),
            parameters_schema: spec.parameters_schema,
            default_permission: spec.default_permission,
            approved: spec.approved.unwrap_or(false),
            enabled: spec.enabled.unwrap_or(true),
            approval_timeout_seconds: spec.approval_timeout_seconds,
            requires_second_approval: spec.requires_second_approval.unwrap_or(false),
            annotations: spec.annotations.unwrap_or_default(),
            tags,
            created_at: self.now,
            updated_at: self.now,
        };
        if self.stamp(self.draft.tools.get(&id), &mut tool) {
            self.record(PolicyChange::PutTool(tool));
        }
        Ok(id)
    }

    /// Deletes a tool; with `cascade` also the rules naming it, else they block it.
    pub fn delete_tool(&mut self, id: ToolId, cascade: bool) -> Result<(), PolicyError> {
        let name = self.draft.tools.get(&id).ok_or(PolicyError::NotFound { kind: ObjectKind::Tool })?.name.clone();
        self.remove_referencing_rules(ObjectKind::Tool, name, cascade, |scope| scope.tool == Some(id))?;
        self.record(PolicyChange::DeleteTool(id));
        Ok(())
    }

    // ----- tenants, resources, methods --------------------------------------------------------

    /// Creates (`id = None`) or replaces a tenant.
    pub fn put_tenant(&mut self, id: Option<TenantId>, spec: TenantSpec) -> Result<TenantId, PolicyError> {
        check_name("external_id", &spec.external_id)?;
        check_text("name", spec.name.as_deref())?;
        let id = self.existing_or_new(id, &self.draft.tenants, ObjectKind::Tenant, TenantId::generate)?;
        ensure_unique(&self.draft.tenant_names, ObjectKind::Tenant, "external_id", &spec.external_id, id)?;
        let mut tenant = Tenant { id, external_id: spec.external_id, name: spec.name, created_at: self.now, updated_at: self.now };
        if self.stamp(self.draft.tenants.get(&id), &mut tenant) {
            self.record(PolicyChange::PutTenant(tenant));
        }
        Ok(id)
    }

    /// Deletes a tenant; with `cascade` also its rules, else they block it.
    pub fn delete_tenant(&mut self, id: TenantId, cascade: bool) -> Result<(), PolicyError> {
        let name = self.draft.tenants.get(&id).ok_or(PolicyError::NotFound { kind: ObjectKind::Tenant })?.external_id.clone();
        self.remove_referencing_rules(ObjectKind::Tenant, name, cascade, |scope| scope.tenant == Some(id))?;
        self.record(PolicyChange::DeleteTenant(id));
        Ok(())
    }

    /// Creates (`id = None`) or replaces a resource.
    pub fn put_resource(&mut self, id: Option<ResourceId>, spec: NamedSpec) -> Result<ResourceId, PolicyError> {
        check_name("name", &spec.name)?;
        check_text("description", spec.description.as_deref())?;
        let id = self.existing_or_new(id, &self.draft.resources, ObjectKind::Resource, ResourceId::generate)?;
        ensure_unique(&self.draft.resource_names, ObjectKind::Resource, "name", &spec.name, id)?;
        let mut resource = Resource { id, name: spec.name, description: spec.description, created_at: self.now, updated_at: self.now };
        if self.stamp(self.draft.resources.get(&id), &mut resource) {
            self.record(PolicyChange::PutResource(resource));
        }
        Ok(id)
    }

    /// Deletes a resource; with `cascade` also the rules naming it, else they block it.
    pub fn delete_resource(&mut self, id: ResourceId, cascade: bool) -> Result<(), PolicyError> {
        let name = self.draft.resources.get(&id).ok_or(PolicyError::NotFound { kind: ObjectKind::Resource })?.name.clone();
        self.remove_referencing_rules(ObjectKind::Resource, name, cascade, |scope| scope.resource == Some(id))?;
        self.record(PolicyChange::DeleteResource(id));
        Ok(())
    }

    /// Creates (`id = None`) or replaces a method.
    pub fn put_method(&mut self, id: Option<MethodId>, spec: NamedSpec) -> Result<MethodId, PolicyError> {
        check_name("name", &spec.name)?;
        check_text("description", spec.description.as_deref())?;
        let id = self.existing_or_new(id, &self.draft.methods, ObjectKind::Method, MethodId::generate)?;
        ensure_unique(&self.draft.method_names, ObjectKind::Method, "name", &spec.name, id)?;
        let mut method = Method { id, name: spec.name, description: spec.description, created_at: self.now, updated_at: self.now };
        if self.stamp(self.draft.methods.get(&id), &mut method) {
            self.record(PolicyChange::PutMethod(method));
        }
        Ok(id)
    }

    /// Deletes a method; with `cascade` also the rules naming it, else they block it.
    pub fn delete_method(&mut self, id: MethodId, cascade: bool) -> Result<(), PolicyError> {
        let name = self.draft.methods.get(&id).ok_or(PolicyError::NotFound { kind: ObjectKind::Method })?.name.clone();
        self.remove_referencing_rules(ObjectKind::Method, name, cascade, |scope| scope.method == Some(id))?;
        self.record(PolicyChange::DeleteMethod(id));
        Ok(())
    }

    // ----- rules ------------------------------------------------------------------------------

    /// Creates (`id = None`) or replaces a rule. Scope fields take names or ids.
    pub fn put_rule(&mut self, id: Option<RuleId>, spec: RuleSpec) -> Result<RuleId, PolicyError> {
        check_text("note", spec.note.as_deref())?;
        let scope = self.scope_of(&spec)?;
        let id = self.existing_or_new(id, &self.draft.rules, ObjectKind::Rule, RuleId::generate)?;
        if let Some((existing, _)) = self.draft.rule_scopes.get(&scope)
            && *existing != id
        {
            return Err(PolicyError::Duplicate { kind: ObjectKind::Rule, field: "scope", name: self.scope_label(&scope) });
        }
        let mut rule = Rule { id, scope, permission: spec.permission, note: spec.note, created_at: self.now, updated_at: self.now };
        if self.stamp(self.draft.rules.get(&id), &mut rule) {
            self.record(PolicyChange::PutRule(rule));
        }
        Ok(id)
    }

    /// Deletes a rule.
    pub fn delete_rule(&mut self, id: RuleId) -> Result<(), PolicyError> {
        if !self.draft.rules.contains_key(&id) {
            return Err(PolicyError::NotFound { kind: ObjectKind::Rule });
        }
        self.record(PolicyChange::DeleteRule(id));
        Ok(())
    }

    /// Resolves a rule spec's names (or ids) to a scope.
    pub fn scope_of(&self, spec: &RuleSpec) -> Result<RuleScope, PolicyError> {
        let d = &self.draft;
        Ok(RuleScope {
            tenant: spec.tenant.as_deref().map(|v| lookup(&d.tenants, &d.tenant_names, ObjectKind::Tenant, v)).transpose()?,
            resource: spec.resource.as_deref().map(|v| lookup(&d.resources, &d.resource_names, ObjectKind::Resource, v)).transpose()?,
            tool: spec.tool.as_deref().map(|v| lookup(&d.tools, &d.tool_names, ObjectKind::Tool, v)).transpose()?,
            method: spec.method.as_deref().map(|v| lookup(&d.methods, &d.method_names, ObjectKind::Method, v)).transpose()?,
        })
    }

    /// A readable label of a scope, such as `tenant=acme tool=send_email`.
    fn scope_label(&self, scope: &RuleScope) -> String {
        let spec = self.draft.rule_spec_of_scope(scope);
        let parts = [("tenant", spec.0), ("resource", spec.1), ("tool", spec.2), ("method", spec.3)];
        let label: Vec<String> = parts.iter().filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}"))).collect();
        if label.is_empty() { "(wildcard)".to_owned() } else { label.join(" ") }
    }

    fn remove_referencing_rules(
        &mut self,
        kind: ObjectKind,
        name: String,
        cascade: bool,
        names_it: impl Fn(&RuleScope) -> bool,
    ) -> Result<(), PolicyError> {
        let referencing: Vec<RuleId> = self.draft.rules.values().filter(|r| names_it(&r.scope)).map(|r| r.id).collect();
        if !referencing.is_empty() && !cascade {
            return Err(PolicyError::Referenced { kind, name, rules: referencing.len(), tools: 0 });
        }
        for id in referencing {
            self.record(PolicyChange::DeleteRule(id));
        }
        Ok(())
    }

    /// `id` if it exists (for a replace), a new id for a create.
    fn existing_or_new<I: Ord, T>(
        &self,
        id: Option<I>,
        objects: &BTreeMap<I, T>,
        kind: ObjectKind,
        generate: fn() -> I,
    ) -> Result<I, PolicyError> {
        match id {
            Some(id) if objects.contains_key(&id) => Ok(id),
            Some(_) => Err(PolicyError::NotFound { kind }),
            None => Ok(generate()),
        }
    }
}
