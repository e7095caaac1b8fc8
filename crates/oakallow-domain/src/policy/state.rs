//! [`PolicyState`]: one org's whole policy in memory, indexed for the resolver. It changes only
//! through [`PolicyState::apply`], with the same [`PolicyChange`]s the store commits.

use std::collections::{BTreeMap, HashMap};

use super::change::PolicyChange;
use super::model::{Category, Method, Resource, Rule, RuleScope, Tenant, Tool};
use crate::id::{CategoryId, MethodId, ResourceId, RuleId, TenantId, ToolId};
use crate::permission::Permission;

/// A hash map with a fast, randomly seeded hasher (keys are short and looked up on every check).
pub(crate) type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// One org's policy: every object, ordered by id for listing, and the indexes the resolver uses.
#[derive(Debug, Clone, Default)]
pub struct PolicyState {
    /// The store's policy version this state corresponds to.
    pub version: u64,
    pub(crate) categories: BTreeMap<CategoryId, Category>,
    pub(crate) tools: BTreeMap<ToolId, Tool>,
    pub(crate) tenants: BTreeMap<TenantId, Tenant>,
    pub(crate) resources: BTreeMap<ResourceId, Resource>,
    pub(crate) methods: BTreeMap<MethodId, Method>,
    pub(crate) rules: BTreeMap<RuleId, Rule>,
    pub(crate) category_names: FastMap<String, CategoryId>,
    pub(crate) tool_names: FastMap<String, ToolId>,
    pub(crate) tenant_names: FastMap<String, TenantId>,
    pub(crate) resource_names: FastMap<String, ResourceId>,
    pub(crate) method_names: FastMap<String, MethodId>,
    /// Each rule's id and permission by its scope: everything a decision needs from a matching
    /// rule, in the hash table the resolver probes (no second lookup in `rules`, whose tree of
    /// whole rules is cold at scale).
    pub(crate) rule_scopes: FastMap<RuleScope, (RuleId, Permission)>,
    /// How many rules sit at each of the 16 rule levels, so empty levels cost nothing.
    pub(crate) level_counts: [u32; 16],
}

/// Inserts or replaces an object and keeps its name index right.
fn put_named<I: Ord + Copy, T>(objects: &mut BTreeMap<I, T>, names: &mut FastMap<String, I>, id: I, object: T, name_of: fn(&T) -> &str) {
    if let Some(old) = objects.get(&id) {
        names.remove(name_of(old));
    }
    names.insert(name_of(&object).to_owned(), id);
    objects.insert(id, object);
}

/// Removes an object and its name.
fn delete_named<I: Ord, T>(objects: &mut BTreeMap<I, T>, names: &mut FastMap<String, I>, id: &I, name_of: fn(&T) -> &str) {
    if let Some(old) = objects.remove(id) {
        names.remove(name_of(&old));
    }
}

impl PolicyState {
    /// A state holding exactly these objects (as loaded from the store) at `version`.
    pub fn from_parts(version: u64, parts: PolicyParts) -> Self {
        let mut state = Self { version, ..Self::default() };
        let changes = parts
            .categories
            .into_iter()
            .map(PolicyChange::PutCategory)
            .chain(parts.tools.into_iter().map(PolicyChange::PutTool))
            .chain(parts.tenants.into_iter().map(PolicyChange::PutTenant))
            .chain(parts.resources.into_iter().map(PolicyChange::PutResource))
            .chain(parts.methods.into_iter().map(PolicyChange::PutMethod))
            .chain(parts.rules.into_iter().map(PolicyChange::PutRule));
        for change in changes {
            state.apply(change);
        }
        state
    }

