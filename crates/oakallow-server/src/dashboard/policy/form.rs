//! The policy forms. Each input is named after its field in the management API's JSON and knows
//! how to show itself, how to fill itself from an object's JSON (edit forms) or from a
//! submitted form (a refused form shown again), and how to write itself into the JSON body the
//! API takes — so a form is checked by exactly the rules that check the API's bodies.

use serde_json::{Map, Value};

use crate::dashboard::web::Fields;

/// How an input is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Control {
    /// One line of text.
    Text,
    /// A whole number.
    Number,
    /// Free text over several lines.
    Textarea,
    /// JSON over several lines.
    Code,
    /// One of `options`.
    Select,
    /// A checkbox.
    Checkbox,
}

/// How an input's value goes into the API's JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Json {
    /// Always a string, even empty (names: the service says what is wrong with an empty one).
    Required,
    /// A string; when empty, left out of a create body and `null` in a patch.
    Optional,
    /// `true` when ticked, else `false` (an unticked box sends nothing, so this is explicit).
    Bool,
    /// A whole number, or as [`Json::Optional`] when empty.
    Number,
    /// JSON text as its value, or as [`Json::Optional`] when empty.
    Document,
    /// Comma-separated text as an array of strings, or as [`Json::Optional`] when empty.
    List,
    /// `true` in the object named here when ticked; left out when not (MCP annotations: a
    /// hint nobody ticked is not declared).
    Flag(&'static str),
}

/// One choice of a select.
#[derive(Debug, Clone)]
pub(crate) struct Choice {
    /// The value sent.
    pub(crate) value: String,
    /// What people read.
    pub(crate) label: String,
}

impl Choice {
    /// A choice whose label is its value.
    pub(crate) fn named(name: &str) -> Self {
        Self { value: name.to_owned(), label: name.to_owned() }
    }

    /// The empty choice, labelled `label` (`any`, `none`).
    pub(crate) fn empty(label: &str) -> Self {
        Self { value: String::new(), label: label.to_owned() }
    }
}

/// One form input; its `id` and `name` are both `name`.
#[derive(Debug, Clone)]
pub(crate) struct Input {
    /// The API field (and the input's id).
    pub(crate) name: &'static str,
    /// The label.
    pub(crate) label: &'static str,
    /// A line under the input, if any.
    pub(crate) hint: &'static str,
    /// How it is shown.
    pub(crate) control: Control,
    /// How it is written into JSON.
    pub(crate) json: Json,
    /// The text shown in it.
    pub(crate) value: String,
    /// Whether a checkbox is ticked.
    pub(crate) checked: bool,
    /// A select's choices.
    pub(crate) options: Vec<Choice>,
}

impl Input {
    fn new(name: &'static str, label: &'static str, control: Control, json: Json) -> Self {
        Self { name, label, hint: "", control, json, value: String::new(), checked: false, options: Vec::new() }
    }

    /// A required name.
    pub(crate) fn name(name: &'static str, label: &'static str) -> Self {
        Self::new(name, label, Control::Text, Json::Required)
    }

    /// Optional text on one line.
    pub(crate) fn text(name: &'static str, label: &'static str) -> Self {
        Self::new(name, label, Control::Text, Json::Optional)
    }

    /// Optional text on several lines.
    pub(crate) fn textarea(name: &'static str, label: &'static str) -> Self {
        Self::new(name, label, Control::Textarea, Json::Optional)
    }

    /// Optional JSON.
    pub(crate) fn code(name: &'static str, label: &'static str) -> Self {
        Self::new(name, label, Control::Code, Json::Document)
    }

    /// An optional whole number.
    pub(crate) fn number(name: &'static str, label: &'static str) -> Self {
        Self::new(name, label, Control::Number, Json::Number)
    }

    /// Comma-separated words.
    pub(crate) fn list(name: &'static str, label: &'static str) -> Self {
        Self::new(name, label, Control::Text, Json::List)
    }

    /// A yes/no field.
    pub(crate) fn checkbox(name: &'static str, label: &'static str) -> Self {
        Self::new(name, label, Control::Checkbox, Json::Bool)
    }

    /// A hint in the object `group`.
    pub(crate) fn flag(group: &'static str, name: &'static str, label: &'static str) -> Self {
        Self::new(name, label, Control::Checkbox, Json::Flag(group))
    }

