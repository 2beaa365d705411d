//! Books: reads, lists with keyset pagination, and transactional writes with their authors.

use serde_json::Value;

use std::sync::Arc;

/// The criteria of a book list, as both doors build them (the repository's query reads them).
pub use crate::repo::books::BookFilter;

use crate::app::{App, Ctx};
use crate::cache::{CacheKey, CachedPage, PageKey};
use crate::db::read;
use crate::domain::{validate, validate::Check, BookSort, Isbn, SortOrder};
use crate::error::{AppError, AppResult, FieldError};
use crate::model::{Book, Page, SharedPage};
use crate::repo::{
    self,
    books::{BookData, BookKey, SortValue},
};
use crate::service::cached::{decode_json, CachedJson};
use crate::service::freshness::Freshness;
use crate::service::input::{BookInput, BookUpdate, Input};
use crate::service::{check_version, cursor, require_role, PageArgs, ADMINS, EDITORS};

/// Parses an ISBN that names a book in a path or argument (400 naming `param` when malformed).
pub fn isbn_param(raw: &str, param: &str) -> AppResult<Isbn> {
    Isbn::parse(raw).map_err(|e| AppError::bad_param(param, format!("{param} {e}")))
}

/// Reads the book fields but the ISBN; with `current`, absent fields keep their current value
/// (a partial update), without it every field is required.
fn book_data(c: &mut Check, f: &BookUpdate, current: Option<&Book>) -> Option<BookData> {
    let required = current.is_none();
    let title = c.text("title", &f.title, required, validate::MAX_TITLE);
    let category = c.category("category", &f.category, required);
    let year = c.publication_year("year", &f.year, required);
    let price = c.integer(
        "price_cents",
        &f.price_cents,
        required,
        0,
        validate::MAX_PRICE_CENTS,
    );
    let stock = c.integer("stock", &f.stock, required, 0, validate::MAX_STOCK);
    let author_ids = c.author_ids("author_ids", &f.author_ids, required);
    Some(BookData {
        title: title.or_else(|| current.map(|b| b.title.clone()))?,
        category: category.or(current.map(|b| b.category))?,
        year: year.or(current.map(|b| b.year))?,
        price_cents: price.map(|p| p as i32).or(current.map(|b| b.price_cents))?,
        stock: stock.map(|s| s as i32).or(current.map(|b| b.stock))?,
        author_ids: author_ids
            .or_else(|| current.map(|b| b.authors.iter().map(|a| a.id).collect()))?,
    })
}

/// Fails with 422 naming the ids in `wanted` that are not authors.
async fn check_authors_exist(
    conn: &mut diesel_async::AsyncPgConnection,
    wanted: &[i64],
) -> AppResult<()> {
    let found = repo::authors::existing_ids(conn, wanted).await?;
    let missing: Vec<String> = wanted
        .iter()
        .filter(|id| !found.contains(id))
        .map(|id| id.to_string())
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(AppError::Validation(vec![FieldError::new(
            "author_ids",
            format!("unknown author ids: {}", missing.join(", ")),
        )]))
    }
}

#[derive(Debug, Clone, Default)]
pub struct BookListArgs {
    pub filter: BookFilter,
    pub sort: Option<BookSort>,
    pub order: Option<SortOrder>,
}

impl BookListArgs {
    /// The sort field asked for, or the default one (ISBN).
    pub fn sort(&self) -> BookSort {
        self.sort.unwrap_or(BookSort::Isbn)
    }

    /// The direction asked for, or the default one (ascending).
    pub fn order(&self) -> SortOrder {
        self.order.unwrap_or(SortOrder::Asc)
    }
}

impl App {
    /// One book as cached JSON (REST serves these bytes as they are).
    pub async fn book_json(&self, ctx: &Ctx, isbn: &Isbn) -> AppResult<CachedJson> {
        self.cached_one(
            CacheKey::Book(isbn.as_str().to_owned()),
            |b: &Book| b.version,
            || async move {
                let need = self.read_position(ctx, Freshness::Fill).await;
                read!(self.db, &ctx.stats, need, |c| Ok(repo::books::by_isbn(
                    c,
                    isbn.as_str()
                )
                .await?))
            },
        )
        .await?
        .ok_or(AppError::not_found("book"))
    }

