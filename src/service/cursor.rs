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
    // The sort key and tie-breaker go to SQL as text: a forged cursor must not carry a NUL.
    let sql_safe = |v: &Value| v.as_str().is_none_or(crate::domain::validate::is_sql_text);
    if cursor.s != scope || !sql_safe(&cursor.v) || !sql_safe(&cursor.k) {
        return Err(bad());
    }
    Ok(cursor)
}

/// Lists ordered by id: the id a `cursor` continues after (400 naming the parameter when it is
/// not a cursor of the list `scope`).
pub fn id_after(page: &crate::service::PageArgs, scope: &str) -> AppResult<Option<i64>> {
    let Some(raw) = &page.cursor else {
        return Ok(None);
    };
    decode(raw, scope, page.cursor_name)?
        .k
        .as_i64()
        .map(Some)
        .ok_or_else(|| {
            AppError::bad_param(
                page.cursor_name,
                format!("{} is not a valid cursor for this list", page.cursor_name),
            )
        })
}

/// The cursor of the item with `id` in the id-ordered list `scope`.
pub fn id_cursor(scope: &str, id: i64) -> String {
    encode(&Cursor {
        s: scope.to_owned(),
        v: Value::Null,
        k: Value::from(id),
    })
}

/// A page from `limit + 1` fetched items: the extra one only says that there is a next page.
pub fn page_of<T>(
    mut items: Vec<T>,
    limit: i64,
    cursor_of: impl Fn(&T) -> String,
) -> crate::model::Page<T> {
    let next_cursor = if items.len() as i64 > limit {
        items.truncate(limit as usize);
        items.last().map(cursor_of)
    } else {
        None
    };
    crate::model::Page { items, next_cursor }
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
