//! Redaction of personal data and secrets from what is stored or sent on, when the org's
//! `redact_pii` is on. Each find is replaced by `[REDACTED:<kind>]` with kind `email`, `phone`,
//! `card` (Luhn-valid numbers only), `ssn` or `secret`: in text ([`redact_text`]), in JSON values
//! including their keys and numbers ([`redact_value`], [`redact_map`]; one value of an object as
//! it was found there, [`redact_value_at`]), and in the annotations of a JSON Schema
//! ([`redact_schema`]). Redacting twice changes nothing, so redacted data can be sent back (a
//! policy export re-applies as it is). What must be recognised again without being kept (an
//! idempotency key) is kept as a [`digest`].

mod digits;
mod json;
mod schema;
mod text;

use sha2::{Digest, Sha256};

pub use json::{redact_map, redact_value, redact_value_at};
pub use schema::redact_schema;
pub use text::redact_text;

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

/// Hex SHA-256 of `text` within `purpose` (a label such as `idempotency-key:<org id>`): what is
/// kept of a value that must be recognised again but not stored. It cannot be read back, though a
/// guess can be confirmed against it, as for any digest of a guessable value.
pub fn digest(purpose: &str, text: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(purpose.as_bytes());
    hasher.update([0]);
    hasher.update(text.as_bytes());
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_differ_by_purpose() {
        assert_eq!(digest("a", "x"), digest("a", "x"));
        assert_ne!(digest("a", "x"), digest("b", "x"));
        assert_eq!(digest("a", "x").len(), 64);
    }
}
