//! Between the form and the policy document: the form's rows become the JSON body of
//! `PUT /v1/policy`, read back by the same strict reader as that endpoint's; and an exported
//! document fills the form ("start from this org's current policy").

use oakallow_domain::policy::{CategorySpec, NamedSpec, PolicyDocument, RuleSpec, TenantSpec, ToolSpec};
use serde_json::{Map, Value, json};

use super::form::{Composition, Field, Kind, Row, SECTIONS, Section};

/// The tool fields the form has inputs for; "Other fields (JSON)" may not set them again.
const TOOL_FORM_FIELDS: [&str; 7] =
    ["name", "description", "category", "risk_level", "default_permission", "approved", "requires_second_approval"];

/// The document the form describes, with every section present (so that applying it makes the
/// org's policy exactly this), or what is wrong with the form, row by row.
pub(crate) fn document_of(composition: &Composition) -> Result<PolicyDocument, Vec<String>> {
    let mut errors = Vec::new();
    let mut body = Map::new();
    body.insert("version".into(), json!(1));
    for (section, rows) in SECTIONS.iter().zip(&composition.0) {
        let entries = rows.iter().enumerate().filter_map(|(i, row)| match entry(section, row) {
            Ok(entry) => Some(entry),
            Err(error) => {
                errors.push(format!("{} {}: {error}", section.singular, i + 1));
                None
            }
        });
        body.insert(plural(section).into(), Value::Array(entries.collect()));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let text = Value::Object(body).to_string();
    oakallow_domain::json::from_slice(text.as_bytes()).map_err(|error| vec![format!("The document would be refused: {error}")])
}

/// The document's key of a section.
fn plural(section: &Section) -> &'static str {
    match section.key {
        "category" => "categories",
        "tool" => "tools",
        "tenant" => "tenants",
        "resource" => "resources",
        "method" => "methods",
        _ => "rules",
    }
}

fn entry(section: &Section, row: &Row) -> Result<Value, String> {
    if section.key == "rule" && row.get(section, "permission").is_empty() {
        return Err("choose a permission.".into());
    }
    let mut object = if section.key == "tool" { more_fields(row.get(section, "more"))? } else { Map::new() };
    for field in section.fields.iter().filter(|f| f.kind != Kind::Json) {
        let value = row.get(section, field.name);
        if field.kind == Kind::Checkbox {
            object.insert(field.name.to_owned(), Value::Bool(value == "on"));
        } else if !value.is_empty() || required(section, field) {
            // A required name left empty is sent as "", so that the API's own check explains it.
            object.insert(field.name.to_owned(), Value::String(value.to_owned()));
        }
    }
    Ok(Value::Object(object))
}

/// Whether the document needs the field (the names; a tenant's `name` is its display name).
fn required(section: &Section, field: &Field) -> bool {
    field.name == "external_id" || field.name == "name" && section.key != "tenant"
}

/// The tool's "Other fields (JSON)": a JSON object without the fields the form has.
fn more_fields(text: &str) -> Result<Map<String, Value>, String> {
    if text.is_empty() {
        return Ok(Map::new());
    }
    let value: Value = oakallow_domain::json::from_slice(text.as_bytes()).map_err(|e| format!("other fields are not valid JSON: {e}."))?;
    let Value::Object(object) = value else { return Err("other fields must be one JSON object, {…}.".into()) };
    match object.keys().find(|key| TOOL_FORM_FIELDS.contains(&key.as_str())) {
        Some(key) => Err(format!("set {key} in its own field, not in other fields.")),
        None => Ok(object),
    }
}

/// The form filled with `document`.
pub(crate) fn composition_of(document: &PolicyDocument) -> Composition {
    let rows = |values: Vec<Vec<String>>| values.into_iter().map(Row).collect::<Vec<_>>();
    let text = |value: &Option<String>| value.clone().unwrap_or_default();
    let flag = |value: Option<bool>| if value == Some(true) { "on" } else { "" }.to_owned();
    let categories = document.categories.iter().flatten().map(|c: &CategorySpec| {
        vec![c.name.clone(), text(&c.description), c.default_permission.map(|p| p.as_str().to_owned()).unwrap_or_default()]
    });
    let tools = document.tools.iter().flatten().map(|t: &ToolSpec| {
        vec![
            t.name.clone(),
            text(&t.description),
            text(&t.category),
            t.risk_level.map(|r| r.as_str().to_owned()).unwrap_or_default(),
            t.default_permission.map(|p| p.as_str().to_owned()).unwrap_or_default(),
            flag(t.approved),
            flag(t.requires_second_approval),
            other_fields_of(t),
        ]
    });
    let tenants = document.tenants.iter().flatten().map(|t: &TenantSpec| vec![t.external_id.clone(), text(&t.name)]);
    let named = |list: &Option<Vec<NamedSpec>>| list.iter().flatten().map(|n| vec![n.name.clone(), text(&n.description)]).collect();
    let rules = document.rules.iter().flatten().map(|r: &RuleSpec| {
        vec![text(&r.tenant), text(&r.resource), text(&r.tool), text(&r.method), r.permission.as_str().to_owned(), text(&r.note)]
    });
    Composition([
        rows(categories.collect()),
        rows(tools.collect()),
        rows(tenants.collect()),
        rows(named(&document.resources)),
        rows(named(&document.methods)),
        rows(rules.collect()),
    ])
}

/// A tool's fields that the form has no input for, when they differ from their defaults.
fn other_fields_of(tool: &ToolSpec) -> String {
    let mut more = Map::new();
    if let Some(schema) = &tool.parameters_schema {
        more.insert("parameters_schema".into(), schema.clone());
    }
    if tool.enabled == Some(false) {
        more.insert("enabled".into(), Value::Bool(false));
    }
    if let Some(seconds) = tool.approval_timeout_seconds {
        more.insert("approval_timeout_seconds".into(), json!(seconds));
    }
    if let Some(annotations) = tool.annotations.as_ref().filter(|a| **a != Default::default()) {
        more.insert("annotations".into(), json!(annotations));
    }
    if let Some(tags) = tool.tags.as_ref().filter(|t| !t.is_empty()) {
        more.insert("tags".into(), json!(tags));
    }
    if more.is_empty() { String::new() } else { Value::Object(more).to_string() }
}