    pub async fn book(&self, ctx: &Ctx, isbn: &Isbn) -> AppResult<Book> {
        decode_json(&self.book_json(ctx, isbn).await?.json)
    }

    /// Many books by ISBN: one cache round trip, then two statements (rows, then all their
    /// authors) for the misses; for loaders.
    pub async fn books_by_isbns(&self, ctx: &Ctx, isbns: &[String]) -> AppResult<Vec<Book>> {
        self.cached_many(
            isbns,
            |i| CacheKey::Book(i.clone()),
            |b: &Book| b.version,
            |b| b.isbn.clone(),
            |missing| async move {
                let need = self.read_position(ctx, Freshness::Fill).await;
                read!(self.db, &ctx.stats, need, |c| Ok(repo::books::by_isbns(
                    c, &missing
                )
                .await?))
            },
        )
        .await
    }

    pub async fn list_books(
        &self,
        ctx: &Ctx,
        args: &BookListArgs,
        page: &PageArgs,
    ) -> AppResult<Page<Book>> {
        Ok(Page::clone(
            &self.list_books_shared(ctx, args, page).await?.page,
        ))
    }

    /// A page of books, shared: pages are cached in process under the cache's generation (see
    /// `Cache::page_generation`), so no page survives a write.
    pub async fn list_books_shared(
        &self,
        ctx: &Ctx,
        args: &BookListArgs,
        page: &PageArgs,
    ) -> AppResult<Arc<SharedPage<Book>>> {
        let limit = page.limit()?;
        let (sort, order) = (args.sort(), args.order());
        // A blank title search is no search (spaces inside a search are kept: titles have them).
        let cleaned;
        let args = if args
            .filter
            .title_contains
            .as_deref()
            .is_some_and(|t| t.trim().is_empty())
        {
            cleaned = BookListArgs {
                filter: BookFilter {
                    title_contains: None,
                    ..args.filter.clone()
                },
                ..*args
            };
            &cleaned
        } else {
            args
        };
        if let Some(t) = &args.filter.title_contains {
            super::check_search(page.param_name("q", "titleContains"), t, "title")?;
        }
        let scope = format!("books:{sort}:{order}");
        let after = match &page.cursor {
            None => None,
            Some(raw) => Some(
                book_key(&cursor::decode(raw, &scope, page.cursor_name)?, sort).ok_or_else(
                    || {
                        AppError::bad_param(
                            page.cursor_name,
                            format!("{} is not a valid cursor for this list", page.cursor_name),
                        )
                    },
                )?,
            ),
        };
        let page_key = PageKey::Books {
            sort,
            order,
            limit,
            cursor: page.cursor.clone(),
            filter: args.filter.clone(),
        };
        let generation = self.cache.page_generation();
        if let Some(g) = generation {
            if let Some(CachedPage::Books(hit)) = self.cache.get_page(&page_key, g) {
                return Ok(hit);
            }
        }
        let need = self.read_position(ctx, Freshness::Fill).await;
        let items = read!(self.db, &ctx.stats, need, |c| Ok(repo::books::list(
            c,
            &args.filter,
            sort,
            order,
            after.as_ref(),
            limit + 1
        )
        .await?))?;
        let result = Arc::new(SharedPage::new(cursor::page_of(items, limit, |b| {
            book_cursor(b, sort, &scope)
        })));
        if let Some(g) = generation {
            self.cache
                .put_page(page_key, g, CachedPage::Books(result.clone()));
        }
        Ok(result)
    }

