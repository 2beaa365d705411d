//! The client inputs: one type per input, read from a REST JSON body (serde) or built from a
//! GraphQL input object (`From`), described in the OpenAPI document (`ToSchema`), and validated
//! by the service into domain values. The OpenAPI schema, the GraphQL SDL and the validation
//! therefore name the same fields.
//!
//! Every field is a [`Field`], so a value of the wrong JSON type is a per-field 422 problem, not a
//! decoding failure. Unknown keys are refused (`deny_unknown_fields`): [`read_json`] names every
//! one of them and hands the rest of the body on, so one 422 lists every problem.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;
use utoipa::openapi::{schema::SchemaType, ObjectBuilder, Type};
use utoipa::ToSchema;

use crate::domain::validate::{
    self, Field, ISBN_PATTERN, ISSN_PATTERN, MIN_BORN_YEAR, MIN_PUBLICATION_YEAR, TEXT_PATTERN,
    USERNAME_PATTERN,
};
use crate::domain::{Category, Frequency, Role};
use crate::error::{AppError, AppResult, FieldError};

/// An input as received: its fields, and the keys of the body that are not fields of `T`.
#[derive(Debug)]
pub struct Received<T> {
    pub input: T,
    pub unknown: Vec<String>,
}

impl<T> From<T> for Received<T> {
    fn from(input: T) -> Self {
        Received {
            input,
            unknown: Vec::new(),
        }
    }
}

/// An input the service reads only once it has checked who is asking, so that an anonymous
/// write is a 401 and a write without the role a 403 whatever the input (even malformed JSON).
pub trait Input<T>: Send {
    fn read(self) -> AppResult<Received<T>>;
}

impl<T: Send> Input<T> for Received<T> {
    fn read(self) -> AppResult<Received<T>> {
        Ok(self)
    }
}

/// Reads a JSON request body into `T`: 400 when it is not JSON, 422 when it is not an object.
pub fn read_json<T: DeserializeOwned>(bytes: &[u8]) -> AppResult<Received<T>> {
    let Value::Object(mut map) = parse_json(bytes)? else {
        return Err(AppError::Validation(vec![FieldError::new(
            "",
            "the request body must be a JSON object",
        )]));
    };
    let mut unknown = Vec::new();
    loop {
        // Fields are `Field`s: the only way decoding fails is a key `T` does not have. Each
        // round names one, in the body's key order; `T` has few fields, so this ends quickly.
        match T::deserialize(Value::Object(map.clone())) {
            Ok(input) => return Ok(Received { input, unknown }),
            Err(e) => {
                let msg = e.to_string();
                let key = msg
                    .strip_prefix("unknown field `")
                    .and_then(|rest| rest.split('`').next())
                    .filter(|k| map.contains_key(*k))
                    .map(str::to_owned);
                match key {
                    Some(k) => {
                        map.remove(&k);
                        unknown.push(k);
                    }
                    None => {
                        return Err(AppError::Validation(vec![FieldError::new("", msg)]));
                    }
                }
            }
        }
    }
}

/// Parses a JSON body (400 naming where it breaks).
pub fn parse_json(bytes: &[u8]) -> AppResult<Value> {
    serde_json::from_slice(bytes).map_err(|e| AppError::BadRequest {
        param: None,
        message: format!(
            "malformed JSON at line {} column {}: {}",
            e.line(),
            e.column(),
            json_error_kind(&e)
        ),
    })
}

fn json_error_kind(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Eof => "unexpected end of input",
        serde_json::error::Category::Syntax => "syntax error",
        serde_json::error::Category::Data => "unexpected value",
        serde_json::error::Category::Io => "unreadable body",
    }
}

// --- schemas the attributes cannot state (bounds known at run time, item bounds) ------------

fn integer(min: i64, max: i64, description: &str) -> utoipa::openapi::Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::Integer))
        .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
            utoipa::openapi::KnownFormat::Int32,
        )))
        .minimum(Some(min as f64))
        .maximum(Some(max as f64))
        .description(Some(description))
        .build()
}

