//! What the property test sends: adversarial but valid names, texts, numbers and JSON values.

use proptest::prelude::*;
use serde_json::{Map, Number, Value, json};

/// A name: 1 to 200 bytes of any characters but control characters, without surrounding
/// whitespace; mostly short, with SQL, LIKE, quoting, right-to-left and zero-width characters.
pub fn name() -> impl Strategy<Value = String> {
    let mut tricky: Vec<String> = [
        "'; DROP TABLE tools; --",
        "%",
        "_",
        "\\",
        "\"",
        "a\u{200b}b",
        "\u{202e}rtl",
        "名前",
        "😀",
        "null",
        "0",
        "-0",
        "1e3",
        "tool_00000000000000000000000000",
        "a/b?c#d",
        "~",
        "*",
        "&x",
        "- x",
    ]
    .map(str::to_owned)
    .to_vec();
    tricky.push("é".repeat(100));
    let free = prop::string::string_regex("[^\\p{Cc}\\s][^\\p{Cc}]{0,24}[^\\p{Cc}\\s]|[^\\p{Cc}\\s]").unwrap();
    prop_oneof![3 => free, 1 => prop::sample::select(tricky)].prop_filter("a name", |n| n.len() <= 200 && n.trim() == n)
}

/// Free text: up to 4096 bytes without NUL, control characters and all.
pub fn text() -> impl Strategy<Value = String> {
    let short = prop::string::string_regex("[^\\x00]{0,40}").unwrap();
    let longest = Just(format!("{}\u{1}\u{7f}\n", "é".repeat(2046)));
    prop_oneof![8 => short, 1 => Just(String::new()), 1 => longest]
}

/// Text that is not blank (a reason).
pub fn reason() -> impl Strategy<Value = String> {
    text().prop_filter("not blank", |t| !t.trim().is_empty())
}

/// A JSON number of every awkward kind.
pub fn number() -> impl Strategy<Value = Value> {
    let awkward = prop::sample::select(vec![
        json!(u64::MAX),
        json!(i64::MIN),
        json!(-0.0),
        json!(5e-324),
        json!(1.7976931348623157e308),
        json!(2.2250738585072014e-308),
        json!(9_007_199_254_740_993_u64),
        json!(0.1),
        json!(1e22),
        json!(1.8446744073709552e19),
    ]);
    let finite = any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number));
    prop_oneof![any::<u64>().prop_map(Value::from), any::<i64>().prop_map(Value::from), finite, awkward]
}

/// Any JSON value, a few levels deep, with any string (NUL included) as text or member name.
pub fn value() -> impl Strategy<Value = Value> {
    let string = prop::string::string_regex(".{0,12}").unwrap();
    let leaf = prop_oneof![Just(Value::Null), any::<bool>().prop_map(Value::Bool), number(), string.prop_map(Value::String)];
    leaf.prop_recursive(4, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(prop::string::string_regex(".{0,8}").unwrap(), inner, 0..6)
                .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
}

/// A JSON object (params, context).
pub fn object() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map(prop::string::string_regex(".{0,10}").unwrap(), value(), 0..6)
        .prop_map(|members| members.into_iter().collect())
}
