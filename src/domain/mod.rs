//! Validated domain values. Each type can only hold what the contract allows ("parse, don't
//! validate"); the service layer builds them from client inputs with [`validate::Check`].

mod enums;
mod isbn;
mod issn;
pub mod validate;

pub use enums::{BookSort, Category, Frequency, Role, SortOrder};
pub use isbn::{Isbn, IsbnError};
pub use issn::{Issn, IssnError};

use std::fmt;

/// `^[a-z0-9_.-]{3,32}$`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        let ok = (3..=32).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b));
        if ok {
            Ok(Username(s.to_owned()))
        } else {
            Err("must be 3 to 32 characters of a-z, 0-9, '_', '.' or '-'")
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn into_string(self) -> String {
        self.0
    }
}

/// A plausible e-mail address: one `@`, a non-empty local part, a dotted domain, at most 254 chars.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        let s = s.trim();
        const MSG: &str = "must be a valid e-mail address of at most 254 characters";
        if s.len() > 254 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(MSG);
        }
        let Some((local, domain)) = s.split_once('@') else {
            return Err(MSG);
        };
        let domain_ok = !domain.contains('@')
            && domain.contains('.')
            && domain.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label.chars().all(|c| c.is_alphanumeric() || c == '-')
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            });
        if local.is_empty() || local.len() > 64 || !domain_ok {
            return Err(MSG);
        }
        Ok(Email(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn into_string(self) -> String {
        self.0
    }
}

/// 12..=128 characters. Never printed: `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        let n = s.chars().count();
        if (12..=128).contains(&n) {
            Ok(Password(s.to_owned()))
        } else {
            Err("must be 12 to 128 characters long")
        }
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert!(Username::parse("alice_01.x-y").is_ok());
        for bad in ["ab", "Alice", "a b c", "ünï", &"a".repeat(33)] {
            assert!(Username::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn emails() {
        assert_eq!(Email::parse(" a@b.io ").unwrap().as_str(), "a@b.io");
        for bad in [
            "a", "a@b", "@b.io", "a@@b.io", "a b@c.io", "a@-b.io", "a@b..io",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
        assert!(Email::parse(&format!("{}@b.io", "a".repeat(250))).is_err());
    }

    #[test]
    fn passwords_hide_in_debug() {
        assert!(Password::parse("short").is_err());
        let p = Password::parse("correct horse battery").unwrap();
        assert_eq!(format!("{p:?}"), "Password(***)");
        assert!(Password::parse(&"x".repeat(129)).is_err());
    }
}