fn publication_year() -> utoipa::openapi::Object {
    integer(
        MIN_PUBLICATION_YEAR,
        i64::from(validate::current_year() + 1),
        "Year of publication, 1450 to next calendar year",
    )
}

fn born_year() -> utoipa::openapi::Object {
    let mut o = integer(
        MIN_BORN_YEAR,
        i64::from(validate::current_year()),
        "Year of birth, -3000 to this year; null clears it",
    );
    o.schema_type = SchemaType::from_iter([Type::Integer, Type::Null]);
    o
}

fn author_ids() -> utoipa::openapi::Array {
    utoipa::openapi::ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(SchemaType::Type(Type::Integer))
                .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                    utoipa::openapi::KnownFormat::Int64,
                )))
                .minimum(Some(1.0)),
        )
        .min_items(Some(1))
        .max_items(Some(validate::MAX_AUTHOR_IDS))
        .unique_items(true)
        .description(Some(
            "1 to 10 distinct ids of existing authors, in the order the book names them",
        ))
        .build()
}

fn string(pattern: &str, max: Option<usize>, description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::String))
        .min_length(max.map(|_| 1))
        .max_length(max)
        .pattern(Some(pattern))
        .description(Some(description))
}

fn isbn() -> utoipa::openapi::Object {
    string(
        ISBN_PATTERN,
        None,
        "ISBN-13 (prefix 978 or 979) or ISBN-10, digits optionally separated by single hyphens or \
spaces; the check digit must be valid. Stored and returned as 13 digits",
    )
    .examples(["978-0-306-40615-7"])
    .build()
}

fn issn() -> utoipa::openapi::Object {
    string(
        ISSN_PATTERN,
        None,
        "`NNNN-NNNC`, C a check character (0-9 or X) that must be valid",
    )
    .examples(["2049-3630"])
    .build()
}

fn title() -> utoipa::openapi::Object {
    string(
        TEXT_PATTERN,
        Some(validate::MAX_TITLE),
        "1 to 500 characters after trimming; no control characters but tab and line feed",
    )
    .build()
}

fn name() -> utoipa::openapi::Object {
    string(
        TEXT_PATTERN,
        Some(validate::MAX_NAME),
        "1 to 200 characters after trimming; no control characters but tab and line feed",
    )
    .build()
}

fn bio() -> utoipa::openapi::Object {
    string(
        TEXT_PATTERN,
        Some(validate::MAX_BIO),
        "1 to 10000 characters after trimming; null clears it",
    )
    .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
    .build()
}

fn username() -> utoipa::openapi::Object {
    string(
        USERNAME_PATTERN,
        None,
        "3 to 32 characters of a-z, 0-9, '_', '.' or '-'",
    )
    .build()
}

fn email() -> utoipa::openapi::Object {
    string(
        EMAIL_PATTERN,
        None,
        "A plausible e-mail address of at most 254 characters",
    )
    .max_length(Some(254))
    .build()
}

fn optional_email() -> utoipa::openapi::Object {
    let mut o = email();
    o.schema_type = SchemaType::from_iter([Type::String, Type::Null]);
    o
}

// --- books ----------------------------------------------------------------------------------

/// `POST /v1/book`, GraphQL `CreateBookInput`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookInput {
    /// ISBN-13 (prefix 978 or 979) or ISBN-10, hyphens or spaces allowed; the check digit must be valid
    #[serde(default)]
    #[schema(schema_with = isbn, required = true)]
    pub isbn: Field<String>,
    /// 1 to 500 characters after trimming
    #[serde(default)]
    #[schema(schema_with = title, required = true)]
    pub title: Field<String>,
    #[serde(default)]
    #[schema(value_type = Category, required = true)]
    pub category: Field<String>,
    #[serde(default)]
    #[schema(schema_with = publication_year, required = true)]
    pub year: Field<i64>,
    /// Price in cents
    #[serde(default)]
    #[schema(value_type = i32, required = true, minimum = 0, maximum = 10_000_000)]
    pub price_cents: Field<i64>,
    #[serde(default)]
    #[schema(value_type = i32, required = true, minimum = 0, maximum = 1_000_000)]
    pub stock: Field<i64>,
    #[serde(default)]
    #[schema(schema_with = author_ids, required = true, example = json!([1]))]
    pub author_ids: Field<Vec<Value>>,
}

