//! Canonical JSON: object keys sorted (by Unicode code point) at every depth, no insignificant
//! whitespace, integral numbers without a fraction. Used for the params hash bound into execution
//! tokens and for the audit hash chain, so it must never change.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Largest integer a float may hold exactly; integral floats up to it print as integers.
const EXACT_FLOAT_LIMIT: f64 = 9_007_199_254_740_992.0;

/// The canonical text of `value`.
pub fn to_canonical_string(value: &Value) -> String {
    let mut out = String::new();
    write_value(value, &mut out);
    out
}

/// Hex SHA-256 of the canonical text of `params`; absent params hash as `{}`.
pub fn params_sha256(params: Option<&Value>) -> String {
    let text = match params {
        Some(value) => to_canonical_string(value),
        None => "{}".to_owned(),
    };
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Hex SHA-256 of the canonical text of a params object; absent params hash as `{}`. The same
/// as [`params_sha256`] of the object, without copying it into a `Value` first.
pub fn object_sha256(params: Option<&Map<String, Value>>) -> String {
    let mut text = String::new();
    match params {
        Some(map) => write_object(map, &mut text),
        None => text.push_str("{}"),
    }
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Appends the canonical text of `value` to `out`.
pub fn write_value(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_number(n, out),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => write_object(map, out),
    }
}

fn write_object(map: &Map<String, Value>, out: &mut String) {
    let mut entries: Vec<_> = map.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    out.push('{');
    for (i, (key, item)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_string(key, out);
        out.push(':');
        write_value(item, out);
    }
    out.push('}');
}

fn write_number(n: &serde_json::Number, out: &mut String) {
    if let Some(f) = n.as_f64().filter(|_| n.is_f64())
        && f.fract() == 0.0
        && f.abs() < EXACT_FLOAT_LIMIT
    {
        #[expect(clippy::cast_possible_truncation, reason = "integral and below 2^53, so exact")]
        out.push_str(&(f as i64).to_string());
        return;
    }
    out.push_str(&n.to_string());
}

/// Appends `s` as a JSON string with serde_json's (minimal) escaping: quote, backslash, and
/// control characters (`\b \t \n \f \r`, else `\u00xx` in lowercase hex).
pub fn write_string(s: &str, out: &mut String) {
    out.push('"');
    let mut start = 0;
    for (i, byte) in s.bytes().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0x08 => "\\b",
            0x09 => "\\t",
            0x0a => "\\n",
            0x0c => "\\f",
            0x0d => "\\r",
            0x00..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if escape.is_empty() {
            out.push_str(&format!("\\u{byte:04x}"));
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sorts_keys_recursively_without_whitespace() {
        let value = json!({"b": [1, {"z": true, "a": null}], "a": "x\n\"y\"", "é": 1.5});
        assert_eq!(to_canonical_string(&value), r#"{"a":"x\n\"y\"","b":[1,{"a":null,"z":true}],"é":1.5}"#);
    }

    #[test]
    fn integral_floats_print_as_integers() {
        let value: Value = serde_json::from_str(r#"{"n": 2.0, "m": -0.0, "big": 1e300}"#).unwrap();
        assert_eq!(to_canonical_string(&value), r#"{"big":1e+300,"m":0,"n":2}"#);
    }

    /// Without serde_json's `float_roundtrip` this reads 9007199254740990, so the hash of the
    /// same params would depend on which crates a build happens to include.
    #[test]
    fn numbers_are_read_exactly() {
        let value: Value = serde_json::from_str("[9007199254740991.0, 0.30000000000000004]").unwrap();
        assert_eq!(to_canonical_string(&value), "[9007199254740991,0.30000000000000004]");
    }

    #[test]
    fn strings_escape_exactly_like_serde_json() {
        let mut all: String = (0u32..0x80).filter_map(char::from_u32).collect();
        all.push_str("é€😀\u{2028}\u{7f}");
        for text in [all.as_str(), "", "plain", "a\"b\\c", "\u{0}\u{1f}"] {
            let mut ours = String::new();
            write_string(text, &mut ours);
            assert_eq!(ours, serde_json::to_string(text).unwrap());
        }
    }

    #[test]
    fn objects_hash_without_being_copied_the_same() {
        let params = json!({"b": [1, {"z": 2.0}], "a": "x"});
        assert_eq!(object_sha256(params.as_object()), params_sha256(Some(&params)));
        assert_eq!(object_sha256(None), params_sha256(None));
    }

    proptest::proptest! {
        /// Stores keep JSON as serde_json's text and parse it back: every number must come back
        /// as the same value, or the audit chain would hash something else on the way out.
        #[test]
        fn numbers_read_back_as_the_same_canonical_text(f in proptest::num::f64::NORMAL | proptest::num::f64::SUBNORMAL | proptest::num::f64::ZERO, u: u64, i: i64) {
            let value = json!({"f": f, "u": u, "i": i, "list": [f, u, i]});
            let stored = serde_json::to_string(&value).unwrap();
            let read: Value = serde_json::from_str(&stored).unwrap();
            proptest::prop_assert_eq!(to_canonical_string(&read), to_canonical_string(&value));
            proptest::prop_assert_eq!(read, value);
        }
    }

    #[test]
    fn missing_params_hash_as_empty_object() {
        assert_eq!(params_sha256(None), params_sha256(Some(&json!({}))));
        assert_ne!(params_sha256(Some(&json!({"a": 1}))), params_sha256(None));
        assert_eq!(params_sha256(Some(&json!({"a": 1, "b": 2}))), params_sha256(Some(&json!({"b": 2, "a": 1}))));
    }
}
