//! An org's policy: the objects ([`model`]), the specs people write ([`spec`]), validated edits
//! ([`PolicyEdit`]), the in-memory state with its resolver index ([`PolicyState`]) and whole
//! policy documents ([`plan_document`]).

pub mod change;
pub mod document;
pub mod edit;
pub mod model;
pub mod resolve;
pub mod spec;
pub mod state;
#[cfg(feature = "openapi")]
pub mod text;
pub mod views;

pub use change::{ObjectKind, PolicyChange};
pub use document::{DiffItem, DocumentPlan, MAX_DOCUMENT_BYTES, PolicyDiff, check_document_size, describe, plan_document};
pub use edit::{MAX_LABEL_LEN, MAX_REFERENCE_LEN, PolicyEdit, PolicyError, check_name, check_text};
pub use model::{Annotations, Category, Method, Resource, Rule, RuleScope, Tenant, Tool};
pub use resolve::{CheckInput, Decision, matching_rules, resolve_by_scan};
pub use spec::{CategorySpec, NamedSpec, PolicyDocument, RuleSpec, TenantSpec, ToolSpec};
pub use state::{PolicyParts, PolicyState};
