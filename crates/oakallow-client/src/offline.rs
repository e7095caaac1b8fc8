//! Checking an execution token where it is used, without asking oakallow: a tool server holds
//! the org's published Ed25519 keys (`GET /v1/signing-keys`, fetched once and refreshed when a
//! token names an unknown `kid`) or an HMAC secret, and checks every step of the API's offline
//! list but one. Single use cannot be checked offline: consume the token with
//! [`Client::verify_token`](crate::Client::verify_token) or by logging the execution.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use oakallow_domain::canonical::params_sha256;
use oakallow_domain::token::{self, Algorithm, Claims};
use oakallow_domain::token_scope::{CallScope, Rejection};

use crate::runtime::{Call, SigningKeys};

/// What a token's signature is checked with.
#[derive(Debug, Clone, Copy)]
pub enum Trust<'a> {
    /// The org's published Ed25519 keys: the token must be Ed25519 and name one of them.
    Ed25519(&'a SigningKeys),
    /// An HMAC-SHA256 secret: the token must be HMAC-SHA256.
    Hmac(&'a [u8]),
}

/// Checks `token` for exactly `call` at `now` (Unix seconds) and answers its claims, or why it
/// is refused. In order:
/// 1. it is a well-formed version 1 token (`malformed`);
/// 2. the trusted key made its signature, with the trusted key's algorithm, never the token's
///    word (`bad_signature`);
/// 3. it belongs to `org`, when given (`wrong_org`);
/// 4. its tool, tenant, resource and method are the call's: a dimension the call has and the
///    token does not, or the other way round, does not match (`…_mismatch`);
/// 5. the call's params hash to the token's `params_sha256` (`params_mismatch`);
/// 6. it has not expired (`expired`).
pub fn verify(token: &str, trust: Trust<'_>, call: &Call, org: Option<&str>, now: i64) -> Result<Claims, Rejection> {
    let parsed = token::parse(token).ok_or(Rejection::Malformed)?;
    let genuine = match trust {
        Trust::Ed25519(keys) => keys.keys.iter().any(|key| {
            key.alg == Algorithm::Ed25519
                && key.kid == parsed.claims.kid
                && URL_SAFE_NO_PAD.decode(&key.public_key).is_ok_and(|public| parsed.signed_by_public_key(&key.kid, &public))
        }),
        Trust::Hmac(secret) => parsed.signed_by_hmac_secret(secret),
    };
    if !genuine {
        return Err(Rejection::BadSignature);
    }
    let claims = parsed.claims;
    if org.is_some_and(|org| org != claims.org) {
        return Err(Rejection::WrongOrg);
    }
    let hash = params_sha256(call.params.as_ref().filter(|params| !params.is_null()));
    let scope = CallScope {
        tool: Some(&call.tool),
        tenant: Some(call.tenant.as_deref()),
        resource: Some(call.resource.as_deref()),
        method: Some(call.method.as_deref()),
        params_sha256: Some(&hash),
    };
    if let Some(mismatch) = claims.scope_mismatch(&scope) {
        return Err(mismatch.into());
    }
    if now >= claims.exp {
        return Err(Rejection::Expired);
    }
    Ok(claims)
}

/// [`verify`] at the current time.
pub fn verify_now(token: &str, trust: Trust<'_>, call: &Call, org: Option<&str>) -> Result<Claims, Rejection> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| i64::try_from(since.as_secs()).unwrap_or(i64::MAX));
    verify(token, trust, call, org, now)
}

/// Whether `token` names a key `keys` does not hold (then fetch the keys again: the org may have
/// rotated).
pub fn names_unknown_key(token: &str, keys: &SigningKeys) -> bool {
    token::parse(token).is_some_and(|parsed| !keys.keys.iter().any(|key| key.kid == parsed.claims.kid))
}
