//! SQL for books and their ordered authors.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Integer, Nullable, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{contains_pattern, lower};
use crate::db::schema::{book_authors, books};
use crate::db::views::books_with_authors as bv;
use crate::domain::{BookSort, Category, SortOrder};
use crate::model::{AuthorRef, Book};

#[derive(Queryable, Selectable, QueryableByName, Debug)]
#[diesel(table_name = books, check_for_backend(diesel::pg::Pg))]
pub struct BookRow {
    pub isbn: String,
    pub title: String,
    pub category: String,
    pub year: i32,
    pub price_cents: i32,
    pub stock: i32,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl BookRow {
    pub fn into_book(self, authors: Vec<AuthorRef>) -> Book {
        Book {
            // The database CHECK constraint only admits the contract's categories.
            category: Category::parse(&self.category).unwrap_or(Category::Fiction),
            isbn: self.isbn,
            title: self.title,
            year: self.year,
            price_cents: self.price_cents,
            stock: self.stock,
            authors,
            created_at: self.created_at,
            updated_at: self.updated_at,
            version: self.version,
        }
    }
}

/// Every field of a book but its ISBN, validated.
#[derive(Debug, Clone)]
pub struct BookData {
    pub title: String,
    pub category: Category,
    pub year: i32,
    pub price_cents: i32,
    pub stock: i32,
    pub author_ids: Vec<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct BookFilter {
    pub category: Option<Category>,
    pub year: Option<i32>,
    pub author_id: Option<i64>,
    pub title_contains: Option<String>,
}

/// The sort key of the last row of a page: where the next page starts.
#[derive(Debug, Clone, PartialEq)]
pub enum SortValue {
    Isbn,
    Title(String),
    Int(i32),
}

#[derive(Debug, Clone, PartialEq)]
pub struct BookKey {
    pub value: SortValue,
    pub isbn: String,
}

impl BookKey {
    pub fn of(book: &Book, sort: BookSort) -> BookKey {
        let value = match sort {
            BookSort::Isbn => SortValue::Isbn,
            BookSort::Title => SortValue::Title(book.title.clone()),
            BookSort::Year => SortValue::Int(book.year),
            BookSort::Price => SortValue::Int(book.price_cents),
        };
        BookKey {
            value,
            isbn: book.isbn.clone(),
        }
    }
}

pub async fn row_by_isbn(conn: &mut AsyncPgConnection, isbn: &str) -> QueryResult<Option<BookRow>> {
    books::table
        .filter(books::isbn.eq(isbn))
        .select(BookRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// A book with its ordered authors as JSON, from the `books_with_authors` view: one statement.
#[derive(Queryable, Selectable, Debug)]
#[diesel(table_name = crate::db::views::books_with_authors, check_for_backend(diesel::pg::Pg))]
struct BookViewRow {
    isbn: String,
    title: String,
    category: String,
    year: i32,
    price_cents: i32,
    stock: i32,
    version: i32,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    authors_json: String,
}

impl BookViewRow {
    fn into_book(self) -> Book {
        // The JSON is built by the view from rows it joined; it always parses.
        let authors: Vec<AuthorRef> = serde_json::from_str(&self.authors_json).unwrap_or_default();
        BookRow {
            isbn: self.isbn,
            title: self.title,
            category: self.category,
            year: self.year,
            price_cents: self.price_cents,
            stock: self.stock,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
        .into_book(authors)
    }
}

pub async fn by_isbn(conn: &mut AsyncPgConnection, isbn: &str) -> QueryResult<Option<Book>> {
    bv::table
        .filter(bv::isbn.eq(isbn))
        .select(BookViewRow::as_select())
        .first(conn)
        .await
        .optional()
        .map(|r| r.map(BookViewRow::into_book))
}

pub async fn by_isbns(conn: &mut AsyncPgConnection, isbns: &[String]) -> QueryResult<Vec<Book>> {
    bv::table
        .filter(bv::isbn.eq_any(isbns))
        .select(BookViewRow::as_select())
        .load(conn)
        .await
        .map(|rows| rows.into_iter().map(BookViewRow::into_book).collect())
}

/// The ordered authors of many books in one statement.
pub async fn authors_of(
    conn: &mut AsyncPgConnection,
    isbns: &[String],
) -> QueryResult<HashMap<String, Vec<AuthorRef>>> {
    let rows: Vec<(String, i64, String)> = book_authors::table
        .inner_join(crate::db::schema::authors::table)
        .filter(book_authors::book_isbn.eq_any(isbns))
        .order((book_authors::book_isbn, book_authors::position))
        .select((
            book_authors::book_isbn,
            crate::db::schema::authors::id,
            crate::db::schema::authors::name,
        ))
        .load(conn)
        .await?;
    let mut map: HashMap<String, Vec<AuthorRef>> = HashMap::with_capacity(isbns.len());
    for (isbn, id, name) in rows {
        map.entry(isbn).or_default().push(AuthorRef { id, name });
    }
    Ok(map)
}

/// A page of books: filters, one sort key plus the ISBN as tie-breaker, keyset continuation.
pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &BookFilter,
    sort: BookSort,
    order: SortOrder,
    after: Option<&BookKey>,
    limit: i64,
) -> QueryResult<Vec<Book>> {
    let mut q = bv::table.select(BookViewRow::as_select()).into_boxed();
    if let Some(c) = filter.category {
        q = q.filter(bv::category.eq(c.as_str()));
    }
    if let Some(y) = filter.year {
        q = q.filter(bv::year.eq(y));
    }
    if let Some(a) = filter.author_id {
        q = q.filter(
            bv::isbn.eq_any(
                book_authors::table
                    .filter(book_authors::author_id.eq(a))
                    .select(book_authors::book_isbn),
            ),
        );
    }
    if let Some(t) = &filter.title_contains {
        q = q.filter(lower(bv::title).like(contains_pattern(t)));
    }

    macro_rules! keyset {
        ($col:expr, $value:expr) => {{
            if let Some(key) = after {
                let v = $value(&key.value);
                q = match order {
                    SortOrder::Asc => q.filter(
                        $col.gt(v.clone())
                            .or($col.eq(v).and(bv::isbn.gt(key.isbn.clone()))),
                    ),
                    SortOrder::Desc => q.filter(
                        $col.lt(v.clone())
                            .or($col.eq(v).and(bv::isbn.lt(key.isbn.clone()))),
                    ),
                };
            }
            q = match order {
                SortOrder::Asc => q.order(($col.asc(), bv::isbn.asc())),
                SortOrder::Desc => q.order(($col.desc(), bv::isbn.desc())),
            };
        }};
    }
    let text = |v: &SortValue| match v {
        SortValue::Title(t) => t.clone(),
        _ => String::new(),
    };
    let int = |v: &SortValue| match v {
        SortValue::Int(n) => *n,
        _ => 0,
    };
    match sort {
        BookSort::Isbn => {
            if let Some(key) = after {
                q = match order {
                    SortOrder::Asc => q.filter(bv::isbn.gt(key.isbn.clone())),
                    SortOrder::Desc => q.filter(bv::isbn.lt(key.isbn.clone())),
                };
            }
            q = match order {
                SortOrder::Asc => q.order(bv::isbn.asc()),
                SortOrder::Desc => q.order(bv::isbn.desc()),
            };
        }
        BookSort::Title => keyset!(bv::title, text),
        BookSort::Year => keyset!(bv::year, int),
        BookSort::Price => keyset!(bv::price_cents, int),
    }
    let rows: Vec<BookViewRow> = q.limit(limit).load(conn).await?;
    Ok(rows.into_iter().map(BookViewRow::into_book).collect())
}

#[derive(QueryableByName)]
struct AuthorBookRow {
    #[diesel(sql_type = BigInt)]
    author_id: i64,
    #[diesel(embed)]
    book: BookRow,
}

/// The first `limit` books of each of many authors, by (year, isbn), in ONE statement (the
/// `top_books_of_authors` function: a LATERAL join whose plan PostgreSQL keeps); `after`
/// continues every author's list after that (year, isbn). With `with_authors`, one more
/// statement loads the books' authors; without, their author lists are left empty.
pub async fn top_books_of_authors(
    conn: &mut AsyncPgConnection,
    author_ids: &[i64],
    category: Option<Category>,
    order: SortOrder,
    after: Option<(i32, String)>,
    limit: i64,
    with_authors: bool,
) -> QueryResult<HashMap<i64, Vec<Book>>> {
    let (after_year, after_isbn) = match after {
        Some((y, i)) => (Some(y), Some(i)),
        None => (None, None),
    };
    let rows: Vec<AuthorBookRow> =
        diesel::sql_query("SELECT * FROM top_books_of_authors($1, $2, $3, $4, $5, $6)")
            .bind::<Array<BigInt>, _>(author_ids)
            .bind::<Nullable<Text>, _>(category.map(|c| c.as_str()))
            .bind::<Nullable<Integer>, _>(after_year)
            .bind::<Nullable<Text>, _>(after_isbn)
            .bind::<Integer, _>(i32::try_from(limit).unwrap_or(i32::MAX))
            .bind::<diesel::sql_types::Bool, _>(order == SortOrder::Desc)
            .load(conn)
            .await?;
    let authors = if with_authors && !rows.is_empty() {
        let isbns: Vec<String> = rows.iter().map(|r| r.book.isbn.clone()).collect();
        authors_of(conn, &isbns).await?
    } else {
        HashMap::new()
    };
    let mut out: HashMap<i64, Vec<Book>> = HashMap::new();
    for r in rows {
        let a = if with_authors {
            authors.get(&r.book.isbn).cloned().unwrap_or_default()
        } else {
            Vec::new()
        };
        out.entry(r.author_id)
            .or_default()
            .push(r.book.into_book(a));
    }
    Ok(out)
}

pub async fn insert(conn: &mut AsyncPgConnection, isbn: &str, data: &BookData) -> QueryResult<()> {
    diesel::insert_into(books::table)
        .values((
            books::isbn.eq(isbn),
            books::title.eq(&data.title),
            books::category.eq(data.category.as_str()),
            books::year.eq(data.year),
            books::price_cents.eq(data.price_cents),
            books::stock.eq(data.stock),
        ))
        .execute(conn)
        .await?;
    replace_authors(conn, isbn, &data.author_ids).await
}

/// Sets the ordered author list of a book (positions 1..).
pub async fn replace_authors(
    conn: &mut AsyncPgConnection,
    isbn: &str,
    author_ids: &[i64],
) -> QueryResult<()> {
    diesel::delete(book_authors::table.filter(book_authors::book_isbn.eq(isbn)))
        .execute(conn)
        .await?;
    let links: Vec<_> = author_ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            (
                book_authors::book_isbn.eq(isbn),
                book_authors::author_id.eq(*id),
                book_authors::position.eq(i as i16 + 1),
            )
        })
        .collect();
    diesel::insert_into(book_authors::table)
        .values(&links)
        .execute(conn)
        .await?;
    Ok(())
}

/// The current version, locking the row for the rest of the transaction.
pub async fn lock_version(conn: &mut AsyncPgConnection, isbn: &str) -> QueryResult<Option<i32>> {
    books::table
        .filter(books::isbn.eq(isbn))
        .select(books::version)
        .for_update()
        .first(conn)
        .await
        .optional()
}

pub async fn update(conn: &mut AsyncPgConnection, isbn: &str, data: &BookData) -> QueryResult<()> {
    diesel::update(books::table.filter(books::isbn.eq(isbn)))
        .set((
            books::title.eq(&data.title),
            books::category.eq(data.category.as_str()),
            books::year.eq(data.year),
            books::price_cents.eq(data.price_cents),
            books::stock.eq(data.stock),
            books::version.eq(books::version + 1),
            books::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    replace_authors(conn, isbn, &data.author_ids).await
}

pub async fn delete(conn: &mut AsyncPgConnection, isbn: &str) -> QueryResult<usize> {
    diesel::delete(books::table.filter(books::isbn.eq(isbn)))
        .execute(conn)
        .await
}

/// The ids of a book's authors (to invalidate their cached `book_count` after a change).
pub async fn author_ids(conn: &mut AsyncPgConnection, isbn: &str) -> QueryResult<Vec<i64>> {
    book_authors::table
        .filter(book_authors::book_isbn.eq(isbn))
        .order(book_authors::position)
        .select(book_authors::author_id)
        .load(conn)
        .await
}
