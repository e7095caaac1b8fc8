//! Redaction of personal data and secrets from text stored or sent on (params, reasons, context),
//! when the org's `redact_pii` is on. Each find is replaced by `[REDACTED:<kind>]` with kind
//! `email`, `phone`, `card` (Luhn-valid numbers only), `ssn` or `secret`. Secrets are looked for
//! first, so a token that contains digits is not half-redacted as a phone number.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::{Captures, Regex};
use serde_json::{Map, Value};

/// A kind of sensitive data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PiiKind {
    /// An email address.
    Email,
    /// A phone number.
    Phone,
    /// A payment card number.
    Card,
    /// A US social security number.
    Ssn,
    /// An API key, token, password or private key.
    Secret,
}

impl PiiKind {
    /// The replacement text.
    pub fn marker(self) -> &'static str {
        match self {
            Self::Email => "[REDACTED:email]",
            Self::Phone => "[REDACTED:phone]",
            Self::Card => "[REDACTED:card]",
            Self::Ssn => "[REDACTED:ssn]",
            Self::Secret => "[REDACTED:secret]",
        }
    }
}

fn regex(pattern: &str) -> Regex {
    Regex::new(pattern).expect("a constant pattern that the tests compile")
}

static SECRETS: LazyLock<Regex> = LazyLock::new(|| {
    regex(concat!(
        r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----",
        r"|\boak_(?:live|tok)_[A-Za-z0-9_.\-]+",
        r"|\bwhsec_[A-Za-z0-9+/=]+",
        r"|\b(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{10,}",
        r"|\bsk-[A-Za-z0-9_\-]{20,}",
        r"|\bgh[pousr]_[A-Za-z0-9]{30,}|\bgithub_pat_[A-Za-z0-9_]{20,}",
        r"|\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
        r"|\bxox[abprs]-[A-Za-z0-9\-]{10,}",
        r"|\bglpat-[A-Za-z0-9_\-]{20,}",
        r"|\bAIza[0-9A-Za-z_\-]{35}",
        r"|\beyJ[A-Za-z0-9_\-]{5,}\.eyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}",
        r"|(?i:\bbearer\s+)[A-Za-z0-9._~+/\-]{16,}=*",
    ))
});

