//! Golden vectors: the formats that must never change (canonical JSON and the params hash, the
//! activity entry hash, execution tokens, webhook signatures, approval references), compared
//! byte for byte with the expected text in `tests/golden/*.json`. Those values were computed
//! outside this code (see `tests/golden/README.md`); a failure here means the format changed.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use oakallow_domain::Timestamp;
use oakallow_domain::approval::reference_from_bytes;
use oakallow_domain::audit::{ActivityEntry, ActivityRecord, ChainCheck, GENESIS_HASH, chain_hash};
use oakallow_domain::canonical::{object_sha256, params_sha256, to_canonical_string};
use oakallow_domain::token::{Algorithm, Claims, SigningKey, encode, parse};
use oakallow_domain::webhook::{ReceivedSignature, sign, verify};
use serde_json::Value;

/// The parsed golden file `name`.
fn golden(name: &str) -> Value {
    let path = format!("{}/tests/golden/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The string at `key` of a golden entry.
fn text<'a>(entry: &'a Value, key: &str) -> &'a str {
    entry[key].as_str().unwrap_or_else(|| panic!("{key} is not a string in {entry}"))
}

fn items<'a>(file: &'a Value, key: &str) -> &'a [Value] {
    file[key].as_array().unwrap_or_else(|| panic!("{key} is not an array"))
}

#[test]
fn canonical_json_gives_the_pinned_text_and_hash() {
    let file = golden("canonical_json.json");
    assert_eq!(params_sha256(None), text(&file, "absent_params_sha256"));
    assert_eq!(object_sha256(None), text(&file, "absent_params_sha256"));
    for vector in items(&file, "vectors") {
        let name = text(vector, "name");
        let input: Value = serde_json::from_str(text(vector, "input")).unwrap();
        assert_eq!(to_canonical_string(&input), text(vector, "canonical"), "{name}");
        assert_eq!(params_sha256(Some(&input)), text(vector, "params_sha256"), "{name}");
        if let Some(object) = input.as_object() {
            assert_eq!(object_sha256(Some(object)), text(vector, "params_sha256"), "{name}");
        }
    }
}

fn record(entry: &Value) -> ActivityRecord {
    serde_json::from_value(entry["record"].clone()).unwrap_or_else(|e| panic!("record {}: {e}", entry["record"]))
}

#[test]
fn activity_entries_hash_to_the_pinned_values() {
    let file = golden("activity_entry.json");
    for vector in items(&file, "entries") {
        let name = text(vector, "name");
        let seq = vector["seq"].as_u64().unwrap();
        let prev_hash = text(vector, "prev_hash");
        let record = record(vector);
        assert_eq!(chain_hash(&record, seq, prev_hash), text(vector, "hash"), "{name}");
        let entry = ActivityEntry::seal(record, seq, prev_hash.to_owned());
        assert_eq!(entry.canonical_without_hash(), text(vector, "canonical_without_hash"), "{name}");
        assert_eq!(entry.hash, text(vector, "hash"), "{name}");
    }
}

#[test]
fn the_pinned_chain_is_rebuilt_and_verifies() {
    let file = golden("activity_entry.json");
    let mut prev_hash = GENESIS_HASH.to_owned();
    let mut check = ChainCheck::default();
    for (seq, vector) in (1..).zip(items(&file, "chain")) {
        assert_eq!(prev_hash, text(vector, "prev_hash"), "entry {seq}");
        let entry = ActivityEntry::seal(record(vector), seq, prev_hash);
        assert_eq!(entry.hash, text(vector, "hash"), "entry {seq}");
        check.push(&entry);
        prev_hash = entry.hash;
    }
    assert_eq!((check.entries, check.first_broken), (3, None));
    assert_eq!(check.head_hash, prev_hash);
}

fn signing_key(vector: &Value, claims: &Claims) -> SigningKey {
    let secret = hex::decode(text(vector, "secret_hex")).expect("secret_hex is hex");
    let secret: [u8; 32] = secret.try_into().expect("secret_hex is 32 bytes");
    SigningKey::from_parts(claims.alg, claims.kid.clone(), secret)
}

#[test]
fn execution_tokens_encode_to_the_pinned_text_and_verify() {
    let file = golden("execution_token.json");
    let tokens = items(&file, "tokens");
    let algorithms: Vec<_> = tokens.iter().map(|t| text(&t["claims"], "alg")).collect();
    assert_eq!(algorithms, ["hmac-sha256", "ed25519"], "both algorithms are pinned");
    for vector in tokens {
        let name = text(vector, "name");
        let claims: Claims = serde_json::from_value(vector["claims"].clone()).unwrap();
        let key = signing_key(vector, &claims);
        assert_eq!(claims.params_sha256, params_sha256(Some(&vector["params"])), "{name}");
        assert_eq!(encode(&claims, &key), text(vector, "token"), "{name}");
        let parsed = parse(text(vector, "token")).unwrap_or_else(|| panic!("{name}: the pinned token does not parse"));
        assert_eq!(parsed.claims, claims, "{name}");
        assert!(parsed.signed_by(&key), "{name}: the pinned token does not verify");
        if claims.alg == Algorithm::Ed25519 {
            let public = URL_SAFE_NO_PAD.encode(key.public_key().unwrap());
            assert_eq!(public, text(vector, "public_key"), "{name}");
        }
    }
}

#[test]
fn webhook_signatures_match_both_pinned_headers() {
    let file = golden("webhook_signature.json");
    for vector in items(&file, "deliveries") {
        let name = text(vector, "name");
        let (secret, event_id, body) = (text(vector, "secret"), text(vector, "event_id"), text(vector, "body").as_bytes());
        let sent_at = vector["timestamp"].as_i64().unwrap();
        let headers = sign(secret, event_id, sent_at, body);
        assert_eq!(headers.oakallow, text(vector, "x_oakallow_signature"), "{name}");
        assert_eq!(headers.standard, text(vector, "webhook_signature"), "{name}");

        let timestamp = sent_at.to_string();
        let now = Timestamp::from_micros(sent_at * 1_000_000);
        let oakallow = ReceivedSignature::Oakallow { timestamp: &timestamp, signature: text(vector, "x_oakallow_signature") };
        assert_eq!(verify(secret, oakallow, body, now, 0), Ok(()), "{name}");
        let standard = ReceivedSignature::Standard { id: event_id, timestamp: &timestamp, signature: text(vector, "webhook_signature") };
        assert_eq!(verify(secret, standard, body, now, 0), Ok(()), "{name}");
    }
}

#[test]
fn approval_references_encode_as_pinned() {
    let file = golden("approval_reference.json");
    for vector in items(&file, "references") {
        let bytes: [u8; 8] = hex::decode(text(vector, "bytes_hex")).unwrap().try_into().unwrap();
        assert_eq!(reference_from_bytes(bytes), text(vector, "reference"), "{}", text(vector, "bytes_hex"));
    }
}
