//! Strict parsing: one meaning per body, objects where objects are specified, errors that say
//! where they are.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::*;
use crate::Permission;

#[derive(Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    tool: String,
    #[serde(default)]
    params: Option<Map<String, Value>>,
    #[serde(default)]
    inner: Option<Inner>,
    #[serde(default)]
    permission: Option<Permission>,
    #[serde(default)]
    limit: Option<u32>,
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Inner {
    flag: bool,
}

fn refused(text: &str) -> String {
    match from_slice::<Request>(text.as_bytes()) {
        Ok(parsed) => panic!("{text} was accepted as {parsed:?}"),
        Err(error) => error.to_string(),
    }
}

fn parse(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    from_slice(bytes)
}

#[test]
fn reads_what_serde_json_reads() {
    let text = r#"{"tool":"t","params":{"b":[1,2.5,{"z":null}],"a":"é\u0000"},"inner":{"flag":true},"permission":"allowed","limit":7}"#;
    let ours: Request = from_slice(text.as_bytes()).unwrap();
    let theirs: Request = serde_json::from_str(text).unwrap();
    assert_eq!(ours, theirs);
    assert_eq!(parse(text.as_bytes()).unwrap(), serde_json::from_str::<Value>(text).unwrap());
}

#[test]
fn a_member_given_twice_is_refused_at_any_depth() {
    for text in [
        r#"{"tool":"t","tool":"u"}"#,
        r#"{"tool":"t","params":{"amount":1000000,"amount":1}}"#,
        r#"{"tool":"t","params":{"amount":1,"\u0061mount":2}}"#,
        r#"{"tool":"t","params":{"a":[{"b":{"c":1,"c":1}}]}}"#,
        r#"{"tool":"t","params":{"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":10,"k11":11,"k12":12,"k13":13,"k14":14,"k15":15,"k16":16,"k17":17,"k3":3}}"#,
    ] {
        let message = refused(text);
        assert!(message.contains("given twice") && message.contains("line 1"), "{text}: {message}");
    }
}

#[test]
fn arrays_and_other_forms_are_not_objects() {
    assert!(serde_json::from_str::<Request>(r#"["t"]"#).is_ok(), "serde_json's own reader takes the positional form");
    for (text, expected) in [
        (r#"["t"]"#, "expected an object at line 1 column 1"),
        (r#"{"tool":"t","inner":[true]}"#, "expected an object at line 1 column 21"),
        (r#"{"tool":"t","permission":{"allowed":null}}"#, "invalid type: map, expected a string naming one of the values"),
        (r#"{"tool":"t","params":[1]}"#, "invalid type: sequence"),
        (r#"{"tool":"t","limit":1.5}"#, "invalid type: floating point"),
        (r#"{"tool":"t","limit":4294967296}"#, "invalid value: integer `4294967296`"),
        (r#"{"tool":"t","inner":{"flag":true,"colour":1}}"#, "unknown field `colour`"),
        (r#"{"tool":"t"} {}"#, "trailing characters"),
        ("", "EOF"),
    ] {
        let message = refused(text);
        assert!(message.contains(expected), "{text}: {message}");
    }
    let patch: Result<Request, _> = from_value(json!({"tool": "t", "inner": [true]}));
    assert!(patch.unwrap_err().to_string().contains("expected an object"));
}

#[test]
fn depth_is_measured_per_value() {
    assert_eq!(depth(&json!(1)), 0);
    assert_eq!(depth(&json!({"a": [1, {"b": {}}]})), 4);
    let mut deep = json!(1);
    for _ in 0..MAX_DEPTH {
        deep = json!([deep]);
    }
    assert!(check_depth("params", &deep).is_ok());
    assert!(check_depth("params", &json!({"x": deep})).unwrap_err().contains("params"));
}

#[test]
fn the_budget_never_refuses_json_text() {
    for text in ["[]", "{}", "1", "\"\"", "[[],[],{}]", r#"{"":"","a":[null,true,1e5]}"#, r#""\u00e9\u00e9""#] {
        assert!(parse(text.as_bytes()).is_ok(), "{text}");
    }
}
