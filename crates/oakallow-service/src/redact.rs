//! What the org's `redact_pii` setting does to data before it is stored or sent.

use oakallow_domain::org::Org;
use oakallow_domain::pii::{redact_map, redact_text, redact_value};
use serde_json::{Map, Value};

/// Params or context as stored: redacted when the org redacts.
pub(crate) fn object(org: &Org, value: Option<&Map<String, Value>>) -> Option<Value> {
    value.map(|map| Value::Object(if org.redact_pii { redact_map(map) } else { map.clone() }))
}

/// Any JSON value as stored.
pub(crate) fn value(org: &Org, value: Option<&Value>) -> Option<Value> {
    value.map(|v| if org.redact_pii { redact_value(v) } else { v.clone() })
}

/// Free text (a reason, an error) as stored.
pub(crate) fn text(org: &Org, text: &str) -> String {
    if org.redact_pii { redact_text(text).into_owned() } else { text.to_owned() }
}
