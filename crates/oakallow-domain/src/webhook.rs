//! Webhooks without I/O: secrets, the two signature schemes every delivery carries (signing, and
//! verifying as a receiver does), the retry schedule, which destination addresses are refused
//! (SSRF guard), and how a receiver's text is kept in an attempt's record.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::secret::{RandomnessUnavailable, random_bytes};
use crate::token::hmac_sha256;

mod verify;

pub use verify::{ReceivedSignature, SignatureError, verify};

/// The start of every webhook secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// Waits before each retry, in seconds: 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 2 h, 4 h.
/// After the last one fails the delivery is `failed`.
pub const RETRY_SCHEDULE_SECONDS: [u32; 8] = [5, 30, 120, 600, 1800, 3600, 7200, 14400];

/// Most bytes of a receiver's answer kept as an attempt's response excerpt.
pub const EXCERPT_BYTES: usize = 512;

/// Most bytes of an attempt's error kept (an error may quote the receiver, e.g. a TLS name).
pub const ERROR_BYTES: usize = 512;

/// The response excerpt of an answer whose body began with `head`, as every store keeps it
/// (see [`storable_text`]): the first [`EXCERPT_BYTES`] bytes, as text. Valid UTF-8 without NUL
/// is kept exactly, except for a character that the byte limit cut in two, which is left out.
pub fn response_excerpt(head: &[u8]) -> String {
    let mut head = &head[..head.len().min(EXCERPT_BYTES)];
    if head.len() == EXCERPT_BYTES {
        head = without_cut_character(head);
    }
    storable_text(&String::from_utf8_lossy(head), usize::MAX)
}

/// Text from outside oakallow (a receiver's answer, an error that may quote one) as every store
/// keeps it: NUL, which PostgreSQL cannot hold in TEXT, becomes U+FFFD (as invalid UTF-8 already
/// has), and the text is cut at a character boundary to at most `max_bytes` before that.
pub fn storable_text(text: &str, max_bytes: usize) -> String {
    let mut end = text.len().min(max_bytes);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].replace('\0', "\u{FFFD}")
}

/// `bytes` without the start of a UTF-8 character at its very end (up to 3 bytes).
fn without_cut_character(bytes: &[u8]) -> &[u8] {
    for back in 1..=bytes.len().min(3) {
        let tail = &bytes[bytes.len() - back..];
        if let Err(error) = std::str::from_utf8(tail)
            && error.valid_up_to() == 0
            && error.error_len().is_none()
        {
            return &bytes[..bytes.len() - back];
        }
    }
    bytes
}

/// A new secret: `whsec_<base64 of 32 random bytes>`.
pub fn new_secret() -> Result<String, RandomnessUnavailable> {
    Ok(format!("{SECRET_PREFIX}{}", STANDARD.encode(random_bytes::<32>()?)))
}

/// The headers that sign one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeaders {
    /// `X-Oakallow-Signature: sha256=<hex>`.
    pub oakallow: String,
    /// `webhook-signature: v1,<base64>` (Standard Webhooks).
    pub standard: String,
}

/// Signs `body`, sent at `timestamp` (Unix seconds) as event `event_id`, with `secret` (the
/// `whsec_…` string as shown to the user):
/// - `X-Oakallow-Signature`: HMAC-SHA256 keyed with the secret's UTF-8 bytes, prefix included,
///   over `"<timestamp>.<body>"`, hex;
/// - `webhook-signature`: HMAC-SHA256 keyed with the base64-decoded part after `whsec_`, over
///   `"<event_id>.<timestamp>.<body>"`, base64 (the Standard Webhooks scheme).
pub fn sign(secret: &str, event_id: &str, timestamp: i64, body: &[u8]) -> SignatureHeaders {
    let timestamp = timestamp.to_string();
    let oakallow = format!("sha256={}", hex::encode(oakallow_mac(secret, &timestamp, body)));
    let standard = format!("v1,{}", STANDARD.encode(standard_mac(secret, event_id, &timestamp, body)));
    SignatureHeaders { oakallow, standard }
}

/// HMAC-SHA256 keyed with the secret's UTF-8 bytes over `"<timestamp>.<body>"`.
fn oakallow_mac(secret: &str, timestamp: &str, body: &[u8]) -> [u8; 32] {
    let mut signed = Vec::with_capacity(timestamp.len() + 1 + body.len());
    signed.extend_from_slice(timestamp.as_bytes());
    signed.push(b'.');
    signed.extend_from_slice(body);
    hmac_sha256(secret.as_bytes(), &signed)
}

