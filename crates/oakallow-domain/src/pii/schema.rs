//! Redaction of a JSON Schema (a tool's `parameters_schema`) without changing what it accepts:
//! only the annotation keywords, which are for people (`title`, `description`, `$comment`,
//! `examples`, `default`), are redacted, in the schema and in every subschema reached through
//! the applicator keywords. Everything that validates (`enum`, `const`, `pattern`, property
//! names…) is the policy and is kept as written.

use serde_json::{Map, Value};

use super::redact_value;

/// Keywords whose values only annotate.
const ANNOTATIONS: [&str; 5] = ["title", "description", "$comment", "examples", "default"];
/// Keywords whose value is a subschema (`items` may also be an array of them, as in old drafts).
const SUBSCHEMA: [&str; 11] = [
    "additionalProperties",
    "items",
    "additionalItems",
    "contains",
    "not",
    "if",
    "then",
    "else",
    "propertyNames",
    "unevaluatedItems",
    "unevaluatedProperties",
];
/// Keywords whose value is an array of subschemas.
const SUBSCHEMA_LISTS: [&str; 4] = ["allOf", "anyOf", "oneOf", "prefixItems"];
/// Keywords whose value maps names (kept) to subschemas.
const SUBSCHEMA_MAPS: [&str; 5] = ["properties", "patternProperties", "$defs", "definitions", "dependentSchemas"];

/// `schema` with its annotations redacted.
pub fn redact_schema(schema: &Value) -> Value {
    match schema {
        Value::Object(keywords) => Value::Object(keywords.iter().map(|(k, v)| (k.clone(), redact_keyword(k, v))).collect()),
        other => other.clone(),
    }
}

fn redact_keyword(keyword: &str, value: &Value) -> Value {
    match value {
        _ if ANNOTATIONS.contains(&keyword) => redact_value(value),
        Value::Array(items) if SUBSCHEMA.contains(&keyword) || SUBSCHEMA_LISTS.contains(&keyword) => {
            Value::Array(items.iter().map(redact_schema).collect())
        }
        _ if SUBSCHEMA.contains(&keyword) => redact_schema(value),
        Value::Object(named) if SUBSCHEMA_MAPS.contains(&keyword) => Value::Object(redact_named(named)),
        other => other.clone(),
    }
}

fn redact_named(named: &Map<String, Value>) -> Map<String, Value> {
    named.iter().map(|(name, schema)| (name.clone(), redact_schema(schema))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn annotations_are_redacted_and_validation_is_kept() {
        let schema = json!({
            "type": "object",
            "title": "Refund for jane@example.com",
            "properties": {
                "description": {"type": "string", "description": "call 415-555-0100", "enum": ["ops@example.com"]},
                "to": {"type": "string", "default": "jane@example.com", "pattern": "^[a-z]+@example\\.com$"}
            },
            "allOf": [{"$comment": "078-05-1120"}],
            "additionalProperties": {"examples": [4_111_111_111_111_111u64]}
        });
        assert_eq!(
            redact_schema(&schema),
            json!({
                "type": "object",
                "title": "Refund for [REDACTED:email]",
                "properties": {
                    "description": {"type": "string", "description": "call [REDACTED:phone]", "enum": ["ops@example.com"]},
                    "to": {"type": "string", "default": "[REDACTED:email]", "pattern": "^[a-z]+@example\\.com$"}
                },
                "allOf": [{"$comment": "[REDACTED:ssn]"}],
                "additionalProperties": {"examples": ["[REDACTED:card]"]}
            })
        );
        assert_eq!(redact_schema(&json!(true)), json!(true));
    }
}
