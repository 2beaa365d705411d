//! The closed vocabularies of the contract: categories, magazine frequencies, user roles, sort orders.

use serde::{Deserialize, Serialize};

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema, async_graphql::Enum)]
        #[serde(rename_all = "snake_case")]
        $(#[$meta])*
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }

            /// "one of a, b, c" for error messages.
            pub fn expected() -> String {
                let names: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                format!("must be one of {}", names.join(", "))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum!(
    /// Book and magazine category.
    Category {
        Fiction = "fiction",
        NonFiction = "non_fiction",
        Science = "science",
        History = "history",
        Children = "children",
        Technology = "technology",
        Fantasy = "fantasy",
        Biography = "biography",
    }
);

string_enum!(
    /// How often a magazine appears.
    Frequency {
        Weekly = "weekly",
        Biweekly = "biweekly",
        Monthly = "monthly",
        Quarterly = "quarterly",
        Yearly = "yearly",
    }
);

string_enum!(
    /// A user's role: admins may do everything, editors may create and change the catalogue.
    Role {
        Admin = "admin",
        Editor = "editor",
    }
);

string_enum!(
    /// Sort direction.
    #[graphql(name = "OrderDirection")]
    SortOrder {
        Asc = "asc",
        Desc = "desc",
    }
);

string_enum!(
    /// Sort fields of the book list.
    #[graphql(name = "BookOrderField")]
    BookSort {
        Isbn = "isbn",
        Title = "title",
        Year = "year",
        Price = "price",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for c in Category::ALL {
            assert_eq!(Category::parse(c.as_str()), Some(*c));
        }
        assert_eq!(Category::parse("Fiction"), None);
        assert_eq!(Frequency::parse("biweekly"), Some(Frequency::Biweekly));
        assert!(Role::expected().contains("admin, editor"));
    }
}
