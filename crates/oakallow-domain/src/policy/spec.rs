//! What people write: the create/patch bodies of the management API, which are also the entries
//! of a policy document. Objects refer to each other by name here, never by id.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::model::Annotations;
use crate::permission::{Permission, RiskLevel};

/// A tool as written by people.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ToolSpec {
    /// Unique per org; what runtime calls use.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::policy::text::Name))]
    pub name: String,
    /// Free text.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::policy::text::Text>))]
    pub description: Option<String>,
    /// Category name.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::policy::text::Name>))]
    pub category: Option<String>,
    /// `low`, `medium` (default), `high` or `critical`.
    #[serde(default)]
    pub risk_level: Option<RiskLevel>,
    /// JSON Schema (draft 2020-12) the call's params must satisfy.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub parameters_schema: Option<Value>,
    /// Used when no rule matches.
    #[serde(default)]
    pub default_permission: Option<Permission>,
    /// `true` makes an unmatched call `allowed` (default `false`).
    #[serde(default)]
    pub approved: Option<bool>,
    /// `false` disables every call of the tool (default `true`).
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Approval timeout for this tool.
    #[serde(default)]
    pub approval_timeout_seconds: Option<u32>,
    /// Approvals need a second, different person (default `false`).
    #[serde(default)]
    pub requires_second_approval: Option<bool>,
    /// MCP-style hints.
    #[serde(default)]
    pub annotations: Option<Annotations>,
    /// Free-form labels.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<crate::policy::text::Name>>))]
    pub tags: Option<Vec<String>>,
}

/// A category as written by people.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CategorySpec {
    /// Unique per org.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::policy::text::Name))]
    pub name: String,
    /// Free text.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::policy::text::Text>))]
    pub description: Option<String>,
    /// Default permission of the category's tools.
    #[serde(default)]
    pub default_permission: Option<Permission>,
}

/// A tenant as written by people.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TenantSpec {
    /// The org's own identifier; unique per org.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::policy::text::Name))]
    pub external_id: String,
    /// Display name.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::policy::text::Text>))]
    pub name: Option<String>,
}

/// A resource or a method as written by people.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NamedSpec {
    /// Unique per org (and kind).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::policy::text::Name))]
    pub name: String,
    /// Free text.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::policy::text::Text>))]
    pub description: Option<String>,
}

/// A rule as written by people: scope fields by name (the management API also takes ids).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Tenant `external_id` (or id).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::policy::text::Name>))]
    pub tenant: Option<String>,
    /// Resource name (or id).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::policy::text::Name>))]
    pub resource: Option<String>,
    /// Tool name (or id).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::policy::text::Name>))]
    pub tool: Option<String>,
    /// Method name (or id).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::policy::text::Name>))]
    pub method: Option<String>,
    /// The answer the rule gives.
    pub permission: Permission,
    /// Why the rule exists.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::policy::text::Text>))]
    pub note: Option<String>,
}

/// A whole policy: the document of `PUT /v1/policy` and `oakallow apply`. A section that is
/// present replaces that part of the policy exactly; a section that is left out is not touched.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PolicyDocument {
    /// Format version; only `1` exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 1))]
    pub version: Option<u32>,
    /// Categories.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub categories: Option<Vec<CategorySpec>>,
    /// Tools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<ToolSpec>>,
    /// Tenants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenants: Option<Vec<TenantSpec>>,
    /// Resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Vec<NamedSpec>>,
    /// Methods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub methods: Option<Vec<NamedSpec>>,
    /// Rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<Vec<RuleSpec>>,
}
