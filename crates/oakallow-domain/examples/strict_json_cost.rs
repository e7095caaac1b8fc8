//! What strict body parsing costs on the hottest path: a typical `POST /v1/check` body read
//! with serde_json directly versus with `oakallow_domain::json::from_slice` (no member name
//! twice, objects where objects are specified). Run in release:
//! `cargo run --release -p oakallow-domain --example strict_json_cost`.

#![expect(clippy::unwrap_used, reason = "a measurement, not a service")]

use std::hint::black_box;
use std::time::Instant;

use serde::Deserialize;
use serde_json::{Map, Value};

/// The shape of `oakallow_service::check::CheckRequest`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[expect(dead_code, reason = "only parsed")]
struct CheckRequest {
    tool: String,
    #[serde(default)]
    tenant: Option<String>,
    #[serde(default)]
    resource: Option<String>,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    params: Option<Map<String, Value>>,
    #[serde(default)]
    context: Option<Map<String, Value>>,
    #[serde(default)]
    reference_id: Option<String>,
    #[serde(default)]
    mint_token: bool,
}

const BODY: &str = r#"{"tool":"send_email","tenant":"acme","resource":"mailer","method":"POST","params":{"to":"ops@example.com","subject":"Weekly report","cc":["a@example.com","b@example.com"],"priority":2,"attachments":[{"name":"report.pdf","size":48213}]},"context":{"session":"s-81723","model":"agent-v2"},"reference_id":"run-42"}"#;

/// Nanoseconds per parse, median of `rounds` rounds of `n` parses.
fn per_parse(rounds: usize, n: u32, parse: impl Fn(&[u8])) -> f64 {
    let mut samples: Vec<f64> = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..n {
                parse(black_box(BODY.as_bytes()));
            }
            start.elapsed().as_nanos() as f64 / f64::from(n)
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[rounds / 2]
}

fn main() {
    let plain = |bytes: &[u8]| drop(black_box(serde_json::from_slice::<CheckRequest>(bytes).unwrap()));
    let strict = |bytes: &[u8]| drop(black_box(oakallow_domain::json::from_slice::<CheckRequest>(bytes).unwrap()));
    per_parse(3, 20_000, plain);
    per_parse(3, 20_000, strict);
    let (plain, strict) = (per_parse(15, 50_000, plain), per_parse(15, 50_000, strict));
    println!("body: {} bytes", BODY.len());
    println!("serde_json::from_slice:          {plain:7.0} ns per body");
    println!("oakallow_domain::json::from_slice: {strict:7.0} ns per body ({:+.0} ns, {:.2}x)", strict - plain, strict / plain);
}
