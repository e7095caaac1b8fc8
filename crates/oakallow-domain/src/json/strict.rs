//! [`Strict`]: any serde deserializer (JSON text, YAML text, a [`serde_json::Value`]) read with
//! one meaning only, in one pass, without building an intermediate value.

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, EnumAccess, IntoDeserializer, MapAccess, SeqAccess, Unexpected, Visitor};

use super::keys::{KeySeed, SeenKeys};

/// A deserializer whose every value (at any depth) is read strictly: a struct only from an
/// object, an enum only from a string, no member name twice, finite numbers only, and no more
/// nodes than the budget (which YAML aliases could otherwise multiply).
pub(crate) struct Strict<'b, D> {
    pub(crate) inner: D,
    pub(crate) budget: &'b Cell<usize>,
}

/// Takes `cost` from the budget, or fails.
fn charge<E: de::Error>(budget: &Cell<usize>, cost: usize) -> Result<(), E> {
    let left = budget
        .get()
        .checked_sub(cost)
        .ok_or_else(|| E::custom("the document expands to more than its text holds (YAML aliases may not repeat large parts)"))?;
    budget.set(left);
    Ok(())
}

impl<'b, D> Strict<'b, D> {
    /// The inner deserializer, and `visitor` reading strictly.
    fn split<V>(self, visitor: V) -> (D, Wrap<'b, V>) {
        (self.inner, Wrap::new(visitor, self.budget))
    }
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Strict<'_, D> {
    type Error = D::Error;

    forward_to_inner!();

    /// A struct from an object only: serde's positional form (`["send_email", …]`) reads the
    /// fields by position, which no one writing JSON by name expects.
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let wrapped = Wrap { object_only: true, ..Wrap::new(visitor, self.budget) };
        self.inner.deserialize_struct(name, fields, wrapped)
    }

    /// An enum from a string only (`"allowed"`), never from an object (`{"allowed": null}`).
    fn deserialize_enum<V: Visitor<'de>>(self, _: &'static str, _: &'static [&'static str], visitor: V) -> Result<V::Value, D::Error> {
        self.inner.deserialize_any(VariantName { inner: visitor, budget: self.budget })
    }
}

/// A visitor whose nested values are read strictly too.
struct Wrap<'b, V> {
    inner: V,
    budget: &'b Cell<usize>,
    object_only: bool,
}

impl<'b, V> Wrap<'b, V> {
    fn new(inner: V, budget: &'b Cell<usize>) -> Self {
        Self { inner, budget, object_only: false }
    }
}

macro_rules! forward_scalar {
    ($($method:ident: $ty:ty),*) => {$(
        fn $method<E: de::Error>(self, value: $ty) -> Result<V::Value, E> {
            charge(self.budget, 1)?;
            self.inner.$method(value)
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Wrap<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.object_only { f.write_str("an object") } else { self.inner.expecting(f) }
    }

    forward_scalar! {
        visit_bool: bool, visit_i8: i8, visit_i16: i16, visit_i32: i32, visit_i64: i64, visit_i128: i128,
        visit_u8: u8, visit_u16: u16, visit_u32: u32, visit_u64: u64, visit_u128: u128, visit_char: char
    }

    fn visit_f32<E: de::Error>(self, value: f32) -> Result<V::Value, E> {
        self.visit_f64(f64::from(value))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<V::Value, E> {
        if !value.is_finite() {
            return Err(E::custom("numbers must be finite"));
        }
        charge(self.budget, 1)?;
        self.inner.visit_f64(value)
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<V::Value, E> {
        charge(self.budget, 1 + value.len())?;
        self.inner.visit_str(value)
    }

    fn visit_borrowed_str<E: de::Error>(self, value: &'de str) -> Result<V::Value, E> {
        charge(self.budget, 1 + value.len())?;
        self.inner.visit_borrowed_str(value)
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<V::Value, E> {
        charge(self.budget, 1 + value.len())?;
        self.inner.visit_string(value)
    }

    fn visit_bytes<E: de::Error>(self, value: &[u8]) -> Result<V::Value, E> {
        charge(self.budget, 1 + value.len())?;
        self.inner.visit_bytes(value)
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        charge(self.budget, 1)?;
        self.inner.visit_unit()
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        charge(self.budget, 1)?;
        self.inner.visit_none()
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<V::Value, D::Error> {
        self.inner.visit_some(Strict { inner: deserializer, budget: self.budget })
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, deserializer: D) -> Result<V::Value, D::Error> {
        self.inner.visit_newtype_struct(Strict { inner: deserializer, budget: self.budget })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, access: A) -> Result<V::Value, A::Error> {
        if self.object_only {
            return Err(de::Error::invalid_type(Unexpected::Seq, &self));
        }
        charge(self.budget, 1)?;
        self.inner.visit_seq(Elements { inner: access, budget: self.budget })
    }

    fn visit_map<A: MapAccess<'de>>(self, access: A) -> Result<V::Value, A::Error> {
        charge(self.budget, 1)?;
        self.inner.visit_map(Members { inner: access, budget: self.budget, seen: SeenKeys::default() })
    }

    /// Tagged values (YAML's `!tag`) are not plain data.
    fn visit_enum<A: EnumAccess<'de>>(self, _: A) -> Result<V::Value, A::Error> {
        Err(de::Error::invalid_type(Unexpected::Enum, &self))
    }
}

/// Reads an enum's variant from a string, and from nothing else.
struct VariantName<'b, V> {
    inner: V,
    budget: &'b Cell<usize>,
}

impl<'de, V: Visitor<'de>> Visitor<'de> for VariantName<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string naming one of the values")
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<V::Value, E> {
        charge(self.budget, 1 + value.len())?;
        self.inner.visit_enum(IntoDeserializer::<E>::into_deserializer(value))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<V::Value, E> {
        self.visit_str(&value)
    }
}

/// The elements of an array, each read strictly.
struct Elements<'b, A> {
    inner: A,
    budget: &'b Cell<usize>,
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Elements<'_, A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, A::Error> {
        self.inner.next_element_seed(Seed { inner: seed, budget: self.budget })
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

/// The members of an object: each name once, each value read strictly.
struct Members<'de, 'b, A> {
    inner: A,
    budget: &'b Cell<usize>,
    seen: SeenKeys<'de>,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Members<'de, '_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, A::Error> {
        let mut name = None;
        let key = self.inner.next_key_seed(KeySeed { inner: seed, name: &mut name })?;
        if let Some(name) = name {
            charge(self.budget, 1 + name.len())?;
            self.seen.insert(name)?;
        }
        Ok(key)
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, A::Error> {
        self.inner.next_value_seed(Seed { inner: seed, budget: self.budget })
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

/// A seed whose value is read strictly.
struct Seed<'b, S> {
    inner: S,
    budget: &'b Cell<usize>,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Seed<'_, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<S::Value, D::Error> {
        self.inner.deserialize(Strict { inner: deserializer, budget: self.budget })
    }
}
