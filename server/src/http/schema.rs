//! Schemas the derives cannot write by themselves: enums read from the
//! observation catalogue (one source for the server and the spec) and
//! query bounds that take either an instant or a date.

use serde_json::Value;
use utoipa::openapi::schema::{
    AdditionalProperties, AnyOfBuilder, ArrayBuilder, KnownFormat, ObjectBuilder, OneOfBuilder, SchemaFormat,
    SchemaType, Type,
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

/// An RFC 3339 instant with an offset, or a date (local midnight); an empty
/// value (`from=`, as forms and some HTTP clients send an unset field) means
/// no bound, like an absent parameter.
pub fn instant_or_date() -> RefOr<Schema> {
    let format =
        |f| ObjectBuilder::new().schema_type(Type::String).format(Some(SchemaFormat::KnownFormat(f)));
    let empty = ObjectBuilder::new().schema_type(Type::String).max_length(Some(0));
    Schema::AnyOf(
        AnyOfBuilder::new()
            .item(format(KnownFormat::DateTime))
            .item(format(KnownFormat::Date))
            .item(empty)
            .description(Some("An RFC 3339 instant with an offset, a date, or empty for no bound."))
            .build(),
    )
    .into()
}

/// A grantee: an object naming exactly one of `accountId` or `orgId` (the
/// other absent or `null`), as `consent::service` checks.
pub fn exactly_one_id() -> RefOr<Schema> {
    let uuid = || {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
    };
    let variant = |named: &str, other: &str| {
        ObjectBuilder::new()
            .property(named, uuid())
            .required(named)
            .property(other, ObjectBuilder::new().schema_type(Type::Null))
            .additional_properties(Some(AdditionalProperties::FreeForm(false)))
    };
    Schema::OneOf(
        OneOfBuilder::new()
            .item(variant("accountId", "orgId"))
            .item(variant("orgId", "accountId"))
            .description(Some("Exactly one of `accountId` or `orgId`."))
            .build(),
    )
    .into()
}

/// An IANA time zone name the server knows (`chrono_tz`, the same list that
/// parses them).
pub fn time_zone() -> RefOr<Schema> {
    string_enum(chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name())).build().into()
}

/// The same for an optional body field, which may also be `null`.
pub fn time_zone_or_null() -> RefOr<Schema> {
    let values = chrono_tz::TZ_VARIANTS.iter().map(|tz| Value::from(tz.name())).chain([Value::Null]);
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .enum_values(Some(values))
        .build()
        .into()
}
