//! Where the resolver's time goes as the rule count grows: the domain's `PolicyState::resolve`
//! next to two replicas of the same algorithm over other index layouts, built here from the
//! state's public accessors (the domain crate is not changed):
//!
//! - `inline`: the same `RuleScope -> _` hash map, but holding the rule's id and permission, so a
//!   hit needs no second lookup in the `BTreeMap<RuleId, Rule>` of all rules;
//! - `packed`: names map to dense indexes, a scope is one `u64` (four 16-bit fields), and the map
//!   holds the id and permission.
//!
//! Each replica is checked against `resolve` on the whole pool before timing.
//!
//! ```sh
//! cargo run --release -p oakallow-bench --example resolver_layout               # time all three
//! cargo run --release -p oakallow-bench --example resolver_layout -- loop 100000 200 domain
//! ```
//!
//! The `loop RULES ROUNDS LAYOUT` form only runs ROUNDS passes over the pool, for a profiler such
//! as `valgrind --tool=cachegrind`.

#![expect(clippy::unwrap_used, reason = "an experiment: a failed setup step is a failed run")]

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Instant;

use oakallow_bench::{Request, RuleSet};
use oakallow_domain::id::RuleId;
use oakallow_domain::permission::{GROUP_ORDER, Permission};
use oakallow_domain::policy::{PolicyState, RuleScope, Tool};

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// The `inline` layout: the domain's scope map, with the answer in it.
struct Inline<'s> {
    state: &'s PolicyState,
    rules: FastMap<RuleScope, (RuleId, Permission)>,
    level_counts: [u32; 16],
}

impl<'s> Inline<'s> {
    fn new(state: &'s PolicyState) -> Self {
        let mut level_counts = [0; 16];
        let mut rules = FastMap::default();
        for rule in state.rules().values() {
            level_counts[rule.scope.shape().level_index()] += 1;
            rules.insert(rule.scope, (rule.id, rule.permission));
        }
        Self { state, rules, level_counts }
    }

    fn resolve(&self, request: &Request) -> (Permission, Option<RuleId>) {
        let s = self.state;
        let tool = s.tool_by_name(&request.tool);
        if tool.is_some_and(|t| !t.enabled) {
            return (Permission::Disabled, None);
        }
        let tenant = request.tenant.as_deref().and_then(|n| s.tenant_by_external_id(n)).map(|t| t.id);
        let resource = request.resource.as_deref().and_then(|n| s.resource_by_name(n)).map(|r| r.id);
        let method = request.method.as_deref().and_then(|n| s.method_by_name(n)).map(|m| m.id);
        for (offset, tenant) in [tenant.map(|t| (0, Some(t))), Some((8, None))].into_iter().flatten() {
            for (position, &(r, t, m)) in GROUP_ORDER.iter().enumerate() {
                if self.level_counts[offset + position] == 0 {
                    continue;
                }
                let scope = || {
                    Some(RuleScope {
                        tenant,
                        resource: if r { Some(resource?) } else { None },
                        tool: if t { Some(tool?.id) } else { None },
                        method: if m { Some(method?) } else { None },
                    })
                };
                if let Some(&(id, permission)) = scope().and_then(|scope| self.rules.get(&scope)) {
                    return (permission, Some(id));
                }
            }
        }
        (fallback(s, tool), None)
    }
}

/// The `packed` layout: dense indexes and one `u64` per scope (0 = the dimension is empty).
struct Packed<'s> {
    state: &'s PolicyState,
    tools: FastMap<String, (u64, &'s Tool)>,
    tenants: FastMap<String, u64>,
    resources: FastMap<String, u64>,
    methods: FastMap<String, u64>,
    rules: FastMap<u64, (RuleId, Permission)>,
    level_counts: [u32; 16],
}

fn pack(tenant: u64, resource: u64, tool: u64, method: u64) -> u64 {
    tenant << 48 | resource << 32 | tool << 16 | method
}

impl<'s> Packed<'s> {
    fn new(state: &'s PolicyState) -> Self {
        let tools: FastMap<String, (u64, &Tool)> = state.tools().values().zip(1..).map(|(t, i)| (t.name.clone(), (i, t))).collect();
        let tenants: FastMap<String, u64> = state.tenants().values().zip(1..).map(|(t, i)| (t.external_id.clone(), i)).collect();
        let resources: FastMap<String, u64> = state.resources().values().zip(1..).map(|(r, i)| (r.name.clone(), i)).collect();
        let methods: FastMap<String, u64> = state.methods().values().zip(1..).map(|(m, i)| (m.name.clone(), i)).collect();
        let mut level_counts = [0; 16];
        let mut rules = FastMap::default();
        for rule in state.rules().values() {
            level_counts[rule.scope.shape().level_index()] += 1;
            let spec = state.rule_spec(rule);
            let index = |map: &FastMap<String, u64>, name: Option<String>| name.map_or(0, |n| map[&n]);
            let tool = spec.tool.map_or(0, |n| tools[&n].0);
            let key = pack(index(&tenants, spec.tenant), index(&resources, spec.resource), tool, index(&methods, spec.method));
            rules.insert(key, (rule.id, rule.permission));
        }
        Self { state, tools, tenants, resources, methods, rules, level_counts }
    }

