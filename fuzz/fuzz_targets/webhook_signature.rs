//! Webhook signatures (PRODUCT.md section 7) as a receiver verifies them. The input is lines:
//! secret, event id, timestamp, `X-Oakallow-Signature`, `webhook-signature`, then the body.
//! Verifying those headers never panics, and a header that verifies is the one `sign` writes.
//! For the same secret, id and body: what `sign` writes verifies in both styles, and a changed
//! body byte or timestamp does not.

#![no_main]

use libfuzzer_sys::fuzz_target;
use oakallow_domain::Timestamp;
use oakallow_domain::webhook::{ReceivedSignature, SignatureError, sign, verify};

const TOLERANCE_SECONDS: u32 = 300;
/// The widest Unix time in seconds a `Timestamp` (microseconds in an i64) holds.
const MAX_SECONDS: i64 = i64::MAX / 1_000_000;

fuzz_target!(|data: &[u8]| {
    let mut lines = data.splitn(6, |b| *b == b'\n');
    let mut line = || String::from_utf8_lossy(lines.next().unwrap_or_default()).into_owned();
    let (secret, event_id, timestamp, oakallow, standard) = (line(), line(), line(), line(), line());
    let body = data.splitn(6, |b| *b == b'\n').nth(5).unwrap_or_default();

    let sent_at = timestamp.parse::<i64>().unwrap_or(body.len() as i64).clamp(-MAX_SECONDS, MAX_SECONDS);
    let now = Timestamp::from_micros(sent_at * 1_000_000);
    received(&secret, &event_id, &timestamp, (&oakallow, &standard), body, now);
    signed(&secret, &event_id, sent_at, body, now);
});

/// Headers as received: a refusal or the exact signature `sign` makes.
fn received(secret: &str, event_id: &str, timestamp: &str, (oakallow, standard): (&str, &str), body: &[u8], now: Timestamp) {
    let expected = timestamp.parse::<i64>().ok().map(|t| sign(secret, event_id, t, body));
    let as_oakallow = ReceivedSignature::Oakallow { timestamp, signature: oakallow };
    if verify(secret, as_oakallow, body, now, TOLERANCE_SECONDS).is_ok() {
        let expected = expected.as_ref().expect("a verified timestamp is a number");
        assert_eq!(oakallow.to_ascii_lowercase(), expected.oakallow, "an unexpected X-Oakallow-Signature verified");
    }
    let as_standard = ReceivedSignature::Standard { id: event_id, timestamp, signature: standard };
    if verify(secret, as_standard, body, now, TOLERANCE_SECONDS).is_ok() {
        let expected = expected.as_ref().expect("a verified timestamp is a number");
        assert!(standard.split(' ').any(|entry| entry == expected.standard), "an unexpected webhook-signature verified");
    }
}

/// What `sign` writes verifies; a changed body byte or timestamp does not.
fn signed(secret: &str, event_id: &str, sent_at: i64, body: &[u8], now: Timestamp) {
    let headers = sign(secret, event_id, sent_at, body);
    let timestamp = sent_at.to_string();
    let check = |timestamp: &str, body: &[u8]| {
        let oakallow = ReceivedSignature::Oakallow { timestamp, signature: &headers.oakallow };
        let standard = ReceivedSignature::Standard { id: event_id, timestamp, signature: &headers.standard };
        (verify(secret, oakallow, body, now, TOLERANCE_SECONDS), verify(secret, standard, body, now, TOLERANCE_SECONDS))
    };
    assert_eq!(check(&timestamp, body), (Ok(()), Ok(())), "a signed delivery does not verify");

    let mismatch = (Err(SignatureError::Mismatch), Err(SignatureError::Mismatch));
    let other_time = if sent_at < MAX_SECONDS { sent_at + 1 } else { sent_at - 1 };
    assert_eq!(check(&other_time.to_string(), body), mismatch, "a delivery verifies at another time");
    if body.is_empty() {
        return;
    }
    for at in [0, body.len() / 2, body.len() - 1] {
        let mut changed = body.to_vec();
        changed[at] ^= 0x01;
        assert_eq!(check(&timestamp, &changed), mismatch, "a delivery verifies with body byte {at} changed");
    }
}
