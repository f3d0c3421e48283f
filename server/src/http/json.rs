//! `Json<T>`: a JSON body extractor that answers every failure with a problem
//! naming the field: 415 for a wrong content type, 413 past the size limit,
//! 400 for malformed JSON, 422 for a wrong type, missing or unknown field
//! (with its path) or a failed `validator` rule.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::StreamExt;
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use validator::Validate;

use crate::error::{ApiError, ErrorCode, FieldError};
use crate::startup::AppState;

pub struct Json<T>(pub T);

impl<T> std::ops::Deref for Json<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + Validate + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit =
            req.app_data::<web::Data<AppState>>().map(|s| s.settings.max_body_bytes).unwrap_or(1024 * 1024);
        let content_type_ok = is_json(req);
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let mut payload = payload.take();
        Box::pin(async move {
            if !content_type_ok {
                return Err(ApiError::new(
                    ErrorCode::UnsupportedMediaType,
                    "The body must be sent as `Content-Type: application/json`.",
                ));
            }
            if declared.is_some_and(|n| n > limit) {
                return Err(too_large(limit));
            }
            let body = read_limited(&mut payload, limit).await?;
            let value = parse::<T>(&body)?;
            value.validate().map_err(|e| ApiError::validation(super::validation_errors(&e, "")))?;
            Ok(Json(value))
        })
    }
}

/// The raw body, read up to the configured limit; past it a 413 problem like
/// every other error (actix's own `Bytes` extractor answers a bare 413).
pub struct RawBody(pub web::Bytes);

impl FromRequest for RawBody {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit =
            req.app_data::<web::Data<AppState>>().map(|s| s.settings.max_body_bytes).unwrap_or(1024 * 1024);
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let mut payload = payload.take();
        Box::pin(async move {
            if declared.is_some_and(|n| n > limit) {
                return Err(too_large(limit));
            }
            read_limited(&mut payload, limit).await.map(RawBody)
        })
    }
}

async fn read_limited(payload: &mut Payload, limit: usize) -> Result<web::Bytes, ApiError> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk
            .map_err(|e| ApiError::new(ErrorCode::BadRequest, format!("The body could not be read: {e}.")))?;
        if body.len() + chunk.len() > limit {
            return Err(too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(ErrorCode::PayloadTooLarge, format!("The body is larger than {limit} bytes."))
}

fn is_json(req: &HttpRequest) -> bool {
    let Some(ct) = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Deserialises with the failing field's path; JSON syntax errors are 400,
/// shape errors 422.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(ErrorCode::BadRequest, "The body is empty; send a JSON object."));
    }
    // JSON can carry NUL only as `\u0000`; PostgreSQL text cannot store it (a 500
    // there, found by the contract fuzzer), and no field of this API needs it.
    if body.windows(6).any(|w| w.eq_ignore_ascii_case(b"\\u0000"))
        && let Ok(value) = serde_json::from_slice::<serde_json::Value>(body)
        && let Some(path) = nul_path(&value, String::new())
    {
        let path = if path.is_empty() { "/".to_owned() } else { path };
        return Err(ApiError::validation(vec![FieldError::new(path, "must not contain the NUL character")]));
    }
    let de = &mut serde_json::Deserializer::from_slice(body);
    match serde_path_to_error::deserialize(de) {
        Ok(parsed) => Ok(parsed),
        // JSON Schema calls `12.0` an integer (the number's value is integral),
        // and generators and some JSON encoders send it so; serde's integer
        // types refuse it. Only on that refusal is the body re-read with every
        // integral float turned into an integer, so the common path costs nothing
        // and `12.5` is still refused, naming the field.
        Err(err) if err.inner().to_string().starts_with("invalid type: floating point `") => {
            let mut value: serde_json::Value = serde_json::from_slice(body).map_err(|_| shape_error(err))?;
            integral_floats_as_integers(&mut value);
            serde_path_to_error::deserialize(value).map_err(shape_error)
        }
        Err(err) => Err(shape_error(err)),
    }
}

/// A deserialisation failure as a problem: syntax errors are 400, shape errors
/// 422 naming the field.
fn shape_error(err: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let inner = err.inner();
    if inner.is_syntax() || inner.is_eof() {
        return ApiError::new(
            ErrorCode::BadRequest,
            format!("The body is not valid JSON (line {}, column {}).", inner.line(), inner.column()),
        );
    }
    let mut path = json_path(err.path());
    let message = strip_position(&inner.to_string());
    let named = ["unknown field `", "missing field `"]
        .iter()
        .find_map(|p| message.strip_prefix(p).and_then(|r| r.split('`').next()));
    if let Some(field) = named.filter(|f| path != *f && !path.ends_with(&format!("/{f}"))) {
        path = if path.is_empty() { field.to_owned() } else { format!("{path}/{field}") };
    }
    if path.is_empty() {
        path = "/".into();
    }
    ApiError::validation(vec![FieldError::new(path, message)])
}

