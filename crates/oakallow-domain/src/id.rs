//! Typed, prefixed identifiers (`tool_01j…`): a UUIDv7 written as 26 Crockford base32 characters
//! after a type prefix, so ids sort by creation time and cannot be confused across types.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
const BODY_LEN: usize = 26;

/// The 26 lowercase Crockford base32 characters of 128 bits (sort order preserved), as ASCII.
fn body_bytes(value: u128) -> [u8; BODY_LEN] {
    let mut out = [0u8; BODY_LEN];
    for (i, slot) in out.iter_mut().enumerate() {
        let shift = 5 * (BODY_LEN - 1 - i);
        *slot = ALPHABET[((value >> shift) & 0x1f) as usize];
    }
    out
}

/// Writes the body of `value` (ids are written on every check: no allocation here).
fn write_body(f: &mut fmt::Formatter<'_>, value: u128) -> fmt::Result {
    let bytes = body_bytes(value);
    // The alphabet is ASCII, so this never fails.
    f.write_str(std::str::from_utf8(&bytes).map_err(|_| fmt::Error)?)
}

/// Encodes 128 bits as 26 lowercase Crockford base32 characters (sort order preserved).
pub fn encode_body(value: u128) -> String {
    body_bytes(value).iter().map(|&b| char::from(b)).collect()
}

/// Decodes the 26-character body written by [`encode_body`]; `None` if it is not one.
pub fn decode_body(body: &str) -> Option<u128> {
    if body.len() != BODY_LEN {
        return None;
    }
    let mut value: u128 = 0;
    for (i, c) in body.bytes().enumerate() {
        let digit = ALPHABET.iter().position(|&a| a == c)? as u128;
        // The first character carries only 3 bits (26 * 5 = 130 > 128).
        if i == 0 && digit > 7 {
            return None;
        }
        value = (value << 5) | digit;
    }
    Some(value)
}

/// Declares a typed id: a `u128` that prints and parses as `<prefix>_<body>`.
macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(u128);

        impl $name {
            /// The type prefix, without the underscore.
            pub const PREFIX: &'static str = $prefix;

            /// A new id, sortable by creation time.
            pub fn generate() -> Self {
                Self(uuid::Uuid::now_v7().as_u128())
            }

            /// The raw 128-bit value.
            pub fn as_u128(self) -> u128 {
                self.0
            }

            /// Rebuilds an id from its raw value.
            pub fn from_u128(value: u128) -> Self {
                Self(value)
            }

            /// Parses `<prefix>_<body>`; `None` for anything else.
            pub fn parse(text: &str) -> Option<Self> {
                let body = text.strip_prefix($prefix)?.strip_prefix('_')?;
                decode_body(body).map(Self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!($prefix, "_"))?;
                write_body(f, self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;
            fn from_str(text: &str) -> Result<Self, InvalidId> {
                Self::parse(text).ok_or(InvalidId)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .pattern(Some(concat!("^", $prefix, "_[0-7][0-9a-hjkmnp-tv-z]{25}$")))
                    .into()
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for $name {}

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                Self::parse(&text).ok_or_else(|| {
                    serde::de::Error::custom(format_args!("not a valid {} id", $prefix))
                })
            }
        }
    };
}

/// A string that is not a well-formed id of the expected type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a valid id")]
pub struct InvalidId;

typed_id!(/// An account (a person who signs in).
    AccountId, "acc");
typed_id!(/// An organization.
    OrgId, "org");
typed_id!(/// A tenant of an org.
    TenantId, "ten");
typed_id!(/// A resource.
    ResourceId, "res");
typed_id!(/// A method.
    MethodId, "met");
typed_id!(/// A category of tools.
    CategoryId, "cat");
typed_id!(/// A tool.
    ToolId, "tool");
typed_id!(/// A rule.
    RuleId, "rul");
typed_id!(/// An API key.
    KeyId, "key");
typed_id!(/// A permission check.
    CheckId, "chk");
typed_id!(/// An approval request.
    ApprovalId, "apr");
typed_id!(/// A logged execution.
    ExecutionId, "exe");
typed_id!(/// A webhook event.
    EventId, "evt");
typed_id!(/// A webhook delivery.
    DeliveryId, "dlv");
typed_id!(/// An activity (audit trail) entry.
    ActivityId, "act");
typed_id!(/// A row of an account's credit ledger.
    LedgerId, "led");
typed_id!(/// One claim of a webhook delivery by a worker: only its holder records the attempt.
    LeaseId, "lse");
typed_id!(/// A signed-in dashboard session (the cookie holds a secret, never this id).
    SessionId, "ses");
typed_id!(/// An invitation to join an org (the link holds a secret, never this id).
    InviteId, "inv");
typed_id!(/// A passkey (WebAuthn credential) an account signs in with.
    PasskeyId, "pkey");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_sorts() {
        let a = ToolId::generate();
        let b = ToolId::generate();
        assert!(a < b);
        assert!(a.to_string() < b.to_string());
        assert_eq!(ToolId::parse(&a.to_string()), Some(a));
        assert_eq!(a.to_string().len(), "tool_".len() + BODY_LEN);
    }

    #[test]
    fn rejects_other_prefixes_and_garbage() {
        let tool = ToolId::generate().to_string();
        assert_eq!(OrgId::parse(&tool), None);
        assert_eq!(ToolId::parse("tool_"), None);
        assert_eq!(ToolId::parse("tool_zzzzzzzzzzzzzzzzzzzzzzzzzz"), None);
        assert_eq!(ToolId::parse("tool_0000000000000000000000000u"), None);
        assert_eq!(decode_body(&encode_body(u128::MAX)), Some(u128::MAX));
    }
}
