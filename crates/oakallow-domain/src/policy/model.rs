//! The objects an org's policy is made of: tools, categories, tenants, resources, methods, rules.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::clock::Timestamp;
use crate::id::{CategoryId, MethodId, ResourceId, RuleId, TenantId, ToolId};
use crate::permission::{Permission, RiskLevel, ScopeShape};

/// MCP-style behaviour hints of a tool. Each is unset unless the org says so.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Annotations {
    /// The tool does not change anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
    /// The tool may destroy or overwrite data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destructive: Option<bool>,
    /// Calling the tool twice with the same input has no further effect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotent: Option<bool>,
    /// The tool reaches outside systems.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_world: Option<bool>,
}

/// Something the agent can execute.
#[derive(Debug, Clone, PartialEq)]
pub struct Tool {
    /// Its id.
    pub id: ToolId,
    /// Unique per org; what runtime calls use.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// The category, if any.
    pub category: Option<CategoryId>,
    /// How risky the org considers it.
    pub risk_level: RiskLevel,
    /// JSON Schema (draft 2020-12) for the call's params.
    pub parameters_schema: Option<Value>,
    /// Used when no rule matches.
    pub default_permission: Option<Permission>,
    /// `true` makes an otherwise unmatched call `allowed`.
    pub approved: bool,
    /// `false` disables every call, before any rule.
    pub enabled: bool,
    /// Approval timeout for this tool's approvals.
    pub approval_timeout_seconds: Option<u32>,
    /// Approvals need a second person.
    pub requires_second_approval: bool,
    /// MCP-style hints.
    pub annotations: Annotations,
    /// Free-form labels.
    pub tags: Vec<String>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

/// A group of tools with a default permission.
#[derive(Debug, Clone, PartialEq)]
pub struct Category {
    /// Its id.
    pub id: CategoryId,
    /// Unique per org.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// Used for the category's tools when nothing more specific decides.
    pub default_permission: Option<Permission>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

/// One of the org's own customers.
#[derive(Debug, Clone, PartialEq)]
pub struct Tenant {
    /// Its id.
    pub id: TenantId,
    /// The org's own identifier for it; unique per org; what runtime calls use.
    pub external_id: String,
    /// Display name.
    pub name: Option<String>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

/// A named thing a tool acts on.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    /// Its id.
    pub id: ResourceId,
    /// Unique per org.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

/// A named kind of action.
#[derive(Debug, Clone, PartialEq)]
pub struct Method {
    /// Its id.
    pub id: MethodId,
    /// Unique per org.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

/// Which tenant, resource, tool and method a rule applies to; empty fields are not part of it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct RuleScope {
    /// Tenant, for tenant rules.
    pub tenant: Option<TenantId>,
    /// Resource.
    pub resource: Option<ResourceId>,
    /// Tool.
    pub tool: Option<ToolId>,
    /// Method.
    pub method: Option<MethodId>,
}

impl RuleScope {
    /// Which dimensions are set.
    pub fn shape(&self) -> ScopeShape {
        ScopeShape {
            tenant: self.tenant.is_some(),
            resource: self.resource.is_some(),
            tool: self.tool.is_some(),
            method: self.method.is_some(),
        }
    }
}

/// `{tenant?, resource?, tool?, method?} -> permission`.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Its id.
    pub id: RuleId,
    /// What it applies to; at most one rule per scope per org.
    pub scope: RuleScope,
    /// The answer it gives.
    pub permission: Permission,
    /// Why it exists.
    pub note: Option<String>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

/// Objects with creation and update times.
pub(crate) trait Stamped: Clone + PartialEq {
    /// `(created_at, updated_at)`.
    fn times(&self) -> (Timestamp, Timestamp);
    /// Sets both.
    fn set_times(&mut self, created_at: Timestamp, updated_at: Timestamp);
}

macro_rules! stamped {
    ($($ty:ty),*) => {$(
        impl Stamped for $ty {
            fn times(&self) -> (Timestamp, Timestamp) {
                (self.created_at, self.updated_at)
            }
            fn set_times(&mut self, created_at: Timestamp, updated_at: Timestamp) {
                self.created_at = created_at;
                self.updated_at = updated_at;
            }
        }
    )*};
}
stamped!(Tool, Category, Tenant, Resource, Method, Rule);
