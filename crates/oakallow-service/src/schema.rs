//! JSON Schema (draft 2020-12) for tool params: checking a schema when a tool is saved, and
//! validating a call's params against it. Remote `$ref`s are never fetched.

use jsonschema::Validator;
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

/// Every way `params` fails `validator`, as JSON Pointer paths with messages.
pub fn validate(validator: &Validator, params: &Value) -> Vec<ParamError> {
    validator.iter_errors(params).map(|error| ParamError { path: error.instance_path().to_string(), message: error.to_string() }).collect()
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
        assert!(validate(&validator, &json!({"to": "a", "n": 2})).is_empty());
        let errors = validate(&validator, &json!({"n": 9, "x": 1}));
        let paths: Vec<_> = errors.iter().map(|e| e.path.as_str()).collect();
        assert!(paths.contains(&"/n"), "{errors:?}");
        assert!(paths.contains(&""), "{errors:?}");
    }

    #[test]
    fn refuses_broken_schemas_and_remote_refs() {
        assert!(compile(&json!({"type": "no-such-type"})).is_err());
        assert!(compile(&json!("string")).is_err());
        assert!(compile(&json!({"$ref": "https://example.com/schema.json"})).is_err());
        assert!(compile(&json!(true)).is_ok());
    }
}
