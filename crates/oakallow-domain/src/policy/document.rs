//! Applying a whole [`PolicyDocument`]: the plan of changes that makes an org's policy equal to
//! the document, and the readable diff of that plan (`PUT /v1/policy?dry_run=true`).

use std::collections::HashSet;

use serde::Serialize;

use super::change::{ObjectKind, PolicyChange};
use super::edit::{PolicyEdit, PolicyError};
use super::spec::{PolicyDocument, RuleSpec};
use super::state::PolicyState;
use crate::clock::Timestamp;

/// One line of a diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DiffItem {
    /// The kind of object.
    pub kind: ObjectKind,
    /// Its name (for rules, the scope, such as `tenant=acme tool=send_email`).
    pub name: String,
    /// For updates, the fields that change.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
}

/// What applying a document creates, updates and deletes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PolicyDiff {
    /// New objects.
    pub created: Vec<DiffItem>,
    /// Changed objects.
    pub updated: Vec<DiffItem>,
    /// Removed objects.
    pub deleted: Vec<DiffItem>,
}

impl PolicyDiff {
    /// True when the document matches the policy already.
    pub fn is_empty(&self) -> bool {
        self.created.is_empty() && self.updated.is_empty() && self.deleted.is_empty()
    }
}

/// The result of planning a document.
#[derive(Debug, Clone)]
pub struct DocumentPlan {
    /// The policy after the changes.
    pub state: PolicyState,
    /// The changes, in commit order.
    pub changes: Vec<PolicyChange>,
    /// The same changes, for people.
    pub diff: PolicyDiff,
}

/// The largest policy, as its exported document (compact JSON): 16 MiB. Every edit that would
/// make it larger is refused, and `PUT /v1/policy` reads bodies of twice this size (room for
/// the same document pretty-printed or in YAML), so a backup always re-applies in one request.
pub const MAX_DOCUMENT_BYTES: usize = 16 * 1024 * 1024;

/// Refuses to grow a policy past [`MAX_DOCUMENT_BYTES`] (one that is past it, from before the
/// limit, may still shrink).
pub fn check_document_size(before: &PolicyState, after: &PolicyState) -> Result<(), PolicyError> {
    let len = after.document_len();
    if len <= MAX_DOCUMENT_BYTES || len <= before.document_len() {
        return Ok(());
    }
    Err(PolicyError::Invalid(format!(
        "the policy would take {len} bytes as a document, more than {MAX_DOCUMENT_BYTES}: a backup (GET /v1/policy) must re-apply in one PUT /v1/policy"
    )))
}

fn ensure_distinct<'a>(section: &str, names: impl Iterator<Item = &'a str>) -> Result<(), PolicyError> {
    let mut seen = HashSet::new();
    for name in names {
        if !seen.insert(name) {
            return Err(PolicyError::Invalid(format!("{section}: {name:?} appears more than once")));
        }
    }
    Ok(())
}

