//! Redaction of JSON values: every string, every object key, and numbers that are card numbers
//! (13–19 digits, Luhn-valid, whether written as integers or integral floats). A value under a
//! key that names what it holds (`password`, `phone`, `ssn`, `card_number`…) is redacted whole,
//! whatever it looks like, at any depth. Two keys of one object that redact to the same text stay
//! two: the later one (in key order) gets ` (2)`, ` (3)`… appended.

use serde_json::{Map, Number, Value};

use super::digits::is_card;
use super::{PiiKind, redact_text};

/// Keys (lower-cased, letters and digits only) whose values are a kind of personal data.
const HINTS: [(&str, PiiKind); 29] = [
    ("password", PiiKind::Secret),
    ("passwd", PiiKind::Secret),
    ("passphrase", PiiKind::Secret),
    ("secret", PiiKind::Secret),
    ("clientsecret", PiiKind::Secret),
    ("apikey", PiiKind::Secret),
    ("xapikey", PiiKind::Secret),
    ("token", PiiKind::Secret),
    ("accesstoken", PiiKind::Secret),
    ("refreshtoken", PiiKind::Secret),
    ("idtoken", PiiKind::Secret),
    ("privatekey", PiiKind::Secret),
    ("authorization", PiiKind::Secret),
    ("email", PiiKind::Email),
    ("emailaddress", PiiKind::Email),
    ("phone", PiiKind::Phone),
    ("phonenumber", PiiKind::Phone),
    ("telephone", PiiKind::Phone),
    ("mobile", PiiKind::Phone),
    ("mobilenumber", PiiKind::Phone),
    ("cellphone", PiiKind::Phone),
    ("fax", PiiKind::Phone),
    ("ssn", PiiKind::Ssn),
    ("socialsecuritynumber", PiiKind::Ssn),
    ("cardnumber", PiiKind::Card),
    ("creditcard", PiiKind::Card),
    ("creditcardnumber", PiiKind::Card),
    ("ccnumber", PiiKind::Card),
    ("cardno", PiiKind::Card),
];

/// Longest key, in letters and digits, that can name a kind.
const LONGEST_HINT: usize = 24;

/// What a key says its value is, if anything (normalized on the stack: this runs for every key).
fn hint(key: &str) -> Option<PiiKind> {
    let mut normal = [0u8; LONGEST_HINT];
    let mut len = 0;
    for byte in key.bytes().filter(u8::is_ascii_alphanumeric) {
        *normal.get_mut(len)? = byte.to_ascii_lowercase();
        len += 1;
    }
    let normal = &normal[..len];
    HINTS.iter().find(|(name, _)| name.as_bytes() == normal).map(|(_, kind)| *kind)
}

/// Largest integer a float holds exactly; larger integral floats are not written as integers.
const EXACT_FLOAT_LIMIT: f64 = 9_007_199_254_740_992.0;

/// The decimal digits a number is stored as, when it is an integer.
fn integer_digits(number: &Number) -> Option<String> {
    if let Some(n) = number.as_u64() {
        return Some(n.to_string());
    }
    if let Some(n) = number.as_i64() {
        return Some(n.unsigned_abs().to_string());
    }
    let f = number.as_f64()?;
    #[expect(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "integral and below 2^53, so exact")]
    (f.fract() == 0.0 && f.abs() < EXACT_FLOAT_LIMIT).then(|| (f.abs() as u64).to_string())
}

/// True for a number that is a card number.
fn is_card_number(number: &Number) -> bool {
    integer_digits(number).is_some_and(|text| {
        let digits: Vec<u8> = text.bytes().map(|b| b - b'0').collect();
        is_card(&digits)
    })
}

fn marker(kind: PiiKind) -> Value {
    Value::String(kind.marker().to_owned())
}

/// `value` with every string and number replaced by `kind`'s marker (keys are redacted as usual).
fn redact_whole(value: &Value, kind: PiiKind) -> Value {
    match value {
        Value::String(_) | Value::Number(_) => marker(kind),
        Value::Array(items) => Value::Array(items.iter().map(|item| redact_whole(item, kind)).collect()),
        Value::Object(map) => Value::Object(redact_entries(map, |item| redact_whole(item, kind))),
        other => other.clone(),
    }
}

/// `value` with every string, key and card number redacted.
pub fn redact_value(value: &Value) -> Value {
    match value {
        Value::String(text) => Value::String(redact_text(text).into_owned()),
        Value::Number(number) if is_card_number(number) => marker(PiiKind::Card),
        Value::Array(items) => Value::Array(items.iter().map(redact_value).collect()),
        Value::Object(map) => Value::Object(redact_map(map)),
        other => other.clone(),
    }
}

