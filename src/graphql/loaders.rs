//! DataLoaders, built per request (never shared between requests or users), each batch one call
//! into the service layer's batch reads.

use std::collections::HashMap;

use async_graphql::dataloader::{DataLoader, Loader};

use super::context::gql_error;
use crate::app::{AppState, Ctx};
use crate::domain::{Category, SortOrder};
use crate::model::{Author, Book, Page};
use crate::service::PageArgs;

pub struct BookLoader {
    app: AppState,
    ctx: Ctx,
}

impl Loader<String> for BookLoader {
    type Value = Book;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, Book>, Self::Error> {
        let books = self
            .app
            .books_by_isbns(&self.ctx, keys)
            .await
            .map_err(gql_error)?;
        Ok(books.into_iter().map(|b| (b.isbn.clone(), b)).collect())
    }
}

pub struct AuthorLoader {
    app: AppState,
    ctx: Ctx,
}

impl Loader<i64> for AuthorLoader {
    type Value = Author;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Author>, Self::Error> {
        let authors = self
            .app
            .authors_by_ids(&self.ctx, keys)
            .await
            .map_err(gql_error)?;
        Ok(authors.into_iter().map(|a| (a.id, a)).collect())
    }
}

/// One author's page of books, with the arguments of the `Author.books` field.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AuthorBooksKey {
    pub author_id: i64,
    pub first: i64,
    pub after: Option<String>,
    pub category: Option<Category>,
    pub order: SortOrder,
}

pub struct AuthorBooksLoader {
    app: AppState,
    ctx: Ctx,
}

impl Loader<AuthorBooksKey> for AuthorBooksLoader {
    type Value = Page<Book>;
    type Error = async_graphql::Error;

    async fn load(
        &self,
        keys: &[AuthorBooksKey],
    ) -> Result<HashMap<AuthorBooksKey, Page<Book>>, Self::Error> {
        // Keys that share arguments (the usual case: one field in one query) make one batch.
        let mut groups: HashMap<(i64, Option<String>, Option<Category>, SortOrder), Vec<i64>> =
            HashMap::new();
        for k in keys {
            groups
                .entry((k.first, k.after.clone(), k.category, k.order))
                .or_default()
                .push(k.author_id);
        }
        let mut out = HashMap::with_capacity(keys.len());
        for ((first, after, category, order), ids) in groups {
            let page = PageArgs::graphql(Some(first), after.clone());
            let mut found = self
                .app
                .books_of_authors(&self.ctx, &ids, category, order, &page)
                .await
                .map_err(gql_error)?;
            for id in ids {
                let books = found.remove(&id).unwrap_or(Page {
                    items: Vec::new(),
                    next_cursor: None,
                });
                out.insert(
                    AuthorBooksKey {
                        author_id: id,
                        first,
                        after: after.clone(),
                        category,
                        order,
                    },
                    books,
                );
            }
        }
        Ok(out)
    }
}

/// The loaders of one request.
pub struct Loaders {
    pub books: DataLoader<BookLoader>,
    pub authors: DataLoader<AuthorLoader>,
    pub author_books: DataLoader<AuthorBooksLoader>,
}

impl Loaders {
    pub fn new(app: &AppState, ctx: &Ctx) -> Loaders {
        // Loaders only read, so they need the request's statistics but not its caller.
        let read_ctx = Ctx {
            actor: None,
            stats: ctx.stats.clone(),
        };
        Loaders {
            books: DataLoader::new(
                BookLoader {
                    app: app.clone(),
                    ctx: read_ctx.clone(),
                },
                tokio::spawn,
            ),
            authors: DataLoader::new(
                AuthorLoader {
                    app: app.clone(),
                    ctx: read_ctx.clone(),
                },
                tokio::spawn,
            ),
            author_books: DataLoader::new(
                AuthorBooksLoader {
                    app: app.clone(),
                    ctx: read_ctx,
                },
                tokio::spawn,
            ),
        }
    }
}
