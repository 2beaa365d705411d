//! The input objects of the schema, converted (`From`) into the service's input types.

use async_graphql::{InputObject, ID};

use crate::domain::validate::Field;
use crate::domain::{BookSort, Category, Frequency, Role, SortOrder};
use crate::graphql::context::GqlResult;
use crate::service::input;

#[derive(InputObject)]
pub struct BookFilter {
    pub category: Option<Category>,
    pub year: Option<i32>,
    pub author_id: Option<ID>,
    pub title_contains: Option<String>,
}

#[derive(InputObject)]
pub struct BookOrder {
    pub field: BookSort,
    pub direction: SortOrder,
}

#[derive(InputObject)]
pub struct CreateBookInput {
    pub isbn: String,
    pub title: String,
    pub category: Category,
    pub year: i32,
    pub price_cents: i32,
    pub stock: i32,
    pub author_ids: Vec<ID>,
}

#[derive(InputObject)]
pub struct UpdateBookInput {
    pub title: Option<String>,
    pub category: Option<Category>,
    pub year: Option<i32>,
    pub price_cents: Option<i32>,
    pub stock: Option<i32>,
    pub author_ids: Option<Vec<ID>>,
}

#[derive(InputObject)]
pub struct CreateAuthorInput {
    pub name: String,
    pub bio: Option<String>,
    pub born_year: Option<i32>,
}

#[derive(InputObject)]
pub struct CreateMagazineInput {
    pub title: String,
    pub issn: String,
    pub publisher: String,
    pub category: Category,
    pub frequency: Frequency,
    pub year: i32,
    pub price_cents: i32,
}

#[derive(InputObject)]
pub struct UpdateMagazineInput {
    pub title: Option<String>,
    pub issn: Option<String>,
    pub publisher: Option<String>,
    pub category: Option<Category>,
    pub frequency: Option<Frequency>,
    pub year: Option<i32>,
    pub price_cents: Option<i32>,
}

#[derive(InputObject)]
pub struct CreateUserInput {
    pub username: String,
    pub email: String,
    pub password: String,
    pub role: Role,
}

/// Parses a GraphQL `ID` holding a REST integer id.
pub fn parse_id(id: &ID, field: &str) -> async_graphql::Result<i64> {
    crate::service::id_param(id, field).gql()
}

/// GraphQL ids as the JSON values a REST client would send: integers where they are, else the
/// text (which the service reports as not an id).
fn id_values(ids: Vec<ID>) -> Vec<serde_json::Value> {
    ids.into_iter()
        .map(|id| match id.parse::<i64>() {
            Ok(n) => serde_json::Value::from(n),
            Err(_) => serde_json::Value::from(id.0),
        })
        .collect()
}

fn text<T: Into<String>>(v: Option<T>) -> Field<String> {
    Field::from_option(v.map(Into::into))
}

fn name_of<T: std::fmt::Display>(v: Option<T>) -> Field<String> {
    Field::from_option(v.map(|v| v.to_string()))
}

fn int(v: Option<i32>) -> Field<i64> {
    Field::from_option(v.map(i64::from))
}

impl From<CreateBookInput> for input::BookInput {
    fn from(i: CreateBookInput) -> Self {
        input::BookInput {
            isbn: text(Some(i.isbn)),
            title: text(Some(i.title)),
            category: name_of(Some(i.category)),
            year: int(Some(i.year)),
            price_cents: int(Some(i.price_cents)),
            stock: int(Some(i.stock)),
            author_ids: Field::Given(id_values(i.author_ids)),
        }
    }
}

impl From<UpdateBookInput> for input::BookUpdate {
    fn from(i: UpdateBookInput) -> Self {
        input::BookUpdate {
            title: text(i.title),
            category: name_of(i.category),
            year: int(i.year),
            price_cents: int(i.price_cents),
            stock: int(i.stock),
            author_ids: Field::from_option(i.author_ids.map(id_values)),
        }
    }
}

impl From<CreateAuthorInput> for input::AuthorInput {
    fn from(i: CreateAuthorInput) -> Self {
        input::AuthorInput {
            name: text(Some(i.name)),
            bio: text(i.bio),
            born_year: int(i.born_year),
        }
    }
}

impl From<CreateMagazineInput> for input::MagazineInput {
    fn from(i: CreateMagazineInput) -> Self {
        input::MagazineInput {
            title: text(Some(i.title)),
            issn: text(Some(i.issn)),
            publisher: text(Some(i.publisher)),
            category: name_of(Some(i.category)),
            frequency: name_of(Some(i.frequency)),
            year: int(Some(i.year)),
            price_cents: int(Some(i.price_cents)),
        }
    }
}

impl From<UpdateMagazineInput> for input::MagazineInput {
    fn from(i: UpdateMagazineInput) -> Self {
        input::MagazineInput {
            title: text(i.title),
            issn: text(i.issn),
            publisher: text(i.publisher),
            category: name_of(i.category),
            frequency: name_of(i.frequency),
            year: int(i.year),
            price_cents: int(i.price_cents),
        }
    }
}

impl From<CreateUserInput> for input::UserInput {
    fn from(i: CreateUserInput) -> Self {
        input::UserInput {
            username: text(Some(i.username)),
            email: text(Some(i.email)),
            password: text(Some(i.password)),
            role: name_of(Some(i.role)),
        }
    }
}
