//! Round-trip properties of the encoders whose output other parties read back: canonical JSON
//! (its text parses again to the same canonical text, whatever JSON went in) and execution tokens
//! (what is encoded parses to the same claims and verifies; any single changed byte does not).
//! Case counts stay modest so the suite stays fast; the fuzz targets run the same properties
//! for longer (docs/SECURITY.md).

use oakallow_domain::canonical::{object_sha256, params_sha256, to_canonical_string};
use oakallow_domain::token::{Algorithm, Claims, SigningKey, encode, parse};
use proptest::prelude::*;
use serde_json::{Map, Value};

/// `cases` cases, unless `PROPTEST_CASES` asks for another number (for longer runs).
fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(cases);
    ProptestConfig { cases, ..ProptestConfig::default() }
}

/// Any finite double: normal, subnormal, zero, either sign; and integral ones around 2^53,
/// where canonical JSON switches between integer and float notation.
fn float() -> impl Strategy<Value = f64> {
    use proptest::num::f64::{NEGATIVE, NORMAL, POSITIVE, SUBNORMAL, ZERO};
    #[expect(clippy::cast_precision_loss, reason = "the rounding to a double is what is tested")]
    let integral = (-(1i64 << 60)..(1i64 << 60)).prop_map(|i| i as f64);
    prop_oneof![POSITIVE | NEGATIVE | NORMAL | SUBNORMAL | ZERO, integral, any::<i32>().prop_map(f64::from)]
}

/// Any JSON value; `floats` allows non-integer numbers.
fn json(floats: bool) -> impl Strategy<Value = Value> {
    let number = if floats {
        prop_oneof![any::<i64>().prop_map(Value::from), any::<u64>().prop_map(Value::from), float().prop_map(Value::from)].boxed()
    } else {
        prop_oneof![any::<i64>().prop_map(Value::from), any::<u64>().prop_map(Value::from)].boxed()
    };
    let leaf = prop_oneof![Just(Value::Null), any::<bool>().prop_map(Value::Bool), number, any::<String>().prop_map(Value::String)];
    leaf.prop_recursive(4, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((any::<String>(), inner), 0..6).prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(config(512))]

    /// Canonical text is JSON whose canonical text is itself (numbers may change notation once,
    /// `2.0` to `2`, and then stay).
    #[test]
    fn canonical_text_reparses_to_the_same_canonical_text(value in json(true)) {
        let canonical = to_canonical_string(&value);
        let reparsed: Value = serde_json::from_str(&canonical).unwrap();
        prop_assert_eq!(to_canonical_string(&reparsed), canonical);
    }

    /// Without floats nothing is normalised: the canonical text reads back as the same value.
    #[test]
    fn canonical_text_of_integers_and_text_reads_back_unchanged(value in json(false)) {
        let reparsed: Value = serde_json::from_str(&to_canonical_string(&value)).unwrap();
        prop_assert_eq!(reparsed, value);
    }

    /// Hashing a params object directly is hashing its canonical text.
    #[test]
    fn object_hash_is_the_params_hash(entries in prop::collection::vec((any::<String>(), json(true)), 0..8)) {
        let object: Map<String, Value> = entries.into_iter().collect();
        let expected = params_sha256(Some(&Value::Object(object.clone())));
        prop_assert_eq!(object_sha256(Some(&object)), expected);
    }
}

fn key(algorithm: Algorithm) -> SigningKey {
    SigningKey::from_parts(algorithm, format!("k_{}", algorithm.as_str()), [0x5a; 32])
}

fn claims() -> impl Strategy<Value = Claims> {
    let algorithm = prop_oneof![Just(Algorithm::HmacSha256), Just(Algorithm::Ed25519)];
    let scope = (any::<String>(), any::<Option<String>>(), any::<Option<String>>(), any::<Option<String>>());
    let ids = (any::<String>(), any::<String>(), "[0-9a-f]{64}", any::<String>());
    (algorithm, scope, ids, any::<i64>(), any::<i64>()).prop_map(
        |(alg, (tool, tenant, resource, method), (jti, org, params_sha256, src), iat, exp)| Claims {
            v: 1,
            alg,
            kid: key(alg).kid().to_owned(),
            jti,
            org,
            tool,
            tenant,
            resource,
            method,
            params_sha256,
            src,
            iat,
            exp,
        },
    )
}

proptest! {
    #![proptest_config(config(128))]

    /// Whatever the claims, the token parses back to them and verifies with the key that signed it.
    #[test]
    fn tokens_round_trip_and_verify(claims in claims()) {
        let key = key(claims.alg);
        let token = encode(&claims, &key);
        let parsed = parse(&token).unwrap();
        prop_assert_eq!(&parsed.claims, &claims);
        prop_assert!(parsed.signed_by(&key));
    }

    /// Changing any one byte of a token (to anything that is still text) fails verification.
    #[test]
    fn any_changed_byte_fails(claims in claims(), changes in prop::collection::vec((any::<prop::sample::Index>(), 1..=255u8), 8)) {
        let key = key(claims.alg);
        let token = encode(&claims, &key);
        for (index, mask) in changes {
            let mut bytes = token.clone().into_bytes();
            let at = index.index(bytes.len());
            bytes[at] ^= mask;
            let Ok(changed) = String::from_utf8(bytes) else { continue };
            prop_assert!(parse(&changed).is_none_or(|p| !p.signed_by(&key)), "byte {} ^ {:#x} of {}", at, mask, token);
        }
    }
}
