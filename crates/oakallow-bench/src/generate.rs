//! [`RuleSet`]: a deterministic random policy of N rules spread over the 16 rule levels, built
//! through [`PolicyEdit`] exactly as the management API would build it.
//!
//! One org cannot reach every step of the chain: an `org_wildcard` rule matches every call, so
//! with one the four fallbacks never decide, and without one that level never does. A rule set
//! is therefore two orgs: `base` (N rules over the 15 other levels, plus tools with defaults,
//! categories with defaults, approved and disabled tools) and `catch_all`, the same policy plus
//! one `org_wildcard` rule. The request pool sends one request in eight to `catch_all`.

use std::collections::HashSet;

use oakallow_domain::Timestamp;
use oakallow_domain::permission::{Permission, ScopeShape};
use oakallow_domain::policy::{CategorySpec, NamedSpec, PolicyEdit, PolicyState, RuleSpec, TenantSpec, ToolSpec};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::{BenchError, CATEGORIES, METHODS, RESOURCES, TENANTS, TOOLS};
use crate::{category_name, method_name, resource_name, tenant_name, tool_name};

/// Number of rule levels (8 tenant levels, then 8 org levels).
pub const LEVELS: usize = 16;
/// The level of `org_wildcard`, the least specific.
pub const ORG_WILDCARD: usize = 15;
/// The level of `org_tool`: kept to a fifth of the tools so that calls without tenant, resource
/// or method still reach the fallbacks for most tools.
const ORG_TOOL: usize = 11;

/// Which of a rule set's two orgs a request goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrgKind {
    /// N rules over every level but `org_wildcard`.
    Base,
    /// The base policy plus one `org_wildcard` rule.
    CatchAll,
}

/// A rule's scope as indexes into the universe (`None`: the rule leaves the dimension empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ScopeIx {
    /// Tenant index.
    pub tenant: Option<usize>,
    /// Resource index.
    pub resource: Option<usize>,
    /// Tool index.
    pub tool: Option<usize>,
    /// Method index.
    pub method: Option<usize>,
}

/// A generated policy: the two orgs and, per level, the base org's rule scopes (which the
/// request generator aims at).
#[derive(Debug, Clone)]
pub struct RuleSet {
    /// N rules, no `org_wildcard`.
    pub base: PolicyState,
    /// `base` plus one `org_wildcard` rule.
    pub catch_all: PolicyState,
    /// The base org's rule scopes per level, in resolution order.
    pub levels: Vec<Vec<ScopeIx>>,
}

/// The timestamp every generated object carries (the resolver never reads it).
const CREATED: Timestamp = Timestamp::from_micros(1_764_547_200_000_000);

impl RuleSet {
    /// Generates `rules` rules from `seed` (a level holds at most half of its possible scopes, so
    /// at most about 5.7 million rules); the same arguments give the same policy.
    pub fn generate(rules: usize, seed: u64) -> Result<Self, BenchError> {
        let mut rng = StdRng::seed_from_u64(seed);
        let levels = draw_rules(&mut rng, rules)?;
        let mut edit = PolicyEdit::new(PolicyState::default(), CREATED);
        put_objects(&mut edit, &mut rng)?;
        for scope in levels.iter().flatten() {
            edit.put_rule(None, rule_spec(scope, permission(&mut rng)))?;
        }
        let base = edit.finish().0;
        let mut edit = PolicyEdit::new(base.clone(), CREATED);
        let wildcard = ScopeIx { tenant: None, resource: None, tool: None, method: None };
        edit.put_rule(None, rule_spec(&wildcard, permission(&mut rng)))?;
        let catch_all = edit.finish().0;
        Ok(Self { base, catch_all, levels })
    }

    /// The org a request goes to.
    pub fn org(&self, kind: OrgKind) -> &PolicyState {
        match kind {
            OrgKind::Base => &self.base,
            OrgKind::CatchAll => &self.catch_all,
        }
    }
}

/// A random permission: half `allowed`, a third `requires_approval`, the rest `disabled`.
pub(crate) fn permission(rng: &mut StdRng) -> Permission {
    match rng.random_range(0..20) {
        0..10 => Permission::Allowed,
        10..17 => Permission::RequiresApproval,
        _ => Permission::Disabled,
    }
}

/// How many scopes a level has: the product of the sizes of the dimensions it names.
fn capacity(shape: ScopeShape) -> usize {
    [(shape.tenant, TENANTS), (shape.resource, RESOURCES), (shape.tool, TOOLS), (shape.method, METHODS)]
        .iter()
        .filter(|(used, _)| *used)
        .map(|(_, size)| size)
        .product()
}

