//! The resources as the service returns them; REST renders them as they are (snake_case JSON),
//! GraphQL wraps them in its own output types.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::{Category, Frequency, Role};

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct AuthorRef {
    pub id: i64,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct Author {
    pub id: i64,
    pub name: String,
    pub bio: Option<String>,
    pub born_year: Option<i32>,
    pub book_count: i64,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct Book {
    /// ISBN-13, 13 digits.
    #[schema(example = "9780000000019")]
    pub isbn: String,
    pub title: String,
    pub category: Category,
    pub year: i32,
    pub price_cents: i32,
    pub stock: i32,
    /// In their given order.
    pub authors: Vec<AuthorRef>,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct Magazine {
    pub id: i64,
    pub title: String,
    #[schema(example = "1000-0011")]
    pub issn: String,
    pub publisher: String,
    pub category: Category,
    pub frequency: Frequency,
    pub year: i32,
    pub price_cents: i32,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub role: Role,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub updated_at: DateTime<Utc>,
}

/// One page of a keyset-paginated list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Opaque; pass it back as `cursor` for the next page. `null` on the last page.
    pub next_cursor: Option<String>,
}

/// A page shared between requests (the in-process page cache holds these), with its REST JSON
/// rendered at most once: a cached page is answered with the same bytes every time instead of
/// being serialized again (timestamps and escaping dominated a cached list request's profile).
#[derive(Debug)]
pub struct SharedPage<T> {
    pub page: Page<T>,
    json: std::sync::OnceLock<bytes::Bytes>,
}

impl<T: Serialize> SharedPage<T> {
    pub fn new(page: Page<T>) -> SharedPage<T> {
        SharedPage {
            page,
            json: std::sync::OnceLock::new(),
        }
    }

    /// The page as JSON, rendered on first use.
    pub fn json(&self) -> Result<bytes::Bytes, serde_json::Error> {
        if let Some(b) = self.json.get() {
            return Ok(b.clone());
        }
        let rendered = bytes::Bytes::from(serde_json::to_vec(&self.page)?);
        Ok(self.json.get_or_init(|| rendered).clone())
    }
}
