//! The builder's form: which sections and fields it has, and its state, which lives in the query
//! string (`tool0.name=refund&rule0.permission=allowed&…`) so that a composition is a link.
//! Rows are numbered per section; blank rows are dropped and the rest renumbered from 0.

use std::collections::BTreeMap;

use crate::dashboard::web::urlencoding;

/// How a field is entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// One line of text; the names of the datalist that suggests values, if any.
    Text(Option<&'static str>),
    /// A choice: `(value, label)`, the first one (value "") meaning "not set".
    Select(&'static [(&'static str, &'static str)]),
    /// A checkbox: "on" or "".
    Checkbox,
    /// A JSON object, in a text area.
    Json,
}

/// One field of a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Field {
    /// Its key in the query string after `tool0.`.
    pub(crate) name: &'static str,
    /// What the person reads.
    pub(crate) label: &'static str,
    /// How it is entered.
    pub(crate) kind: Kind,
    /// A hint under the field, if any.
    pub(crate) hint: &'static str,
}

/// One section of the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Section {
    /// Its prefix in the query string (`tool`).
    pub(crate) key: &'static str,
    /// The heading (`Tools`).
    pub(crate) title: &'static str,
    /// One row's name (`Tool`).
    pub(crate) singular: &'static str,
    /// What the section is for.
    pub(crate) hint: &'static str,
    /// Its fields, in order.
    pub(crate) fields: &'static [Field],
}

const PERMISSIONS: &[(&str, &str)] =
    &[("", "not set"), ("allowed", "allowed"), ("requires_approval", "requires approval"), ("disabled", "disabled")];
const RULE_PERMISSIONS: &[(&str, &str)] =
    &[("", "choose…"), ("allowed", "allowed"), ("requires_approval", "requires approval"), ("disabled", "disabled")];
const RISKS: &[(&str, &str)] =
    &[("", "not set (medium)"), ("low", "low"), ("medium", "medium"), ("high", "high"), ("critical", "critical")];

const fn text(name: &'static str, label: &'static str) -> Field {
    Field { name, label, kind: Kind::Text(None), hint: "" }
}

const fn suggested(name: &'static str, label: &'static str, list: &'static str) -> Field {
    Field { name, label, kind: Kind::Text(Some(list)), hint: "" }
}

const fn choice(name: &'static str, label: &'static str, options: &'static [(&'static str, &'static str)]) -> Field {
    Field { name, label, kind: Kind::Select(options), hint: "" }
}

const fn checkbox(name: &'static str, label: &'static str) -> Field {
    Field { name, label, kind: Kind::Checkbox, hint: "" }
}

/// The sections in the order the API applies them.
pub(crate) const SECTIONS: [Section; 6] = [
    Section {
        key: "category",
        title: "Categories",
        singular: "Category",
        hint: "Groups of tools with a shared default permission.",
        fields: &[
            text("name", "Name"),
            text("description", "Description"),
            choice("default_permission", "Default permission", PERMISSIONS),
        ],
    },
    Section {
        key: "tool",
        title: "Tools",
        singular: "Tool",
        hint: "What agents may call. Without a matching rule, a tool's default permission answers (then its category's).",
        fields: &[
            text("name", "Name"),
            text("description", "Description"),
            suggested("category", "Category", "category"),
            choice("risk_level", "Risk", RISKS),
            choice("default_permission", "Default permission", PERMISSIONS),
            checkbox("approved", "Approved (unmatched calls are allowed)"),
            checkbox("requires_second_approval", "Requires a second approval"),
            Field {
                name: "more",
                label: "Other fields (JSON)",
                kind: Kind::Json,
                hint: "Optional, as one JSON object: parameters_schema, enabled, approval_timeout_seconds, annotations, tags.",
            },
        ],
    },
    Section {
        key: "tenant",
        title: "Tenants",
        singular: "Tenant",
        hint: "Your customers, by your own id for them.",
        fields: &[text("external_id", "External id"), text("name", "Display name")],
    },
    Section {
        key: "resource",
        title: "Resources",
        singular: "Resource",
        hint: "What a call acts on, such as orders or invoices.",
        fields: &[text("name", "Name"), text("description", "Description")],
    },
    Section {
        key: "method",
        title: "Methods",
        singular: "Method",
        hint: "How a call acts, such as create or delete.",
        fields: &[text("name", "Name"), text("description", "Description")],
    },
    Section {
        key: "rule",
        title: "Rules",
        singular: "Rule",
        hint: "Leave a scope field empty to match any. The most specific matching rule wins.",
        fields: &[
            suggested("tenant", "Tenant", "tenant"),
            suggested("resource", "Resource", "resource"),
            suggested("tool", "Tool", "tool"),
            suggested("method", "Method", "method"),
            choice("permission", "Permission", RULE_PERMISSIONS),
            text("note", "Note"),
        ],
    },
];

