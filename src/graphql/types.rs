//! GraphQL output and input types. Outputs wrap the service's models; inputs convert (`From`)
//! into the service's input types (`crate::service::input`), the same types the REST door
//! reads, so both doors share every validation rule.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::{ComplexObject, Context, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};

use super::context::GqlResult;
use super::loaders::{AuthorBooksKey, Loaders};
use crate::domain::validate::Field;
use crate::domain::{BookSort, Category, Frequency, Role, SortOrder};
use crate::model;
use crate::service::{authors, books, input, magazines};

/// Full records of the authors of a list of books, loaded once for the whole list.
pub type AuthorMap = Arc<HashMap<i64, model::Author>>;

/// A book, optionally with its authors' full records already loaded (see [`full_authors_needed`]).
pub struct Book(pub model::Book, pub Option<AuthorMap>);

/// Whether the selection under this connection asks for more of `Book.authors` than id and
/// name. Then the resolver of the list loads every author of the page in one batch up front, so
/// the count of statements never depends on how the nested resolvers' timing splits batches.
pub fn authors_selected(ctx: &Context<'_>) -> bool {
    let la = ctx.look_ahead();
    la.field("nodes").field("authors").exists()
        || la.field("edges").field("node").field("authors").exists()
}

pub fn full_authors_needed(ctx: &Context<'_>) -> bool {
    let la = ctx.look_ahead();
    [
        la.field("nodes").field("authors"),
        la.field("edges").field("node").field("authors"),
    ]
    .iter()
    .any(|authors| {
        authors.selection_fields().iter().any(|f| {
            f.selection_set()
                .any(|c| !matches!(c.name(), "id" | "name" | "__typename"))
        })
    })
}

/// The full records of every author of `books`, in one batch through the service.
pub async fn load_author_map(
    ctx: &Context<'_>,
    books: &[model::Book],
) -> async_graphql::Result<AuthorMap> {
    let mut ids: Vec<i64> = books
        .iter()
        .flat_map(|b| b.authors.iter().map(|a| a.id))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let authors = super::context::app(ctx)
        .authors_by_ids(&super::context::request_ctx(ctx), &ids)
        .await
        .gql()?;
    Ok(Arc::new(authors.into_iter().map(|a| (a.id, a)).collect()))
}

