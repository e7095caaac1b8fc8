//! Buying credit through Stripe, without I/O: the credit packages, and the check of the
//! `Stripe-Signature` header Stripe puts on every webhook event.
//!
//! The header is `t=<unix seconds>,v1=<hex>[,v1=<hex>…]` (other schemes, such as `v0`, are
//! ignored), where each `v1` is HMAC-SHA256, keyed with the endpoint's whole signing secret
//! (`whsec_…`, as text), of `"<t>.<raw body>"`. Stripe lists several `v1` while a secret is being
//! rolled; one match is enough. An event signed more than the tolerance away from now, in either
//! direction, is refused, so a captured event cannot be replayed later.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::billing::PRICE_MICROUSD;
use crate::clock::Timestamp;

/// How far an event's signing time may be from now (PRODUCT.md: 5 minutes, as Stripe's
/// libraries default to).
pub const SIGNATURE_TOLERANCE_SECONDS: i64 = 300;

/// Days after a purchase during which it can be refunded, if none of its credit was spent.
pub const REFUND_DAYS: i64 = 30;

/// Why a `Stripe-Signature` header was refused. The text never quotes the header or the secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No `t=` with a whole number of seconds, or no `v1=`.
    #[error("the Stripe-Signature header is not t=<seconds>,v1=<signature>")]
    Malformed,
    /// Signed too long ago, or in the future.
    #[error("the event was signed more than 5 minutes from now")]
    Stale,
    /// No `v1` signature matches the body.
    #[error("no signature in Stripe-Signature matches the body")]
    Mismatch,
}

/// Checks `header` against the raw `body` with the endpoint's signing `secret`, at `now`.
pub fn verify_signature(header: &str, body: &[u8], secret: &str, now: Timestamp) -> Result<(), SignatureError> {
    let mut signed_at = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => signed_at = Some(value.parse::<i64>().map_err(|_| SignatureError::Malformed)?),
            Some(("v1", value)) => signatures.push(value),
            _ => {}
        }
    }
    let signed_at = signed_at.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if now.micros().div_euclid(1_000_000).abs_diff(signed_at) > SIGNATURE_TOLERANCE_SECONDS.unsigned_abs() {
        return Err(SignatureError::Stale);
    }
    let expected = mac(secret, signed_at, body);
    let matches =
        signatures.iter().filter_map(|hex_text| hex::decode(hex_text).ok()).any(|given| expected.clone().verify_slice(&given).is_ok());
    if matches { Ok(()) } else { Err(SignatureError::Mismatch) }
}

/// The `Stripe-Signature` header Stripe would send for `body` signed at `signed_at` (Unix
/// seconds): what a test server playing Stripe needs.
pub fn signature_header(body: &[u8], secret: &str, signed_at: i64) -> String {
    format!("t={signed_at},v1={}", hex::encode(mac(secret, signed_at, body).finalize().into_bytes()))
}

fn mac(secret: &str, signed_at: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(signed_at.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// A credit package on sale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    /// How checkouts and events name it (`starter`).
    pub id: String,
    /// What the buyer sees (`Starter`).
    pub name: String,
    /// Price in US cents.
    pub price_cents: i64,
    /// Billable calls it buys (bonus calls included); its credit is `calls` × the price of a call.
    pub calls: i64,
}

impl Package {
    /// The credit it adds, in micro-dollars.
    pub fn credit_microusd(&self) -> i64 {
        self.calls.saturating_mul(PRICE_MICROUSD)
    }
}

/// The packages of PRODUCT.md section 10: Starter $10 / 2,000 calls, Builder $25 / 5,000,
/// Growth $50 / 10,250, Scale $100 / 21,000.
pub fn default_packages() -> Vec<Package> {
    [
        ("starter", "Starter", 1_000, 2_000),
        ("builder", "Builder", 2_500, 5_000),
        ("growth", "Growth", 5_000, 10_250),
        ("scale", "Scale", 10_000, 21_000),
    ]
    .into_iter()
    .map(|(id, name, price_cents, calls)| Package { id: id.into(), name: name.into(), price_cents, calls })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_secret";
    const BODY: &[u8] = br#"{"id":"evt_1","type":"checkout.session.completed"}"#;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_micros(seconds * 1_000_000)
    }

    #[test]
    fn a_header_stripe_would_send_verifies_within_five_minutes_either_way() {
        let header = signature_header(BODY, SECRET, 1_800_000_000);
        for now in [1_800_000_000, 1_800_000_300, 1_799_999_700] {
            assert_eq!(verify_signature(&header, BODY, SECRET, at(now)), Ok(()), "at {now}");
        }
        assert_eq!(verify_signature(&header, BODY, SECRET, at(1_800_000_301)), Err(SignatureError::Stale));
        assert_eq!(verify_signature(&header, BODY, SECRET, at(1_799_999_699)), Err(SignatureError::Stale));
    }

    #[test]
    fn the_body_the_secret_and_the_time_are_all_signed() {
        let header = signature_header(BODY, SECRET, 1_800_000_000);
        let now = at(1_800_000_000);
        assert_eq!(verify_signature(&header, b"{}", SECRET, now), Err(SignatureError::Mismatch));
        assert_eq!(verify_signature(&header, BODY, "whsec_other", now), Err(SignatureError::Mismatch));
        let moved = header.replace("t=1800000000", "t=1800000001");
        assert_eq!(verify_signature(&moved, BODY, SECRET, now), Err(SignatureError::Mismatch));
    }

    #[test]
    fn any_v1_may_match_and_other_schemes_are_ignored() {
        let good = signature_header(BODY, SECRET, 1_800_000_000);
        let v1 = good.split("v1=").nth(1).unwrap();
        let header = format!("t=1800000000,v1={},v0={v1},v1={v1}", "0".repeat(64));
        assert_eq!(verify_signature(&header, BODY, SECRET, at(1_800_000_000)), Ok(()));
        assert_eq!(verify_signature(&format!("t=1800000000,v0={v1}"), BODY, SECRET, at(1_800_000_000)), Err(SignatureError::Malformed));
    }

    #[test]
    fn malformed_headers_are_refused() {
        for header in ["", "v1=00", "t=soon,v1=00", "t=1800000000", "garbage", "t=1800000000,v1=zz"] {
            let expected = if header.ends_with("v1=zz") { SignatureError::Mismatch } else { SignatureError::Malformed };
            assert_eq!(verify_signature(header, BODY, SECRET, at(1_800_000_000)), Err(expected), "{header:?}");
        }
    }

    #[test]
    fn packages_price_calls_as_the_product_says() {
        let packages = default_packages();
        let summary: Vec<_> = packages.iter().map(|p| (p.id.as_str(), p.price_cents, p.calls, p.credit_microusd())).collect();
        assert_eq!(
            summary,
            [
                ("starter", 1_000, 2_000, 10_000_000),
                ("builder", 2_500, 5_000, 25_000_000),
                ("growth", 5_000, 10_250, 51_250_000),
                ("scale", 10_000, 21_000, 105_000_000)
            ]
        );
    }
}
