//! The same policy written as Cedar policies (`cedar-policy` 4), for the comparison benchmark.
//!
//! # The encoding
//!
//! Cedar answers allow or deny for one action; oakallow answers one of three permissions. So
//! there are three actions, `Action::"allowed"`, `Action::"requires_approval"` and
//! `Action::"disabled"`, and the policies are written so that exactly one of them is permitted
//! for any call: that one is the answer. A full decision asks `allowed`, then, if denied,
//! `requires_approval`; if both are denied the answer is `disabled` (1 or 2 `is_authorized`
//! calls, see [`CedarOrg::decide`]; the benchmark's agreement check asks all three and requires
//! exactly one).
//!
//! A call is a Cedar request with the tenant as principal (`Tenant::"acme"`, or `Org::"this"`
//! when the call names no tenant), the tool as resource (`Tool::"send_email"`) and the call's
//! resource and method names as the optional context attributes `resource` and `method`. Unknown
//! names need nothing special: an entity that is not in the store matches no `==`, `in` or
//! `has`, and an unknown string equals no rule's string.
//!
//! Each oakallow rule is one policy, written as a user would:
//!
//! ```text
//! permit (principal == Tenant::"acme", action == Action::"requires_approval", resource == Tool::"refund")
//! when { context has method && context.method == "write" }
//! unless { <a rule of a more specific level applies> };
//! ```
//!
//! Cedar has no rule order; its only precedence is "a forbid beats every permit". oakallow's
//! "first match from the most specific level" is written as the `unless` clause: the rule stands
//! aside when a rule of a more specific level applies to the call. Spelling those rules out in
//! every policy would make the policy set quadratic in the number of rules, so the org keeps, as
//! the attributes of one entity `Org::"this"`, the scopes that hold a rule, one set per level
//! (`Org::"this".tenant_tool` is a set of `{tenant, tool}` records), and "a rule of level L
//! applies" is a membership test of the call's own key for L:
//! `Org::"this".tenant_tool.contains({tenant: principal, tool: resource})`, guarded by
//! `context has resource` / `context has method` where the level needs them. Each policy stays
//! small, and one whose head (principal, action, resource) does not match the call is rejected
//! before its conditions are evaluated.
//!
//! The rest of the chain is six fixed policies over the tools' attributes (`enabled`,
//! `approved`, optional `default_permission` and `category`; categories have an optional
//! `default_permission`; permissions are the action entities themselves): a `forbid` of
//! `allowed` and `requires_approval` for a disabled tool with a `permit` of `disabled` (the
//! gate: it beats every rule), then `tool_default`, `category_default`, `tool_approved` and
//! `fail_safe` as permits, each standing aside when any rule applies or an earlier fallback does.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use cedar_policy::{
    Authorizer, Context, Decision, Entities, Entity, EntityId, EntityTypeName, EntityUid, Policy, PolicyId, PolicySet, RestrictedExpression,
};
use oakallow_domain::permission::{Permission, ScopeShape};
use oakallow_domain::policy::{PolicyState, Rule, RuleSpec};

use crate::generate::{LEVELS, OrgKind, RuleSet};
use crate::{BenchError, Request};

/// The three actions, in the order a decision asks them.
pub const ACTIONS: [Permission; 3] = [Permission::Allowed, Permission::RequiresApproval, Permission::Disabled];

/// The entity holding the org's rule scopes per level.
const ORG: &str = r#"Org::"this""#;

/// One org's policy as a Cedar policy set and entity store, built once.
pub struct CedarOrg {
    policies: PolicySet,
    entities: Entities,
}

/// Both orgs of a [`RuleSet`] in Cedar.
pub struct CedarRuleSet {
    /// The base org.
    pub base: CedarOrg,
    /// The catch-all org.
    pub catch_all: CedarOrg,
}

/// One call as the three Cedar requests (one per action, in [`ACTIONS`] order).
pub struct CedarRequest([cedar_policy::Request; 3]);

/// What Cedar says about one call when asked all three actions.
#[derive(Debug, Clone, PartialEq)]
pub struct CedarAnswer {
    /// The actions it permits (exactly one for a correct encoding).
    pub permitted: Vec<Permission>,
    /// The policies that decided, per action.
    pub reasons: Vec<String>,
    /// Evaluation errors (none for a correct encoding).
    pub errors: Vec<String>,
}

