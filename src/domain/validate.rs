//! Turning client inputs into domain values, collecting every problem at once.
//!
//! Each client input is one Rust type (see `crate::service::input`) whose fields are [`Field`]s:
//! a field remembers whether it was absent, `null`, a value of the expected JSON type, or a value
//! of another type, so that decoding never stops at the first bad field. The service then reads
//! the fields with a [`Check`], which records a `{field, message}` problem instead of returning
//! early, so one 422 names every bad field.

use chrono::Datelike;
use serde::{de::DeserializeOwned, Deserialize, Deserializer};
use serde_json::Value;

use super::{Category, Email, Frequency, Isbn, Issn, Password, Role, Username};
use crate::error::{AppError, FieldError};

pub const MAX_TITLE: usize = 500;
pub const MAX_NAME: usize = 200;
pub const MAX_BIO: usize = 10_000;
pub const MAX_PRICE_CENTS: i64 = 10_000_000;
pub const MAX_STOCK: i64 = 1_000_000;
pub const MIN_PUBLICATION_YEAR: i64 = 1450;
pub const MIN_BORN_YEAR: i64 = -3000;
pub const MAX_AUTHOR_IDS: usize = 10;

/// The spellings [`Isbn::parse`] reads (ISBN-13 with prefix 978/979, or ISBN-10; single hyphens or
/// spaces between digits), for the OpenAPI document. The check digit is verified by the parser.
pub const ISBN_PATTERN: &str =
    r"^\s*(?:9[- ]?7[- ]?[89](?:[- ]?[0-9]){10}|[0-9](?:[- ]?[0-9]){8}[- ]?[0-9Xx])\s*$";
/// The spelling [`Issn::parse`] reads; the check character is verified by the parser.
pub const ISSN_PATTERN: &str = r"^\s*[0-9]{4}-[0-9]{3}[0-9Xx]\s*$";
/// A text [`Check::text`] accepts: something besides white space, no control characters but tab
/// and line feed.
pub const TEXT_PATTERN: &str = r"^[^\u0000-\u0008\u000B-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u0008\u000B-\u001F\u007F-\u009F]*$";
/// [`Username::parse`].
pub const USERNAME_PATTERN: &str = r"^[a-z0-9_.-]{3,32}$";

/// Whether `s` can be sent to PostgreSQL as text: its `text` type cannot hold NUL (U+0000), and
/// a NUL in a parameter is refused by the server ("invalid byte sequence"). Every text that comes
/// from a client and reaches SQL is checked with this rule (bodies through [`Fields::text`] and
/// the domain types, searches through `service::check_search`, cursors when
/// decoded, login names in the login service).
pub fn is_sql_text(s: &str) -> bool {
    !s.contains('\0')
}

pub fn current_year() -> i32 {
    chrono::Utc::now().year()
}

/// One field of a client input as it was sent.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Field<T> {
    /// Not sent.
    #[default]
    Absent,
    /// Sent as `null`.
    Null,
    /// Sent with a value of the expected JSON type.
    Given(T),
    /// Sent with a value of another JSON type (reported by [`Check`], never a decoding failure).
    Invalid,
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        if v.is_null() {
            return Ok(Field::Null);
        }
        // JSON has one number type: `2020.0` is the integer 2020 (as in JSON Schema).
        let v = match integral(&v) {
            Some(n) if v.is_f64() => Value::from(n),
            _ => v,
        };
        Ok(T::deserialize(v).map_or(Field::Invalid, Field::Given))
    }
}

/// The integer a JSON number stands for: `7` and `7.0` are 7, `7.5` and `1e300` are not integers.
pub fn integral(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| {
        v.as_f64()
            .filter(|f| f.fract() == 0.0 && (-9.0e15..=9.0e15).contains(f))
            .map(|f| f as i64)
    })
}

impl<T> From<T> for Field<T> {
    fn from(v: T) -> Self {
        Field::Given(v)
    }
}