/// The most rules a level of the base org gets.
fn cap(level: usize) -> usize {
    match level {
        ORG_WILDCARD => 0,
        ORG_TOOL => TOOLS / 5,
        _ => capacity(ScopeShape::from_level_index(level)) / 2,
    }
}

/// Shares `rules` evenly over the levels, a level that is full giving its share to the others.
pub fn quotas(rules: usize) -> Result<[usize; LEVELS], BenchError> {
    let mut quotas = [0; LEVELS];
    let mut open: Vec<usize> = (0..LEVELS).filter(|&level| cap(level) > 0).collect();
    let mut left = rules;
    while !open.is_empty() && left > 0 {
        let share = left / open.len();
        let (full, rest): (Vec<usize>, Vec<usize>) = open.iter().partition(|&&level| cap(level) <= share);
        if full.is_empty() {
            for (i, level) in rest.iter().enumerate() {
                quotas[*level] = share + usize::from(i < left % rest.len());
            }
            return Ok(quotas);
        }
        for level in full {
            quotas[level] = cap(level);
            left -= cap(level);
        }
        open = rest;
    }
    if left > 0 {
        return Err(format!("{rules} rules do not fit in the universe").into());
    }
    Ok(quotas)
}

/// Draws distinct scopes for every level's quota.
fn draw_rules(rng: &mut StdRng, rules: usize) -> Result<Vec<Vec<ScopeIx>>, BenchError> {
    let quotas = quotas(rules)?;
    let mut levels = Vec::with_capacity(LEVELS);
    for (level, quota) in quotas.into_iter().enumerate() {
        let shape = ScopeShape::from_level_index(level);
        let mut seen = HashSet::with_capacity(quota);
        let mut scopes = Vec::with_capacity(quota);
        while scopes.len() < quota {
            let scope = ScopeIx {
                tenant: shape.tenant.then(|| rng.random_range(0..TENANTS)),
                resource: shape.resource.then(|| rng.random_range(0..RESOURCES)),
                tool: shape.tool.then(|| rng.random_range(0..TOOLS)),
                method: shape.method.then(|| rng.random_range(0..METHODS)),
            };
            if seen.insert(scope) {
                scopes.push(scope);
            }
        }
        levels.push(scopes);
    }
    Ok(levels)
}

/// Registers the universe: categories (every other one with a default), tools (a quarter with a
/// default, three quarters in a category, 30 % approved, 5 % disabled), tenants, resources and
/// methods.
fn put_objects(edit: &mut PolicyEdit, rng: &mut StdRng) -> Result<(), BenchError> {
    for i in 0..CATEGORIES {
        let default_permission = (i % 2 == 0).then(|| permission(rng));
        edit.put_category(None, CategorySpec { name: category_name(i), description: None, default_permission })?;
    }
    for i in 0..TOOLS {
        let spec = ToolSpec {
            name: tool_name(i),
            description: None,
            category: rng.random_bool(0.75).then(|| category_name(rng.random_range(0..CATEGORIES))),
            risk_level: None,
            parameters_schema: None,
            default_permission: rng.random_bool(0.25).then(|| permission(rng)),
            approved: Some(rng.random_bool(0.3)),
            enabled: Some(!rng.random_bool(0.05)),
            approval_timeout_seconds: None,
            requires_second_approval: None,
            annotations: None,
            tags: None,
        };
        edit.put_tool(None, spec)?;
    }
    for i in 0..TENANTS {
        edit.put_tenant(None, TenantSpec { external_id: tenant_name(i), name: None })?;
    }
    for i in 0..RESOURCES {
        edit.put_resource(None, NamedSpec { name: resource_name(i), description: None })?;
    }
    for i in 0..METHODS {
        edit.put_method(None, NamedSpec { name: method_name(i), description: None })?;
    }
    Ok(())
}

/// The rule as the management API takes it: by names.
fn rule_spec(scope: &ScopeIx, permission: Permission) -> RuleSpec {
    RuleSpec {
        tenant: scope.tenant.map(tenant_name),
        resource: scope.resource.map(resource_name),
        tool: scope.tool.map(tool_name),
        method: scope.method.map(method_name),
        permission,
        note: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotas_add_up_and_respect_the_caps() {
        for rules in [0, 1, 15, 100, 1_000, 10_000, 100_000] {
            let quotas = quotas(rules).unwrap_or_default();
            assert_eq!(quotas.iter().sum::<usize>(), rules, "{rules}");
            for (level, quota) in quotas.iter().enumerate() {
                assert!(*quota <= cap(level), "{rules} rules: level {level} gets {quota}");
            }
        }
        assert_eq!(quotas(15).unwrap_or_default()[..ORG_WILDCARD], [1; ORG_WILDCARD]);
    }
}
