//! The read views of the migrations (`books_with_authors`, `authors_with_counts`). Written by
//! hand: `diesel print-schema` does not print views. The columns mirror the `CREATE VIEW`
//! statements of `migrations/2026-11-25-000004_read_views/up.sql`.

diesel::table! {
    books_with_authors (isbn) {
        isbn -> Text,
        title -> Text,
        category -> Text,
        year -> Int4,
        price_cents -> Int4,
        stock -> Int4,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        authors_json -> Text,
    }
}

diesel::table! {
    authors_with_counts (id) {
        id -> Int8,
        name -> Text,
        bio -> Nullable<Text>,
        born_year -> Nullable<Int4>,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        book_count -> Int8,
    }
}

use super::schema::book_authors;

// A book list filtered by author uses `book_authors` in a subquery.
diesel::allow_tables_to_appear_in_same_query!(books_with_authors, book_authors);
