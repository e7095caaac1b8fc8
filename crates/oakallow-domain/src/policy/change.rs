//! A policy change: one object written or removed. Every management operation and every policy
//! document is planned as a list of these, applied by the store in one transaction and by
//! [`PolicyState::apply`](super::PolicyState::apply) in memory, in the same order.

use serde::Serialize;

use super::model::{Category, Method, Resource, Rule, Tenant, Tool};
use crate::id::{CategoryId, MethodId, ResourceId, RuleId, TenantId, ToolId};

/// The kinds of objects a policy holds.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    /// A category.
    Category,
    /// A tool.
    Tool,
    /// A tenant.
    Tenant,
    /// A resource.
    Resource,
    /// A method.
    Method,
    /// A rule.
    Rule,
}

impl ObjectKind {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Category => "category",
            Self::Tool => "tool",
            Self::Tenant => "tenant",
            Self::Resource => "resource",
            Self::Method => "method",
            Self::Rule => "rule",
        }
    }
}

/// One write to an org's policy.
#[derive(Debug, Clone, PartialEq)]
#[expect(missing_docs, reason = "variants are named by what they write")]
pub enum PolicyChange {
    PutCategory(Category),
    PutTool(Tool),
    PutTenant(Tenant),
    PutResource(Resource),
    PutMethod(Method),
    PutRule(Rule),
    DeleteRule(RuleId),
    DeleteTool(ToolId),
    DeleteTenant(TenantId),
    DeleteResource(ResourceId),
    DeleteMethod(MethodId),
    DeleteCategory(CategoryId),
}

impl PolicyChange {
    /// When this change runs within a change set, so that every reference stays valid at every
    /// step: rules are removed first, categories exist before tools, referenced objects exist
    /// before rules, and objects are removed only after the rules and tools that named them.
    fn phase(&self) -> u8 {
        match self {
            Self::DeleteRule(_) => 0,
            Self::PutCategory(_) => 1,
            Self::PutTool(_) => 2,
            Self::PutTenant(_) | Self::PutResource(_) | Self::PutMethod(_) => 3,
            Self::PutRule(_) => 4,
            Self::DeleteTool(_) => 5,
            Self::DeleteTenant(_) | Self::DeleteResource(_) | Self::DeleteMethod(_) => 6,
            Self::DeleteCategory(_) => 7,
        }
    }

    /// The kind of object changed.
    pub fn kind(&self) -> ObjectKind {
        match self {
            Self::PutCategory(_) | Self::DeleteCategory(_) => ObjectKind::Category,
            Self::PutTool(_) | Self::DeleteTool(_) => ObjectKind::Tool,
            Self::PutTenant(_) | Self::DeleteTenant(_) => ObjectKind::Tenant,
            Self::PutResource(_) | Self::DeleteResource(_) => ObjectKind::Resource,
            Self::PutMethod(_) | Self::DeleteMethod(_) => ObjectKind::Method,
            Self::PutRule(_) | Self::DeleteRule(_) => ObjectKind::Rule,
        }
    }
}

/// Puts `changes` in the order in which they can be applied one by one.
pub fn order_changes(changes: &mut [PolicyChange]) {
    changes.sort_by_key(PolicyChange::phase);
}