/// `value` as [`redact_map`] leaves it where it was found under `keys` (the object keys on its
/// path, outermost first): whole when one of them names a kind of personal data, else as
/// [`redact_value`] does. What quotes one value of an object (a validation message) redacts it so.
pub fn redact_value_at<K: AsRef<str>>(keys: impl IntoIterator<Item = K>, value: &Value) -> Value {
    match keys.into_iter().find_map(|key| hint(key.as_ref())) {
        Some(kind) => redact_whole(value, kind),
        None => redact_value(value),
    }
}

/// A JSON object with every key and value redacted (see [`redact_value`]).
pub fn redact_map(map: &Map<String, Value>) -> Map<String, Value> {
    redact_entries(map, redact_value)
}

/// `map` with redacted keys (kept apart when they collide) and values redacted by `redact`,
/// or whole when their key names a kind of personal data.
fn redact_entries(map: &Map<String, Value>, redact: impl Fn(&Value) -> Value) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, item) in map {
        let value = match hint(key) {
            Some(kind) => redact_whole(item, kind),
            None => redact(item),
        };
        insert_apart(&mut out, redact_text(key).into_owned(), value);
    }
    out
}

/// Inserts under `key`, or under `key (2)`, `key (3)`… when it is taken.
fn insert_apart(out: &mut Map<String, Value>, key: String, value: Value) {
    if !out.contains_key(&key) {
        out.insert(key, value);
        return;
    }
    let free = (2u64..).map(|n| format!("{key} ({n})")).find(|candidate| !out.contains_key(candidate));
    if let Some(free) = free {
        out.insert(free, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn redacts_nested_values_and_hinted_keys() {
        let value = json!({"to": "a@b.io", "list": ["555-123-4567", 7], "api_key": "short", "nested": {"ssn": "078-05-1120"}});
        assert_eq!(
            redact_value(&value),
            json!({"to": "[REDACTED:email]", "list": ["[REDACTED:phone]", 7], "api_key": "[REDACTED:secret]", "nested": {"ssn": "[REDACTED:ssn]"}})
        );
    }

    #[test]
    fn card_numbers_written_as_numbers() {
        let value = json!({"total": 4_111_111_111_111_111u64, "negative": -4_111_111_111_111_111i64, "float": 4_111_111_111_111_111.0, "order": 1_732_760_000u64, "amount": 125, "other": 4_111_111_111_111_112u64});
        assert_eq!(
            redact_value(&value),
            json!({"total": "[REDACTED:card]", "negative": "[REDACTED:card]", "float": "[REDACTED:card]", "order": 1_732_760_000u64, "amount": 125, "other": 4_111_111_111_111_112u64})
        );
    }

    #[test]
    fn numbers_and_nested_values_under_hinted_keys() {
        let value =
            json!({"Phone_Number": 4_155_550_100u64, "SSN": 78_051_120, "password": {"old": "x", "n": 1, "ok": true}, "cardNumber": ["1"]});
        assert_eq!(
            redact_value(&value),
            json!({"Phone_Number": "[REDACTED:phone]", "SSN": "[REDACTED:ssn]", "password": {"old": "[REDACTED:secret]", "n": "[REDACTED:secret]", "ok": true}, "cardNumber": ["[REDACTED:card]"]})
        );
    }

    #[test]
    fn a_value_is_redacted_as_where_it_was_found() {
        let params = json!({"api_key": "short", "contacts": {"Phone": [4_155_550_100u64]}, "note": "a@b.io", "n": 7});
        let stored = redact_value(&params);
        let at = |keys: &[&str], value: &Value| redact_value_at(keys.iter().copied(), value);
        assert_eq!(at(&["api_key"], &params["api_key"]), stored["api_key"]);
        assert_eq!(at(&["contacts", "Phone"], &params["contacts"]["Phone"][0]), stored["contacts"]["Phone"][0]);
        assert_eq!(at(&["contacts"], &params["contacts"]), stored["contacts"]);
        assert_eq!(at(&["note"], &params["note"]), stored["note"]);
        assert_eq!(at(&["n"], &params["n"]), json!(7));
        assert_eq!(at(&[], &params), stored);
    }

    #[test]
    fn keys_are_redacted_and_kept_apart() {
        let value = json!({"jane@example.com": 1, "bob@example.com": 2, "[REDACTED:email] (2)": 3, "note": {"4111 1111 1111 1111": true}});
        let redacted = redact_value(&value);
        assert_eq!(
            redacted,
            json!({"[REDACTED:email]": 2, "[REDACTED:email] (2)": 3, "[REDACTED:email] (3)": 1, "note": {"[REDACTED:card]": true}})
        );
        assert_eq!(redact_value(&redacted), redacted, "redacting twice changes nothing");
    }
}
