//! Typed cache keys and their rendering into namespaced, versioned strings.

/// Bump when the cached JSON shape changes.
pub const SCHEMA_VERSION: &str = "v1";
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CacheKey {
    Book(String),
    Author(i64),
    Magazine(i64),
    PersistedQuery(String),
}

impl CacheKey {
    /// The entity kind, for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            CacheKey::Book(_) => "book",
            CacheKey::Author(_) => "author",
            CacheKey::Magazine(_) => "magazine",
            CacheKey::PersistedQuery(_) => "persisted_query",
        }
    }

    /// `<prefix>:<schema version>:<kind>:<id>`, e.g. `bs:v1:book:9780000000019` (built without
    /// `format!`: this runs on every cached read).
    pub fn render(&self, prefix: &str) -> String {
        use std::fmt::Write;
        let mut key = String::with_capacity(prefix.len() + SCHEMA_VERSION.len() + 80);
        key.push_str(prefix);
        key.push(':');
        key.push_str(SCHEMA_VERSION);
        match self {
            CacheKey::Book(isbn) => {
                key.push_str(":book:");
                key.push_str(isbn);
            }
            CacheKey::Author(id) => {
                let _ = write!(key, ":author:{id}");
            }
            CacheKey::Magazine(id) => {
                let _ = write!(key, ":magazine:{id}");
            }
            CacheKey::PersistedQuery(hash) => {
                key.push_str(":apq:");
                key.push_str(hash);
            }
        }
        key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_namespaced_and_versioned() {
        let cases = [
            (
                CacheKey::Book("9780000000019".into()),
                "bs:v1:book:9780000000019",
            ),
            (CacheKey::Author(42), "bs:v1:author:42"),
            (CacheKey::Magazine(-7), "bs:v1:magazine:-7"),
            (CacheKey::PersistedQuery("ab12".into()), "bs:v1:apq:ab12"),
        ];
        for (key, rendered) in cases {
            assert_eq!(key.render("bs"), rendered);
        }
        assert_eq!(
            CacheKey::Book("9780000000019".into()).render("test-1a2b"),
            "test-1a2b:v1:book:9780000000019"
        );
    }
}
