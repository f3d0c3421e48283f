//! Which methods each documented path accepts, read from the OpenAPI document,
//! so that a known path called with another method answers 405 with `Allow`
//! instead of a 404 (or a 400 from a neighbouring `{id}` route that happened
//! to capture a fixed segment such as `observations/batch`).

use actix_web::HttpRequest;
use actix_web::http::header;
use actix_web::{HttpResponse, web};

use crate::error::{ApiError, ErrorCode};

#[derive(Debug, PartialEq, Eq)]
enum Segment {
    Fixed(String),
    Param,
}

/// The documented paths and their methods.
#[derive(Debug, Default)]
pub struct RouteTable {
    routes: Vec<(Vec<Segment>, Vec<&'static str>)>,
}

impl RouteTable {
    pub fn from_spec(spec: &utoipa::openapi::OpenApi) -> Self {
        let routes = spec
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let segments = split(path)
                    .map(|s| {
                        if s.starts_with('{') && s.ends_with('}') {
                            Segment::Param
                        } else {
                            Segment::Fixed(s.to_owned())
                        }
                    })
                    .collect();
                let methods = [
                    ("GET", item.get.is_some()),
                    ("PUT", item.put.is_some()),
                    ("POST", item.post.is_some()),
                    ("DELETE", item.delete.is_some()),
                    ("PATCH", item.patch.is_some()),
                ]
                .into_iter()
                .filter_map(|(m, present)| present.then_some(m))
                .collect();
                (segments, methods)
            })
            .collect();
        Self { routes }
    }

    /// The methods of the most specific documented path matching `path` (the
    /// one with the fewest `{parameters}`, as the router itself prefers fixed
    /// segments), or `None` when no documented path matches.
    pub fn allowed(&self, path: &str) -> Option<&[&'static str]> {
        let parts: Vec<&str> = split(path).collect();
        self.routes
            .iter()
            .filter(|(segs, _)| {
                segs.len() == parts.len()
                    && segs.iter().zip(&parts).all(|(s, p)| match s {
                        Segment::Fixed(f) => f == p,
                        Segment::Param => !p.is_empty(),
                    })
            })
            .min_by_key(|(segs, _)| segs.iter().filter(|s| **s == Segment::Param).count())
            .map(|(_, methods)| methods.as_slice())
    }

    /// A 405 problem when `req`'s path is documented but not for its method.
    pub fn method_not_allowed(&self, req: &HttpRequest) -> Option<HttpResponse> {
        let allowed = self.allowed(req.path())?;
        if allowed.contains(&req.method().as_str()) {
            return None;
        }
        let allow = allowed.join(", ");
        let err = ApiError::new(
            ErrorCode::MethodNotAllowed,
            format!("{} is not accepted here; this path accepts {allow}.", req.method()),
        );
        let mut res = actix_web::ResponseError::error_response(&err);
        if let Ok(v) = header::HeaderValue::from_str(&allow) {
            res.headers_mut().insert(header::ALLOW, v);
        }
        Some(res)
    }
}

fn split(path: &str) -> impl Iterator<Item = &str> {
    path.trim_end_matches('/').split('/').skip(1)
}

/// The default service: 405 for a documented path with another method, else 404.
pub async fn fallback(req: HttpRequest, table: web::Data<RouteTable>) -> HttpResponse {
    table.method_not_allowed(&req).unwrap_or_else(|| {
        actix_web::ResponseError::error_response(&ApiError::new(ErrorCode::NotFound, "No such endpoint."))
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_most_specific_path_decides() {
        let table = RouteTable::from_spec(&crate::openapi::spec());
        assert_eq!(table.allowed("/v1/persons/abc/observations/batch"), Some(&["POST"][..]));
        assert_eq!(table.allowed("/v1/persons/abc/observations/xyz"), Some(&["GET", "DELETE"][..]));
        assert_eq!(table.allowed("/healthz"), Some(&["GET"][..]));
        assert_eq!(table.allowed("/v1/nothing"), None);
        assert_eq!(table.allowed("/v1/persons//grants"), None);
    }
}