/// `PUT /v1/book/{isbn}`: every field but the ISBN, all required. GraphQL's `UpdateBookInput`
/// is the same input where any subset may be sent.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookUpdate {
    /// 1 to 500 characters after trimming
    #[serde(default)]
    #[schema(schema_with = title, required = true)]
    pub title: Field<String>,
    #[serde(default)]
    #[schema(value_type = Category, required = true)]
    pub category: Field<String>,
    #[serde(default)]
    #[schema(schema_with = publication_year, required = true)]
    pub year: Field<i64>,
    /// Price in cents
    #[serde(default)]
    #[schema(value_type = i32, required = true, minimum = 0, maximum = 10_000_000)]
    pub price_cents: Field<i64>,
    #[serde(default)]
    #[schema(value_type = i32, required = true, minimum = 0, maximum = 1_000_000)]
    pub stock: Field<i64>,
    #[serde(default)]
    #[schema(schema_with = author_ids, required = true, example = json!([1]))]
    pub author_ids: Field<Vec<Value>>,
}

// --- authors --------------------------------------------------------------------------------

/// `POST /v1/author`, GraphQL `CreateAuthorInput`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthorInput {
    /// 1 to 200 characters after trimming
    #[serde(default)]
    #[schema(schema_with = name, required = true)]
    pub name: Field<String>,
    /// 1 to 10000 characters after trimming
    #[serde(default)]
    #[schema(schema_with = bio)]
    pub bio: Field<String>,
    #[serde(default)]
    #[schema(schema_with = born_year)]
    pub born_year: Field<i64>,
}

/// `PATCH /v1/author/{id}`: any subset of the fields; `null` clears `bio` or `born_year`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthorPatch {
    /// 1 to 200 characters after trimming; never null
    #[serde(default)]
    #[schema(schema_with = name)]
    pub name: Field<String>,
    /// 1 to 10000 characters after trimming
    #[serde(default)]
    #[schema(schema_with = bio)]
    pub bio: Field<String>,
    #[serde(default)]
    #[schema(schema_with = born_year)]
    pub born_year: Field<i64>,
}

/// `PATCH /v1/author/{id}/name`, GraphQL `renameAuthor(name:)`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthorRename {
    /// 1 to 200 characters after trimming
    #[serde(default)]
    #[schema(schema_with = name, required = true)]
    pub name: Field<String>,
}

// --- magazines ------------------------------------------------------------------------------

/// `POST /v1/magazine` and `PUT /v1/magazine/{id}` (every field required), GraphQL
/// `CreateMagazineInput` and `UpdateMagazineInput` (any subset).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MagazineInput {
    /// 1 to 500 characters after trimming
    #[serde(default)]
    #[schema(schema_with = title, required = true)]
    pub title: Field<String>,
    /// `NNNN-NNNC` with a valid check character
    #[serde(default)]
    #[schema(schema_with = issn, required = true)]
    pub issn: Field<String>,
    /// 1 to 200 characters after trimming
    #[serde(default)]
    #[schema(schema_with = name, required = true)]
    pub publisher: Field<String>,
    #[serde(default)]
    #[schema(value_type = Category, required = true)]
    pub category: Field<String>,
    #[serde(default)]
    #[schema(value_type = Frequency, required = true)]
    pub frequency: Field<String>,
    #[serde(default)]
    #[schema(schema_with = publication_year, required = true)]
    pub year: Field<i64>,
    /// Price in cents
    #[serde(default)]
    #[schema(value_type = i32, required = true, minimum = 0, maximum = 10_000_000)]
    pub price_cents: Field<i64>,
}