impl<T> Field<T> {
    /// Absent for `None` (GraphQL's optional input fields).
    pub fn from_option(v: Option<T>) -> Self {
        v.map_or(Field::Absent, Field::Given)
    }
    /// Whether the key was sent at all (a `null` counts).
    pub fn is_sent(&self) -> bool {
        !matches!(self, Field::Absent)
    }
    pub fn is_null(&self) -> bool {
        matches!(self, Field::Null)
    }
}

/// Reads [`Field`]s into domain values, collecting problems.
#[derive(Debug, Default)]
pub struct Check {
    errors: Vec<FieldError>,
}

impl Check {
    /// Starts with an "unknown field" problem for each name in `unknown` (keys of the request
    /// body the input type does not have).
    pub fn new(unknown: &[String]) -> Self {
        Check {
            errors: unknown
                .iter()
                .map(|k| FieldError::new(k, "unknown field"))
                .collect(),
        }
    }

    pub fn push(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    fn given<'a, T>(
        &mut self,
        name: &str,
        f: &'a Field<T>,
        required: bool,
        wrong_type: &str,
    ) -> Option<&'a T> {
        match f {
            Field::Absent | Field::Null => {
                if required {
                    self.push(name, "is required");
                }
                None
            }
            Field::Invalid => {
                self.push(name, wrong_type);
                None
            }
            Field::Given(v) => Some(v),
        }
    }

    pub fn string<'a>(
        &mut self,
        name: &str,
        f: &'a Field<String>,
        required: bool,
    ) -> Option<&'a str> {
        self.given(name, f, required, "must be a string")
            .map(String::as_str)
    }

    pub fn integer(
        &mut self,
        name: &str,
        f: &Field<i64>,
        required: bool,
        min: i64,
        max: i64,
    ) -> Option<i64> {
        let n = *self.given(name, f, required, "must be an integer")?;
        if (min..=max).contains(&n) {
            Some(n)
        } else {
            self.push(name, format!("must be between {min} and {max}"));
            None
        }
    }

    /// A trimmed text of `1..=max` characters.
    pub fn text(
        &mut self,
        name: &str,
        f: &Field<String>,
        required: bool,
        max: usize,
    ) -> Option<String> {
        let s = self.string(name, f, required)?.trim();
        let n = s.chars().count();
        if n == 0 || n > max {
            self.push(name, format!("must be 1 to {max} characters long"));
            return None;
        }
        if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
            self.push(name, "must not contain control characters");
            return None;
        }
        Some(s.to_owned())
    }

    pub fn isbn(&mut self, name: &str, f: &Field<String>, required: bool) -> Option<Isbn> {
        let s = self.string(name, f, required)?;
        Isbn::parse(s)
            .map_err(|e| self.push(name, e.to_string()))
            .ok()
    }

    pub fn issn(&mut self, name: &str, f: &Field<String>, required: bool) -> Option<Issn> {
        let s = self.string(name, f, required)?;
        Issn::parse(s)
            .map_err(|e| self.push(name, e.to_string()))
            .ok()
    }

    pub fn category(&mut self, name: &str, f: &Field<String>, required: bool) -> Option<Category> {
        let s = self.string(name, f, required)?;
        Category::parse(s).or_else(|| {
            self.push(name, Category::expected());
            None
        })
    }

    pub fn frequency(
        &mut self,
        name: &str,
        f: &Field<String>,
        required: bool,
    ) -> Option<Frequency> {
        let s = self.string(name, f, required)?;
        Frequency::parse(s).or_else(|| {
            self.push(name, Frequency::expected());
            None
        })
    }

    pub fn role(&mut self, name: &str, f: &Field<String>, required: bool) -> Option<Role> {
        let s = self.string(name, f, required)?;
        Role::parse(s).or_else(|| {
            self.push(name, Role::expected());
            None
        })
    }

    /// A publication year, 1450..=next calendar year.
    pub fn publication_year(&mut self, name: &str, f: &Field<i64>, required: bool) -> Option<i32> {
        let max = i64::from(current_year() + 1);
        self.integer(name, f, required, MIN_PUBLICATION_YEAR, max)
            .map(|y| y as i32)
    }

    pub fn username(&mut self, name: &str, f: &Field<String>, required: bool) -> Option<Username> {
        let s = self.string(name, f, required)?;
        Username::parse(s).map_err(|m| self.push(name, m)).ok()
    }

    pub fn email(&mut self, name: &str, f: &Field<String>, required: bool) -> Option<Email> {
        let s = self.string(name, f, required)?;
        Email::parse(s).map_err(|m| self.push(name, m)).ok()
    }

    pub fn password(&mut self, name: &str, f: &Field<String>, required: bool) -> Option<Password> {
        let s = self.string(name, f, required)?;
        Password::parse(s).map_err(|m| self.push(name, m)).ok()
    }

    /// 1..=10 distinct positive ids.
    pub fn author_ids(
        &mut self,
        name: &str,
        f: &Field<Vec<Value>>,
        required: bool,
    ) -> Option<Vec<i64>> {
        let items = self.given(name, f, required, "must be an array of author ids")?;
        if items.is_empty() || items.len() > MAX_AUTHOR_IDS {
            self.push(name, "must hold 1 to 10 author ids");
            return None;
        }
        let mut ids = Vec::with_capacity(items.len());
        for item in items {
            match integral(item) {
                Some(id) if id > 0 => {
                    if ids.contains(&id) {
                        self.push(name, format!("author id {id} appears more than once"));
                        return None;
                    }
                    ids.push(id);
                }
                _ => {
                    self.push(name, "must hold positive integer ids");
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

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct T {
        #[serde(default)]
        a: Field<i64>,
        #[serde(default)]
        b: Field<String>,
    }

    #[test]
    fn fields_remember_how_they_were_sent() {
        let t: T = serde_json::from_str(r#"{"a": "x", "b": null}"#).unwrap();
        assert_eq!((t.a, t.b), (Field::Invalid, Field::Null));
        let t: T = serde_json::from_str(r#"{"a": 1.5}"#).unwrap();
        assert_eq!((t.a, t.b), (Field::Invalid, Field::Absent));
        let t: T = serde_json::from_str(r#"{"a": 2020.0, "b": 1.0}"#).unwrap();
        assert_eq!((t.a, t.b), (Field::Given(2020), Field::Invalid));
        let t: T = serde_json::from_str(r#"{"a": 7, "b": "s"}"#).unwrap();
        assert_eq!((t.a, t.b), (Field::Given(7), Field::Given("s".into())));
    }

    #[test]
    fn checks_collect_every_problem() {
        let mut c = Check::new(&["id".into()]);
        assert_eq!(c.integer("a", &Field::Invalid, true, 0, 1), None);
        assert_eq!(c.text("b", &Field::Absent, true, 5), None);
        assert_eq!(c.integer("c", &Field::Given(9), true, 0, 1), None);
        let Err(AppError::Validation(errors)) = c.finish() else {
            panic!("expected a validation error")
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["id", "a", "b", "c"]);
    }

    #[test]
    fn patterns_accept_what_the_parsers_accept() {
        let isbn = regex::Regex::new(ISBN_PATTERN).unwrap();
        for ok in [
            "978-0-306-40615-7",
            "0-306-40615-2",
            "9780306406157",
            "0 306 40615 2",
            "080442957X",
        ] {
            assert!(Isbn::parse(ok).is_ok() && isbn.is_match(ok), "{ok}");
        }
        for bad in ["978--0306406157", "-9780306406157", "97803064061", "abc"] {
            assert!(Isbn::parse(bad).is_err() && !isbn.is_match(bad), "{bad}");
        }
        let issn = regex::Regex::new(ISSN_PATTERN).unwrap();
        assert!(issn.is_match("2049-3630") && !issn.is_match("20493630"));
        let text = regex::Regex::new(TEXT_PATTERN).unwrap();
        let mut c = Check::default();
        for s in ["a", " a ", "line\nbreak", "tab\there"] {
            assert!(
                text.is_match(s) && c.text("t", &Field::Given(s.into()), true, 50).is_some(),
                "{s:?}"
            );
        }
        for s in ["", "   ", "bell\u{7}", "\r"] {
            assert!(
                !text.is_match(s) && c.text("t", &Field::Given(s.into()), true, 50).is_none(),
                "{s:?}"
            );
        }
    }
}