#[Object]
impl Book {
    async fn isbn(&self) -> &str {
        &self.0.isbn
    }
    async fn title(&self) -> &str {
        &self.0.title
    }
    async fn category(&self) -> Category {
        self.0.category
    }
    async fn year(&self) -> i32 {
        self.0.year
    }
    async fn price_cents(&self) -> i32 {
        self.0.price_cents
    }
    async fn stock(&self) -> i32 {
        self.0.stock
    }
    /// In their given order.
    async fn authors(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Author>> {
        // The book already carries each author's id and name: when nothing else is asked for,
        // answer from it without loading anything.
        let only_refs = ctx
            .field()
            .selection_set()
            .all(|f| matches!(f.name(), "id" | "name" | "__typename"));
        if only_refs {
            return Ok(self.0.authors.iter().map(Author::from_ref).collect());
        }
        if let Some(map) = &self.1 {
            return Ok(self
                .0
                .authors
                .iter()
                .filter_map(|a| map.get(&a.id))
                .cloned()
                .map(Author)
                .collect());
        }
        let ids: Vec<i64> = self.0.authors.iter().map(|a| a.id).collect();
        let mut found = ctx
            .data_unchecked::<Loaders>()
            .authors
            .load_many(ids.iter().copied())
            .await?;
        Ok(ids
            .iter()
            .filter_map(|id| found.remove(id))
            .map(Author)
            .collect())
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    async fn version(&self) -> i32 {
        self.0.version
    }
}

pub struct Author(pub model::Author);

impl Author {
    /// An author known only by id and name; only used when no other field is selected.
    fn from_ref(a: &model::AuthorRef) -> Author {
        let epoch = DateTime::<Utc>::UNIX_EPOCH;
        Author(model::Author {
            id: a.id,
            name: a.name.clone(),
            bio: None,
            born_year: None,
            book_count: 0,
            created_at: epoch,
            updated_at: epoch,
            version: 0,
        })
    }
}

/// Checks `first` with the service's page rule ([`crate::service::PageArgs::limit`]) before any
/// SQL: `BAD_USER_INPUT` otherwise.
pub fn check_first(first: Option<i32>) -> async_graphql::Result<i64> {
    crate::service::PageArgs::graphql(first.map(i64::from), None)
        .limit()
        .gql()
}

#[Object]
impl Author {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn bio(&self) -> Option<&str> {
        self.0.bio.as_deref()
    }
    async fn born_year(&self) -> Option<i32> {
        self.0.born_year
    }
    async fn book_count(&self) -> i32 {
        i32::try_from(self.0.book_count).unwrap_or(i32::MAX)
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    async fn version(&self) -> i32 {
        self.0.version
    }
    /// The author's books by year, then ISBN; batched across authors in one SQL statement.
    #[graphql(complexity = "crate::service::page_size_estimate(first) * child_complexity + 1")]
    async fn books(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
        category: Option<Category>,
        #[graphql(default_with = "Some(SortOrder::Asc)")] order: Option<SortOrder>,
    ) -> async_graphql::Result<BookConnection> {
        let first = check_first(first)?;
        let order = order.unwrap_or(SortOrder::Asc);
        let key = AuthorBooksKey {
            author_id: self.0.id,
            first,
            after,
            category,
            order,
            with_authors: authors_selected(ctx),
            full_authors: full_authors_needed(ctx),
        };
        let (page, authors) = ctx
            .data_unchecked::<Loaders>()
            .author_books
            .load_one(key)
            .await?
            .unwrap_or_else(|| {
                (
                    model::Page {
                        items: Vec::new(),
                        next_cursor: None,
                    },
                    None,
                )
            });
        Ok(
            BookConnection::new(page, move |b| books::cursor_of(b, BookSort::Year, order))
                .with_authors(authors),
        )
    }
}

pub struct Magazine(pub model::Magazine);

#[Object]
impl Magazine {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn title(&self) -> &str {
        &self.0.title
    }
    async fn issn(&self) -> &str {
        &self.0.issn
    }
    async fn publisher(&self) -> &str {
        &self.0.publisher
    }
    async fn category(&self) -> Category {
        self.0.category
    }
    async fn frequency(&self) -> Frequency {
        self.0.frequency
    }
    async fn year(&self) -> i32 {
        self.0.year
    }
    async fn price_cents(&self) -> i32 {
        self.0.price_cents
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    async fn version(&self) -> i32 {
        self.0.version
    }
}

pub struct User(pub model::User);

#[Object]
impl User {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn username(&self) -> &str {
        &self.0.username
    }
    async fn email(&self) -> &str {
        &self.0.email
    }
    async fn role(&self) -> Role {
        self.0.role
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

#[derive(SimpleObject)]
pub struct PageInfo {
    pub has_next_page: bool,
    pub has_previous_page: bool,
    pub start_cursor: Option<String>,
    pub end_cursor: Option<String>,
}

/// The cursor of an edge's node, computed only when a client asks for it.
type CursorFn<M> = std::sync::Arc<dyn Fn(&M) -> String + Send + Sync>;

macro_rules! connection {
    ($conn:ident, $edge:ident, $node:ident, $model:ty) => {
        #[derive(SimpleObject)]
        #[graphql(complex)]
        pub struct $edge {
            pub node: $node,
            #[graphql(skip)]
            cursor_of: CursorFn<$model>,
        }

        #[ComplexObject]
        impl $edge {
            async fn cursor(&self) -> String {
                (self.cursor_of)(&self.node.0)
            }
        }

        #[derive(SimpleObject)]
        #[graphql(complex)]
        pub struct $conn {
            pub edges: Vec<$edge>,
            #[graphql(skip)]
            has_next_page: bool,
            #[graphql(skip)]
            cursor_of: CursorFn<$model>,
        }

        #[ComplexObject]
        impl $conn {
            // Cursors computed only when asked for (a nested list may hold hundreds of
            // connections).
            async fn page_info(&self) -> PageInfo {
                PageInfo {
                    has_next_page: self.has_next_page,
                    has_previous_page: false,
                    start_cursor: self.edges.first().map(|e| (self.cursor_of)(&e.node.0)),
                    end_cursor: self.edges.last().map(|e| (self.cursor_of)(&e.node.0)),
                }
            }

            /// The nodes of `edges`, without cursors.
            async fn nodes(&self) -> Vec<&$node> {
                self.edges.iter().map(|e| &e.node).collect()
            }
        }

        impl $conn {
            pub fn new(
                page: model::Page<$model>,
                cursor: impl Fn(&$model) -> String + Send + Sync + 'static,
            ) -> $conn {
                let cursor: CursorFn<$model> = std::sync::Arc::new(cursor);
                let has_next_page = page.next_cursor.is_some();
                let edges = page
                    .items
                    .into_iter()
                    .map(|m| $edge {
                        node: $node::from(m),
                        cursor_of: cursor.clone(),
                    })
                    .collect();
                $conn {
                    edges,
                    has_next_page,
                    cursor_of: cursor,
                }
            }
        }
    };
}

impl From<model::Book> for Book {
    fn from(b: model::Book) -> Self {
        Book(b, None)
    }
}

impl BookConnection {
    /// Gives every book of the connection the same preloaded author records.
    pub fn with_authors(mut self, map: Option<AuthorMap>) -> BookConnection {
        if map.is_some() {
            for e in &mut self.edges {
                e.node.1 = map.clone();
            }
        }
        self
    }
}
impl From<model::Author> for Author {
    fn from(a: model::Author) -> Self {
        Author(a)
    }
}
impl From<model::Magazine> for Magazine {
    fn from(m: model::Magazine) -> Self {
        Magazine(m)
    }
}

connection!(BookConnection, BookEdge, Book, model::Book);
connection!(AuthorConnection, AuthorEdge, Author, model::Author);
connection!(MagazineConnection, MagazineEdge, Magazine, model::Magazine);

pub fn author_connection(page: model::Page<model::Author>) -> AuthorConnection {
    AuthorConnection::new(page, authors::cursor_of)
}

pub fn magazine_connection(page: model::Page<model::Magazine>) -> MagazineConnection {
    MagazineConnection::new(page, magazines::cursor_of)
}

#[derive(SimpleObject)]
pub struct AuthPayload {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: i32,
    pub refresh_token: String,
}

// What happened to a book: the GraphQL face of `service::events::ChangeKind` (no doc comment,
// which would become a description in the SDL).
#[derive(async_graphql::Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "ChangeKind")]
pub enum ChangeKind {
    Created,
    Updated,
    Deleted,
}

impl From<crate::service::events::ChangeKind> for ChangeKind {
    fn from(k: crate::service::events::ChangeKind) -> Self {
        use crate::service::events::ChangeKind as K;
        match k {
            K::Created => ChangeKind::Created,
            K::Updated => ChangeKind::Updated,
            K::Deleted => ChangeKind::Deleted,
        }
    }
}

#[derive(SimpleObject)]
pub struct BookChange {
    pub kind: ChangeKind,
    pub isbn: String,
    /// The book after the change; null after a delete.
    pub book: Option<Book>,
}

// ----- inputs -----

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
