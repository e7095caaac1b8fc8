//! JSON Schema (draft 2020-12) for tool params: checking a schema when a tool is saved, and
//! validating a call's params against it. Remote `$ref`s are never fetched. The messages of a
//! validation quote the offending values; for an org that redacts they quote them as the
//! redacted params hold them.

use jsonschema::paths::LocationSegment;
use jsonschema::{ValidationError, Validator};
use oakallow_domain::pii::{redact_text, redact_value_at};
use serde_json::Value;

use crate::error::ParamError;

/// Compiles a tool's `parameters_schema`, or says why it is not a usable schema.
pub fn compile(schema: &Value) -> Result<Validator, String> {
    if !(schema.is_object() || schema.is_boolean()) {
        return Err("parameters_schema must be a JSON Schema object (or a boolean schema)".to_owned());
    }
    jsonschema::draft202012::options()
        .build(schema)
        .map_err(|e| format!("parameters_schema is not a valid JSON Schema (draft 2020-12): {e}"))
}

/// Every way `params` fails `validator`, as JSON Pointer paths with messages; redacted when
/// `redacts` (see [`redacted`]).
pub fn validate(validator: &Validator, params: &Value, redacts: bool) -> Vec<ParamError> {
    let errors = validator.iter_errors(params);
    if redacts {
        errors.map(|error| redacted(&error)).collect()
    } else {
        errors.map(|error| ParamError { path: error.instance_path().to_string(), message: error.to_string() }).collect()
    }
}

/// `error` as an org that redacts keeps and answers it: the value the message quotes is
/// redacted as the params it came from are (whole under a key such as `api_key` or `phone`),
/// then the path and the message as free text (they may quote keys).
fn redacted(error: &ValidationError<'_>) -> ParamError {
    let path = error.instance_path();
    let keys = path.segments().filter_map(|segment| match segment {
        LocationSegment::Property(key) => Some(key),
        LocationSegment::Index(_) => None,
    });
    let quoted = redact_value_at(keys, error.instance()).to_string();
    let message = error.masked_with(quoted).to_string();
    ParamError { path: redact_text(path.as_str()).into_owned(), message: redact_text(&message).into_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reports_paths_of_invalid_params() {
        let validator = compile(&json!({
            "type": "object",
            "properties": {"to": {"type": "string"}, "n": {"type": "integer", "maximum": 3}},
            "required": ["to"],
            "additionalProperties": false
        }))
        .unwrap();
        assert!(validate(&validator, &json!({"to": "a", "n": 2}), false).is_empty());
        let errors = validate(&validator, &json!({"n": 9, "x": 1}), false);
        let paths: Vec<_> = errors.iter().map(|e| e.path.as_str()).collect();
        assert!(paths.contains(&"/n"), "{errors:?}");
        assert!(paths.contains(&""), "{errors:?}");
    }

    #[test]
    fn an_org_that_redacts_keeps_messages_that_quote_redacted_values() {
        let validator = compile(&json!({
            "type": "object",
            "additionalProperties": {"type": "integer", "maximum": 10},
            "properties": {"to": {"type": "string"}}
        }))
        .unwrap();
        let params = json!({"api_key": "opaque-1", "ssn": 219_010_005, "password": {"old": "opaque-2"}, "to": 4_111_111_111_111_111u64, "n": 11, "a@b.io": "x"});
        let messages = |redacts| -> Vec<(String, String)> {
            let mut all: Vec<_> = validate(&validator, &params, redacts).into_iter().map(|e| (e.path, e.message)).collect();
            all.sort();
            all
        };
        let pairs =
            |list: &[(&str, &str)]| -> Vec<(String, String)> { list.iter().map(|(p, m)| ((*p).to_owned(), (*m).to_owned())).collect() };
        assert_eq!(
            messages(true),
            pairs(&[
                ("/[REDACTED:email]", r#""x" is not of type "integer""#),
                ("/api_key", r#""[REDACTED:secret]" is not of type "integer""#),
                ("/n", "11 is greater than the maximum of 10"),
                ("/password", r#"{"old":"[REDACTED:secret]"} is not of type "integer""#),
                ("/ssn", "\"[REDACTED:ssn]\" is greater than the maximum of 10"),
                ("/to", r#""[REDACTED:card]" is not of type "string""#),
            ])
        );
        assert!(messages(false).contains(&("/api_key".to_owned(), r#""opaque-1" is not of type "integer""#.to_owned())));
    }

    #[test]
    fn refuses_broken_schemas_and_remote_refs() {
        assert!(compile(&json!({"type": "no-such-type"})).is_err());
        assert!(compile(&json!("string")).is_err());
        assert!(compile(&json!({"$ref": "https://example.com/schema.json"})).is_err());
        assert!(compile(&json!(true)).is_ok());
    }
}
