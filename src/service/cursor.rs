//! Opaque keyset cursors: base64url of a small JSON object naming the list's sort and order, so a
//! cursor from one ordering is refused (400) by another instead of silently skipping rows.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{AppError, AppResult};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cursor {
    /// The list's sort field and direction, e.g. `books:title:asc`.
    pub s: String,
    /// The sort key of the last item.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub v: Value,
    /// The unique tie-breaker of the last item (ISBN or id).
    pub k: Value,
}

pub fn encode(cursor: &Cursor) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(cursor).unwrap_or_default())
}

/// Decodes a cursor for the list `scope`; anything else is a 400 naming `param`.
pub fn decode(raw: &str, scope: &str, param: &str) -> AppResult<Cursor> {
    let bad = || {
        AppError::bad_param(
            param,
            format!("{param} is not a valid cursor for this list"),
        )
    };
    if raw.len() > 2048 {
        return Err(bad());
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(raw.trim_end_matches('='))
        .map_err(|_| bad())?;
    let cursor: Cursor = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if cursor.s != scope {
        return Err(bad());
    }
    Ok(cursor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_scope() {
        let c = Cursor {
            s: "books:title:asc".into(),
            v: Value::from("Dune"),
            k: Value::from("9780000000019"),
        };
        let raw = encode(&c);
        assert_eq!(decode(&raw, "books:title:asc", "cursor").unwrap(), c);
        assert!(decode(&raw, "books:year:asc", "cursor").is_err());
        assert!(decode("not-a-cursor!", "books:title:asc", "cursor").is_err());
        assert!(decode("", "books:title:asc", "cursor").is_err());
    }
}