    pub async fn create_book(&self, ctx: &Ctx, input: impl Input<BookInput>) -> AppResult<Book> {
        require_role(ctx, EDITORS)?;
        let received = input.read()?;
        let mut c = Check::new(&received.unknown);
        let f = received.input;
        let isbn = c.isbn("isbn", &f.isbn, true);
        let fields = BookUpdate {
            title: f.title,
            category: f.category,
            year: f.year,
            price_cents: f.price_cents,
            stock: f.stock,
            author_ids: f.author_ids,
        };
        let data = book_data(&mut c, &fields, None);
        c.finish()?;
        let (Some(isbn), Some(data)) = (isbn, data) else {
            return Err(AppError::internal(anyhow::anyhow!(
                "validated book fields missing"
            )));
        };
        self.write_invalidating(ctx, move |c| {
            Box::pin(async move {
                check_authors_exist(c, &data.author_ids).await?;
                if repo::books::row_by_isbn(c, isbn.as_str()).await?.is_some() {
                    return Err(AppError::Conflict("a book with this ISBN exists".into()));
                }
                repo::books::insert(c, isbn.as_str(), &data).await?;
                let book = repo::books::by_isbn(c, isbn.as_str())
                    .await?
                    .ok_or(AppError::not_found("book"))?;
                // The authors' book_count changed.
                Ok((book, stale_keys(isbn.as_str(), &data.author_ids, &[])))
            })
        })
        .await
    }

    /// `PUT`: every field but the ISBN is replaced (`partial == false`), or GraphQL's
    /// `updateBook`: only the fields sent change (`partial == true`). `isbn` as the client
    /// spelled it (parsed after the role check).
    pub async fn update_book(
        &self,
        ctx: &Ctx,
        isbn: &str,
        input: impl Input<BookUpdate>,
        expected_version: Option<i32>,
        partial: bool,
    ) -> AppResult<Book> {
        require_role(ctx, EDITORS)?;
        let isbn = isbn_param(isbn, "isbn")?;
        let received = input.read()?;
        if !partial {
            // Validate the shape before touching the database.
            let mut c = Check::new(&received.unknown);
            book_data(&mut c, &received.input, None);
            c.finish()?;
        }
        self.write_invalidating(ctx, move |c| {
            Box::pin(async move {
                let version = repo::books::lock_version(c, isbn.as_str())
                    .await?
                    .ok_or(AppError::not_found("book"))?;
                let old_authors = repo::books::author_ids(c, isbn.as_str()).await?;
                let current = if partial {
                    repo::books::by_isbn(c, isbn.as_str()).await?
                } else {
                    None
                };
                let mut chk = Check::new(&received.unknown);
                let data = book_data(&mut chk, &received.input, current.as_ref());
                chk.finish()?;
                let data = data.ok_or_else(|| {
                    AppError::internal(anyhow::anyhow!("validated book fields missing"))
                })?;
                check_version(expected_version, version)?;
                check_authors_exist(c, &data.author_ids).await?;
                repo::books::update(c, isbn.as_str(), &data).await?;
                let book = repo::books::by_isbn(c, isbn.as_str())
                    .await?
                    .ok_or(AppError::not_found("book"))?;
                Ok((
                    book,
                    stale_keys(isbn.as_str(), &data.author_ids, &old_authors),
                ))
            })
        })
        .await
    }

    /// `isbn` as the client spelled it (parsed after the role check).
    pub async fn delete_book(
        &self,
        ctx: &Ctx,
        isbn: &str,
        expected_version: Option<i32>,
    ) -> AppResult<()> {
        require_role(ctx, ADMINS)?;
        let isbn = isbn_param(isbn, "isbn")?;
        self.write_invalidating(ctx, move |c| {
            Box::pin(async move {
                let version = repo::books::lock_version(c, isbn.as_str())
                    .await?
                    .ok_or(AppError::not_found("book"))?;
                check_version(expected_version, version)?;
                let old_authors = repo::books::author_ids(c, isbn.as_str()).await?;
                repo::books::delete(c, isbn.as_str()).await?;
                Ok(((), stale_keys(isbn.as_str(), &[], &old_authors)))
            })
        })
        .await
    }
}

