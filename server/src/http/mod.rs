//! HTTP plumbing shared by every capability: the JSON body extractor that
//! names bad fields, extractor error handlers, pagination and cursors.

pub mod json;
pub mod limits;
pub mod pagination;
pub mod routes;
pub mod schema;

pub use json::{Json, RawBody};
pub use pagination::{Cursor, ListQuery, Page};

use actix_web::HttpRequest;
use actix_web::error::{PathError, QueryPayloadError};

use crate::error::{ApiError, ErrorCode, FieldError};

/// camelCase for a Rust field name, so error paths match the wire.
pub fn camel(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Turns validator's errors into `{path, message}` rows with wire paths.
pub fn validation_errors(errs: &validator::ValidationErrors, prefix: &str) -> Vec<FieldError> {
    use validator::ValidationErrorsKind as K;
    let mut out = Vec::new();
    for (field, kind) in errs.errors() {
        let path = if prefix.is_empty() { camel(field) } else { format!("{prefix}/{}", camel(field)) };
        match kind {
            K::Field(list) => out.extend(list.iter().map(|e| FieldError::new(&path, describe(e)))),
            K::Struct(inner) => out.extend(validation_errors(inner, &path)),
            K::List(items) => {
                for (i, inner) in items {
                    out.extend(validation_errors(inner, &format!("{path}/{i}")));
                }
            }
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

fn describe(e: &validator::ValidationError) -> String {
    if let Some(m) = &e.message {
        return m.to_string();
    }
    let p = |k: &str| e.params.get(k).map(|v| v.to_string());
    match e.code.as_ref() {
        "length" => match (p("min"), p("max")) {
            (Some(min), Some(max)) => format!("must be {min} to {max} characters long"),
            (Some(min), None) => format!("must be at least {min} characters long"),
            (None, Some(max)) => format!("must be at most {max} characters long"),
            _ => "has the wrong length".into(),
        },
        "range" => match (p("min"), p("max")) {
            (Some(min), Some(max)) => format!("must be between {min} and {max}"),
            (Some(min), None) => format!("must be at least {min}"),
            (None, Some(max)) => format!("must be at most {max}"),
            _ => "is out of range".into(),
        },
        "email" => "must be an email address".into(),
        "required" => "is required".into(),
        other => format!("is invalid ({other})"),
    }
}

pub fn path_error(err: PathError, req: &HttpRequest) -> actix_web::Error {
    // `GET …/observations/batch` reaches the `{observationId}` route; the path is
    // documented (for POST), so the answer is 405, not a complaint about the id.
    if let Some(res) =
        req.app_data::<actix_web::web::Data<routes::RouteTable>>().and_then(|t| t.method_not_allowed(req))
    {
        return actix_web::error::InternalError::from_response(err, res).into();
    }
    let detail = match &err {
        PathError::Deserialize(e) => e.to_string(),
        _ => "bad path parameter".into(),
    };
    // The deserializer names the parameter only in its message; keep it readable.
    ApiError::Problem {
        code: ErrorCode::BadRequest,
        detail: format!("A path parameter is invalid: {detail}."),
        errors: vec![FieldError::new("path", detail)],
    }
    .into()
}

pub fn query_error(err: QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let detail = match &err {
        QueryPayloadError::Deserialize(e) => e.to_string(),
        _ => "bad query string".into(),
    };
    let field = detail.split('`').nth(1).filter(|_| detail.contains("field")).unwrap_or("query").to_owned();
    ApiError::Problem {
        code: ErrorCode::BadRequest,
        detail: format!("The query string is invalid: {detail}."),
        errors: vec![FieldError::new(field, detail)],
    }
    .into()
}

#[cfg(test)]
mod tests {
    #[test]
    fn camel_cases_snake_names() {
        assert_eq!(super::camel("display_name"), "displayName");
        assert_eq!(super::camel("email"), "email");
        assert_eq!(super::camel("push_token"), "pushToken");
    }
}
