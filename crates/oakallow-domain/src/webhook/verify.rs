//! Verifying a delivery as its receiver does (tool servers, SDKs): either signature style, a
//! timestamp within a tolerance, constant-time comparison, and a refusal, never a panic, for
//! anything malformed.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::{oakallow_mac, standard_mac};
use crate::clock::Timestamp;
use crate::secret::constant_time_eq;

/// The scheme prefix of `X-Oakallow-Signature`.
const OAKALLOW_SCHEME: &str = "sha256=";
/// The version of a Standard Webhooks symmetric signature; entries of other versions are skipped.
const STANDARD_VERSION: &str = "v1";

/// The signature headers of a received delivery, in one of the two styles every delivery carries.
/// Values are taken as the HTTP layer hands them over (without surrounding whitespace).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceivedSignature<'a> {
    /// `X-Oakallow-Timestamp` and `X-Oakallow-Signature: sha256=<hex>`.
    Oakallow {
        /// Unix seconds, as sent.
        timestamp: &'a str,
        /// `sha256=<hex>`.
        signature: &'a str,
    },
    /// Standard Webhooks: `webhook-id`, `webhook-timestamp` and `webhook-signature`, a
    /// space-separated list of `v1,<base64>` entries any one of which may match (several appear
    /// while a secret is rotated).
    Standard {
        /// The event id, as sent.
        id: &'a str,
        /// Unix seconds, as sent.
        timestamp: &'a str,
        /// `v1,<base64>[ v1,<base64>…]`.
        signature: &'a str,
    },
}

/// Why a delivery is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// A header is not of its documented form.
    #[error("the webhook signature headers are malformed")]
    Malformed,
    /// The timestamp is further from now than the tolerance: a replay, or a badly skewed clock.
    #[error("the webhook timestamp is outside the tolerance")]
    OutsideTolerance,
    /// No signature was made with this secret over this delivery.
    #[error("no webhook signature matches")]
    Mismatch,
}

/// Checks that `body` was signed with `secret` (the `whsec_…` string as shown to the user) in the
/// style of `received`, at a time at most `tolerance_seconds` away from `now`.
pub fn verify(
    secret: &str,
    received: ReceivedSignature<'_>,
    body: &[u8],
    now: Timestamp,
    tolerance_seconds: u32,
) -> Result<(), SignatureError> {
    match received {
        ReceivedSignature::Oakallow { timestamp, signature } => {
            check_timestamp(timestamp, now, tolerance_seconds)?;
            let presented = oakallow_signature(signature).ok_or(SignatureError::Malformed)?;
            matches(&oakallow_mac(secret, timestamp, body), &[presented])
        }
        ReceivedSignature::Standard { id, timestamp, signature } => {
            check_timestamp(timestamp, now, tolerance_seconds)?;
            let presented = standard_signatures(signature);
            if presented.is_empty() {
                return Err(SignatureError::Malformed);
            }
            matches(&standard_mac(secret, id, timestamp, body), &presented)
        }
    }
}

/// Accepts only the plain decimal text of a Unix time (no sign but `-`, no leading zeros, no
/// spaces), so that exactly one text signs each time; then compares it with `now`.
fn check_timestamp(text: &str, now: Timestamp, tolerance_seconds: u32) -> Result<(), SignatureError> {
    let sent: i64 = text.parse().ok().filter(|t: &i64| t.to_string() == text).ok_or(SignatureError::Malformed)?;
    if now.unix_seconds().abs_diff(sent) > u64::from(tolerance_seconds) {
        return Err(SignatureError::OutsideTolerance);
    }
    Ok(())
}

/// The 32 bytes of `sha256=<64 hex digits>`.
fn oakallow_signature(header: &str) -> Option<Vec<u8>> {
    let digits = header.strip_prefix(OAKALLOW_SCHEME)?;
    hex::decode(digits).ok().filter(|bytes| bytes.len() == 32)
}

/// The decoded `v1` entries of a Standard Webhooks header; entries of other versions, and entries
/// that are not the base64 of 32 bytes, are skipped (the standard skips unknown versions).
fn standard_signatures(header: &str) -> Vec<Vec<u8>> {
    header
        .split(' ')
        .filter_map(|entry| entry.split_once(','))
        .filter(|(version, _)| *version == STANDARD_VERSION)
        .filter_map(|(_, encoded)| STANDARD.decode(encoded).ok())
        .filter(|bytes| bytes.len() == 32)
        .collect()
}

