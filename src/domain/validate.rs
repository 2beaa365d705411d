//! Parsing request fields into domain values, collecting every problem at once.
//!
//! Both doors hand the service a JSON object (REST: the body; GraphQL: the input object serialized
//! with snake_case names), and the service reads it with a [`Fields`] reader. Each accessor records
//! a `{field, message}` problem instead of returning early, so one 422 names every bad field.

use chrono::Datelike;
use serde_json::{Map, Value};

use super::{Category, Email, Frequency, Isbn, Issn, Password, Role, Username};
use crate::error::{AppError, FieldError};

pub const MAX_TITLE: usize = 500;
pub const MAX_NAME: usize = 200;
pub const MAX_BIO: usize = 10_000;
pub const MAX_PRICE_CENTS: i64 = 10_000_000;
pub const MAX_STOCK: i64 = 1_000_000;

/// Whether `s` can be sent to PostgreSQL as text: its `text` type cannot hold NUL (U+0000), and
/// a NUL in a parameter is refused by the server ("invalid byte sequence"). Every text that comes
/// from a client and reaches SQL is checked with this rule (bodies through [`Fields::text`] and
/// the domain types, query parameters and arguments through [`search_text`], cursors when
/// decoded, login names in the login service).
pub fn is_sql_text(s: &str) -> bool {
    !s.contains('\0')
}

/// A search text from a query parameter or argument (`q`, `name`, `titleContains`,
/// `nameContains`): at most `max` characters and no NUL, else a 400 naming `param`.
pub fn search_text(param: &str, value: &str, max: usize) -> Result<(), AppError> {
    if value.chars().count() > max {
        return Err(AppError::bad_param(
            param,
            format!("{param} is limited to {max} characters"),
        ));
    }
    if !is_sql_text(value) {
        return Err(AppError::bad_param(
            param,
            format!("{param} must not contain NUL characters"),
        ));
    }
    Ok(())
}

pub fn current_year() -> i32 {
    chrono::Utc::now().year()
}

/// Reads fields out of one JSON object, collecting problems.
pub struct Fields<'a> {
    map: &'a Map<String, Value>,
    errors: Vec<FieldError>,
}

impl<'a> Fields<'a> {
    /// Starts reading `value`, which must be an object with no keys outside `allowed`.
    pub fn new(value: &'a Value, allowed: &[&str]) -> Result<Self, AppError> {
        let Value::Object(map) = value else {
            return Err(AppError::Validation(vec![FieldError::new(
                "",
                "the request body must be a JSON object",
            )]));
        };
        let mut errors = Vec::new();
        for key in map.keys() {
            if !allowed.contains(&key.as_str()) {
                errors.push(FieldError::new(key, "unknown field"));
            }
        }
        Ok(Fields { map, errors })
    }

    pub fn push(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    /// Whether the key is present at all (a present `null` counts).
    pub fn has(&self, field: &str) -> bool {
        self.map.contains_key(field)
    }

    fn value(&mut self, field: &str, required: bool) -> Option<&'a Value> {
        match self.map.get(field) {
            None | Some(Value::Null) => {
                if required {
                    self.push(field, "is required");
                }
                None
            }
            Some(v) => Some(v),
        }
    }

    pub fn string(&mut self, field: &str, required: bool) -> Option<&'a str> {
        match self.value(field, required)? {
            Value::String(s) => Some(s.as_str()),
            _ => {
                self.push(field, "must be a string");
                None
            }
        }
    }

    pub fn integer(&mut self, field: &str, required: bool, min: i64, max: i64) -> Option<i64> {
        let v = self.value(field, required)?;
        match v.as_i64() {
            Some(n) if (min..=max).contains(&n) => Some(n),
            Some(_) => {
                self.push(field, format!("must be between {min} and {max}"));
                None
            }
            None => {
                self.push(field, "must be an integer");
                None
            }
        }
    }

    /// A trimmed text of `1..=max` characters.
    pub fn text(&mut self, field: &str, required: bool, max: usize) -> Option<String> {
        let s = self.string(field, required)?.trim();
        let n = s.chars().count();
        if n == 0 || n > max {
            self.push(field, format!("must be 1 to {max} characters long"));
            return None;
        }
        if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
            self.push(field, "must not contain control characters");
            return None;
        }
        Some(s.to_owned())
    }

    pub fn isbn(&mut self, field: &str, required: bool) -> Option<Isbn> {
        let s = self.string(field, required)?;
        Isbn::parse(s)
            .map_err(|e| self.push(field, e.to_string()))
            .ok()
    }

    pub fn issn(&mut self, field: &str, required: bool) -> Option<Issn> {
        let s = self.string(field, required)?;
        Issn::parse(s)
            .map_err(|e| self.push(field, e.to_string()))
            .ok()
    }

    pub fn category(&mut self, field: &str, required: bool) -> Option<Category> {
        let s = self.string(field, required)?;
        Category::parse(s).or_else(|| {
            self.push(field, Category::expected());
            None
        })
    }

    pub fn frequency(&mut self, field: &str, required: bool) -> Option<Frequency> {
        let s = self.string(field, required)?;
        Frequency::parse(s).or_else(|| {
            self.push(field, Frequency::expected());
            None
        })
    }

    pub fn role(&mut self, field: &str, required: bool) -> Option<Role> {
        let s = self.string(field, required)?;
        Role::parse(s).or_else(|| {
            self.push(field, Role::expected());
            None
        })
    }

    /// A publication year, 1450..=next calendar year.
    pub fn publication_year(&mut self, field: &str, required: bool) -> Option<i32> {
        let max = i64::from(current_year() + 1);
        self.integer(field, required, 1450, max).map(|y| y as i32)
    }

    pub fn username(&mut self, field: &str, required: bool) -> Option<Username> {
        let s = self.string(field, required)?;
        Username::parse(s).map_err(|m| self.push(field, m)).ok()
    }

    pub fn email(&mut self, field: &str, required: bool) -> Option<Email> {
        let s = self.string(field, required)?;
        Email::parse(s).map_err(|m| self.push(field, m)).ok()
    }

    pub fn password(&mut self, field: &str, required: bool) -> Option<Password> {
        let s = self.string(field, required)?;
        Password::parse(s).map_err(|m| self.push(field, m)).ok()
    }

    /// 1..=10 distinct positive ids.
    pub fn author_ids(&mut self, field: &str, required: bool) -> Option<Vec<i64>> {
        let v = self.value(field, required)?;
        let Value::Array(items) = v else {
            self.push(field, "must be an array of author ids");
            return None;
        };
        if items.is_empty() || items.len() > 10 {
            self.push(field, "must hold 1 to 10 author ids");
            return None;
        }
        let mut ids = Vec::with_capacity(items.len());
        for item in items {
            match item.as_i64() {
                Some(id) if id > 0 => {
                    if ids.contains(&id) {
                        self.push(field, format!("author id {id} appears more than once"));
                        return None;
                    }
                    ids.push(id);
                }
                _ => {
                    self.push(field, "must hold positive integer ids");
                    return None;
                }
            }
        }
        Some(ids)
    }

    /// Ends reading: every problem found, or nothing.
    pub fn finish(self) -> Result<(), AppError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(AppError::Validation(self.errors))
        }
    }
}