impl CedarRuleSet {
    /// Encodes both orgs; the catch-all org's policy set is the base org's plus its one extra
    /// rule (parsing is most of the cost of building).
    pub fn from_rule_set(set: &RuleSet) -> Result<Self, BenchError> {
        let base = CedarOrg::from_state(&set.base)?;
        let added = set.catch_all.rules().values().filter(|rule| !set.base.rules().contains_key(&rule.id));
        let catch_all = base.with_rules(&set.catch_all, added)?;
        Ok(Self { base, catch_all })
    }

    /// The org a request goes to.
    pub fn org(&self, kind: OrgKind) -> &CedarOrg {
        match kind {
            OrgKind::Base => &self.base,
            OrgKind::CatchAll => &self.catch_all,
        }
    }
}

impl CedarOrg {
    /// Encodes one org's policy (see the module documentation).
    pub fn from_state(state: &PolicyState) -> Result<Self, BenchError> {
        let mut policies = PolicySet::new();
        for (id, text) in policy_texts(state) {
            policies.add(Policy::parse(Some(PolicyId::new(id)), text)?)?;
        }
        Ok(Self { policies, entities: Entities::from_entities(entities(state)?, None)? })
    }

    /// This org's encoding plus policies for `added` rules, with the entities of `state` (the
    /// policy `added` leads to).
    pub fn with_rules<'a>(&self, state: &PolicyState, added: impl Iterator<Item = &'a Rule>) -> Result<Self, BenchError> {
        let applies = level_tests();
        let mut policies = self.policies.clone();
        for rule in added {
            let text = rule_policy(&state.rule_spec(rule), &applies[..rule.scope.shape().level_index()]);
            policies.add(Policy::parse(Some(PolicyId::new(rule.id.to_string())), text)?)?;
        }
        Ok(Self { policies, entities: Entities::from_entities(entities(state)?, None)? })
    }

    /// Number of policies.
    pub fn policy_count(&self) -> usize {
        self.policies.policies().count()
    }

    /// The decision as an application would get it: `allowed`? else `requires_approval`? else
    /// `disabled`. The encoding permits exactly one action (the agreement check asks all three
    /// and requires it), so this is that action.
    pub fn decide(&self, authorizer: &Authorizer, request: &CedarRequest) -> Permission {
        let allows = |i: usize| authorizer.is_authorized(&request.0[i], &self.policies, &self.entities).decision() == Decision::Allow;
        if allows(0) {
            Permission::Allowed
        } else if allows(1) {
            Permission::RequiresApproval
        } else {
            Permission::Disabled
        }
    }

    /// Asks all three actions.
    pub fn answer(&self, authorizer: &Authorizer, request: &CedarRequest) -> CedarAnswer {
        let mut answer = CedarAnswer { permitted: Vec::new(), reasons: Vec::new(), errors: Vec::new() };
        for (permission, cedar_request) in ACTIONS.iter().zip(&request.0) {
            let response = authorizer.is_authorized(cedar_request, &self.policies, &self.entities);
            if response.decision() == Decision::Allow {
                answer.permitted.push(*permission);
            }
            let reasons: Vec<String> = response.diagnostics().reason().map(ToString::to_string).collect();
            answer.reasons.push(format!("{}: {}", permission.as_str(), reasons.join(",")));
            answer.errors.extend(response.diagnostics().errors().map(ToString::to_string));
        }
        answer
    }
}

/// Number of `is_authorized` calls [`CedarOrg::decide`] makes for an answer.
pub fn decision_calls(permission: Permission) -> usize {
    if permission == Permission::Allowed { 1 } else { 2 }
}

impl CedarRequest {
    /// The Cedar requests of one call.
    pub fn new(request: &Request) -> Result<Self, BenchError> {
        let principal = match &request.tenant {
            Some(tenant) => uid("Tenant", tenant)?,
            None => EntityUid::from_str(ORG)?,
        };
        let resource = uid("Tool", &request.tool)?;
        let context = [("resource", &request.resource), ("method", &request.method)]
            .into_iter()
            .filter_map(|(key, value)| value.as_ref().map(|v| (key.to_owned(), RestrictedExpression::new_string(v.clone()))));
        let context = Context::from_pairs(context)?;
        let one = |permission: Permission| -> Result<cedar_policy::Request, BenchError> {
            let action = uid("Action", permission.as_str())?;
            Ok(cedar_policy::Request::new(principal.clone(), action, resource.clone(), context.clone(), None)?)
        };
        Ok(Self([one(ACTIONS[0])?, one(ACTIONS[1])?, one(ACTIONS[2])?]))
    }
}

