//! What the org's `redact_pii` setting does to data before it is stored or sent: every free-text
//! field, from every tier, is redacted (params, context, reasons, references, decision notes and
//! deciders, execution output and errors, descriptions and notes of policy objects, tenant and
//! key and org names, a webhook receiver's answer; validation messages are redacted where they
//! are made, in [`crate::schema`], as the params they quote are). The policy's vocabulary
//! (tool, tenant, resource, method and category names, ids) is kept: resolution matches on it.
//! Nothing is done when the org does not redact.

use oakallow_domain::org::Org;
use oakallow_domain::pii::{redact_map, redact_schema, redact_text, redact_value};
use oakallow_domain::policy::{CategorySpec, NamedSpec, PolicyDocument, RuleSpec, TenantSpec, ToolSpec};
use serde_json::{Map, Value};

/// Params or context as stored: redacted when the org redacts.
pub(crate) fn object(org: &Org, value: Option<&Map<String, Value>>) -> Option<Value> {
    value.map(|map| Value::Object(if org.redact_pii { redact_map(map) } else { map.clone() }))
}

/// Any JSON value as stored.
pub(crate) fn value(org: &Org, value: Option<&Value>) -> Option<Value> {
    value.map(|v| if org.redact_pii { redact_value(v) } else { v.clone() })
}

/// Free text (a reason, an error, a name) as stored.
pub(crate) fn text(org: &Org, text: &str) -> String {
    text_if(org.redact_pii, text)
}

/// Optional free text as stored.
pub(crate) fn optional_text(org: &Org, text: Option<&str>) -> Option<String> {
    text.map(|t| self::text(org, t))
}

/// Free text as stored by an org that redacts or not.
pub(crate) fn text_if(redacts: bool, text: &str) -> String {
    if redacts { redact_text(text).into_owned() } else { text.to_owned() }
}

/// What people write about a policy object, as the org stores it.
pub trait Redact: Sized {
    /// Every free-text field redacted; names (the policy's vocabulary) kept.
    fn redacted(self) -> Self;
}

/// `spec` as the org stores it.
pub(crate) fn spec<S: Redact>(org: &Org, spec: S) -> S {
    if org.redact_pii { spec.redacted() } else { spec }
}

fn optional(text: Option<String>) -> Option<String> {
    text.map(|t| redact_text(&t).into_owned())
}

impl Redact for ToolSpec {
    fn redacted(self) -> Self {
        Self {
            description: optional(self.description),
            parameters_schema: self.parameters_schema.as_ref().map(redact_schema),
            tags: self.tags.map(|tags| tags.iter().map(|t| redact_text(t).into_owned()).collect()),
            ..self
        }
    }
}

impl Redact for CategorySpec {
    fn redacted(self) -> Self {
        Self { description: optional(self.description), ..self }
    }
}

impl Redact for TenantSpec {
    fn redacted(self) -> Self {
        Self { name: optional(self.name), ..self }
    }
}

impl Redact for NamedSpec {
    fn redacted(self) -> Self {
        Self { description: optional(self.description), ..self }
    }
}

impl Redact for RuleSpec {
    fn redacted(self) -> Self {
        Self { note: optional(self.note), ..self }
    }
}

fn each<S: Redact>(specs: Option<Vec<S>>) -> Option<Vec<S>> {
    specs.map(|specs| specs.into_iter().map(Redact::redacted).collect())
}

impl Redact for PolicyDocument {
    fn redacted(self) -> Self {
        Self {
            version: self.version,
            categories: each(self.categories),
            tools: each(self.tools),
            tenants: each(self.tenants),
            resources: each(self.resources),
            methods: each(self.methods),
            rules: each(self.rules),
        }
    }
}
