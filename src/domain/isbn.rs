//! ISBN: accepted as ISBN-13 or ISBN-10, with hyphens or spaces; stored and shown as 13 digits.

use std::fmt;

/// A valid ISBN-13 (prefix 978 or 979, check digit verified), always 13 ASCII digits.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Isbn(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IsbnError {
    #[error("must be an ISBN-13 or ISBN-10 (digits, optionally separated by hyphens or spaces)")]
    Format,
    #[error("has an invalid check digit")]
    CheckDigit,
    #[error("must start with 978 or 979")]
    Prefix,
}

impl Isbn {
    /// Parses any accepted spelling: `978-0-00-000001-9`, `9780000000019`, `0-306-40615-2`.
    pub fn parse(input: &str) -> Result<Self, IsbnError> {
        let mut digits = [0u8; 13];
        let mut len = 0usize;
        let mut last_was_sep = true;
        for (pos, c) in input.trim().chars().enumerate() {
            match c {
                '0'..='9' | 'X' | 'x' => {
                    if len == 13 {
                        return Err(IsbnError::Format);
                    }
                    digits[len] = if c.is_ascii_digit() {
                        c as u8 - b'0'
                    } else {
                        10
                    };
                    len += 1;
                    last_was_sep = false;
                }
                '-' | ' ' if pos > 0 && !last_was_sep => last_was_sep = true,
                _ => return Err(IsbnError::Format),
            }
        }
        if last_was_sep {
            return Err(IsbnError::Format);
        }
        match len {
            13 => {
                if digits.contains(&10) {
                    return Err(IsbnError::Format);
                }
                if !(digits[..3] == [9, 7, 8] || digits[..3] == [9, 7, 9]) {
                    return Err(IsbnError::Prefix);
                }
                if isbn13_check_digit(&digits[..12]) != digits[12] {
                    return Err(IsbnError::CheckDigit);
                }
                Ok(Isbn(
                    String::from_utf8_lossy(&digits.map(|d| b'0' + d)).into_owned(),
                ))
            }
            10 => {
                if digits[..9].contains(&10) {
                    return Err(IsbnError::Format);
                }
                let sum: u32 = digits[..10]
                    .iter()
                    .enumerate()
                    .map(|(i, d)| (10 - i as u32) * u32::from(*d))
                    .sum();
                if sum % 11 != 0 {
                    return Err(IsbnError::CheckDigit);
                }
                let mut d13 = [0u8; 13];
                d13[..3].copy_from_slice(&[9, 7, 8]);
                d13[3..12].copy_from_slice(&digits[..9]);
                d13[12] = isbn13_check_digit(&d13[..12]);
                Ok(Isbn(d13.iter().map(|d| (b'0' + d) as char).collect()))
            }
            _ => Err(IsbnError::Format),
        }
    }

    /// The ISBN-13 whose twelve leading digits are `978` followed by `n` zero-padded to nine digits
    /// (the benchmark data set's numbering).
    pub fn from_sequence(n: u32) -> Self {
        let body = format!("978{n:09}");
        let digits: Vec<u8> = body.bytes().map(|b| b - b'0').collect();
        let check = isbn13_check_digit(&digits);
        Isbn(format!("{body}{check}"))
    }

    /// Trusted constructor for values read back from the database (which checks them too).
    pub fn from_db(s: String) -> Self {
        Isbn(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

fn isbn13_check_digit(first12: &[u8]) -> u8 {
    let sum: u32 = first12
        .iter()
        .enumerate()
        .map(|(i, d)| u32::from(*d) * if i % 2 == 0 { 1 } else { 3 })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

impl fmt::Display for Isbn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Isbn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Isbn({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_isbn13_and_hyphens() {
        assert_eq!(
            Isbn::parse("9780306406157").unwrap().as_str(),
            "9780306406157"
        );
        assert_eq!(
            Isbn::parse("978-0-306-40615-7").unwrap().as_str(),
            "9780306406157"
        );
        assert_eq!(
            Isbn::parse(" 978 0 306 40615 7 ").unwrap().as_str(),
            "9780306406157"
        );
    }

    #[test]
    fn converts_isbn10() {
        assert_eq!(
            Isbn::parse("0-306-40615-2").unwrap().as_str(),
            "9780306406157"
        );
        assert_eq!(Isbn::parse("080442957X").unwrap().as_str(), "9780804429573");
        assert_eq!(Isbn::parse("080442957x").unwrap().as_str(), "9780804429573");
    }

    #[test]
    fn rejects_bad_check_digits() {
        assert_eq!(Isbn::parse("9780306406158"), Err(IsbnError::CheckDigit));
        assert_eq!(Isbn::parse("0306406153"), Err(IsbnError::CheckDigit));
    }

    #[test]
    fn rejects_bad_shapes() {
        for bad in [
            "",
            "abc",
            "97803064061",
            "97803064061570",
            "978--0306406157",
            "-9780306406157",
            "9780306406157-",
            "97803064061X7",
            "X306406152",
            "978\u{0663}306406157",
        ] {
            assert_eq!(Isbn::parse(bad), Err(IsbnError::Format), "{bad:?}");
        }
        assert_eq!(Isbn::parse("9770306406154"), Err(IsbnError::Prefix));
    }

    #[test]
    fn dataset_sequence_matches_the_documented_examples() {
        assert_eq!(Isbn::from_sequence(1).as_str(), "9780000000019");
        assert_eq!(Isbn::from_sequence(42).as_str(), "9780000000422");
        for n in [1, 7, 999, 20000, 123_456_789] {
            let isbn = Isbn::from_sequence(n);
            assert_eq!(Isbn::parse(isbn.as_str()).unwrap(), isbn);
        }
    }
}
