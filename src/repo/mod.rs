//! The repository: every SQL statement of the server lives below this module. Functions take a
//! connection so that the service layer can compose them inside one transaction.

pub mod authors;
pub mod books;
pub mod magazines;
pub mod notify;
pub mod seed;
pub mod tokens;
pub mod users;

use diesel::expression::functions::declare_sql_function;
use diesel::sql_types::Text;

#[declare_sql_function]
extern "SQL" {
    /// PostgreSQL `lower(text)`; the trigram indexes are built on `lower(...)`.
    fn lower(x: Text) -> Text;
}

/// `%needle%` for LIKE, with LIKE's wildcards in the needle escaped (default escape is `\`).
pub fn contains_pattern(needle: &str) -> String {
    let mut p = String::with_capacity(needle.len() + 2);
    p.push('%');
    for c in needle.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

#[cfg(test)]
mod tests {
    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(super::contains_pattern("A_b%"), "%a\\_b\\%%");
    }
}