    /// Applies one change. Changes come pre-validated from [`super::PolicyEdit`] or the store.
    pub fn apply(&mut self, change: PolicyChange) {
        match change {
            PolicyChange::PutCategory(c) => put_named(&mut self.categories, &mut self.category_names, c.id, c, |c| &c.name),
            PolicyChange::PutTool(t) => put_named(&mut self.tools, &mut self.tool_names, t.id, t, |t| &t.name),
            PolicyChange::PutTenant(t) => put_named(&mut self.tenants, &mut self.tenant_names, t.id, t, |t| &t.external_id),
            PolicyChange::PutResource(r) => put_named(&mut self.resources, &mut self.resource_names, r.id, r, |r| &r.name),
            PolicyChange::PutMethod(m) => put_named(&mut self.methods, &mut self.method_names, m.id, m, |m| &m.name),
            PolicyChange::PutRule(rule) => self.put_rule(rule),
            PolicyChange::DeleteCategory(id) => delete_named(&mut self.categories, &mut self.category_names, &id, |c| &c.name),
            PolicyChange::DeleteTool(id) => delete_named(&mut self.tools, &mut self.tool_names, &id, |t| &t.name),
            PolicyChange::DeleteTenant(id) => delete_named(&mut self.tenants, &mut self.tenant_names, &id, |t| &t.external_id),
            PolicyChange::DeleteResource(id) => delete_named(&mut self.resources, &mut self.resource_names, &id, |r| &r.name),
            PolicyChange::DeleteMethod(id) => delete_named(&mut self.methods, &mut self.method_names, &id, |m| &m.name),
            PolicyChange::DeleteRule(id) => self.delete_rule(id),
        }
    }

    fn put_rule(&mut self, rule: Rule) {
        self.delete_rule(rule.id);
        self.level_counts[rule.scope.shape().level_index()] += 1;
        self.rule_scopes.insert(rule.scope, (rule.id, rule.permission));
        self.rules.insert(rule.id, rule);
    }

    fn delete_rule(&mut self, id: RuleId) {
        if let Some(old) = self.rules.remove(&id) {
            self.rule_scopes.remove(&old.scope);
            self.level_counts[old.scope.shape().level_index()] -= 1;
        }
    }

    /// Every object, for export or a full comparison.
    pub fn to_parts(&self) -> PolicyParts {
        PolicyParts {
            categories: self.categories.values().cloned().collect(),
            tools: self.tools.values().cloned().collect(),
            tenants: self.tenants.values().cloned().collect(),
            resources: self.resources.values().cloned().collect(),
            methods: self.methods.values().cloned().collect(),
            rules: self.rules.values().cloned().collect(),
        }
    }

    /// Tools in id order.
    pub fn tools(&self) -> &BTreeMap<ToolId, Tool> {
        &self.tools
    }

    /// Categories in id order.
    pub fn categories(&self) -> &BTreeMap<CategoryId, Category> {
        &self.categories
    }

    /// Tenants in id order.
    pub fn tenants(&self) -> &BTreeMap<TenantId, Tenant> {
        &self.tenants
    }

    /// Resources in id order.
    pub fn resources(&self) -> &BTreeMap<ResourceId, Resource> {
        &self.resources
    }

    /// Methods in id order.
    pub fn methods(&self) -> &BTreeMap<MethodId, Method> {
        &self.methods
    }

    /// Rules in id order.
    pub fn rules(&self) -> &BTreeMap<RuleId, Rule> {
        &self.rules
    }

    /// The tool with this name.
    pub fn tool_by_name(&self, name: &str) -> Option<&Tool> {
        self.tool_names.get(name).and_then(|id| self.tools.get(id))
    }

    /// The tenant with this external id.
    pub fn tenant_by_external_id(&self, external_id: &str) -> Option<&Tenant> {
        self.tenant_names.get(external_id).and_then(|id| self.tenants.get(id))
    }

    /// The category with this name.
    pub fn category_by_name(&self, name: &str) -> Option<&Category> {
        self.category_names.get(name).and_then(|id| self.categories.get(id))
    }

    /// The resource with this name.
    pub fn resource_by_name(&self, name: &str) -> Option<&Resource> {
        self.resource_names.get(name).and_then(|id| self.resources.get(id))
    }

    /// The method with this name.
    pub fn method_by_name(&self, name: &str) -> Option<&Method> {
        self.method_names.get(name).and_then(|id| self.methods.get(id))
    }

    /// The rule with exactly this scope.
    pub fn rule_by_scope(&self, scope: &RuleScope) -> Option<&Rule> {
        self.rule_scopes.get(scope).and_then(|(id, _)| self.rules.get(id))
    }
}

/// Every object of one org's policy, as plain lists (what the store loads and saves).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PolicyParts {
    /// Categories.
    pub categories: Vec<Category>,
    /// Tools.
    pub tools: Vec<Tool>,
    /// Tenants.
    pub tenants: Vec<Tenant>,
    /// Resources.
    pub resources: Vec<Resource>,
    /// Methods.
    pub methods: Vec<Method>,
    /// Rules.
    pub rules: Vec<Rule>,
}
