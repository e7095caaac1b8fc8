//! The answer of a check ([`Permission`]) and where it came from ([`ResolvedFrom`]).

use serde::{Deserialize, Serialize};

/// The outcome of a permission check.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// The call may run now.
    Allowed,
    /// A person must approve the call first.
    RequiresApproval,
    /// The call must not run.
    Disabled,
}

impl Permission {
    /// The wire name (`allowed`, `requires_approval`, `disabled`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allowed => "allowed",
            Self::RequiresApproval => "requires_approval",
            Self::Disabled => "disabled",
        }
    }

    /// Parses the wire name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "allowed" => Some(Self::Allowed),
            "requires_approval" => Some(Self::RequiresApproval),
            "disabled" => Some(Self::Disabled),
            _ => None,
        }
    }
}

/// How risky a tool is, as the org declares it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskLevel {
    /// Read-only or trivially reversible.
    Low,
    /// The default.
    #[default]
    Medium,
    /// Changes things that matter.
    High,
    /// Irreversible or very expensive.
    Critical,
}

impl RiskLevel {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }

    /// Parses the wire name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "low" => Some(Self::Low),
            "medium" => Some(Self::Medium),
            "high" => Some(Self::High),
            "critical" => Some(Self::Critical),
            _ => None,
        }
    }
}

/// Which step of the resolution chain produced a decision. The 21 names are stable: they are
/// returned as `resolved_from` and stored in the audit trail.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[expect(missing_docs, reason = "each variant is named exactly as its wire name")]
pub enum ResolvedFrom {
    ToolDisabled,
    TenantResourceToolMethod,
    TenantResourceTool,
    TenantToolMethod,
    TenantTool,
    TenantResourceMethod,
    TenantResource,
    TenantMethod,
    TenantWildcard,
    OrgResourceToolMethod,
    OrgResourceTool,
    OrgToolMethod,
    OrgTool,
    OrgResourceMethod,
    OrgResource,
    OrgMethod,
    OrgWildcard,
    ToolDefault,
    CategoryDefault,
    ToolApproved,
    FailSafe,
}

impl ResolvedFrom {
    /// Every step, in resolution order.
    pub const ALL: [Self; 21] = [
        Self::ToolDisabled,
        Self::TenantResourceToolMethod,
        Self::TenantResourceTool,
        Self::TenantToolMethod,
        Self::TenantTool,
        Self::TenantResourceMethod,
        Self::TenantResource,
        Self::TenantMethod,
        Self::TenantWildcard,
        Self::OrgResourceToolMethod,
        Self::OrgResourceTool,
        Self::OrgToolMethod,
        Self::OrgTool,
        Self::OrgResourceMethod,
        Self::OrgResource,
        Self::OrgMethod,
        Self::OrgWildcard,
        Self::ToolDefault,
        Self::CategoryDefault,
        Self::ToolApproved,
        Self::FailSafe,
    ];

    /// The wire name, e.g. `tenant_resource_tool`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ToolDisabled => "tool_disabled",
            Self::TenantResourceToolMethod => "tenant_resource_tool_method",
            Self::TenantResourceTool => "tenant_resource_tool",
            Self::TenantToolMethod => "tenant_tool_method",
            Self::TenantTool => "tenant_tool",
            Self::TenantResourceMethod => "tenant_resource_method",
            Self::TenantResource => "tenant_resource",
            Self::TenantMethod => "tenant_method",
            Self::TenantWildcard => "tenant_wildcard",
            Self::OrgResourceToolMethod => "org_resource_tool_method",
            Self::OrgResourceTool => "org_resource_tool",
            Self::OrgToolMethod => "org_tool_method",
            Self::OrgTool => "org_tool",
            Self::OrgResourceMethod => "org_resource_method",
            Self::OrgResource => "org_resource",
            Self::OrgMethod => "org_method",
            Self::OrgWildcard => "org_wildcard",
            Self::ToolDefault => "tool_default",
            Self::CategoryDefault => "category_default",
            Self::ToolApproved => "tool_approved",
            Self::FailSafe => "fail_safe",
        }
    }

    /// Parses the wire name.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|step| step.as_str() == text)
    }
}

/// The four dimensions a rule may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ScopeShape {
    /// The rule names a tenant.
    pub tenant: bool,
    /// The rule names a resource.
    pub resource: bool,
    /// The rule names a tool.
    pub tool: bool,
    /// The rule names a method.
    pub method: bool,
}

/// The shapes of one group of eight rule levels (resource, tool, method), most specific first.
pub const GROUP_ORDER: [(bool, bool, bool); 8] = [
    (true, true, true),
    (true, true, false),
    (false, true, true),
    (false, true, false),
    (true, false, true),
    (true, false, false),
    (false, false, true),
    (false, false, false),
];

impl ScopeShape {
    /// The rule level (0..16, resolution order) of a rule of this shape.
    pub fn level_index(self) -> usize {
        let in_group =
            GROUP_ORDER.iter().position(|&(r, t, m)| (r, t, m) == (self.resource, self.tool, self.method)).unwrap_or(GROUP_ORDER.len() - 1);
        if self.tenant { in_group } else { 8 + in_group }
    }

    /// The shape of rule level `index` (0..16).
    pub fn from_level_index(index: usize) -> Self {
        let (resource, tool, method) = GROUP_ORDER[index % 8];
        Self { tenant: index < 8, resource, tool, method }
    }

    /// The `resolved_from` name of a rule of this shape.
    pub fn resolved_from(self) -> ResolvedFrom {
        // Rule levels sit right after the gate in `ResolvedFrom::ALL`.
        ResolvedFrom::ALL[1 + self.level_index()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_map_to_their_names() {
        for index in 0..16 {
            let shape = ScopeShape::from_level_index(index);
            assert_eq!(shape.level_index(), index);
        }
        let org_tool = ScopeShape { tenant: false, resource: false, tool: true, method: false };
        assert_eq!(org_tool.resolved_from(), ResolvedFrom::OrgTool);
        let all = ScopeShape { tenant: true, resource: true, tool: true, method: true };
        assert_eq!(all.resolved_from(), ResolvedFrom::TenantResourceToolMethod);
        let none = ScopeShape { tenant: false, resource: false, tool: false, method: false };
        assert_eq!(none.resolved_from(), ResolvedFrom::OrgWildcard);
        for step in ResolvedFrom::ALL {
            assert_eq!(ResolvedFrom::parse(step.as_str()), Some(step));
            let json = serde_json::to_string(&step).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", step.as_str()));
        }
    }
}
