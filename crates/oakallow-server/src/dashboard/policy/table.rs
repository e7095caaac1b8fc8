//! The lists: each column shows one field of the objects' JSON as the API answers it.

use serde_json::Value;

/// How a column shows its field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Show {
    /// Plain text (shortened).
    Text,
    /// A name, in `code`.
    Code,
    /// A permission, as its badge.
    Badge,
    /// A boolean as yes or no.
    YesNo,
    /// A rule's scope field: empty means "any".
    Scope,
}

/// One column of a list.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Column {
    /// Its header.
    pub(crate) header: &'static str,
    /// The JSON field it shows.
    pub(crate) key: &'static str,
    /// How.
    pub(crate) show: Show,
}

impl Column {
    /// A column of field `key` under `header`.
    pub(crate) const fn new(header: &'static str, key: &'static str, show: Show) -> Self {
        Self { header, key, show }
    }
}

/// One cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Cell {
    /// Text.
    Text(String),
    /// A name.
    Code(String),
    /// A permission badge.
    Badge(String),
    /// A placeholder for an empty field.
    Muted(&'static str),
}

/// One object in a list.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    /// Its page.
    pub(crate) href: String,
    /// What the link says (its name, or a rule's level).
    pub(crate) label: String,
    /// The other columns.
    pub(crate) cells: Vec<Cell>,
}

/// Longest text shown in a cell; the object's page shows all of it.
const CELL_CHARS: usize = 80;

/// The cell of `column` for an object's JSON.
pub(crate) fn cell(column: &Column, view: &Value) -> Cell {
    match (column.show, view.get(column.key).unwrap_or(&Value::Null)) {
        (Show::Scope, Value::Null) => Cell::Muted("any"),
        (_, Value::Null) => Cell::Muted("—"),
        (Show::YesNo, Value::Bool(yes)) => Cell::Text(if *yes { "yes" } else { "no" }.to_owned()),
        (Show::Badge, Value::String(text)) => Cell::Badge(text.clone()),
        (Show::Code | Show::Scope, Value::String(text)) => Cell::Code(text.clone()),
        (_, Value::Array(items)) if items.is_empty() => Cell::Muted("—"),
        (_, Value::Array(items)) => Cell::Text(shorten(&items.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "))),
        (_, Value::String(text)) => Cell::Text(shorten(text)),
        (_, value) => Cell::Text(shorten(&value.to_string())),
    }
}

/// `text` cut to [`CELL_CHARS`] characters, with an ellipsis if it was longer.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(CELL_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn each_kind_of_field_has_its_cell() {
        let view = json!({"tool": null, "tenant": "acme", "permission": "allowed", "enabled": false, "tags": [], "note": "x".repeat(90)});
        let cell_of = |key, show| cell(&Column::new("", key, show), &view);
        assert_eq!(cell_of("tool", Show::Scope), Cell::Muted("any"));
        assert_eq!(cell_of("tool", Show::Text), Cell::Muted("—"));
        assert_eq!(cell_of("tenant", Show::Scope), Cell::Code("acme".into()));
        assert_eq!(cell_of("permission", Show::Badge), Cell::Badge("allowed".into()));
        assert_eq!(cell_of("enabled", Show::YesNo), Cell::Text("no".into()));
        assert_eq!(cell_of("tags", Show::Text), Cell::Muted("—"));
        assert_eq!(cell_of("note", Show::Text), Cell::Text(format!("{}…", "x".repeat(80))));
    }
}
