//! [`Request`]: the random checks the benchmarks ask. Half of them are aimed: they copy the scope
//! of a random rule of a random level (or, for the fallbacks, name only a tool) and fill the
//! other dimensions at random, so that every level decides some of them even when it holds a
//! handful of rules among millions of possible scopes. The other half are uniform, and some of
//! those name unknown tenants, tools, resources or methods, or leave resource or method out.

use oakallow_domain::policy::CheckInput;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::generate::{LEVELS, OrgKind, RuleSet, ScopeIx};
use crate::{METHODS, RESOURCES, TENANTS, TOOLS};
use crate::{method_name, resource_name, tenant_name, tool_name};

/// One check, by name, as an agent sends it, and the org it goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The org asked.
    pub org: OrgKind,
    /// Tool name.
    pub tool: String,
    /// Tenant `external_id`.
    pub tenant: Option<String>,
    /// Resource name.
    pub resource: Option<String>,
    /// Method name.
    pub method: Option<String>,
}

impl Request {
    /// The resolver's input.
    pub fn input(&self) -> CheckInput<'_> {
        CheckInput { tool: &self.tool, tenant: self.tenant.as_deref(), resource: self.resource.as_deref(), method: self.method.as_deref() }
    }
}

impl RuleSet {
    /// `count` requests from `seed`; the same arguments give the same requests.
    pub fn requests(&self, count: usize, seed: u64) -> Vec<Request> {
        let mut rng = StdRng::seed_from_u64(seed);
        (0..count).map(|_| self.request(&mut rng)).collect()
    }

    fn request(&self, rng: &mut StdRng) -> Request {
        let org = if rng.random_ratio(1, 8) { OrgKind::CatchAll } else { OrgKind::Base };
        if rng.random_bool(0.5) { self.aimed(rng, org) } else { uniform(rng, org) }
    }

    /// A request that a chosen level (or, one time in 17, the fallbacks) should decide, unless a
    /// more specific rule happens to match too.
    fn aimed(&self, rng: &mut StdRng, org: OrgKind) -> Request {
        let level = rng.random_range(0..=LEVELS);
        let target = self.levels.get(level).filter(|scopes| !scopes.is_empty()).map(|scopes| scopes[rng.random_range(0..scopes.len())]);
        let Some(scope) = target else {
            // Fallbacks: only the org-wide rules of the tool itself can get in the way.
            return Request { org, tool: tool_name(rng.random_range(0..TOOLS)), tenant: None, resource: None, method: None };
        };
        let ScopeIx { tenant, resource, tool, method } = scope;
        Request {
            org,
            tool: tool_name(tool.unwrap_or_else(|| rng.random_range(0..TOOLS))),
            tenant: tenant.map(tenant_name).or_else(|| filler(rng, TENANTS, tenant_name)),
            resource: resource.map(resource_name).or_else(|| filler(rng, RESOURCES, resource_name)),
            method: method.map(method_name).or_else(|| filler(rng, METHODS, method_name)),
        }
    }
}

/// An aimed request's free dimension: left out 60 % of the time, else a random known name.
fn filler(rng: &mut StdRng, size: usize, name: fn(usize) -> String) -> Option<String> {
    (!rng.random_bool(0.6)).then(|| name(rng.random_range(0..size)))
}

/// A uniform request: tenant left out 20 % of the time and unknown 5 %, tool unknown 5 %,
/// resource and method each left out 30 % and unknown 3 %.
fn uniform(rng: &mut StdRng, org: OrgKind) -> Request {
    Request {
        org,
        tool: pick(rng, 0.0, 0.05, TOOLS, tool_name, "ghost-tool").unwrap_or_default(),
        tenant: pick(rng, 0.2, 0.05, TENANTS, tenant_name, "ghost-tenant"),
        resource: pick(rng, 0.3, 0.03, RESOURCES, resource_name, "ghost-res"),
        method: pick(rng, 0.3, 0.03, METHODS, method_name, "ghost-method"),
    }
}

/// `None` with probability `absent`, an unregistered name with probability `unknown`, else a
/// random registered name.
fn pick(rng: &mut StdRng, absent: f64, unknown: f64, size: usize, name: fn(usize) -> String, ghost: &str) -> Option<String> {
    let roll: f64 = rng.random();
    if roll < absent {
        None
    } else if roll < absent + unknown {
        Some(format!("{ghost}-{}", rng.random_range(0..1000)))
    } else {
        Some(name(rng.random_range(0..size)))
    }
}
