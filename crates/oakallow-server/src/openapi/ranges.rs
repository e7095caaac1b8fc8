//! Integer ranges from Rust types. With utoipa's `non_strict_integers`, an unsigned field is
//! written with its exact format (`uint32`, …) and `minimum: 0`; the upper bound is added here
//! (and the format spelled as the OpenAPI format registry does),
//! so that the document refuses exactly what deserializing into the Rust type refuses. A bound a
//! field states itself (`#[schema(maximum = …)]`) is kept.

use utoipa::Number;
use utoipa::openapi::schema::{KnownFormat, Object, SchemaFormat};
use utoipa::openapi::{OpenApi, Schema};

/// Adds the range of each sized integer format that lacks one.
pub(super) fn bound_integers(document: &mut OpenApi) {
    super::for_each_schema(document, &mut |schema| {
        if let Schema::Object(object) = schema {
            bound(object);
        }
    });
}

fn bound(object: &mut Object) {
    let Some(SchemaFormat::KnownFormat(format)) = &object.format else { return };
    let (name, low, high) = match format {
        KnownFormat::Int8 => ("int8", Number::Int(i8::MIN.into()), Number::Int(i8::MAX.into())),
        KnownFormat::Int16 => ("int16", Number::Int(i16::MIN.into()), Number::Int(i16::MAX.into())),
        KnownFormat::UInt8 => ("uint8", Number::UInt(0), Number::UInt(u8::MAX.into())),
        KnownFormat::UInt16 => ("uint16", Number::UInt(0), Number::UInt(u16::MAX.into())),
        KnownFormat::UInt32 => ("uint32", Number::UInt(0), Number::UInt(usize::try_from(u32::MAX).unwrap_or(usize::MAX))),
        KnownFormat::UInt64 => ("uint64", Number::UInt(0), Number::UInt(usize::try_from(u64::MAX).unwrap_or(usize::MAX))),
        _ => return,
    };
    // utoipa spells these `u-int32`; the OpenAPI format registry says `uint32`.
    object.format = Some(SchemaFormat::Custom(name.to_owned()));
    object.minimum.get_or_insert(low);
    object.maximum.get_or_insert(high);
}
