//! The output objects and the look-ahead helpers that decide what to preload.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::{Context, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};

use super::connections::BookConnection;
use crate::domain::{BookSort, Category, Frequency, Role, SortOrder};
use crate::graphql::context::GqlResult;
use crate::graphql::loaders::{AuthorBooksKey, Loaders};
use crate::model;
use crate::service::books;

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
    let authors = crate::graphql::context::app(ctx)
        .authors_by_ids(&crate::graphql::context::request_ctx(ctx), &ids)
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

impl From<model::Book> for Book {
    fn from(b: model::Book) -> Self {
        Book(b, None)
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
