//! API keys: the `oak_live_<32 hex>` format, tiers, and the SHA-256 digest that is all the store
//! ever keeps. A [`RawKey`] never prints itself.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::secret::{RandomnessUnavailable, random_bytes, sha256};

/// The fixed start of every key.
pub const KEY_PREFIX: &str = "oak_live_";
/// How many leading characters are kept for display.
pub const DISPLAY_PREFIX_LEN: usize = 12;

/// What a key may do (PRODUCT.md section 2). Fixed at creation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum KeyTier {
    /// Manages the org's configuration; never calls runtime endpoints.
    Management,
    /// The agent's key: runtime endpoints and reads.
    Standard,
    /// Reads and decides approvals, nothing else.
    Approver,
}

impl KeyTier {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Management => "management",
            Self::Standard => "standard",
            Self::Approver => "approver",
        }
    }

    /// Parses the wire name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "management" => Some(Self::Management),
            "standard" => Some(Self::Standard),
            "approver" => Some(Self::Approver),
            _ => None,
        }
    }
}

/// A raw API key as the caller holds it. Shown once at creation, then only its digest exists.
#[derive(Clone, PartialEq, Eq)]
pub struct RawKey(String);

impl RawKey {
    /// A new random key (128 bits).
    pub fn generate() -> Result<Self, RandomnessUnavailable> {
        let bytes = random_bytes::<16>()?;
        Ok(Self(format!("{KEY_PREFIX}{}", hex::encode(bytes))))
    }

    /// Accepts only well-formed keys: the prefix and exactly 32 lowercase hex digits.
    pub fn parse(text: &str) -> Option<Self> {
        let body = text.strip_prefix(KEY_PREFIX)?;
        let well_formed = body.len() == 32 && body.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        well_formed.then(|| Self(text.to_owned()))
    }

    /// The SHA-256 of the whole key, which is what the store keeps and looks up.
    pub fn digest(&self) -> [u8; 32] {
        sha256(self.0.as_bytes())
    }

    /// The first 12 characters, safe to display and log.
    pub fn display_prefix(&self) -> String {
        self.0[..DISPLAY_PREFIX_LEN].to_owned()
    }

    /// The key itself, to hand to its owner exactly once.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RawKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RawKey({}…)", &self.0[..DISPLAY_PREFIX_LEN])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_and_hide_themselves() {
        let key = RawKey::generate().unwrap();
        assert_eq!(key.expose().len(), KEY_PREFIX.len() + 32);
        assert_eq!(RawKey::parse(key.expose()), Some(key.clone()));
        assert_eq!(key.display_prefix(), key.expose()[..12]);
        assert!(!format!("{key:?}").contains(&key.expose()[12..]));
    }

    #[test]
    fn rejects_malformed_keys() {
        assert!(RawKey::parse("oak_live_0123456789abcdef0123456789ABCDEF").is_none());
        assert!(RawKey::parse("oak_live_0123456789abcdef0123456789abcde").is_none());
        assert!(RawKey::parse("oak_test_0123456789abcdef0123456789abcdef").is_none());
        assert!(RawKey::parse("oak_live_0123456789abcdef0123456789abcdef").is_some());
    }
}
