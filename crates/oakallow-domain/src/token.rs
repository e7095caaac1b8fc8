//! Execution tokens (PRODUCT.md section 8): `oak_tok_<base64url(payload)>.<base64url(signature)>`,
//! the signature computed over the ASCII text of the payload segment, with HMAC-SHA256 (a per-org
//! secret) or Ed25519 (a per-org key pair whose public half is published).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signer, Verifier};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::secret::{RandomnessUnavailable, constant_time_eq, random_bytes};

/// The fixed start of every token.
pub const TOKEN_PREFIX: &str = "oak_tok_";
/// Shortest token lifetime, in seconds.
pub const MIN_TTL_SECONDS: u32 = 10;
/// Longest token lifetime, in seconds.
pub const MAX_TTL_SECONDS: u32 = 3600;
/// Lifetime when none is asked for, in seconds.
pub const DEFAULT_TTL_SECONDS: u32 = 300;

/// A signing algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Algorithm {
    /// HMAC-SHA256.
    #[serde(rename = "hmac-sha256")]
    HmacSha256,
    /// Ed25519.
    #[serde(rename = "ed25519")]
    Ed25519,
}

impl Algorithm {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HmacSha256 => "hmac-sha256",
            Self::Ed25519 => "ed25519",
        }
    }

    /// Parses the wire name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "hmac-sha256" => Some(Self::HmacSha256),
            "ed25519" => Some(Self::Ed25519),
            _ => None,
        }
    }
}

/// What a token says. Field order is the payload's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Claims {
    /// Format version, 1.
    pub v: u8,
    /// Signing algorithm.
    pub alg: Algorithm,
    /// Id of the signing key.
    pub kid: String,
    /// Token id: 128 random bits, hex.
    pub jti: String,
    /// Org id.
    pub org: String,
    /// Tool name.
    pub tool: String,
    /// Tenant external id.
    pub tenant: Option<String>,
    /// Resource name.
    pub resource: Option<String>,
    /// Method name.
    pub method: Option<String>,
    /// Hex SHA-256 of the canonical params.
    pub params_sha256: String,
    /// The check (`chk_…`) or approval (`apr_…`) that authorized the call.
    pub src: String,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// Expires at, Unix seconds.
    pub exp: i64,
}

/// A fresh token id (128 random bits as 32 hex digits).
pub fn new_jti() -> Result<String, RandomnessUnavailable> {
    Ok(hex::encode(random_bytes::<16>()?))
}

/// A key that signs tokens.
#[derive(Clone)]
pub enum SigningKey {
    /// HMAC-SHA256 secret.
    Hmac {
        /// Key id.
        kid: String,
        /// 32-byte secret.
        secret: [u8; 32],
    },
    /// Ed25519 key pair.
    Ed25519 {
        /// Key id.
        kid: String,
        /// The private key.
        key: ed25519_dalek::SigningKey,
    },
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({} {})", self.algorithm().as_str(), self.kid())
    }
}

impl SigningKey {
    /// A new random key of `algorithm` with a new key id.
    pub fn generate(algorithm: Algorithm) -> Result<Self, RandomnessUnavailable> {
        let kid = format!("k_{}", hex::encode(random_bytes::<8>()?));
        let secret = random_bytes::<32>()?;
        Ok(match algorithm {
            Algorithm::HmacSha256 => Self::Hmac { kid, secret },
            Algorithm::Ed25519 => Self::Ed25519 { kid, key: ed25519_dalek::SigningKey::from_bytes(&secret) },
        })
    }