/// One row: a value per field of its section, in the section's order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Row(pub(crate) Vec<String>);

impl Row {
    /// The value of field `name` of `section` ("" if the section has no such field).
    pub(crate) fn get(&self, section: &Section, name: &str) -> &str {
        section.fields.iter().position(|f| f.name == name).and_then(|i| self.0.get(i)).map_or("", |v| v.trim())
    }

    /// Whether nothing but checkboxes is filled in.
    fn is_blank(&self, section: &Section) -> bool {
        section.fields.iter().zip(&self.0).all(|(field, value)| field.kind == Kind::Checkbox || value.trim().is_empty())
    }
}

/// The whole form: the rows of each section, in [`SECTIONS`] order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Composition(pub(crate) [Vec<Row>; 6]);

impl Composition {
    /// Reads the form's fields from query pairs, ignoring what is not a field; blank rows are
    /// dropped.
    pub(crate) fn from_query(pairs: &[(String, String)]) -> Self {
        let mut found: [BTreeMap<usize, Row>; 6] = Default::default();
        for (key, value) in pairs {
            let Some((section, index, field)) = parse_key(key) else { continue };
            let fields = SECTIONS[section].fields;
            let row = found[section].entry(index).or_insert_with(|| Row(vec![String::new(); fields.len()]));
            row.0[field] = match fields[field].kind {
                Kind::Checkbox => if value.is_empty() { "" } else { "on" }.to_owned(),
                _ => value.clone(),
            };
        }
        let mut composition = Self::default();
        for (i, rows) in found.into_iter().enumerate() {
            composition.0[i] = rows.into_values().filter(|row| !row.is_blank(&SECTIONS[i])).collect();
        }
        composition
    }

    /// Whether no section has a row.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.iter().all(Vec::is_empty)
    }

    /// The rows of section `key`.
    pub(crate) fn rows(&self, key: &str) -> &[Row] {
        SECTIONS.iter().position(|s| s.key == key).map_or(&[], |i| &self.0[i])
    }

    /// The query string that fills the form with this composition (without `?`).
    pub(crate) fn to_query(&self) -> String {
        let mut parts = Vec::new();
        for (section, rows) in SECTIONS.iter().zip(&self.0) {
            for (index, row) in rows.iter().enumerate() {
                for (field, value) in section.fields.iter().zip(&row.0).filter(|(_, v)| !v.is_empty()) {
                    parts.push(format!("{}{index}.{}={}", section.key, field.name, urlencoding(value)));
                }
            }
        }
        parts.join("&")
    }
}

/// `tool12.name` → (section 1, row 12, field 0).
fn parse_key(key: &str) -> Option<(usize, usize, usize)> {
    let (head, field) = key.split_once('.')?;
    let digits = head.find(|c: char| c.is_ascii_digit())?;
    let (prefix, index) = head.split_at(digits);
    let section = SECTIONS.iter().position(|s| s.key == prefix)?;
    let index = index.parse().ok()?;
    let field = SECTIONS[section].fields.iter().position(|f| f.name == field)?;
    Some((section, index, field))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn rows_are_read_in_order_blank_ones_dropped_and_written_back_as_a_link() {
        let form = Composition::from_query(&pairs(&[
            ("tool7.name", "refund"),
            ("tool7.approved", "on"),
            ("tool2.name", "send email"),
            ("tool3.approved", "on"),
            ("tool3.name", "  "),
            ("rule0.permission", "allowed"),
            ("toolx.name", "ignored"),
            ("tool1.colour", "ignored"),
            ("rows", "3"),
        ]));
        let names: Vec<&str> = form.rows("tool").iter().map(|r| r.get(&SECTIONS[1], "name")).collect();
        assert_eq!(names, ["send email", "refund"], "rows keep their order; a row of only checkboxes is blank");
        assert_eq!(form.rows("tool")[1].get(&SECTIONS[1], "approved"), "on");
        assert_eq!(form.rows("rule").len(), 1);
        let query = form.to_query();
        assert_eq!(query, "tool0.name=send%20email&tool1.name=refund&tool1.approved=on&rule0.permission=allowed");
        let decoded: Vec<(String, String)> =
            query.split('&').map(|pair| pair.split_once('=').unwrap()).map(|(k, v)| (k.to_owned(), v.replace("%20", " "))).collect();
        assert_eq!(Composition::from_query(&decoded), form);
    }

    #[test]
    fn keys_name_a_section_a_row_and_a_field() {
        assert_eq!(parse_key("rule12.note"), Some((5, 12, 5)));
        assert_eq!(parse_key("rule.note"), None);
        assert_eq!(parse_key("rules1.note"), None);
        assert_eq!(parse_key("rule1x.note"), None);
        assert_eq!(parse_key("rule99999999999999999999.note"), None);
    }
}