// --- users ----------------------------------------------------------------------------------

/// `POST /v1/user`, GraphQL `CreateUserInput`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserInput {
    #[serde(default)]
    #[schema(schema_with = username, required = true)]
    pub username: Field<String>,
    /// A plausible e-mail address of at most 254 characters
    #[serde(default)]
    #[schema(schema_with = email, required = true)]
    pub email: Field<String>,
    /// 12 to 128 characters
    #[serde(default)]
    #[schema(value_type = String, required = true, min_length = 12, max_length = 128, format = Password)]
    pub password: Field<String>,
    #[serde(default)]
    #[schema(value_type = Role, required = true)]
    pub role: Field<String>,
}

/// `PUT /v1/user`: `email` and/or `password` (with `current_password`).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    /// A plausible e-mail address of at most 254 characters; null: as if not sent
    #[serde(default)]
    #[schema(schema_with = optional_email)]
    pub email: Field<String>,
    /// 12 to 128 characters; null: as if not sent
    #[serde(default)]
    #[schema(value_type = Option<String>, min_length = 12, max_length = 128, format = Password)]
    pub password: Field<String>,
    /// Required with `password`
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Password)]
    pub current_password: Field<String>,
}

fn grant_type() -> utoipa::openapi::Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::String))
        .enum_values(Some(["password", "refresh_token"]))
        .description(Some(
            "`password` (with username and password) or `refresh_token` (with refresh_token)",
        ))
        .build()
}

/// A plausible e-mail address (what [`crate::domain::Email::parse`] accepts, in ASCII).
pub const EMAIL_PATTERN: &str = r"^\s*[^\s@\u0000-\u001F\u007F-\u009F]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\s*$";

/// `POST /v1/token` (form or JSON). Other parameters (`scope`, `client_id`) are ignored, as
/// OAuth 2.0 clients may send them (RFC 6749 3.3, 2.3.1).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct TokenRequest {
    #[serde(default)]
    #[schema(schema_with = grant_type, required = true)]
    pub grant_type: Field<String>,
    /// Required with `grant_type=password`
    #[serde(default)]
    #[schema(value_type = String, min_length = 1)]
    pub username: Field<String>,
    /// Required with `grant_type=password`
    #[serde(default)]
    #[schema(value_type = String, format = Password, min_length = 1)]
    pub password: Field<String>,
    /// Required with `grant_type=refresh_token`; works once
    #[serde(default)]
    #[schema(value_type = String, min_length = 1)]
    pub refresh_token: Field<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Email;

    #[test]
    fn the_email_pattern_follows_the_parser() {
        let pattern = regex::Regex::new(EMAIL_PATTERN).unwrap();
        for ok in ["a@b.io", " a.b+c@example.org ", "x@sub.domain-1.com"] {
            assert!(pattern.is_match(ok) && Email::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "a",
            "a@b",
            "@b.io",
            "a b@c.io",
            "a@-b.io",
            "\u{9a}\u{5}@6.RL",
        ] {
            assert!(
                !pattern.is_match(bad) && Email::parse(bad).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn unknown_keys_are_all_named_and_the_rest_is_read() {
        let r: Received<AuthorRename> = read_json(br#"{"b": 1, "name": "x", "a": 2}"#).unwrap();
        assert_eq!(r.unknown, ["a", "b"]);
        assert_eq!(r.input.name, Field::Given("x".into()));
        assert!(matches!(
            read_json::<AuthorRename>(b"[1]"),
            Err(AppError::Validation(_))
        ));
        assert!(matches!(
            read_json::<AuthorRename>(b"{"),
            Err(AppError::BadRequest { .. })
        ));
    }
}
