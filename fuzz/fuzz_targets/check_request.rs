//! The body of `POST /v1/check`, read by the server's own JSON body parser
//! (`oakallow_server::extract::parse_json`). It never panics, and what it accepts is JSON that
//! holds to issue 7 item 10: only an object is accepted, no member name appears twice anywhere,
//! and the tool read is the tool a generic parser sees.

#![no_main]

use libfuzzer_sys::fuzz_target;
use oakallow_server::extract::parse_json;
use oakallow_service::check::CheckRequest;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let request = match parse_json::<CheckRequest>(data) {
        Ok(request) => request,
        Err(error) => {
            // Refusals are described, so describing one must not panic either.
            let _ = format!("{error:?}");
            return;
        }
    };
    let value: Value = serde_json::from_slice(data).expect("an accepted body is JSON");
    strict(data, &value, &request);
});

fn strict(data: &[u8], value: &Value, request: &CheckRequest) {
    assert!(value.is_object(), "a body that is not an object was accepted");
    assert!(serde_json::from_slice::<unique::UniqueNames>(data).is_ok(), "a body with a repeated member name was accepted");
    assert_eq!(value["tool"].as_str(), Some(request.tool.as_str()));
}

/// Reads any JSON and fails on the first object with a member name it has seen in that object.
mod unique {
    use std::collections::HashSet;
    use std::fmt;

    use serde::de::{Deserialize, Deserializer, Error, MapAccess, SeqAccess, Visitor};

    pub struct UniqueNames;

    impl<'de> Deserialize<'de> for UniqueNames {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_any(Walk)
        }
    }

    struct Walk;

    impl<'de> Visitor<'de> for Walk {
        type Value = UniqueNames;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any JSON")
        }

        fn visit_bool<E: Error>(self, _: bool) -> Result<UniqueNames, E> {
            Ok(UniqueNames)
        }

        fn visit_i64<E: Error>(self, _: i64) -> Result<UniqueNames, E> {
            Ok(UniqueNames)
        }

        fn visit_u64<E: Error>(self, _: u64) -> Result<UniqueNames, E> {
            Ok(UniqueNames)
        }

        fn visit_f64<E: Error>(self, _: f64) -> Result<UniqueNames, E> {
            Ok(UniqueNames)
        }

        fn visit_str<E: Error>(self, _: &str) -> Result<UniqueNames, E> {
            Ok(UniqueNames)
        }

        fn visit_unit<E: Error>(self) -> Result<UniqueNames, E> {
            Ok(UniqueNames)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<UniqueNames, A::Error> {
            while seq.next_element::<UniqueNames>()?.is_some() {}
            Ok(UniqueNames)
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<UniqueNames, A::Error> {
            let mut seen = HashSet::new();
            while let Some(name) = map.next_key::<String>()? {
                if !seen.insert(name) {
                    return Err(A::Error::custom("repeated member name"));
                }
                map.next_value::<UniqueNames>()?;
            }
            Ok(UniqueNames)
        }
    }
}
