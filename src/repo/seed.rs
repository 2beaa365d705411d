//! Bulk SQL for the `seed` command: the benchmark data set in batches inside one transaction.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::schema::{authors, book_authors, books, magazines};

pub async fn catalogue_is_empty(conn: &mut AsyncPgConnection) -> QueryResult<bool> {
    let authors: i64 = authors::table.count().get_result(conn).await?;
    let books: i64 = books::table.count().get_result(conn).await?;
    let magazines: i64 = magazines::table.count().get_result(conn).await?;
    Ok(authors + books + magazines == 0)
}

/// Empties the catalogue tables and restarts their id sequences (users stay).
pub async fn truncate_catalogue(conn: &mut AsyncPgConnection) -> QueryResult<()> {
    diesel::sql_query("TRUNCATE book_authors, books, authors, magazines RESTART IDENTITY")
        .execute(conn)
        .await
        .map(|_| ())
}

pub async fn insert_authors(
    conn: &mut AsyncPgConnection,
    rows: &[(i64, String, Option<String>, Option<i32>)],
) -> QueryResult<usize> {
    let values: Vec<_> = rows
        .iter()
        .map(|(id, name, bio, born)| {
            (
                authors::id.eq(*id),
                authors::name.eq(name),
                authors::bio.eq(bio),
                authors::born_year.eq(*born),
            )
        })
        .collect();
    diesel::insert_into(authors::table)
        .values(&values)
        .execute(conn)
        .await
}

pub struct BookSeed {
    pub isbn: String,
    pub title: String,
    pub category: &'static str,
    pub year: i32,
    pub price_cents: i32,
    pub stock: i32,
}

pub async fn insert_books(conn: &mut AsyncPgConnection, rows: &[BookSeed]) -> QueryResult<usize> {
    let values: Vec<_> = rows
        .iter()
        .map(|b| {
            (
                books::isbn.eq(&b.isbn),
                books::title.eq(&b.title),
                books::category.eq(b.category),
                books::year.eq(b.year),
                books::price_cents.eq(b.price_cents),
                books::stock.eq(b.stock),
            )
        })
        .collect();
    diesel::insert_into(books::table)
        .values(&values)
        .execute(conn)
        .await
}

pub async fn insert_links(
    conn: &mut AsyncPgConnection,
    rows: &[(String, i64, i16)],
) -> QueryResult<usize> {
    let values: Vec<_> = rows
        .iter()
        .map(|(isbn, author, pos)| {
            (
                book_authors::book_isbn.eq(isbn),
                book_authors::author_id.eq(*author),
                book_authors::position.eq(*pos),
            )
        })
        .collect();
    diesel::insert_into(book_authors::table)
        .values(&values)
        .execute(conn)
        .await
}

pub struct MagazineSeed {
    pub id: i64,
    pub title: String,
    pub issn: String,
    pub publisher: String,
    pub category: &'static str,
    pub frequency: &'static str,
    pub year: i32,
    pub price_cents: i32,
}

pub async fn insert_magazines(
    conn: &mut AsyncPgConnection,
    rows: &[MagazineSeed],
) -> QueryResult<usize> {
    let values: Vec<_> = rows
        .iter()
        .map(|m| {
            (
                magazines::id.eq(m.id),
                magazines::title.eq(&m.title),
                magazines::issn.eq(&m.issn),
                magazines::publisher.eq(&m.publisher),
                magazines::category.eq(m.category),
                magazines::frequency.eq(m.frequency),
                magazines::year.eq(m.year),
                magazines::price_cents.eq(m.price_cents),
            )
        })
        .collect();
    diesel::insert_into(magazines::table)
        .values(&values)
        .execute(conn)
        .await
}

/// Moves the id sequences past the explicitly inserted ids.
pub async fn sync_sequences(conn: &mut AsyncPgConnection) -> QueryResult<()> {
    diesel::sql_query(
        "SELECT setval(pg_get_serial_sequence('authors', 'id'), GREATEST((SELECT max(id) FROM authors), 1)), \
                setval(pg_get_serial_sequence('magazines', 'id'), GREATEST((SELECT max(id) FROM magazines), 1))",
    )
    .execute(conn)
    .await
    .map(|_| ())
}

/// `ANALYZE` so the planner knows the new sizes at once.
pub async fn analyze(conn: &mut AsyncPgConnection) -> QueryResult<()> {
    diesel::sql_query("VACUUM ANALYZE authors, books, book_authors, magazines")
        .execute(conn)
        .await
        .map(|_| ())
}