    /// Rebuilds a stored key from its algorithm, id and 32 secret bytes (HMAC secret or Ed25519 seed).
    pub fn from_parts(algorithm: Algorithm, kid: String, secret: [u8; 32]) -> Self {
        match algorithm {
            Algorithm::HmacSha256 => Self::Hmac { kid, secret },
            Algorithm::Ed25519 => Self::Ed25519 { kid, key: ed25519_dalek::SigningKey::from_bytes(&secret) },
        }
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        match self {
            Self::Hmac { kid, .. } | Self::Ed25519 { kid, .. } => kid,
        }
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        match self {
            Self::Hmac { .. } => Algorithm::HmacSha256,
            Self::Ed25519 { .. } => Algorithm::Ed25519,
        }
    }

    /// The 32 secret bytes to store.
    pub fn secret_bytes(&self) -> [u8; 32] {
        match self {
            Self::Hmac { secret, .. } => *secret,
            Self::Ed25519 { key, .. } => key.to_bytes(),
        }
    }

    /// The Ed25519 public key, for publishing.
    pub fn public_key(&self) -> Option<[u8; 32]> {
        match self {
            Self::Hmac { .. } => None,
            Self::Ed25519 { key, .. } => Some(key.verifying_key().to_bytes()),
        }
    }

    fn sign(&self, input: &[u8]) -> Vec<u8> {
        match self {
            Self::Hmac { secret, .. } => hmac_sha256(secret, input).to_vec(),
            Self::Ed25519 { key, .. } => key.sign(input).to_bytes().to_vec(),
        }
    }

    fn verify(&self, input: &[u8], signature: &[u8]) -> bool {
        match self {
            Self::Hmac { secret, .. } => constant_time_eq(&hmac_sha256(secret, input), signature),
            Self::Ed25519 { key, .. } => {
                ed25519_dalek::Signature::from_slice(signature).is_ok_and(|signature| key.verifying_key().verify(input, &signature).is_ok())
            }
        }
    }
}

/// HMAC-SHA256 of `input` under `key`.
pub fn hmac_sha256(key: &[u8], input: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(input);
    mac.finalize().into_bytes().into()
}

/// Signs `claims` with `key` into the token text.
pub fn encode(claims: &Claims, key: &SigningKey) -> String {
    let payload = serde_json::to_vec(claims).unwrap_or_default();
    let segment = URL_SAFE_NO_PAD.encode(payload);
    let signature = URL_SAFE_NO_PAD.encode(key.sign(segment.as_bytes()));
    format!("{TOKEN_PREFIX}{segment}.{signature}")
}

/// A token split and decoded, not yet verified.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The claims as written.
    pub claims: Claims,
    segment: String,
    signature: Vec<u8>,
}

impl Parsed {
    /// Whether `key` made the signature.
    pub fn signed_by(&self, key: &SigningKey) -> bool {
        key.algorithm() == self.claims.alg && key.kid() == self.claims.kid && key.verify(self.segment.as_bytes(), &self.signature)
    }

    /// Whether the Ed25519 public key `public_key` (32 raw bytes), published as `kid`, made the
    /// signature: how a tool server checks a token offline. The token must name that key and
    /// Ed25519; the algorithm is the trusted key's, never the token's word.
    pub fn signed_by_public_key(&self, kid: &str, public_key: &[u8]) -> bool {
        let Ok(bytes) = <[u8; 32]>::try_from(public_key) else { return false };
        let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(&bytes) else { return false };
        self.claims.alg == Algorithm::Ed25519
            && self.claims.kid == kid
            && ed25519_dalek::Signature::from_slice(&self.signature)
                .is_ok_and(|signature| key.verify(self.segment.as_bytes(), &signature).is_ok())
    }

    /// Whether an HMAC-SHA256 `secret` made the signature (compared in constant time). The
    /// token must say `hmac-sha256`.
    pub fn signed_by_hmac_secret(&self, secret: &[u8]) -> bool {
        self.claims.alg == Algorithm::HmacSha256 && constant_time_eq(&hmac_sha256(secret, self.segment.as_bytes()), &self.signature)
    }
}