    fn resolve(&self, request: &Request) -> (Permission, Option<RuleId>) {
        let tool = self.tools.get(&request.tool);
        if tool.is_some_and(|(_, t)| !t.enabled) {
            return (Permission::Disabled, None);
        }
        let index = |map: &FastMap<String, u64>, name: &Option<String>| name.as_ref().and_then(|n| map.get(n)).copied();
        let tenant = index(&self.tenants, &request.tenant);
        let (resource, method) = (index(&self.resources, &request.resource), index(&self.methods, &request.method));
        for (offset, tenant) in [tenant.map(|t| (0, t)), Some((8, 0))].into_iter().flatten() {
            for (position, &(r, t, m)) in GROUP_ORDER.iter().enumerate() {
                if self.level_counts[offset + position] == 0 {
                    continue;
                }
                let key = || {
                    let resource = if r { resource? } else { 0 };
                    let tool = if t { tool?.0 } else { 0 };
                    Some(pack(tenant, resource, tool, if m { method? } else { 0 }))
                };
                if let Some(&(id, permission)) = key().and_then(|key| self.rules.get(&key)) {
                    return (permission, Some(id));
                }
            }
        }
        (fallback(self.state, tool.map(|(_, t)| *t)), None)
    }
}

/// The four fallbacks (as the domain's `fallback`).
fn fallback(state: &PolicyState, tool: Option<&Tool>) -> Permission {
    let Some(tool) = tool else { return Permission::RequiresApproval };
    let category = tool.category.and_then(|id| state.categories().get(&id)).and_then(|c| c.default_permission);
    match (tool.default_permission, category) {
        (Some(permission), _) | (None, Some(permission)) => permission,
        (None, None) if tool.approved => Permission::Allowed,
        (None, None) => Permission::RequiresApproval,
    }
}

/// Median ns per decision of `rounds` timed passes over the pool.
fn time(pool: &[Request], rounds: usize, mut decide: impl FnMut(&Request)) -> f64 {
    let mut per_decision: Vec<f64> = (0..rounds)
        .map(|_| {
            let started = Instant::now();
            for request in pool {
                decide(request);
            }
            started.elapsed().as_nanos() as f64 / pool.len() as f64
        })
        .collect();
    per_decision.sort_by(f64::total_cmp);
    per_decision[per_decision.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("loop") {
        let rules: usize = args[1].parse().unwrap();
        let rounds: usize = args[2].parse().unwrap();
        return run_loop(rules, rounds, &args[3]);
    }
    println!("| rules | domain resolve ns | inline ns | packed ns |\n|---:|---:|---:|---:|");
    for rules in [100, 10_000, 100_000] {
        let set = RuleSet::generate(rules, 10).unwrap();
        let pool = set.requests(4096, 11);
        let (base, catch_all) = (Inline::new(&set.base), Inline::new(&set.catch_all));
        let (pbase, pcatch_all) = (Packed::new(&set.base), Packed::new(&set.catch_all));
        let inline = |r: &Request| if r.org == oakallow_bench::OrgKind::Base { base.resolve(r) } else { catch_all.resolve(r) };
        let packed = |r: &Request| if r.org == oakallow_bench::OrgKind::Base { pbase.resolve(r) } else { pcatch_all.resolve(r) };
        for request in &pool {
            let decision = set.org(request.org).resolve(request.input());
            let expected = (decision.permission, decision.rule_id);
            assert_eq!(inline(request), expected, "{request:?}");
            assert_eq!(packed(request), expected, "{request:?}");
        }
        // Interleaved rounds, so that a burst of load on the shared machine hits all three.
        let (mut d, mut i, mut p) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..15 {
            d.push(time(&pool, 20, |r| {
                black_box(set.org(r.org).resolve(black_box(r.input())));
            }));
            i.push(time(&pool, 20, |r| {
                black_box(inline(black_box(r)));
            }));
            p.push(time(&pool, 20, |r| {
                black_box(packed(black_box(r)));
            }));
        }
        let median = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        println!("| {rules} | {:.0} | {:.0} | {:.0} |", median(d), median(i), median(p));
    }
}

/// `rounds` passes over the pool with one layout, for a profiler.
fn run_loop(rules: usize, rounds: usize, layout: &str) {
    let set = RuleSet::generate(rules, 10).unwrap();
    let pool = set.requests(4096, 11);
    let (inline, packed) = (Inline::new(&set.base), Packed::new(&set.base));
    let base: Vec<&Request> = pool.iter().filter(|r| r.org == oakallow_bench::OrgKind::Base).collect();
    let started = Instant::now();
    for _ in 0..rounds {
        for &request in &base {
            match layout {
                "inline" => {
                    black_box(inline.resolve(black_box(request)));
                }
                "packed" => {
                    black_box(packed.resolve(black_box(request)));
                }
                _ => {
                    black_box(set.base.resolve(black_box(request.input())));
                }
            }
        }
    }
    eprintln!("{} decisions in {:.2?}", rounds * base.len(), started.elapsed());
}