/// `password=…`, `api_key: …` and the like inside free text: the value is the secret.
static ASSIGNED_SECRETS: LazyLock<Regex> =
    LazyLock::new(|| regex(r#"(?i)\b((?:api[_\-]?key|secret|token|password|passwd|pwd)["']?\s*[:=]\s*["']?)([^\s"',;]{6,})"#));

static EMAILS: LazyLock<Regex> = LazyLock::new(|| regex(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}"));

static CARDS: LazyLock<Regex> = LazyLock::new(|| regex(r"\b\d(?:[ \-]?\d){12,18}\b"));

static SSNS: LazyLock<Regex> = LazyLock::new(|| regex(r"\b(\d{3})-(\d{2})-(\d{4})\b"));

static PHONES: LazyLock<Regex> = LazyLock::new(|| regex(r"(?:\+|\b)\(?\d[\d\s().\-]{6,}\d\b"));

/// Object keys whose string values are secrets whatever they look like.
const SECRET_KEYS: [&str; 10] =
    ["password", "passwd", "secret", "api_key", "apikey", "token", "access_token", "refresh_token", "private_key", "authorization"];

fn luhn_valid(digits: &[u32]) -> bool {
    let sum: u32 =
        digits.iter().rev().enumerate().map(|(i, &d)| if i % 2 == 1 { if d * 2 > 9 { d * 2 - 9 } else { d * 2 } } else { d }).sum();
    sum.is_multiple_of(10)
}

fn digits_of(text: &str) -> Vec<u32> {
    text.chars().filter_map(|c| c.to_digit(10)).collect()
}

fn is_card(candidate: &str) -> bool {
    let digits = digits_of(candidate);
    (13..=19).contains(&digits.len()) && luhn_valid(&digits)
}

fn is_ssn(caps: &Captures<'_>) -> bool {
    let (area, group, serial) = (&caps[1], &caps[2], &caps[3]);
    area != "000" && area != "666" && !area.starts_with('9') && group != "00" && serial != "0000"
}

fn is_phone(candidate: &str) -> bool {
    let digits = digits_of(candidate).len();
    let international = candidate.starts_with('+');
    let separated = candidate.chars().any(|c| matches!(c, ' ' | '-' | '.' | '(' | ')'));
    (international && (8..=15).contains(&digits)) || (separated && (10..=15).contains(&digits))
}

/// Replaces every match of `pattern` that `keep` accepts (given the captures) by `kind`'s marker.
fn replace<'t>(text: Cow<'t, str>, pattern: &Regex, kind: PiiKind, accept: impl Fn(&Captures<'_>) -> bool) -> Cow<'t, str> {
    if !pattern.is_match(&text) {
        return text;
    }
    let replaced =
        pattern.replace_all(&text, |caps: &Captures<'_>| if accept(caps) { kind.marker().to_owned() } else { caps[0].to_owned() });
    Cow::Owned(replaced.into_owned())
}

/// `text` with every sensitive find replaced.
pub fn redact_text(text: &str) -> Cow<'_, str> {
    let text = replace(Cow::Borrowed(text), &SECRETS, PiiKind::Secret, |_| true);
    let text = if ASSIGNED_SECRETS.is_match(&text) {
        Cow::Owned(
            ASSIGNED_SECRETS.replace_all(&text, |caps: &Captures<'_>| format!("{}{}", &caps[1], PiiKind::Secret.marker())).into_owned(),
        )
    } else {
        text
    };
    let text = replace(text, &EMAILS, PiiKind::Email, |_| true);
    let text = replace(text, &CARDS, PiiKind::Card, |caps| is_card(&caps[0]));
    let text = replace(text, &SSNS, PiiKind::Ssn, is_ssn);
    replace(text, &PHONES, PiiKind::Phone, |caps| is_phone(&caps[0]))
}

/// `value` with every string redacted; string values under secret-looking keys are replaced
/// whole.
pub fn redact_value(value: &Value) -> Value {
    match value {
        Value::String(text) => Value::String(redact_text(text).into_owned()),
        Value::Array(items) => Value::Array(items.iter().map(redact_value).collect()),
        Value::Object(map) => Value::Object(redact_map(map)),
        other => other.clone(),
    }
}

/// A JSON object with every string redacted (see [`redact_value`]).
pub fn redact_map(map: &Map<String, Value>) -> Map<String, Value> {
    map.iter()
        .map(|(key, item)| {
            let secret_key = SECRET_KEYS.contains(&key.to_ascii_lowercase().as_str());
            let redacted = match item {
                Value::String(_) if secret_key => Value::String(PiiKind::Secret.marker().to_owned()),
                other => redact_value(other),
            };
            (key.clone(), redacted)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_each_kind() {
        let cases = [
            ("mail jane.doe+x@example.co.uk now", "mail [REDACTED:email] now"),
            ("card 4111 1111 1111 1111 ok", "card [REDACTED:card] ok"),
            ("card 4111-1111-1111-1112 is not Luhn-valid", "card 4111-1111-1111-1112 is not Luhn-valid"),
            ("ssn 123-45-6789", "ssn [REDACTED:ssn]"),
            ("not an ssn 000-12-3456", "not an ssn 000-12-3456"),
            ("call +1 (415) 555-0100 today", "call [REDACTED:phone] today"),
            ("call 415-555-0100", "call [REDACTED:phone]"),
            ("order 1732760000 stays", "order 1732760000 stays"),
            ("key oak_live_0123456789abcdef0123456789abcdef", "key [REDACTED:secret]"),
            ("Authorization: Bearer abcdefghijklmnop1234", "Authorization: [REDACTED:secret]"),
            ("aws AKIAABCDEFGHIJKLMNOP", "aws [REDACTED:secret]"),
            ("password=hunter2hunter2", "password=[REDACTED:secret]"),
            ("-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----", "[REDACTED:secret]"),
            ("plain words and 42 apples", "plain words and 42 apples"),
        ];
        for (input, expected) in cases {
            assert_eq!(redact_text(input), expected, "{input}");
        }
    }

    #[test]
    fn redacts_nested_values_and_secret_keys() {
        let value = json!({"to": "a@b.io", "list": ["555-123-4567", 7], "api_key": "short", "nested": {"ssn": "078-05-1120"}});
        assert_eq!(
            redact_value(&value),
            json!({"to": "[REDACTED:email]", "list": ["[REDACTED:phone]", 7], "api_key": "[REDACTED:secret]", "nested": {"ssn": "[REDACTED:ssn]"}})
        );
    }
}