/// Plans the changes that make `state` equal to `document` (sections present are replaced
/// exactly; sections left out are kept). Applying the same document twice plans nothing.
pub fn plan_document(state: &PolicyState, document: PolicyDocument, now: Timestamp) -> Result<DocumentPlan, PolicyError> {
    if document.version.is_some_and(|v| v != 1) {
        return Err(PolicyError::Invalid("version: only version 1 exists".to_owned()));
    }
    let mut edit = PolicyEdit::new(state.clone(), now);
    if let Some(categories) = &document.categories {
        ensure_distinct("categories", categories.iter().map(|c| c.name.as_str()))?;
        for spec in categories {
            let id = state.category_by_name(&spec.name).map(|c| c.id);
            edit.put_category(id, spec.clone())?;
        }
    }
    if let Some(tools) = &document.tools {
        ensure_distinct("tools", tools.iter().map(|t| t.name.as_str()))?;
        for spec in tools {
            let id = state.tool_by_name(&spec.name).map(|t| t.id);
            edit.put_tool(id, spec.clone())?;
        }
    }
    if let Some(tenants) = &document.tenants {
        ensure_distinct("tenants", tenants.iter().map(|t| t.external_id.as_str()))?;
        for spec in tenants {
            let id = state.tenant_by_external_id(&spec.external_id).map(|t| t.id);
            edit.put_tenant(id, spec.clone())?;
        }
    }
    if let Some(resources) = &document.resources {
        ensure_distinct("resources", resources.iter().map(|r| r.name.as_str()))?;
        for spec in resources {
            let id = state.resource_by_name(&spec.name).map(|r| r.id);
            edit.put_resource(id, spec.clone())?;
        }
    }
    if let Some(methods) = &document.methods {
        ensure_distinct("methods", methods.iter().map(|m| m.name.as_str()))?;
        for spec in methods {
            let id = state.method_by_name(&spec.name).map(|m| m.id);
            edit.put_method(id, spec.clone())?;
        }
    }
    if let Some(rules) = &document.rules {
        replace_rules(&mut edit, rules)?;
    }
    delete_missing(&mut edit, state, &document)?;
    let (next, changes) = edit.finish();
    let diff = describe(state, &next, &changes);
    Ok(DocumentPlan { state: next, changes, diff })
}

fn replace_rules(edit: &mut PolicyEdit, rules: &[RuleSpec]) -> Result<(), PolicyError> {
    let mut scopes = Vec::with_capacity(rules.len());
    for spec in rules {
        scopes.push(edit.scope_of(spec)?);
    }
    let wanted: HashSet<_> = scopes.iter().copied().collect();
    if wanted.len() != scopes.len() {
        return Err(PolicyError::Invalid("rules: two rules have the same scope".to_owned()));
    }
    let obsolete: Vec<_> = edit.draft().rules().values().filter(|r| !wanted.contains(&r.scope)).map(|r| r.id).collect();
    for id in obsolete {
        edit.delete_rule(id)?;
    }
    for (spec, scope) in rules.iter().zip(scopes) {
        let id = edit.draft().rule_by_scope(&scope).map(|r| r.id);
        edit.put_rule(id, spec.clone())?;
    }
    Ok(())
}

/// Deletes, for each section present, the objects the document does not list. Nothing cascades:
/// an object still referenced by a kept rule or tool makes the whole document fail.
fn delete_missing(edit: &mut PolicyEdit, state: &PolicyState, document: &PolicyDocument) -> Result<(), PolicyError> {
    if let Some(tools) = &document.tools {
        let keep: HashSet<&str> = tools.iter().map(|t| t.name.as_str()).collect();
        for tool in state.tools().values().filter(|t| !keep.contains(t.name.as_str())) {
            edit.delete_tool(tool.id, false)?;
        }
    }
    if let Some(tenants) = &document.tenants {
        let keep: HashSet<&str> = tenants.iter().map(|t| t.external_id.as_str()).collect();
        for tenant in state.tenants().values().filter(|t| !keep.contains(t.external_id.as_str())) {
            edit.delete_tenant(tenant.id, false)?;
        }
    }
    if let Some(resources) = &document.resources {
        let keep: HashSet<&str> = resources.iter().map(|r| r.name.as_str()).collect();
        for resource in state.resources().values().filter(|r| !keep.contains(r.name.as_str())) {
            edit.delete_resource(resource.id, false)?;
        }
    }
    if let Some(methods) = &document.methods {
        let keep: HashSet<&str> = methods.iter().map(|m| m.name.as_str()).collect();
        for method in state.methods().values().filter(|m| !keep.contains(m.name.as_str())) {
            edit.delete_method(method.id, false)?;
        }
    }
    if let Some(categories) = &document.categories {
        let keep: HashSet<&str> = categories.iter().map(|c| c.name.as_str()).collect();
        for category in state.categories().values().filter(|c| !keep.contains(c.name.as_str())) {
            edit.delete_category(category.id, false)?;
        }
    }
    Ok(())
}

