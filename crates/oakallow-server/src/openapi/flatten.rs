//! Flattened structs as one object schema. utoipa writes a `#[serde(flatten)]` field as
//! `allOf: [<the flattened struct>, <the other fields>]`; when the flattened struct is a request
//! body too, its schema is closed (`additionalProperties: false`, from `deny_unknown_fields`), so
//! the `allOf` admits no object at all and every answer breaks it. The answer really is one flat
//! object, so that is what the document says: the members' properties and required names merged,
//! closed only if every member is.

use std::collections::BTreeMap;

use utoipa::openapi::schema::{AdditionalProperties, AllOf, ArrayItems, Object, Schema, Type};
use utoipa::openapi::{OpenApi, RefOr};

/// Replaces every `allOf` of objects in the document (components and operations) by the object
/// it describes.
pub(super) fn flatten_all_of(document: &mut OpenApi) {
    let Some(components) = document.components.as_mut() else { return };
    let known = components.schemas.clone();
    components.schemas.values_mut().for_each(|schema| flatten(schema, &known));
    for item in document.paths.paths.values_mut() {
        for operation in super::operations_mut(item) {
            let bodies = operation.request_body.iter_mut().filter_map(|body| match body {
                RefOr::T(body) => Some(body.content.values_mut()),
                RefOr::Ref(_) => None,
            });
            let answers = operation.responses.responses.values_mut().filter_map(|response| match response {
                RefOr::T(response) => Some(response.content.values_mut()),
                RefOr::Ref(_) => None,
            });
            for content in bodies.flatten().chain(answers.flatten()) {
                if let RefOr::T(content) = content {
                    content.schema.iter_mut().for_each(|schema| flatten(schema, &known));
                }
            }
        }
    }
}

fn flatten(schema: &mut RefOr<Schema>, known: &BTreeMap<String, RefOr<Schema>>) {
    let RefOr::T(inner) = schema else { return };
    match inner {
        Schema::AllOf(all_of) => {
            if let Some(object) = merged(all_of, known) {
                *inner = Schema::Object(object);
                flatten(schema, known);
            }
        }
        Schema::Object(object) => object.properties.values_mut().for_each(|property| flatten(property, known)),
        Schema::Array(array) => {
            if let ArrayItems::RefOrSchema(items) = &mut array.items {
                flatten(items, known);
            }
        }
        Schema::OneOf(one_of) => one_of.items.iter_mut().for_each(|item| flatten(item, known)),
        _ => {}
    }
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
