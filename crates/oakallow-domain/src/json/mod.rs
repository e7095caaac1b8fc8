//! JSON as the API accepts it: one meaning per body, and limits that every accepted value
//! keeps, so that what is accepted is exactly what both stores keep, what the audit chain
//! hashes, and what every client reads.
//!
//! Every body (JSON text, a YAML policy document, a merged `PATCH`) is read through one strict
//! reader, in one pass: a member name given twice is refused at any depth (parsers disagree on
//! which one wins: `{"amount":1000000,"amount":1}` would be validated and hashed as one call
//! and run as the other), a struct is read from an object only (never serde's positional form
//! `["send_email", …]`), an enum from a string only, numbers must be finite, and a document may
//! not expand to more than its text holds (YAML aliases).

/// Implements the `Deserializer` methods of a wrapper (a type with an `inner` deserializer and a
/// `split(self, visitor)` giving the inner deserializer and the wrapped visitor): every method
/// but `deserialize_struct` and `deserialize_enum`, which each wrapper writes itself.
macro_rules! forward_to_inner {
    () => {
        forward_to_inner! {@plain
            deserialize_any deserialize_bytes deserialize_byte_buf deserialize_option
            deserialize_unit deserialize_seq deserialize_map deserialize_identifier deserialize_ignored_any
        }
        // A scalar is read as what the text holds, whatever type the target asks for: JSON's
        // types. YAML would otherwise read `false` or `12345` as text where text is expected, so
        // a YAML document would mean something the same JSON document does not.
        forward_to_inner! {@any
            deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_i128
            deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128 deserialize_f32 deserialize_f64
            deserialize_char deserialize_str deserialize_string
        }

        fn deserialize_unit_struct<V: Visitor<'de>>(self, name: &'static str, visitor: V) -> Result<V::Value, Self::Error> {
            let (inner, visitor) = self.split(visitor);
            inner.deserialize_unit_struct(name, visitor)
        }

        fn deserialize_newtype_struct<V: Visitor<'de>>(self, name: &'static str, visitor: V) -> Result<V::Value, Self::Error> {
            let (inner, visitor) = self.split(visitor);
            inner.deserialize_newtype_struct(name, visitor)
        }

        fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, Self::Error> {
            let (inner, visitor) = self.split(visitor);
            inner.deserialize_tuple(len, visitor)
        }

        fn deserialize_tuple_struct<V: Visitor<'de>>(self, name: &'static str, len: usize, visitor: V) -> Result<V::Value, Self::Error> {
            let (inner, visitor) = self.split(visitor);
            inner.deserialize_tuple_struct(name, len, visitor)
        }

        fn is_human_readable(&self) -> bool {
            self.inner.is_human_readable()
        }
    };
    (@plain $($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
            let (inner, visitor) = self.split(visitor);
            inner.$method(visitor)
        }
    )*};
    (@any $($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
            let (inner, visitor) = self.split(visitor);
            inner.deserialize_any(visitor)
        }
    )*};
}

mod keys;
mod strict;

use std::cell::Cell;

use serde::de::{Deserialize, DeserializeOwned, Deserializer};
use serde_json::Value;

use strict::Strict;

/// The largest integer every JSON client reads exactly (2^53 − 1, JavaScript's
/// `Number.MAX_SAFE_INTEGER`); integer fields of the API (durations) are bounded by it, which
/// also keeps them well inside the stores' signed 64-bit columns.
pub const MAX_EXACT_INTEGER: u64 = (1 << 53) - 1;

/// The deepest nesting of a JSON value the API keeps (params, context, output, a tool's
/// `parameters_schema`): 64 levels, where a body may nest 128. Bounding the value rather than
/// the body means a value accepted in one body (`POST /v1/tools`) fits in every other that
/// carries it (`PUT /v1/policy`, three levels deeper), and in every stored wrapper.
pub const MAX_DEPTH: usize = 64;

/// How deeply `value` nests: 0 for a scalar, 1 for `{}` or `[]`, one more per level inside.
pub fn depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(members) => 1 + members.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// Refuses a value that nests deeper than [`MAX_DEPTH`], naming the field.
pub fn check_depth(field: &str, value: &Value) -> Result<(), String> {
    if depth(value) > MAX_DEPTH {
        return Err(format!("{field} nests deeper than {MAX_DEPTH} levels"));
    }
    Ok(())
}

/// Reads `T` from `deserializer` strictly (see the module). `text_len` is the size of the text
/// behind it: the document may not expand to more than twice as many nodes (each node of JSON
/// text takes at least one byte, so JSON never comes near; YAML aliases could).
pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(deserializer: D, text_len: usize) -> Result<T, D::Error> {
    let budget = Cell::new(text_len.saturating_mul(2).saturating_add(64));
    T::deserialize(Strict { inner: deserializer, budget: &budget })
}

/// Parses JSON text into `T` strictly, refusing trailing characters.
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = deserialize(&mut deserializer, bytes.len())?;
    deserializer.end()?;
    Ok(value)
}

/// Reads `T` from a JSON value strictly (a `PATCH` body merged into the current object).
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, serde_json::Error> {
    let budget = Cell::new(usize::MAX);
    T::deserialize(Strict { inner: value, budget: &budget })
}

#[cfg(test)]
mod tests;
