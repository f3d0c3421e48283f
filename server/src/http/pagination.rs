//! Keyset pagination: `?limit=&cursor=` in, `{items, nextCursor}` out.
//! Cursors are opaque to clients: base64url of a small JSON key, versioned so
//! the server may change what it puts inside.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;

pub const DEFAULT_LIMIT: u64 = 50;
pub const MAX_LIMIT: u64 = 500;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Page size, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u64>,
    /// `nextCursor` from the previous page.
    #[param(min_length = 1)]
    pub cursor: Option<String>,
}

/// A page size from `?limit=`: 50 when absent, 1 to 500 otherwise.
pub fn page_limit(limit: Option<u64>) -> Result<u64, crate::error::FieldError> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(_) => Err(crate::error::FieldError::new("limit", format!("must be between 1 and {MAX_LIMIT}"))),
    }
}

impl ListQuery {
    pub fn limit(&self) -> Result<u64, ApiError> {
        page_limit(self.limit).map_err(|e| ApiError::validation(vec![e]))
    }

    pub fn cursor<K: DeserializeOwned>(&self) -> Result<Option<K>, ApiError> {
        self.cursor.as_deref().map(Cursor::decode).transpose()
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from `limit + 1` fetched rows: the extra row only tells
    /// that another page exists, and the cursor is the last returned row's key.
    pub fn from_rows<K: Serialize>(mut rows: Vec<T>, limit: u64, key: impl Fn(&T) -> K) -> Self {
        let more = rows.len() as u64 > limit;
        rows.truncate(limit as usize);
        let next_cursor = if more { rows.last().map(|r| Cursor::encode(&key(r))) } else { None };
        Page { items: rows, next_cursor }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page { items: self.items.into_iter().map(f).collect(), next_cursor: self.next_cursor }
    }
}

pub struct Cursor;

impl Cursor {
    pub fn encode<K: Serialize>(key: &K) -> String {
        let json = serde_json::json!({ "v": 1, "k": key });
        B64.encode(json.to_string())
    }

    pub fn decode<K: DeserializeOwned>(s: &str) -> Result<K, ApiError> {
        #[derive(Deserialize)]
        struct Wrapped<K> {
            v: u8,
            k: K,
        }
        let bad = || ApiError::field("cursor", "is not a cursor this server issued");
        let bytes = B64.decode(s.trim()).map_err(|_| bad())?;
        let w: Wrapped<K> = serde_json::from_slice(&bytes).map_err(|_| bad())?;
        if w.v != 1 {
            return Err(bad());
        }
        Ok(w.k)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let c = Cursor::encode(&("2026-01-01T00:00:00Z", 7));
        let k: (String, i32) = Cursor::decode(&c).unwrap();
        assert_eq!(k, ("2026-01-01T00:00:00Z".to_string(), 7));
        assert!(Cursor::decode::<(String, i32)>("not-a-cursor").is_err());
        assert!(Cursor::decode::<(String, i32)>(&B64.encode("{\"v\":2,\"k\":1}")).is_err());
    }

    #[test]
    fn page_uses_the_extra_row_only_as_a_signal() {
        let p = Page::from_rows(vec![1, 2, 3], 2, |r| *r);
        assert_eq!(p.items, vec![1, 2]);
        assert_eq!(Cursor::decode::<i32>(p.next_cursor.as_deref().unwrap()).unwrap(), 2);
        assert!(Page::from_rows(vec![1, 2], 2, |r| *r).next_cursor.is_none());
    }
}
