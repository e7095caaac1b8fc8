//! Permission resolution (PRODUCT.md section 3): the gate, 16 rule levels from most to least
//! specific, then four fallbacks. [`PolicyState::resolve`] is the fast path (a handful of hash
//! lookups, independent of the number of rules); [`resolve_by_scan`] is a deliberately simple
//! reference that the fast path is differentially tested against.

use super::model::{RuleScope, Tool};
use super::state::PolicyState;
use crate::id::{MethodId, ResourceId, RuleId, TenantId, ToolId};
use crate::permission::{GROUP_ORDER, Permission, ResolvedFrom, ScopeShape};

/// What a check asks about, by name, as the agent sends it.
#[derive(Debug, Clone, Copy, Default)]
pub struct CheckInput<'a> {
    /// Tool name.
    pub tool: &'a str,
    /// Tenant `external_id`.
    pub tenant: Option<&'a str>,
    /// Resource name.
    pub resource: Option<&'a str>,
    /// Method name.
    pub method: Option<&'a str>,
}

/// The answer of the resolver.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision<'s> {
    /// The permission.
    pub permission: Permission,
    /// The step that decided.
    pub resolved_from: ResolvedFrom,
    /// The rule that decided, for rule levels.
    pub rule_id: Option<RuleId>,
    /// The registered tool, if the name is one.
    pub tool: Option<&'s Tool>,
    /// A tenant was given and exists.
    pub tenant_known: bool,
}

/// The request's names turned into ids (`None` where absent or unknown).
struct Known {
    tenant: Option<TenantId>,
    resource: Option<ResourceId>,
    tool: Option<ToolId>,
    method: Option<MethodId>,
}

impl PolicyState {
    /// Decides a check. Pure and total: every input gets exactly one decision.
    pub fn resolve(&self, input: CheckInput<'_>) -> Decision<'_> {
        let tool = self.tool_by_name(input.tool);
        let known = Known {
            tenant: input.tenant.and_then(|name| self.tenant_names.get(name).copied()),
            resource: input.resource.and_then(|name| self.resource_names.get(name).copied()),
            tool: tool.map(|t| t.id),
            method: input.method.and_then(|name| self.method_names.get(name).copied()),
        };
        let tenant_known = known.tenant.is_some();
        let decided = |permission, resolved_from, rule_id| Decision { permission, resolved_from, rule_id, tool, tenant_known };

        if tool.is_some_and(|t| !t.enabled) {
            return decided(Permission::Disabled, ResolvedFrom::ToolDisabled, None);
        }
        if let Some((scope, (id, permission))) = self.first_matching_rule(&known) {
            return decided(permission, scope.shape().resolved_from(), Some(id));
        }
        let (permission, step) =
            fallback(tool, |tool| tool.category.and_then(|id| self.categories.get(&id)).and_then(|c| c.default_permission));
        decided(permission, step, None)
    }

    /// The most specific rule that matches: its scope, id and permission.
    fn first_matching_rule(&self, known: &Known) -> Option<(RuleScope, (RuleId, Permission))> {
        let tenant_groups = [known.tenant.map(|t| (0, Some(t))), Some((8, None))];
        for (offset, tenant) in tenant_groups.into_iter().flatten() {
            for (position, &(resource, tool, method)) in GROUP_ORDER.iter().enumerate() {
                if self.level_counts[offset + position] == 0 {
                    continue;
                }
                let Some(scope) = scope_for(known, tenant, resource, tool, method) else { continue };
                if let Some(&found) = self.rule_scopes.get(&scope) {
                    return Some((scope, found));
                }
            }
        }
        None
    }
}

/// The scope a level looks up, or `None` when the request lacks a dimension the level needs.
fn scope_for(known: &Known, tenant: Option<TenantId>, resource: bool, tool: bool, method: bool) -> Option<RuleScope> {
    Some(RuleScope {
        tenant,
        resource: if resource { Some(known.resource?) } else { None },
        tool: if tool { Some(known.tool?) } else { None },
        method: if method { Some(known.method?) } else { None },
    })
}

/// The four fallbacks, in order, for a call no rule matched.
fn fallback(tool: Option<&Tool>, category_default: impl Fn(&Tool) -> Option<Permission>) -> (Permission, ResolvedFrom) {
    let Some(tool) = tool else {
        return (Permission::RequiresApproval, ResolvedFrom::FailSafe);
    };
    if let Some(permission) = tool.default_permission {
        return (permission, ResolvedFrom::ToolDefault);
    }
    if let Some(permission) = category_default(tool) {
        return (permission, ResolvedFrom::CategoryDefault);
    }
    if tool.approved {
        return (Permission::Allowed, ResolvedFrom::ToolApproved);
    }
    (Permission::RequiresApproval, ResolvedFrom::FailSafe)
}

/// The reference resolver: finds objects by scanning lists and walks the levels in order,
/// scanning every rule at each level (see [`matching_rules`]): the first match decides. Slow and
/// obviously right; used to test [`PolicyState::resolve`].
pub fn resolve_by_scan(state: &PolicyState, input: CheckInput<'_>) -> (Permission, ResolvedFrom, Option<RuleId>) {
    let tool = state.tools.values().find(|t| t.name == input.tool);
    if let Some(tool) = tool
        && !tool.enabled
    {
        return (Permission::Disabled, ResolvedFrom::ToolDisabled, None);
    }
    if let Some(&(step, id)) = matching_rules(state, input).first()
        && let Some(rule) = state.rules.get(&id)
    {
        return (rule.permission, step, Some(id));
    }
    let (permission, step) = fallback(tool, |tool| {
        let category = state.categories.values().find(|c| Some(c.id) == tool.category);
        category.and_then(|c| c.default_permission)
    });
    (permission, step, None)
}

/// Every rule that matches a call, most specific level first: the first one decides, unless
/// the tool is disabled. What the dashboard's "which rule wins" tester shows, and the core of
/// [`resolve_by_scan`]; a scan of every rule, not for the hot path.
pub fn matching_rules(state: &PolicyState, input: CheckInput<'_>) -> Vec<(ResolvedFrom, RuleId)> {
    let tool = state.tools.values().find(|t| t.name == input.tool);
    let tenant = input.tenant.and_then(|name| state.tenants.values().find(|t| t.external_id == name));
    let resource = input.resource.and_then(|name| state.resources.values().find(|r| r.name == name));
    let method = input.method.and_then(|name| state.methods.values().find(|m| m.name == name));
    let mut found = Vec::new();
    // The level order is read off the names in `ResolvedFrom::ALL`, independently of the fast
    // path's table.
    for step in &ResolvedFrom::ALL[1..17] {
        let name = step.as_str();
        let shape = ScopeShape {
            tenant: name.starts_with("tenant_"),
            resource: name.contains("resource"),
            tool: name.contains("tool"),
            method: name.contains("method"),
        };
        for rule in state.rules.values().filter(|rule| rule.scope.shape() == shape) {
            let matches = rule.scope.tenant.is_none_or(|id| tenant.is_some_and(|t| t.id == id))
                && rule.scope.resource.is_none_or(|id| resource.is_some_and(|r| r.id == id))
                && rule.scope.tool.is_none_or(|id| tool.is_some_and(|t| t.id == id))
                && rule.scope.method.is_none_or(|id| method.is_some_and(|m| m.id == id));
            if matches {
                found.push((*step, rule.id));
            }
        }
    }
    found
}

impl Decision<'_> {
    /// The tool name is registered in the org.
    pub fn tool_registered(&self) -> bool {
        self.tool.is_some()
    }
}