/// Turns every float with an integral value that fits an `i64` (`12.0`,
/// `-3e2`) into that integer; `f64` fields accept integers, so only integer
/// fields see a difference.
fn integral_floats_as_integers(value: &mut serde_json::Value) {
    // 2^63 as f64: the first value past `i64::MAX`.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    match value {
        serde_json::Value::Number(n) if n.is_f64() => {
            if let Some(f) = n.as_f64()
                && f.fract() == 0.0
                && (-LIMIT..LIMIT).contains(&f)
            {
                #[allow(clippy::cast_possible_truncation)] // integral and in range: exact
                let int = f as i64;
                *value = serde_json::Value::from(int);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(integral_floats_as_integers),
        serde_json::Value::Object(map) => map.values_mut().for_each(integral_floats_as_integers),
        _ => {}
    }
}

/// The slash path of the first key or string holding a NUL character.
fn nul_path(value: &serde_json::Value, at: String) -> Option<String> {
    let join = |k: &str| if at.is_empty() { k.to_owned() } else { format!("{at}/{k}") };
    match value {
        serde_json::Value::String(s) => s.contains('\0').then_some(at),
        serde_json::Value::Array(items) => {
            items.iter().enumerate().find_map(|(i, v)| nul_path(v, join(&i.to_string())))
        }
        serde_json::Value::Object(map) => {
            map.iter().find_map(|(k, v)| if k.contains('\0') { Some(join(k)) } else { nul_path(v, join(k)) })
        }
        _ => None,
    }
}

fn json_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    path.iter()
        .filter_map(|seg| match seg {
            Segment::Seq { index } => Some(index.to_string()),
            Segment::Map { key } => Some(key.clone()),
            Segment::Enum { variant } => Some(variant.clone()),
            Segment::Unknown => None,
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        display_name: String,
        items: Vec<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        value: f64,
    }

    fn errors(body: &str) -> (ErrorCode, Vec<FieldError>) {
        match parse::<Outer>(body.as_bytes()).unwrap_err() {
            ApiError::Problem { code, errors, .. } => (code, errors),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn names_the_failing_field() {
        let (code, errs) = errors(r#"{"displayName":"a","items":[{"value":1},{"value":"x"}]}"#);
        assert_eq!(code, ErrorCode::ValidationFailed);
        assert_eq!(errs[0].path, "items/1/value");
        let (_, errs) = errors(r#"{"displayName":"a","items":[],"extra":1}"#);
        assert_eq!(errs[0].path, "extra");
        let (_, errs) = errors(r#"{"items":[]}"#);
        assert_eq!(errs[0].path, "displayName");
    }

    #[test]
    fn a_nul_character_is_refused_with_its_path() {
        let (code, errs) = errors(r#"{"displayName":"a","items":[{"value":1,"note":"x\u0000y"}]}"#);
        assert_eq!(code, ErrorCode::ValidationFailed);
        assert_eq!(errs[0].path, "items/0/note");
    }

    #[derive(Debug, Deserialize)]
    struct Counted {
        count: i32,
        ratio: f64,
    }

    #[test]
    fn an_integral_float_is_an_integer_and_a_fraction_is_refused() {
        let ok: Counted = parse(br#"{"count": 12.0, "ratio": 2.5}"#).unwrap();
        assert_eq!((ok.count, ok.ratio), (12, 2.5));
        let ok: Counted = parse(br#"{"count": -3e2, "ratio": 4.0}"#).unwrap();
        assert_eq!((ok.count, ok.ratio), (-300, 4.0));
        for body in [r#"{"count": 12.5, "ratio": 1}"#, r#"{"count": 1e300, "ratio": 1}"#] {
            match parse::<Counted>(body.as_bytes()).unwrap_err() {
                ApiError::Problem { code, errors, .. } => {
                    assert_eq!(code, ErrorCode::ValidationFailed);
                    assert_eq!(errors[0].path, "count");
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    #[test]
    fn malformed_json_is_a_bad_request() {
        assert_eq!(errors(r#"{"displayName": "#).0, ErrorCode::BadRequest);
        assert_eq!(errors("  ").0, ErrorCode::BadRequest);
    }
}
