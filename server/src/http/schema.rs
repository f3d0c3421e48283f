//! Schemas the derives cannot write by themselves: enums read from the
//! observation catalogue (one source for the server and the spec) and
//! query bounds that take either an instant or a date.

use serde_json::Value;
use utoipa::openapi::schema::{
    AnyOfBuilder, ArrayBuilder, KnownFormat, ObjectBuilder, SchemaFormat, SchemaType, Type,
};
use utoipa::openapi::{RefOr, Schema};

use crate::observations::catalogue;
use crate::observations::http::OBSERVATION_CATEGORIES;

fn string_enum<'a>(values: impl IntoIterator<Item = &'a str>) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String).enum_values(Some(values))
}

/// A string that must be one of `values` (checked by hand in the handler).
pub fn one_of(values: &[&str]) -> RefOr<Schema> {
    string_enum(values.iter().copied()).build().into()
}

/// The same for an optional body field, which may also be `null`.
pub fn one_of_or_null(values: &[&str]) -> RefOr<Schema> {
    let values = values.iter().map(|v| Value::from(*v)).chain([Value::Null]);
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .enum_values(Some(values))
        .build()
        .into()
}

/// An array of strings each one of `values`, with at least `min_items`.
pub fn array_of(values: &[&str], min_items: usize) -> RefOr<Schema> {
    ArrayBuilder::new().items(string_enum(values.iter().copied())).min_items(Some(min_items)).build().into()
}

/// The same for an optional body field, which may also be `null`.
pub fn array_of_or_null(values: &[&str], min_items: usize) -> RefOr<Schema> {
    ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(string_enum(values.iter().copied()))
        .min_items(Some(min_items))
        .build()
        .into()
}

/// An observation kind of the catalogue (`GET /v1/observation-kinds`).
pub fn observation_kind() -> RefOr<Schema> {
    string_enum(catalogue::kinds().iter().map(|k| k.name)).build().into()
}

/// A category observations can belong to.
pub fn observation_category() -> RefOr<Schema> {
    string_enum(OBSERVATION_CATEGORIES.iter().map(|c| c.as_str())).build().into()
}

/// An RFC 3339 instant with an offset, or a date (local midnight).
pub fn instant_or_date() -> RefOr<Schema> {
    let format =
        |f| ObjectBuilder::new().schema_type(Type::String).format(Some(SchemaFormat::KnownFormat(f)));
    Schema::AnyOf(
        AnyOfBuilder::new().item(format(KnownFormat::DateTime)).item(format(KnownFormat::Date)).build(),
    )
    .into()
}