    /// One of `options`, written as `json`.
    pub(crate) fn select(name: &'static str, label: &'static str, json: Json, options: Vec<Choice>) -> Self {
        Self { options, ..Self::new(name, label, Control::Select, json) }
    }

    /// With a hint.
    pub(crate) fn hint(self, hint: &'static str) -> Self {
        Self { hint, ..self }
    }

    /// With `value` shown until something else is entered.
    pub(crate) fn value(self, value: &str) -> Self {
        Self { value: value.to_owned(), ..self }
    }

    /// Ticked until unticked.
    pub(crate) fn ticked(self) -> Self {
        Self { checked: true, ..self }
    }

    /// Whether the browser must not send it empty.
    pub(crate) fn required(&self) -> bool {
        self.json == Json::Required
    }

    /// Its value in the body, `None` for "empty" (left out or `null`).
    fn to_json(&self) -> Result<Option<Value>, String> {
        let text = self.value.trim();
        Ok(match self.json {
            Json::Required => Some(Value::String(text.to_owned())),
            Json::Bool => Some(Value::Bool(self.checked)),
            Json::Flag(_) => self.checked.then_some(Value::Bool(true)),
            _ if text.is_empty() => None,
            Json::Optional => Some(Value::String(text.to_owned())),
            Json::Number => Some(text.parse::<u64>().map(Value::from).map_err(|_| format!("{} must be a whole number.", self.label))?),
            Json::Document => Some(
                oakallow_domain::json::from_slice::<Value>(text.as_bytes())
                    .map_err(|e| format!("{} is not valid JSON: {e}.", self.label))?,
            ),
            Json::List => Some(text.split(',').map(str::trim).filter(|t| !t.is_empty()).map(|t| Value::String(t.to_owned())).collect()),
        })
    }
}

/// Inputs shown together: plain fields (no legend), or checkboxes under a legend.
#[derive(Debug, Clone)]
pub(crate) struct Group {
    /// The fieldset's legend; empty for plain fields.
    pub(crate) legend: &'static str,
    /// The inputs.
    pub(crate) inputs: Vec<Input>,
}

impl Group {
    /// Plain fields.
    pub(crate) fn plain(inputs: Vec<Input>) -> Self {
        Self { legend: "", inputs }
    }

    /// Checkboxes under `legend`.
    pub(crate) fn boxes(legend: &'static str, inputs: Vec<Input>) -> Self {
        Self { legend, inputs }
    }
}

fn inputs_mut(groups: &mut [Group]) -> impl Iterator<Item = &mut Input> {
    groups.iter_mut().flat_map(|group| group.inputs.iter_mut())
}

/// Fills the inputs from an object as the API shows it.
pub(crate) fn fill_from_view(groups: &mut [Group], view: &Value) {
    for input in inputs_mut(groups) {
        let field = match input.json {
            Json::Flag(group) => view.get(group).and_then(|g| g.get(input.name)),
            _ => view.get(input.name),
        };
        let field = field.unwrap_or(&Value::Null);
        input.checked = field == &Value::Bool(true);
        input.value = match (input.json, field) {
            (_, Value::Null) => String::new(),
            (_, Value::String(text)) => text.clone(),
            (Json::List, Value::Array(items)) => items.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "),
            (Json::Document, value) => serde_json::to_string_pretty(value).unwrap_or_default(),
            (_, value) => value.to_string(),
        };
    }
}

/// Fills the inputs with what was submitted (a refused form keeps what was entered).
pub(crate) fn fill_from_form(groups: &mut [Group], fields: &Fields) {
    for input in inputs_mut(groups) {
        input.checked = fields.checked(input.name);
        input.value = fields.raw(input.name).to_owned();
    }
}

