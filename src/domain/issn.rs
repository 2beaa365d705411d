//! ISSN `NNNN-NNNC` with its mod-11 check character (0-9 or X).

use std::fmt;

#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Issn(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IssnError {
    #[error("must look like NNNN-NNNC (C a digit or X)")]
    Format,
    #[error("has an invalid check character")]
    CheckCharacter,
}

impl Issn {
    pub fn parse(input: &str) -> Result<Self, IssnError> {
        let s = input.trim();
        let b = s.as_bytes();
        if b.len() != 9 || b[4] != b'-' {
            return Err(IssnError::Format);
        }
        let digits: Vec<u8> = b[..4].iter().chain(&b[5..8]).copied().collect();
        if !digits.iter().all(u8::is_ascii_digit) {
            return Err(IssnError::Format);
        }
        let last = b[8].to_ascii_uppercase();
        if !(last.is_ascii_digit() || last == b'X') {
            return Err(IssnError::Format);
        }
        if check_character(&digits) != last {
            return Err(IssnError::CheckCharacter);
        }
        Ok(Issn(format!("{}{}", &s[..8], last as char)))
    }

    /// The ISSN whose seven digits are `n` (1_000_000..=9_999_999), with its check character.
    pub fn from_number(n: u32) -> Self {
        let seven = format!("{n:07}");
        let check = check_character(seven.as_bytes()) as char;
        Issn(format!("{}-{}{}", &seven[..4], &seven[4..7], check))
    }

    pub fn from_db(s: String) -> Self {
        Issn(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

fn check_character(seven_ascii_digits: &[u8]) -> u8 {
    let sum: u32 = seven_ascii_digits
        .iter()
        .enumerate()
        .map(|(i, d)| u32::from(d - b'0') * (8 - i as u32))
        .sum();
    match (11 - sum % 11) % 11 {
        10 => b'X',
        c => b'0' + c as u8,
    }
}

impl fmt::Display for Issn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Issn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Issn({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_issns() {
        assert_eq!(Issn::parse("0317-8471").unwrap().as_str(), "0317-8471");
        assert_eq!(Issn::parse("2049-3630").unwrap().as_str(), "2049-3630");
        assert_eq!(Issn::parse("1050-124x").unwrap().as_str(), "1050-124X");
    }

    #[test]
    fn invalid_issns() {
        assert_eq!(Issn::parse("0317-8472"), Err(IssnError::CheckCharacter));
        for bad in [
            "03178471",
            "0317_8471",
            "031-78471",
            "0317-847",
            "A317-8471",
            "0317-847Y",
            "",
        ] {
            assert_eq!(Issn::parse(bad), Err(IssnError::Format), "{bad:?}");
        }
    }

    #[test]
    fn dataset_numbers() {
        assert_eq!(Issn::from_number(1_000_001).as_str(), "1000-0011");
        for n in [1_000_001, 1_000_500, 1_234_567] {
            let issn = Issn::from_number(n);
            assert_eq!(Issn::parse(issn.as_str()).unwrap(), issn);
        }
    }
}