/// Whether any presented signature equals `expected`, each compared in constant time.
fn matches(expected: &[u8; 32], presented: &[Vec<u8>]) -> Result<(), SignatureError> {
    // Every entry is compared (no early exit), so timing reveals nothing about which matched.
    let found = presented.iter().fold(false, |found, signature| constant_time_eq(expected, signature) | found);
    if found { Ok(()) } else { Err(SignatureError::Mismatch) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhook::sign;

    const SECRET: &str = "whsec_BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";
    const SENT_AT: i64 = 1_700_000_000;
    const BODY: &[u8] = br#"{"id":"evt_1","type":"webhook.test"}"#;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_micros(seconds * 1_000_000)
    }

    fn oakallow<'a>(timestamp: &'a str, signature: &'a str) -> ReceivedSignature<'a> {
        ReceivedSignature::Oakallow { timestamp, signature }
    }

    fn standard<'a>(timestamp: &'a str, signature: &'a str) -> ReceivedSignature<'a> {
        ReceivedSignature::Standard { id: "evt_1", timestamp, signature }
    }

    #[test]
    fn what_sign_writes_verifies_in_both_styles() {
        let headers = sign(SECRET, "evt_1", SENT_AT, BODY);
        let timestamp = SENT_AT.to_string();
        assert_eq!(verify(SECRET, oakallow(&timestamp, &headers.oakallow), BODY, at(SENT_AT), 300), Ok(()));
        assert_eq!(verify(SECRET, standard(&timestamp, &headers.standard), BODY, at(SENT_AT), 300), Ok(()));
    }

    #[test]
    fn another_secret_body_id_or_time_does_not_match() {
        let headers = sign(SECRET, "evt_1", SENT_AT, BODY);
        let timestamp = SENT_AT.to_string();
        let other_secret = "whsec_CAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAg=";
        for (secret, body) in [(other_secret, BODY), (SECRET, &BODY[1..])] {
            assert_eq!(verify(secret, oakallow(&timestamp, &headers.oakallow), body, at(SENT_AT), 300), Err(SignatureError::Mismatch));
            assert_eq!(verify(secret, standard(&timestamp, &headers.standard), body, at(SENT_AT), 300), Err(SignatureError::Mismatch));
        }
        let other_id = ReceivedSignature::Standard { id: "evt_2", timestamp: &timestamp, signature: &headers.standard };
        assert_eq!(verify(SECRET, other_id, BODY, at(SENT_AT), 300), Err(SignatureError::Mismatch));
        let later = (SENT_AT + 1).to_string();
        assert_eq!(verify(SECRET, oakallow(&later, &headers.oakallow), BODY, at(SENT_AT), 300), Err(SignatureError::Mismatch));
    }

    #[test]
    fn the_tolerance_is_inclusive_in_both_directions() {
        let headers = sign(SECRET, "evt_1", SENT_AT, BODY);
        let timestamp = SENT_AT.to_string();
        for now in [SENT_AT - 300, SENT_AT + 300] {
            assert_eq!(verify(SECRET, standard(&timestamp, &headers.standard), BODY, at(now), 300), Ok(()));
        }
        for now in [SENT_AT - 301, SENT_AT + 301, i64::MIN / 1_000_000, i64::MAX / 1_000_000] {
            let result = verify(SECRET, oakallow(&timestamp, &headers.oakallow), BODY, at(now), 300);
            assert_eq!(result, Err(SignatureError::OutsideTolerance), "now {now}");
        }
    }

    #[test]
    fn any_matching_v1_entry_is_enough() {
        let good = sign(SECRET, "evt_1", SENT_AT, BODY).standard;
        let stale = sign("whsec_CAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAg=", "evt_1", SENT_AT, BODY).standard;
        let timestamp = SENT_AT.to_string();
        for header in [format!("{stale} {good}"), format!("v1a,AAAA {good}"), format!("{good} v2,xyz garbage")] {
            assert_eq!(verify(SECRET, standard(&timestamp, &header), BODY, at(SENT_AT), 300), Ok(()), "{header}");
        }
        assert_eq!(
            verify(SECRET, standard(&timestamp, &format!("{stale} {stale}")), BODY, at(SENT_AT), 300),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn malformed_headers_are_refused() {
        let headers = sign(SECRET, "evt_1", SENT_AT, BODY);
        for timestamp in ["", "+1700000000", "01700000000", " 1700000000", "1700000000 ", "1.7e9", "-0", "99999999999999999999"] {
            assert_eq!(verify(SECRET, oakallow(timestamp, &headers.oakallow), BODY, at(SENT_AT), 300), Err(SignatureError::Malformed));
        }
        let timestamp = SENT_AT.to_string();
        let hex = headers.oakallow.strip_prefix("sha256=").unwrap();
        for signature in ["", "sha256=", "sha256=zz", "md5=00", &format!("SHA256={hex}"), &format!("sha256={hex}00"), &hex[2..]] {
            assert_eq!(verify(SECRET, oakallow(&timestamp, signature), BODY, at(SENT_AT), 300), Err(SignatureError::Malformed));
        }
        for signature in ["", " ", "v1", "v1,", "v2,AAAA", "v1,!!!!", "garbage", "v1a,AAAA"] {
            let result = verify(SECRET, standard(&timestamp, signature), BODY, at(SENT_AT), 300);
            assert_eq!(result, Err(SignatureError::Malformed), "{signature:?}");
        }
    }
}