/// Splits and decodes a token; `None` for anything that is not a well-formed token.
pub fn parse(text: &str) -> Option<Parsed> {
    let rest = text.strip_prefix(TOKEN_PREFIX)?;
    let (segment, signature) = rest.split_once('.')?;
    let payload = URL_SAFE_NO_PAD.decode(segment).ok()?;
    let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
    // Only the canonical base64url text of these bytes is accepted, so no two texts decode to
    // the same token.
    if URL_SAFE_NO_PAD.encode(&payload) != segment || URL_SAFE_NO_PAD.encode(&signature) != rest[segment.len() + 1..] {
        return None;
    }
    let claims: Claims = serde_json::from_slice(&payload).ok()?;
    (claims.v == 1).then(|| Parsed { claims, segment: segment.to_owned(), signature })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(alg: Algorithm, kid: &str) -> Claims {
        Claims {
            v: 1,
            alg,
            kid: kid.into(),
            jti: new_jti().unwrap(),
            org: "org_x".into(),
            tool: "refund".into(),
            tenant: Some("acme".into()),
            resource: None,
            method: None,
            params_sha256: "ab".repeat(32),
            src: "chk_x".into(),
            iat: 1,
            exp: 301,
        }
    }

    #[test]
    fn signs_and_verifies_with_both_algorithms() {
        for alg in [Algorithm::HmacSha256, Algorithm::Ed25519] {
            let key = SigningKey::generate(alg).unwrap();
            let token = encode(&claims(alg, key.kid()), &key);
            let parsed = parse(&token).unwrap();
            assert!(parsed.signed_by(&key));
            assert_eq!(parsed.claims.tool, "refund");
            let other = SigningKey::generate(alg).unwrap();
            assert!(!parsed.signed_by(&other));
            let rebuilt = SigningKey::from_parts(alg, key.kid().to_owned(), key.secret_bytes());
            assert!(parsed.signed_by(&rebuilt));
        }
    }

    #[test]
    fn a_public_key_or_a_secret_alone_verifies_what_its_pair_signed() {
        let ed = SigningKey::generate(Algorithm::Ed25519).unwrap();
        let public = ed.public_key().unwrap();
        let parsed = parse(&encode(&claims(Algorithm::Ed25519, ed.kid()), &ed)).unwrap();
        assert!(parsed.signed_by_public_key(ed.kid(), &public));
        assert!(!parsed.signed_by_public_key("another", &public));
        assert!(!parsed.signed_by_public_key(ed.kid(), &public[..31]));
        let other = SigningKey::generate(Algorithm::Ed25519).unwrap().public_key().unwrap();
        assert!(!parsed.signed_by_public_key(ed.kid(), &other));
        assert!(!parsed.signed_by_hmac_secret(&public), "an Ed25519 token is never taken as HMAC");

        let hmac = SigningKey::generate(Algorithm::HmacSha256).unwrap();
        let parsed = parse(&encode(&claims(Algorithm::HmacSha256, hmac.kid()), &hmac)).unwrap();
        assert!(parsed.signed_by_hmac_secret(&hmac.secret_bytes()));
        assert!(!parsed.signed_by_hmac_secret(&[0; 32]));
        assert!(!parsed.signed_by_public_key(hmac.kid(), &public), "an HMAC token is never taken as Ed25519");
    }

    #[test]
    fn every_single_byte_change_fails() {
        let key = SigningKey::generate(Algorithm::HmacSha256).unwrap();
        let token = encode(&claims(Algorithm::HmacSha256, key.kid()), &key);
        let bytes = token.as_bytes();
        for i in 0..bytes.len() {
            for replacement in [b'A', b'0', b'_', b'.', b'z'] {
                if bytes[i] == replacement {
                    continue;
                }
                let mut changed = bytes.to_vec();
                changed[i] = replacement;
                let text = String::from_utf8(changed).unwrap();
                assert!(parse(&text).is_none_or(|p| !p.signed_by(&key)), "byte {i} -> {}", replacement as char);
            }
        }
    }
}