fn uid(kind: &str, id: &str) -> Result<EntityUid, BenchError> {
    Ok(EntityUid::from_type_name_and_id(EntityTypeName::from_str(kind)?, EntityId::new(id)))
}

/// A Cedar string literal.
fn quote(text: &str) -> String {
    format!("\"{}\"", text.escape_default())
}

/// "A rule of level `level` applies to the call": the call's key for the level is one of the
/// org's rule scopes of that level.
fn applies(level: usize) -> String {
    let shape = ScopeShape::from_level_index(level);
    let mut terms = Vec::new();
    let mut key = Vec::new();
    if shape.tenant {
        key.push("tenant: principal");
    }
    if shape.resource {
        terms.push("context has resource".to_owned());
        key.push("resource: context.resource");
    }
    if shape.tool {
        key.push("tool: resource");
    }
    if shape.method {
        terms.push("context has method".to_owned());
        key.push("method: context.method");
    }
    terms.push(format!("{ORG}.{}.contains({{{}}})", shape.resolved_from().as_str(), key.join(", ")));
    format!("({})", terms.join(" && "))
}

/// The 16 "a rule of this level applies" tests, in resolution order.
fn level_tests() -> Vec<String> {
    (0..LEVELS).map(applies).collect()
}

/// Every policy with its id: the gate and the fallbacks, then one policy per rule (named by the
/// rule's id).
pub fn policy_texts(state: &PolicyState) -> Vec<(String, String)> {
    let applies = level_tests();
    let mut texts = fixed_policies(&applies.join(" || "));
    for rule in state.rules().values() {
        let level = rule.scope.shape().level_index();
        texts.push((rule.id.to_string(), rule_policy(&state.rule_spec(rule), &applies[..level])));
    }
    texts
}

/// The whole policy set as one text, each policy preceded by its id as a comment.
pub fn policy_text(state: &PolicyState) -> String {
    policy_texts(state).into_iter().map(|(id, text)| format!("// {id}\n{text}")).collect()
}

/// One rule: its scope as the policy head and `when`, the more specific levels as `unless`.
fn rule_policy(rule: &RuleSpec, more_specific: &[String]) -> String {
    let principal = rule.tenant.as_ref().map_or("principal".to_owned(), |t| format!("principal == Tenant::{}", quote(t)));
    let resource = rule.tool.as_ref().map_or("resource".to_owned(), |t| format!("resource == Tool::{}", quote(t)));
    let mut text = format!("permit ({principal}, action == Action::\"{}\", {resource})", rule.permission.as_str());
    let when: Vec<String> = [("resource", &rule.resource), ("method", &rule.method)]
        .into_iter()
        .filter_map(|(key, value)| value.as_ref().map(|v| format!("context has {key} && context.{key} == {}", quote(v))))
        .collect();
    if !when.is_empty() {
        text.push_str(&format!("\nwhen {{ {} }}", when.join(" && ")));
    }
    if !more_specific.is_empty() {
        text.push_str(&format!("\nunless {{ {} }}", more_specific.join(" || ")));
    }
    text.push_str(";\n");
    text
}

