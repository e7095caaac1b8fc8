//! Flattened structs as one object schema. utoipa writes a `#[serde(flatten)]` field as
//! `allOf: [<the flattened struct>, <the other fields>]`; when the flattened struct is a request
//! body too, its schema is closed (`additionalProperties: false`, from `deny_unknown_fields`), so
//! the `allOf` admits no object at all and every answer breaks it. The answer really is one flat
//! object, so that is what the document says: the members' properties and required names merged,
//! closed only if every member is.

use std::collections::BTreeMap;

use utoipa::openapi::schema::{AdditionalProperties, AllOf, Object, Schema, Type};
use utoipa::openapi::{OpenApi, RefOr};

/// Replaces every `allOf` of objects in the document (components and operations) by the object
/// it describes.
pub(super) fn flatten_all_of(document: &mut OpenApi) {
    let known = document.components.as_ref().map(|c| c.schemas.clone()).unwrap_or_default();
    super::for_each_schema(document, &mut |schema| {
        if let Schema::AllOf(all_of) = schema
            && let Some(object) = merged(all_of, &known)
        {
            *schema = Schema::Object(object);
        }
    });
}

/// The one object an `allOf` of objects describes, or `None` when a member is not an object.
fn merged(all_of: &AllOf, known: &BTreeMap<String, RefOr<Schema>>) -> Option<Object> {
    let mut object = Object::with_type(Type::Object);
    object.description.clone_from(&all_of.description);
    let mut closed = true;
    for member in &all_of.items {
        let member = match member {
            RefOr::Ref(reference) => known.get(reference.ref_location.strip_prefix("#/components/schemas/")?)?,
            member => member,
        };
        let member = match member {
            RefOr::T(Schema::Object(member)) => member.clone(),
            RefOr::T(Schema::AllOf(nested)) => merged(nested, known)?,
            _ => return None,
        };
        closed &= matches!(member.additional_properties.as_deref(), Some(AdditionalProperties::FreeForm(false)));
        object.properties.extend(member.properties);
        object.required.extend(member.required);
    }
    if closed {
        object.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(false)));
    }
    Some(object)
}