/// Describes changes for people, by comparing the object before and after.
pub fn describe(before: &PolicyState, after: &PolicyState, changes: &[PolicyChange]) -> PolicyDiff {
    let mut diff = PolicyDiff::default();
    for change in changes {
        let kind = change.kind();
        let (old, new) = match change {
            PolicyChange::PutCategory(c) => {
                (before.categories.get(&c.id).map(|o| before.category_spec(o)), Some(after.category_spec(c))).json()
            }
            PolicyChange::PutTool(t) => (before.tools.get(&t.id).map(|o| before.tool_spec(o)), Some(after.tool_spec(t))).json(),
            PolicyChange::PutTenant(t) => (before.tenants.get(&t.id).map(|o| before.tenant_spec(o)), Some(after.tenant_spec(t))).json(),
            PolicyChange::PutResource(r) => {
                (before.resources.get(&r.id).map(|o| before.resource_spec(o)), Some(after.resource_spec(r))).json()
            }
            PolicyChange::PutMethod(m) => (before.methods.get(&m.id).map(|o| before.method_spec(o)), Some(after.method_spec(m))).json(),
            PolicyChange::PutRule(r) => (before.rules.get(&r.id).map(|o| before.rule_spec(o)), Some(after.rule_spec(r))).json(),
            PolicyChange::DeleteCategory(id) => (before.categories.get(id).map(|o| before.category_spec(o)), None).json(),
            PolicyChange::DeleteTool(id) => (before.tools.get(id).map(|o| before.tool_spec(o)), None).json(),
            PolicyChange::DeleteTenant(id) => (before.tenants.get(id).map(|o| before.tenant_spec(o)), None).json(),
            PolicyChange::DeleteResource(id) => (before.resources.get(id).map(|o| before.resource_spec(o)), None).json(),
            PolicyChange::DeleteMethod(id) => (before.methods.get(id).map(|o| before.method_spec(o)), None).json(),
            PolicyChange::DeleteRule(id) => (before.rules.get(id).map(|o| before.rule_spec(o)), None).json(),
        };
        let named = new.as_ref().or(old.as_ref()).map(|spec| item_name(kind, spec)).unwrap_or_default();
        match (old, new) {
            (None, Some(_)) => diff.created.push(DiffItem { kind, name: named, fields: Vec::new() }),
            (Some(old), Some(new)) => diff.updated.push(DiffItem { kind, name: named, fields: changed_fields(&old, &new) }),
            (Some(_), None) => diff.deleted.push(DiffItem { kind, name: named, fields: Vec::new() }),
            (None, None) => {}
        }
    }
    diff
}

/// Turns a pair of optional specs into JSON for comparison.
trait AsJsonPair {
    fn json(self) -> (Option<serde_json::Value>, Option<serde_json::Value>);
}

impl<T: Serialize> AsJsonPair for (Option<T>, Option<T>) {
    fn json(self) -> (Option<serde_json::Value>, Option<serde_json::Value>) {
        let to = |spec: T| serde_json::to_value(spec).ok();
        (self.0.and_then(to), self.1.and_then(to))
    }
}

fn item_name(kind: ObjectKind, spec: &serde_json::Value) -> String {
    let text = |key: &str| spec.get(key).and_then(|v| v.as_str()).map(str::to_owned);
    match kind {
        ObjectKind::Tenant => text("external_id").unwrap_or_default(),
        ObjectKind::Rule => {
            let parts: Vec<String> =
                ["tenant", "resource", "tool", "method"].iter().filter_map(|key| text(key).map(|v| format!("{key}={v}"))).collect();
            if parts.is_empty() { "(wildcard)".to_owned() } else { parts.join(" ") }
        }
        _ => text("name").unwrap_or_default(),
    }
}

fn changed_fields(old: &serde_json::Value, new: &serde_json::Value) -> Vec<String> {
    let (Some(old), Some(new)) = (old.as_object(), new.as_object()) else { return Vec::new() };
    new.iter().filter(|(key, value)| old.get(*key) != Some(*value)).map(|(key, _)| key.clone()).collect()
}