/// A book changed: its own entry, and every author before or after (their `book_count`).
fn stale_keys(isbn: &str, authors: &[i64], old_authors: &[i64]) -> Vec<CacheKey> {
    let mut keys = vec![CacheKey::Book(isbn.to_owned())];
    for id in authors.iter().chain(old_authors) {
        let key = CacheKey::Author(*id);
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    keys
}

fn book_cursor(book: &Book, sort: BookSort, scope: &str) -> String {
    let v = match BookKey::of(book, sort).value {
        SortValue::Isbn => Value::Null,
        SortValue::Title(t) => Value::from(t),
        SortValue::Int(n) => Value::from(n),
    };
    cursor::encode(&cursor::Cursor {
        s: scope.to_owned(),
        v,
        k: Value::from(book.isbn.clone()),
    })
}

fn book_key(c: &cursor::Cursor, sort: BookSort) -> Option<BookKey> {
    let isbn = c.k.as_str()?.to_owned();
    let value = match sort {
        BookSort::Isbn => SortValue::Isbn,
        BookSort::Title => SortValue::Title(c.v.as_str()?.to_owned()),
        BookSort::Year | BookSort::Price => SortValue::Int(i32::try_from(c.v.as_i64()?).ok()?),
    };
    Some(BookKey { value, isbn })
}

/// The cursor of `book` in a list sorted by `sort` and `order` (for GraphQL edges).
pub fn cursor_of(book: &Book, sort: BookSort, order: SortOrder) -> String {
    book_cursor(book, sort, &format!("books:{sort}:{order}"))
}

impl App {
    /// The first `page.limit` books (by year, then isbn) of each of many authors: one statement
    /// for all authors plus one for the books' authors, however many authors there are.
    pub async fn books_of_authors(
        &self,
        ctx: &Ctx,
        author_ids: &[i64],
        category: Option<crate::domain::Category>,
        order: SortOrder,
        page: &PageArgs,
        with_authors: bool,
    ) -> AppResult<std::collections::HashMap<i64, Page<Book>>> {
        let limit = page.limit()?;
        let scope = format!("books:{}:{order}", BookSort::Year);
        let after = match &page.cursor {
            None => None,
            Some(raw) => {
                let c = cursor::decode(raw, &scope, page.cursor_name)?;
                match book_key(&c, BookSort::Year) {
                    Some(BookKey {
                        value: SortValue::Int(year),
                        isbn,
                    }) => Some((year, isbn)),
                    _ => {
                        return Err(AppError::bad_param(
                            page.cursor_name,
                            format!("{} is not a valid cursor for this list", page.cursor_name),
                        ))
                    }
                }
            }
        };
        // Each author's page is cached like a list page (generation-checked), so only the
        // authors not cached are read, in one statement.
        let generation = self.cache.page_generation();
        let key_of = |author: i64| PageKey::AuthorBooks {
            author,
            limit,
            cursor: page.cursor.clone(),
            category,
            order,
            with_authors,
        };
        let mut out = std::collections::HashMap::with_capacity(author_ids.len());
        let mut missing = Vec::new();
        for &author in author_ids {
            match generation.and_then(|g| self.cache.get_page(&key_of(author), g)) {
                Some(CachedPage::AuthorBooks(hit)) => {
                    out.insert(author, Page::clone(&hit));
                }
                _ => missing.push(author),
            }
        }
        if missing.is_empty() {
            return Ok(out);
        }
        let need = self.read_position(ctx, Freshness::Fill).await;
        let mut found = read!(self.db, &ctx.stats, need, |c| Ok(
            repo::books::top_books_of_authors(
                c,
                &missing,
                category,
                order,
                after.clone(),
                limit + 1,
                with_authors,
            )
            .await?
        ))?;
        for author in missing {
            let items = found.remove(&author).unwrap_or_default();
            let result = cursor::page_of(items, limit, |b| book_cursor(b, BookSort::Year, &scope));
            if let Some(g) = generation {
                self.cache.put_page(
                    key_of(author),
                    g,
                    CachedPage::AuthorBooks(Arc::new(result.clone())),
                );
            }
            out.insert(author, result);
        }
        Ok(out)
    }
}
