//! Canonical JSON (DECISIONS.md, Audit chain). For any JSON serde_json reads: the canonical text
//! is JSON whose canonical text is itself; without floats it reads back as the same value and is
//! exactly serde_json's compact text with sorted keys (an independent writer); a params object
//! hashes the same whether hashed as an object or as a value.

#![no_main]

use libfuzzer_sys::fuzz_target;
use oakallow_domain::canonical::{object_sha256, params_sha256, to_canonical_string};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<Value>(data) else { return };
    let canonical = to_canonical_string(&value);
    let reparsed: Value = serde_json::from_str(&canonical).expect("canonical text is JSON");
    assert_eq!(to_canonical_string(&reparsed), canonical, "canonical text is not a fixed point");
    if !has_float(&value) {
        assert_eq!(reparsed, value, "canonical text of a float-free value reads back differently");
        // serde_json's Map is ordered by key, so its compact text is sorted too.
        assert_eq!(serde_json::to_string(&value).expect("a Value serializes"), canonical);
    }
    if let Some(object) = value.as_object() {
        assert_eq!(object_sha256(Some(object)), params_sha256(Some(&value)));
    }
});

fn has_float(value: &Value) -> bool {
    match value {
        Value::Number(n) => n.is_f64(),
        Value::Array(items) => items.iter().any(has_float),
        Value::Object(map) => map.values().any(has_float),
        _ => false,
    }
}