/// The JSON body the inputs make: a create body (empty fields left out) or, with `patch`, a
/// merge patch that sets every field of the form (empty ones to `null`).
pub(crate) fn body(groups: &[Group], patch: bool) -> Result<Map<String, Value>, String> {
    let mut body = Map::new();
    let mut flags: Map<String, Value> = Map::new();
    for input in groups.iter().flat_map(|group| &group.inputs) {
        let value = input.to_json()?;
        if let Json::Flag(group) = input.json {
            let Value::Object(set) = flags.entry(group).or_insert_with(|| Value::Object(Map::new())) else { continue };
            set.extend(value.map(|v| (input.name.to_owned(), v)));
            continue;
        }
        if let Some(value) = value.or_else(|| patch.then_some(Value::Null)) {
            body.insert(input.name.to_owned(), value);
        }
    }
    let declared = |set: &Value| set.as_object().is_some_and(|s| !s.is_empty());
    body.extend(flags.into_iter().filter(|(_, set)| patch || declared(set)));
    Ok(body)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn tool_like() -> Vec<Group> {
        vec![
            Group::plain(vec![
                Input::name("name", "Name"),
                Input::textarea("description", "Description"),
                Input::number("approval_timeout_seconds", "Timeout"),
                Input::code("parameters_schema", "Schema"),
                Input::list("tags", "Tags"),
            ]),
            Group::boxes("Switches", vec![Input::checkbox("enabled", "Enabled")]),
            Group::boxes(
                "Hints",
                vec![Input::flag("annotations", "read_only", "Read-only"), Input::flag("annotations", "destructive", "Destructive")],
            ),
        ]
    }

    fn filled(values: &[(&str, &str)]) -> Vec<Group> {
        let mut groups = tool_like();
        for input in inputs_mut(&mut groups) {
            if let Some((_, v)) = values.iter().find(|(k, _)| *k == input.name) {
                input.value = (*v).to_owned();
                input.checked = *v == "true";
            }
        }
        groups
    }

    #[test]
    fn a_create_body_leaves_empty_fields_out_and_says_every_checkbox() {
        let groups = filled(&[("name", " send_email "), ("tags", "mail, , outbound "), ("read_only", "true")]);
        let body = body(&groups, false).unwrap();
        assert_eq!(
            Value::Object(body),
            json!({"name": "send_email", "tags": ["mail", "outbound"], "enabled": false, "annotations": {"read_only": true}})
        );
        let none = body_of(&filled(&[("name", "x")]), false);
        assert_eq!(none, json!({"name": "x", "enabled": false}), "no hint ticked: annotations not declared");
    }

    fn body_of(groups: &[Group], patch: bool) -> Value {
        Value::Object(body(groups, patch).unwrap())
    }

    #[test]
    fn a_patch_sets_every_field_and_clears_the_empty_ones() {
        let groups = filled(&[("name", "x"), ("approval_timeout_seconds", "30"), ("parameters_schema", r#"{"type":"object"}"#)]);
        assert_eq!(
            body_of(&groups, true),
            json!({"name": "x", "description": null, "approval_timeout_seconds": 30, "parameters_schema": {"type": "object"},
                "tags": null, "enabled": false, "annotations": {}})
        );
    }

    #[test]
    fn text_that_is_not_a_number_or_json_is_refused_with_the_fields_label() {
        assert_eq!(body(&filled(&[("approval_timeout_seconds", "ten")]), false).unwrap_err(), "Timeout must be a whole number.");
        assert_eq!(body(&filled(&[("approval_timeout_seconds", "-5")]), false).unwrap_err(), "Timeout must be a whole number.");
        let error = body(&filled(&[("parameters_schema", "{not json")]), false).unwrap_err();
        assert!(error.starts_with("Schema is not valid JSON: "), "{error}");
    }

    #[test]
    fn an_objects_json_fills_the_form_it_came_from() {
        let view = json!({"name": "x", "description": null, "approval_timeout_seconds": 30, "parameters_schema": {"type": "object"},
            "tags": ["a", "b"], "enabled": true, "annotations": {"destructive": true}});
        let mut groups = tool_like();
        fill_from_view(&mut groups, &view);
        let inputs: Vec<&Input> = groups.iter().flat_map(|g| &g.inputs).collect();
        let value = |name: &str| inputs.iter().find(|i| i.name == name).unwrap();
        assert_eq!(value("description").value, "");
        assert_eq!(value("approval_timeout_seconds").value, "30");
        assert_eq!(value("tags").value, "a, b");
        assert!(value("enabled").checked && value("destructive").checked && !value("read_only").checked);
        // What the form shows goes back as the same JSON.
        assert_eq!(
            body_of(&groups, true),
            json!({"name": "x", "description": null, "approval_timeout_seconds": 30, "parameters_schema": {"type": "object"},
            "tags": ["a", "b"], "enabled": true, "annotations": {"destructive": true}})
        );
    }
}
