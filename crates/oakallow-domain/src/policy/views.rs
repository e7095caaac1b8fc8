//! Objects written back in people's terms: ids replaced by names, every default spelled out.
//! Used for API responses and for exporting the policy document.

use super::model::{Category, Method, Resource, Rule, RuleScope, Tenant, Tool};
use super::spec::{CategorySpec, NamedSpec, PolicyDocument, RuleSpec, TenantSpec, ToolSpec};
use super::state::PolicyState;

/// Scope names in the order tenant, resource, tool, method.
pub(crate) type ScopeNames = (Option<String>, Option<String>, Option<String>, Option<String>);

impl PolicyState {
    /// A tool as a spec (category by name).
    pub fn tool_spec(&self, tool: &Tool) -> ToolSpec {
        ToolSpec {
            name: tool.name.clone(),
            description: tool.description.clone(),
            category: tool.category.and_then(|id| self.categories.get(&id)).map(|c| c.name.clone()),
            risk_level: Some(tool.risk_level),
            parameters_schema: tool.parameters_schema.clone(),
            default_permission: tool.default_permission,
            approved: Some(tool.approved),
            enabled: Some(tool.enabled),
            approval_timeout_seconds: tool.approval_timeout_seconds,
            requires_second_approval: Some(tool.requires_second_approval),
            annotations: Some(tool.annotations.clone()),
            tags: Some(tool.tags.clone()),
        }
    }

    /// A category as a spec.
    pub fn category_spec(&self, category: &Category) -> CategorySpec {
        CategorySpec {
            name: category.name.clone(),
            description: category.description.clone(),
            default_permission: category.default_permission,
        }
    }

    /// A tenant as a spec.
    pub fn tenant_spec(&self, tenant: &Tenant) -> TenantSpec {
        TenantSpec { external_id: tenant.external_id.clone(), name: tenant.name.clone() }
    }

    /// A resource as a spec.
    pub fn resource_spec(&self, resource: &Resource) -> NamedSpec {
        NamedSpec { name: resource.name.clone(), description: resource.description.clone() }
    }

    /// A method as a spec.
    pub fn method_spec(&self, method: &Method) -> NamedSpec {
        NamedSpec { name: method.name.clone(), description: method.description.clone() }
    }

    /// A rule as a spec (scope by names).
    pub fn rule_spec(&self, rule: &Rule) -> RuleSpec {
        let (tenant, resource, tool, method) = self.rule_spec_of_scope(&rule.scope);
        RuleSpec { tenant, resource, tool, method, permission: rule.permission, note: rule.note.clone() }
    }

    /// The names a scope refers to.
    pub(crate) fn rule_spec_of_scope(&self, scope: &RuleScope) -> ScopeNames {
        (
            scope.tenant.and_then(|id| self.tenants.get(&id)).map(|t| t.external_id.clone()),
            scope.resource.and_then(|id| self.resources.get(&id)).map(|r| r.name.clone()),
            scope.tool.and_then(|id| self.tools.get(&id)).map(|t| t.name.clone()),
            scope.method.and_then(|id| self.methods.get(&id)).map(|m| m.name.clone()),
        )
    }

    /// The whole policy as a document with every section, each sorted by name.
    pub fn to_document(&self) -> PolicyDocument {
        let mut categories: Vec<_> = self.categories.values().map(|c| self.category_spec(c)).collect();
        categories.sort_by(|a, b| a.name.cmp(&b.name));
        let mut tools: Vec<_> = self.tools.values().map(|t| self.tool_spec(t)).collect();
        tools.sort_by(|a, b| a.name.cmp(&b.name));
        let mut tenants: Vec<_> = self.tenants.values().map(|t| self.tenant_spec(t)).collect();
        tenants.sort_by(|a, b| a.external_id.cmp(&b.external_id));
        let mut resources: Vec<_> = self.resources.values().map(|r| self.resource_spec(r)).collect();
        resources.sort_by(|a, b| a.name.cmp(&b.name));
        let mut methods: Vec<_> = self.methods.values().map(|m| self.method_spec(m)).collect();
        methods.sort_by(|a, b| a.name.cmp(&b.name));
        let mut rules: Vec<_> = self.rules.values().map(|r| self.rule_spec(r)).collect();
        rules.sort_by(|a, b| {
            let key = |r: &RuleSpec| (r.tenant.clone(), r.resource.clone(), r.tool.clone(), r.method.clone());
            key(a).cmp(&key(b))
        });
        PolicyDocument {
            version: Some(1),
            categories: Some(categories),
            tools: Some(tools),
            tenants: Some(tenants),
            resources: Some(resources),
            methods: Some(methods),
            rules: Some(rules),
        }
    }
}

/// Counts the bytes written to it.
struct ByteCount(usize);

impl std::io::Write for ByteCount {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0 += bytes.len();
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl PolicyState {
    /// The size of [`PolicyState::to_document`] as compact JSON (what `GET /v1/policy` sends).
    pub fn document_len(&self) -> usize {
        let mut count = ByteCount(0);
        // Writing to a counter cannot fail, and every part of a document serializes.
        let _ = serde_json::to_writer(&mut count, &self.to_document());
        count.0
    }
}
