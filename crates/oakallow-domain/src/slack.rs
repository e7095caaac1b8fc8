//! Slack without I/O: the request signature Slack puts on interactive callbacks (and how oakallow
//! checks it), the channel settings an org keeps for Slack, and the ids Slack sends.
//!
//! Slack signs each request with the app's signing secret: `X-Slack-Signature: v0=<hex>`, the
//! HMAC-SHA256 of `v0:<X-Slack-Request-Timestamp>:<raw body>`. A request older (or newer) than
//! [`MAX_AGE_SECONDS`] is refused, so a captured request cannot be replayed later.

use crate::secret::constant_time_eq;
use crate::token::hmac_sha256;

/// The signature scheme's version, the prefix of the signed text and of the header.
pub const VERSION: &str = "v0";

/// How far a request's timestamp may be from now, in seconds (Slack's documented five minutes).
pub const MAX_AGE_SECONDS: i64 = 300;

/// Why a request's signature is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// A header is missing or not of the documented form.
    #[error("the request has no valid X-Slack-Request-Timestamp and X-Slack-Signature headers")]
    Malformed,
    /// The timestamp is more than five minutes from now.
    #[error("the request's timestamp is more than five minutes from now")]
    Stale,
    /// The signature is not the one the signing secret gives.
    #[error("the request's signature does not match")]
    Mismatch,
}

/// The `X-Slack-Signature` value of `body` sent at `timestamp` (Unix seconds).
pub fn sign(signing_secret: &str, timestamp: i64, body: &[u8]) -> String {
    format!("{VERSION}={}", hex::encode(mac(signing_secret, &timestamp.to_string(), body)))
}

fn mac(signing_secret: &str, timestamp: &str, body: &[u8]) -> [u8; 32] {
    let mut signed = Vec::with_capacity(VERSION.len() + timestamp.len() + 2 + body.len());
    signed.extend_from_slice(VERSION.as_bytes());
    signed.push(b':');
    signed.extend_from_slice(timestamp.as_bytes());
    signed.push(b':');
    signed.extend_from_slice(body);
    hmac_sha256(signing_secret.as_bytes(), &signed)
}

/// Checks a request's headers against its raw body at `now` (Unix seconds): the timestamp must
/// be within [`MAX_AGE_SECONDS`] and the signature the one `signing_secret` gives (compared in
/// constant time).
pub fn verify(signing_secret: &str, timestamp: &str, signature: &str, body: &[u8], now: i64) -> Result<(), SignatureError> {
    let at: i64 = timestamp.parse().map_err(|_| SignatureError::Malformed)?;
    if !timestamp.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SignatureError::Malformed);
    }
    let given = signature
        .strip_prefix(VERSION)
        .and_then(|rest| rest.strip_prefix('='))
        .and_then(|hex_text| hex::decode(hex_text).ok())
        .ok_or(SignatureError::Malformed)?;
    if now.abs_diff(at) > MAX_AGE_SECONDS.unsigned_abs() {
        return Err(SignatureError::Stale);
    }
    if constant_time_eq(&mac(signing_secret, timestamp, body), &given) { Ok(()) } else { Err(SignatureError::Mismatch) }
}

/// Whether `text` can be a Slack id (workspace `T…`, user `U…`/`W…`, channel `C…`/`G…`/`D…`):
/// 1 to 64 upper-case letters and digits. Ids are kept and shown, so nothing else is accepted.
pub fn is_id(text: &str) -> bool {
    (1..=64).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Slack's own example from "Verifying requests from Slack".
    #[test]
    fn slacks_documented_example_verifies() {
        let secret = "8f742231b10e8888abcd99yyyzzz85a5";
        let body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        let signature = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
        assert_eq!(sign(secret, 1_531_420_618, body), signature);
        assert_eq!(verify(secret, "1531420618", signature, body, 1_531_420_618 + 299), Ok(()));
        assert_eq!(verify(secret, "1531420618", signature, body, 1_531_420_618 + 301), Err(SignatureError::Stale));
        assert_eq!(verify(secret, "1531420618", signature, b"token=x", 1_531_420_618), Err(SignatureError::Mismatch));
        assert_eq!(verify("another", "1531420618", signature, body, 1_531_420_618), Err(SignatureError::Mismatch));
        assert_eq!(verify(secret, "+1531420618", signature, body, 1_531_420_618), Err(SignatureError::Malformed));
        assert_eq!(verify(secret, "1531420618", "v1=00", body, 1_531_420_618), Err(SignatureError::Malformed));
        assert_eq!(verify(secret, "1531420618", "v0=zz", body, 1_531_420_618), Err(SignatureError::Malformed));
    }

    #[test]
    fn ids_are_upper_case_letters_and_digits() {
        assert!(is_id("T0123ABC") && is_id("U1"));
        assert!(!is_id("") && !is_id("u1") && !is_id("U 1") && !is_id(&"U".repeat(65)));
    }
}
