//! SQL for authors.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{contains_pattern, lower};
use crate::db::schema::{authors, book_authors};
use crate::db::views::authors_with_counts as v;
use crate::model::Author;

type Row = (
    i64,
    String,
    Option<String>,
    Option<i32>,
    i64,
    DateTime<Utc>,
    DateTime<Utc>,
    i32,
);

/// Reads go through the `authors_with_counts` view (the book count as an inline subquery).
macro_rules! author_columns {
    () => {
        (
            v::id,
            v::name,
            v::bio,
            v::born_year,
            v::book_count,
            v::created_at,
            v::updated_at,
            v::version,
        )
    };
}

fn to_author(r: Row) -> Author {
    Author {
        id: r.0,
        name: r.1,
        bio: r.2,
        born_year: r.3,
        book_count: r.4,
        created_at: r.5,
        updated_at: r.6,
        version: r.7,
    }
}

#[derive(Debug, Clone)]
pub struct AuthorData {
    pub name: String,
    pub bio: Option<String>,
    pub born_year: Option<i32>,
}

pub async fn by_id(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<Option<Author>> {
    v::table
        .filter(v::id.eq(id))
        .select(author_columns!())
        .first::<Row>(conn)
        .await
        .optional()
        .map(|r| r.map(to_author))
}

/// Authors by id, in no particular order; missing ids are simply absent.
pub async fn by_ids(conn: &mut AsyncPgConnection, ids: &[i64]) -> QueryResult<Vec<Author>> {
    v::table
        .filter(v::id.eq_any(ids))
        .select(author_columns!())
        .load::<Row>(conn)
        .await
        .map(|rows| rows.into_iter().map(to_author).collect())
}

/// Which of `ids` exist.
pub async fn existing_ids(conn: &mut AsyncPgConnection, ids: &[i64]) -> QueryResult<Vec<i64>> {
    authors::table
        .filter(authors::id.eq_any(ids))
        .select(authors::id)
        .load(conn)
        .await
}

/// Authors ordered by id after `after_id`, optionally filtered by a case-insensitive substring.
pub async fn list(
    conn: &mut AsyncPgConnection,
    name_contains: Option<&str>,
    after_id: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<Author>> {
    let mut q = v::table.select(author_columns!()).into_boxed();
    if let Some(needle) = name_contains {
        q = q.filter(lower(v::name).like(contains_pattern(needle)));
    }
    if let Some(id) = after_id {
        q = q.filter(v::id.gt(id));
    }
    q.order(v::id.asc())
        .limit(limit)
        .load::<Row>(conn)
        .await
        .map(|rows| rows.into_iter().map(to_author).collect())
}

pub async fn insert(conn: &mut AsyncPgConnection, data: &AuthorData) -> QueryResult<i64> {
    diesel::insert_into(authors::table)
        .values((
            authors::name.eq(&data.name),
            authors::bio.eq(&data.bio),
            authors::born_year.eq(data.born_year),
        ))
        .returning(authors::id)
        .get_result(conn)
        .await
}

/// The current version, locking the row for the rest of the transaction.
pub async fn lock_version(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<Option<i32>> {
    authors::table
        .filter(authors::id.eq(id))
        .select(authors::version)
        .for_update()
        .first(conn)
        .await
        .optional()
}

pub async fn update(
    conn: &mut AsyncPgConnection,
    id: i64,
    data: &AuthorData,
) -> QueryResult<usize> {
    diesel::update(authors::table.filter(authors::id.eq(id)))
        .set((
            authors::name.eq(&data.name),
            authors::bio.eq(&data.bio),
            authors::born_year.eq(data.born_year),
            authors::version.eq(authors::version + 1),
            authors::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await
}

pub async fn has_books(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        book_authors::table.filter(book_authors::author_id.eq(id)),
    ))
    .get_result(conn)
    .await
}

pub async fn delete(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<usize> {
    diesel::delete(authors::table.filter(authors::id.eq(id)))
        .execute(conn)
        .await
}

/// The ISBNs of an author's books (used to invalidate cached books after a rename).
pub async fn book_isbns(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<Vec<String>> {
    book_authors::table
        .filter(book_authors::author_id.eq(id))
        .select(book_authors::book_isbn)
        .load(conn)
        .await
}
