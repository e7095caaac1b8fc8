//! The resolver benchmarks' workload, shared by `benches/resolver.rs` and the tests: a
//! deterministic rule-set generator ([`RuleSet`]) built through the domain's own
//! [`PolicyEdit`](oakallow_domain::policy::PolicyEdit), a random request pool ([`Request`]) that
//! reaches every step of the resolution chain, the same rule set written as Cedar policies
//! ([`CedarOrg`]), and the checks that all three resolvers give the same answers ([`agreement`]).
//!
//! The universe is the one of the quality bar (QUALITY.md): 100 tenants, 200 tools, 50 resources
//! and 10 methods, plus 10 categories.

pub mod agreement;
pub mod cedar;
pub mod generate;
pub mod requests;

pub use cedar::{CedarOrg, CedarRequest};
pub use generate::{OrgKind, RuleSet};
pub use requests::Request;

/// Errors of building a workload (a refused policy edit, a Cedar policy that does not parse).
pub type BenchError = Box<dyn std::error::Error + Send + Sync>;

/// Number of tenants.
pub const TENANTS: usize = 100;
/// Number of registered tools.
pub const TOOLS: usize = 200;
/// Number of resources.
pub const RESOURCES: usize = 50;
/// Number of methods.
pub const METHODS: usize = 10;
/// Number of categories.
pub const CATEGORIES: usize = 10;

/// The `external_id` of tenant `i`.
pub fn tenant_name(i: usize) -> String {
    format!("tenant-{i:03}")
}

/// The name of tool `i`.
pub fn tool_name(i: usize) -> String {
    format!("tool-{i:03}")
}

/// The name of resource `i`.
pub fn resource_name(i: usize) -> String {
    format!("res-{i:02}")
}

/// The name of method `i`.
pub fn method_name(i: usize) -> String {
    format!("method-{i}")
}

/// The name of category `i`.
pub fn category_name(i: usize) -> String {
    format!("cat-{i}")
}
