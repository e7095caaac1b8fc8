//! Execution tokens (PRODUCT.md section 8). Any text: parsing never panics, and a text that
//! verifies is exactly the token we would mint for its claims, so no second spelling of a token
//! is accepted. The same bytes also make arbitrary claims, whose token parses back to them and
//! verifies with its key only; any changed byte that still parses fails verification.

#![no_main]

use std::sync::LazyLock;

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use oakallow_domain::token::{Algorithm, Claims, SigningKey, encode, parse};

/// The keys of the golden vectors, so their tokens (the seeds) verify.
static KEYS: LazyLock<[SigningKey; 2]> = LazyLock::new(|| {
    let hmac: [u8; 32] = std::array::from_fn(|i| i as u8);
    let seed = [
        0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec, 0x2c, 0xc4, 0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32,
        0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60,
    ];
    [
        SigningKey::from_parts(Algorithm::HmacSha256, "k_0123456789abcdef".to_owned(), hmac),
        SigningKey::from_parts(Algorithm::Ed25519, "k_fedcba9876543210".to_owned(), seed),
    ]
});

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        any_text(text);
    }
    if let Ok(input) = Minted::arbitrary(&mut Unstructured::new(data)) {
        round_trip(input);
    }
});

fn any_text(text: &str) {
    let Some(parsed) = parse(text) else { return };
    assert_eq!(parsed.claims.v, 1);
    for key in KEYS.iter() {
        if parsed.signed_by(key) {
            assert_eq!(encode(&parsed.claims, key), text, "a second spelling of a token verifies");
        }
    }
}

/// Claims to mint, and byte changes to try on the token.
#[derive(Debug, Arbitrary)]
struct Minted {
    ed25519: bool,
    jti: String,
    org: String,
    tool: String,
    tenant: Option<String>,
    resource: Option<String>,
    method: Option<String>,
    params_sha256: String,
    src: String,
    iat: i64,
    exp: i64,
    changes: Vec<(u16, u8)>,
}

fn round_trip(input: Minted) {
    let (key, other) = if input.ed25519 { (&KEYS[1], &KEYS[0]) } else { (&KEYS[0], &KEYS[1]) };
    let claims = Claims {
        v: 1,
        alg: key.algorithm(),
        kid: key.kid().to_owned(),
        jti: input.jti,
        org: input.org,
        tool: input.tool,
        tenant: input.tenant,
        resource: input.resource,
        method: input.method,
        params_sha256: input.params_sha256,
        src: input.src,
        iat: input.iat,
        exp: input.exp,
    };
    let token = encode(&claims, key);
    let parsed = parse(&token).expect("a minted token parses");
    assert_eq!(parsed.claims, claims);
    assert!(parsed.signed_by(key), "a minted token verifies");
    assert!(!parsed.signed_by(other), "a token verifies with another key");
    for (at, mask) in input.changes.into_iter().take(4) {
        let mut bytes = token.clone().into_bytes();
        let at = usize::from(at) % bytes.len();
        bytes[at] ^= mask.max(1);
        if let Ok(changed) = String::from_utf8(bytes) {
            assert!(parse(&changed).is_none_or(|p| !p.signed_by(key)), "byte {at} changed and the token still verifies: {changed}");
        }
    }
}