/// The gate and the four fallbacks, with their ids; `any_rule` is "a rule of any level
/// applies".
fn fixed_policies(any_rule: &str) -> Vec<(String, String)> {
    let tool_default = "resource has default_permission";
    let category_default = "(resource has category && resource.category has default_permission)";
    let approved = "(resource has approved && resource.approved)";
    let disabled = "resource has enabled && !resource.enabled";
    [
        // The gate: a disabled tool answers `disabled`, whatever else matches.
        (
            "tool_disabled_forbid",
            format!(
                "forbid (principal, action in [Action::\"allowed\", Action::\"requires_approval\"], resource is Tool)\nwhen {{ {disabled} }};\n"
            ),
        ),
        ("tool_disabled", format!("permit (principal, action == Action::\"disabled\", resource is Tool)\nwhen {{ {disabled} }};\n")),
        (
            "tool_default",
            format!(
                "permit (principal, action, resource is Tool)\nwhen {{ {tool_default} && resource.default_permission == action }}\nunless {{ {any_rule} }};\n"
            ),
        ),
        (
            "category_default",
            format!(
                "permit (principal, action, resource is Tool)\nwhen {{ {category_default} && resource.category.default_permission == action }}\nunless {{ {any_rule} || {tool_default} }};\n"
            ),
        ),
        (
            "tool_approved",
            format!(
                "permit (principal, action == Action::\"allowed\", resource is Tool)\nwhen {{ {approved} }}\nunless {{ {any_rule} || {tool_default} || {category_default} }};\n"
            ),
        ),
        (
            "fail_safe",
            format!(
                "permit (principal, action == Action::\"requires_approval\", resource)\nunless {{ {any_rule} || {tool_default} || {category_default} || {approved} }};\n"
            ),
        ),
    ]
    .into_iter()
    .map(|(id, text)| (id.to_owned(), text))
    .collect()
}

/// Tenants, categories and tools, and `Org::"this"` with the rule scopes of each level.
fn entities(state: &PolicyState) -> Result<Vec<Entity>, BenchError> {
    let mut entities = Vec::new();
    for tenant in state.tenants().values() {
        entities.push(Entity::new_no_attrs(uid("Tenant", &tenant.external_id)?, HashSet::new()));
    }
    for category in state.categories().values() {
        let mut attrs = HashMap::new();
        if let Some(permission) = category.default_permission {
            attrs.insert("default_permission".to_owned(), RestrictedExpression::new_entity_uid(uid("Action", permission.as_str())?));
        }
        entities.push(Entity::new(uid("Category", &category.name)?, attrs, HashSet::new())?);
    }
    for tool in state.tools().values() {
        let spec = state.tool_spec(tool);
        let mut attrs = HashMap::from([
            ("enabled".to_owned(), RestrictedExpression::new_bool(tool.enabled)),
            ("approved".to_owned(), RestrictedExpression::new_bool(tool.approved)),
        ]);
        if let Some(permission) = tool.default_permission {
            attrs.insert("default_permission".to_owned(), RestrictedExpression::new_entity_uid(uid("Action", permission.as_str())?));
        }
        if let Some(category) = spec.category {
            attrs.insert("category".to_owned(), RestrictedExpression::new_entity_uid(uid("Category", &category)?));
        }
        entities.push(Entity::new(uid("Tool", &tool.name)?, attrs, HashSet::new())?);
    }
    entities.push(Entity::new(EntityUid::from_str(ORG)?, rule_scopes(state)?, HashSet::new())?);
    Ok(entities)
}

/// Per level, the set of scopes that hold a rule, as records keyed like [`applies`]'s.
fn rule_scopes(state: &PolicyState) -> Result<HashMap<String, RestrictedExpression>, BenchError> {
    let mut levels: Vec<Vec<RestrictedExpression>> = (0..LEVELS).map(|_| Vec::new()).collect();
    for rule in state.rules().values() {
        let spec = state.rule_spec(rule);
        let mut key = Vec::new();
        if let Some(tenant) = spec.tenant {
            key.push(("tenant".to_owned(), RestrictedExpression::new_entity_uid(uid("Tenant", &tenant)?)));
        }
        if let Some(resource) = spec.resource {
            key.push(("resource".to_owned(), RestrictedExpression::new_string(resource)));
        }
        if let Some(tool) = spec.tool {
            key.push(("tool".to_owned(), RestrictedExpression::new_entity_uid(uid("Tool", &tool)?)));
        }
        if let Some(method) = spec.method {
            key.push(("method".to_owned(), RestrictedExpression::new_string(method)));
        }
        levels[rule.scope.shape().level_index()].push(RestrictedExpression::new_record(key)?);
    }
    Ok(levels
        .into_iter()
        .enumerate()
        .map(|(level, keys)| (ScopeShape::from_level_index(level).resolved_from().as_str().to_owned(), RestrictedExpression::new_set(keys)))
        .collect())
}
