//! Member names while they are read: [`KeySeed`] notes each name on its way to the visitor that
//! wanted it, and [`SeenKeys`] refuses one given twice in the same object.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, Visitor};

/// The names of one object's members so far. Small objects are searched in a list; large ones
/// (a 1 MiB body may hold 100,000 members) in a hash set, so the check stays linear.
pub(crate) enum SeenKeys<'de> {
    Few(Vec<Cow<'de, str>>),
    Many(HashSet<Cow<'de, str>, foldhash::fast::RandomState>),
}

impl Default for SeenKeys<'_> {
    fn default() -> Self {
        Self::Few(Vec::new())
    }
}

/// Objects up to this many members are searched in a list.
const FEW: usize = 16;

impl<'de> SeenKeys<'de> {
    /// Notes `name`, or refuses it if the object had it already.
    pub(crate) fn insert<E: de::Error>(&mut self, name: Cow<'de, str>) -> Result<(), E> {
        let seen = match self {
            Self::Few(names) => names.contains(&name),
            Self::Many(names) => names.contains(&name),
        };
        if seen {
            return Err(E::custom(format_args!("member {name:?} is given twice")));
        }
        match self {
            Self::Few(names) if names.len() < FEW => names.push(name),
            Self::Few(names) => {
                let mut many: HashSet<_, _> = names.drain(..).collect();
                many.insert(name);
                *self = Self::Many(many);
            }
            Self::Many(names) => {
                names.insert(name);
            }
        }
        Ok(())
    }
}

/// A key seed that notes the name it reads.
pub(crate) struct KeySeed<'k, 'de, S> {
    pub(crate) inner: S,
    pub(crate) name: &'k mut Option<Cow<'de, str>>,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for KeySeed<'_, 'de, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<S::Value, D::Error> {
        self.inner.deserialize(KeyName { inner: deserializer, name: self.name })
    }
}

/// The deserializer of a key, handing every visitor a [`KeyVisitor`].
struct KeyName<'k, 'de, D> {
    inner: D,
    name: &'k mut Option<Cow<'de, str>>,
}

impl<'k, 'de, D> KeyName<'k, 'de, D> {
    /// The inner deserializer, and `visitor` noting the name.
    fn split<V>(self, visitor: V) -> (D, KeyVisitor<'k, 'de, V>) {
        (self.inner, KeyVisitor { inner: visitor, name: self.name })
    }
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for KeyName<'_, 'de, D> {
    type Error = D::Error;

    forward_to_inner!();

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.inner.deserialize_struct(name, fields, KeyVisitor { inner: visitor, name: self.name })
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.inner.deserialize_enum(name, variants, KeyVisitor { inner: visitor, name: self.name })
    }
}

/// Passes everything to the visitor that wanted the key, noting the name on the way.
struct KeyVisitor<'k, 'de, V> {
    inner: V,
    name: &'k mut Option<Cow<'de, str>>,
}

macro_rules! note_and_forward {
    ($($method:ident: $ty:ty),*) => {$(
        fn $method<E: de::Error>(self, value: $ty) -> Result<V::Value, E> {
            *self.name = Some(Cow::Owned(value.to_string()));
            self.inner.$method(value)
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for KeyVisitor<'_, 'de, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    // Names that are not strings (YAML allows `1: …`) are compared by their text.
    note_and_forward! {
        visit_bool: bool, visit_i8: i8, visit_i16: i16, visit_i32: i32, visit_i64: i64, visit_i128: i128,
        visit_u8: u8, visit_u16: u16, visit_u32: u32, visit_u64: u64, visit_u128: u128, visit_f32: f32, visit_f64: f64,
        visit_char: char
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<V::Value, E> {
        *self.name = Some(Cow::Owned(value.to_owned()));
        self.inner.visit_str(value)
    }

    fn visit_borrowed_str<E: de::Error>(self, value: &'de str) -> Result<V::Value, E> {
        *self.name = Some(Cow::Borrowed(value));
        self.inner.visit_borrowed_str(value)
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<V::Value, E> {
        *self.name = Some(Cow::Owned(value.clone()));
        self.inner.visit_string(value)
    }

    fn visit_bytes<E: de::Error>(self, value: &[u8]) -> Result<V::Value, E> {
        self.inner.visit_bytes(value)
    }

    fn visit_borrowed_bytes<E: de::Error>(self, value: &'de [u8]) -> Result<V::Value, E> {
        self.inner.visit_borrowed_bytes(value)
    }

    fn visit_byte_buf<E: de::Error>(self, value: Vec<u8>) -> Result<V::Value, E> {
        self.inner.visit_byte_buf(value)
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<V::Value, D::Error> {
        self.inner.visit_some(deserializer)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, deserializer: D) -> Result<V::Value, D::Error> {
        self.inner.visit_newtype_struct(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, access: A) -> Result<V::Value, A::Error> {
        self.inner.visit_seq(access)
    }

    fn visit_map<A: MapAccess<'de>>(self, access: A) -> Result<V::Value, A::Error> {
        self.inner.visit_map(access)
    }

    fn visit_enum<A: EnumAccess<'de>>(self, access: A) -> Result<V::Value, A::Error> {
        self.inner.visit_enum(access)
    }
}
