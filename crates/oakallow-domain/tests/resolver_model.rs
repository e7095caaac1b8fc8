//! Differential test: the fast resolver index against the scanning reference resolver, on random
//! policies built through `PolicyEdit` and then partly deleted, and against a state rebuilt from
//! scratch (so an incrementally patched index can never drift from a fresh one).

#![expect(clippy::unwrap_used, reason = "tests: a failed step is a failed test")]

use oakallow_domain::Timestamp;
use oakallow_domain::permission::{Permission, ResolvedFrom};
use oakallow_domain::policy::{
    CategorySpec, CheckInput, NamedSpec, PolicyEdit, PolicyState, RuleSpec, TenantSpec, ToolSpec, matching_rules, resolve_by_scan,
};
use proptest::prelude::*;

const TENANTS: usize = 3;
const RESOURCES: usize = 3;
const TOOLS: usize = 4;
const METHODS: usize = 3;
const CATEGORIES: usize = 2;

fn permission() -> impl Strategy<Value = Permission> {
    prop_oneof![Just(Permission::Allowed), Just(Permission::RequiresApproval), Just(Permission::Disabled)]
}

#[derive(Debug, Clone)]
struct ToolShape {
    registered: bool,
    enabled: bool,
    approved: bool,
    default_permission: Option<Permission>,
    category: Option<usize>,
}

fn tool_shape() -> impl Strategy<Value = ToolShape> {
    (any::<bool>(), prop::bool::weighted(0.85), any::<bool>(), prop::option::weighted(0.3, permission()), prop::option::of(0..CATEGORIES))
        .prop_map(|(registered, enabled, approved, default_permission, category)| ToolShape {
            registered,
            enabled,
            approved,
            default_permission,
            category,
        })
}

/// A rule by indexes into the universes; `None` leaves the dimension empty.
type RuleShape = (Option<usize>, Option<usize>, Option<usize>, Option<usize>, Permission);

fn rule_shape() -> impl Strategy<Value = RuleShape> {
    (prop::option::of(0..TENANTS), prop::option::of(0..RESOURCES), prop::option::of(0..TOOLS), prop::option::of(0..METHODS), permission())
}

/// A request: indexes one past the universe mean "a name that is not registered".
type RequestShape = (usize, Option<usize>, Option<usize>, Option<usize>);

fn request_shape() -> impl Strategy<Value = RequestShape> {
    (0..=TOOLS, prop::option::of(0..=TENANTS), prop::option::of(0..=RESOURCES), prop::option::of(0..=METHODS))
}

fn build(categories: &[Option<Permission>], tools: &[ToolShape], rules: &[RuleShape]) -> PolicyState {
    let mut edit = PolicyEdit::new(PolicyState::default(), Timestamp::from_micros(0));
    for (i, default_permission) in categories.iter().enumerate() {
        edit.put_category(None, CategorySpec { name: format!("c{i}"), description: None, default_permission: *default_permission })
            .unwrap();
    }
    for (i, shape) in tools.iter().enumerate().filter(|(_, s)| s.registered) {
        let spec = ToolSpec {
            name: format!("x{i}"),
            description: None,
            category: shape.category.map(|c| format!("c{c}")),
            risk_level: None,
            parameters_schema: None,
            default_permission: shape.default_permission,
            approved: Some(shape.approved),
            enabled: Some(shape.enabled),
            approval_timeout_seconds: None,
            requires_second_approval: None,
            annotations: None,
            tags: None,
        };
        edit.put_tool(None, spec).unwrap();
    }
    for i in 0..TENANTS {
        edit.put_tenant(None, TenantSpec { external_id: format!("t{i}"), name: None }).unwrap();
    }
    for i in 0..RESOURCES {
        edit.put_resource(None, NamedSpec { name: format!("r{i}"), description: None }).unwrap();
    }
    for i in 0..METHODS {
        edit.put_method(None, NamedSpec { name: format!("m{i}"), description: None }).unwrap();
    }
    for &(tenant, resource, tool, method, permission) in rules {
        let spec = RuleSpec {
            tenant: tenant.map(|i| format!("t{i}")),
            resource: resource.map(|i| format!("r{i}")),
            tool: tool.map(|i| format!("x{i}")),
            method: method.map(|i| format!("m{i}")),
            permission,
            note: None,
        };
        // Duplicate scopes and rules naming unregistered tools are refused; skip them.
        let _ = edit.put_rule(None, spec);
    }
    edit.finish().0
}