/// HMAC-SHA256 keyed with the base64-decoded part after `whsec_` (the whole secret's bytes if it
/// is not of that form) over `"<event_id>.<timestamp>.<body>"`.
fn standard_mac(secret: &str, event_id: &str, timestamp: &str, body: &[u8]) -> [u8; 32] {
    let key = secret.strip_prefix(SECRET_PREFIX).and_then(|b64| STANDARD.decode(b64).ok()).unwrap_or_else(|| secret.as_bytes().to_vec());
    let mut content = Vec::with_capacity(event_id.len() + timestamp.len() + 2 + body.len());
    content.extend_from_slice(event_id.as_bytes());
    content.push(b'.');
    content.extend_from_slice(timestamp.as_bytes());
    content.push(b'.');
    content.extend_from_slice(body);
    hmac_sha256(&key, &content)
}

/// Whether a webhook may not be sent to `ip` unless the operator allows private targets:
/// loopback, private, shared (CGNAT), link-local (including cloud metadata at 169.254.169.254),
/// unspecified, broadcast, multicast, documentation and reserved ranges, in IPv4 and IPv6,
/// including IPv4 addresses written as IPv6.
pub fn is_private_target(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_private_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped().or_else(|| embedded_v4(v6)) {
            Some(v4) => is_private_v4(v4),
            None => is_private_v6(v6),
        },
    }
}

fn is_private_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0)
        || (a == 198 && (b == 18 || b == 19))
        || a >= 240
}

/// IPv4-compatible (`::a.b.c.d`) and NAT64 (`64:ff9b::/96`) forms.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let low = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    let compatible = s[..6] == [0; 6] && !ip.is_loopback() && !ip.is_unspecified();
    let nat64 = s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0; 4];
    (compatible || nat64).then_some(low)
}

fn is_private_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || (first & 0xffc0) == 0xfec0
        || first == 0x2001 && ip.segments()[1] == 0x0db8
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn receiver_text_is_kept_as_both_stores_can_hold_it() {
        assert_eq!(response_excerpt(b"ok\0done \xff\xfe \xe2\x9c\x93"), "ok\u{fffd}done \u{fffd}\u{fffd} \u{2713}");
        assert_eq!(response_excerpt("é".repeat(300).as_bytes()), "é".repeat(256), "512 bytes, all of them whole characters");
        let cut = format!("{}✓", "a".repeat(510));
        assert_eq!(response_excerpt(cut.as_bytes()), "a".repeat(510), "a character cut by the limit is left out");
        let invalid_end = [&[b'a'; 511][..], b"\xe2"].concat();
        assert_eq!(response_excerpt(&invalid_end[..]), "a".repeat(511));
        assert_eq!(response_excerpt(b"short \xe2"), "short \u{fffd}", "an uncut body keeps its invalid end as U+FFFD");
        assert_eq!(storable_text("a\0b", 100), "a\u{fffd}b");
        assert_eq!(storable_text("ab✓", 4), "ab", "cut at a character boundary");
    }

    proptest! {
        #[test]
        fn any_answer_gives_an_excerpt_without_nul(body in proptest::collection::vec(any::<u8>(), 0..700)) {
            let excerpt = response_excerpt(&body);
            prop_assert!(!excerpt.contains('\0'));
            prop_assert!(excerpt.len() <= 3 * EXCERPT_BYTES);
        }

        #[test]
        fn text_without_nul_is_kept_exactly(text in "[^\\x00]{0,170}") {
            prop_assume!(text.len() < EXCERPT_BYTES);
            prop_assert_eq!(response_excerpt(text.as_bytes()), text.clone());
            prop_assert_eq!(storable_text(&text, ERROR_BYTES), text);
        }
    }

    #[test]
    fn secrets_have_the_documented_shape() {
        let secret = new_secret().unwrap();
        let raw = STANDARD.decode(secret.strip_prefix(SECRET_PREFIX).unwrap()).unwrap();
        assert_eq!(raw.len(), 32);
    }

    #[test]
    fn both_signatures_follow_their_definitions() {
        let secret = format!("{SECRET_PREFIX}{}", STANDARD.encode([7u8; 32]));
        let headers = sign(&secret, "evt_1", 1_700_000_000, b"{\"a\":1}");
        let expected = hex::encode(hmac_sha256(secret.as_bytes(), b"1700000000.{\"a\":1}"));
        assert_eq!(headers.oakallow, format!("sha256={expected}"));
        let expected = STANDARD.encode(hmac_sha256(&[7u8; 32], b"evt_1.1700000000.{\"a\":1}"));
        assert_eq!(headers.standard, format!("v1,{expected}"));
    }

    #[test]
    fn private_targets_are_recognised() {
        for text in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(is_private_target(text.parse().unwrap()), "{text}");
        }
        for text in ["93.184.216.34", "8.8.8.8", "2606:2800:220:1:248:1893:25c8:1946", "::ffff:93.184.216.34"] {
            assert!(!is_private_target(text.parse().unwrap()), "{text}");
        }
    }
}