fn names(request: &RequestShape) -> (String, Option<String>, Option<String>, Option<String>) {
    let (tool, tenant, resource, method) = *request;
    (format!("x{tool}"), tenant.map(|i| format!("t{i}")), resource.map(|i| format!("r{i}")), method.map(|i| format!("m{i}")))
}

fn assert_same(state: &PolicyState, requests: &[RequestShape]) -> Result<(), TestCaseError> {
    for request in requests {
        let (tool, tenant, resource, method) = names(request);
        let input = CheckInput { tool: &tool, tenant: tenant.as_deref(), resource: resource.as_deref(), method: method.as_deref() };
        let fast = state.resolve(input);
        let reference = resolve_by_scan(state, input);
        prop_assert_eq!((fast.permission, fast.resolved_from, fast.rule_id), reference, "request {:?}", request);
        prop_assert_eq!(fast.tool_registered(), state.tool_by_name(&tool).is_some());
        // The tester's list: every matching rule, most specific first; the first is the rule
        // that decides whenever a rule decides.
        let matching = matching_rules(state, input);
        if fast.rule_id.is_some() {
            prop_assert_eq!(matching.first().copied(), Some((fast.resolved_from, fast.rule_id.unwrap_or_else(|| unreachable!()))));
        } else if fast.resolved_from != ResolvedFrom::ToolDisabled {
            prop_assert!(matching.is_empty(), "no rule decided, so none matches: {:?}", matching);
        }
        let levels: Vec<_> = matching.iter().map(|(level, _)| ResolvedFrom::ALL.iter().position(|l| l == level)).collect();
        prop_assert!(levels.is_sorted(), "most specific level first: {:?}", matching);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn fast_index_matches_reference(
        categories in prop::collection::vec(prop::option::of(permission()), CATEGORIES),
        tools in prop::collection::vec(tool_shape(), TOOLS),
        rules in prop::collection::vec(rule_shape(), 0..40),
        requests in prop::collection::vec(request_shape(), 50),
        deletions in prop::collection::vec(any::<prop::sample::Index>(), 0..10),
    ) {
        let state = build(&categories, &tools, &rules);
        assert_same(&state, &requests)?;

        // Delete some rules and objects incrementally, then compare again, and compare with a
        // state rebuilt from the remaining objects.
        let mut edit = PolicyEdit::new(state, Timestamp::from_micros(1));
        for index in deletions {
            let draft = edit.draft();
            let rules: Vec<_> = draft.rules().keys().copied().collect();
            let tools: Vec<_> = draft.tools().keys().copied().collect();
            if index.index(3) == 0 && !tools.is_empty() {
                edit.delete_tool(*index.get(&tools), true).unwrap();
            } else if !rules.is_empty() {
                edit.delete_rule(*index.get(&rules)).unwrap();
            }
        }
        let (patched, _) = edit.finish();
        assert_same(&patched, &requests)?;
        let rebuilt = PolicyState::from_parts(0, patched.to_parts());
        for request in &requests {
            let (tool, tenant, resource, method) = names(request);
            let input = CheckInput { tool: &tool, tenant: tenant.as_deref(), resource: resource.as_deref(), method: method.as_deref() };
            let a = patched.resolve(input);
            let b = rebuilt.resolve(input);
            prop_assert_eq!((a.permission, a.resolved_from, a.rule_id), (b.permission, b.resolved_from, b.rule_id));
        }
    }
}
