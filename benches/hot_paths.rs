//! Micro-benchmarks of the hot pure functions of the request path: ISBN parsing (every book URL),
//! keyset cursor encoding/decoding (every list page) and the JSON rendering of a book (every book
//! answer that is not a cache hit).
//!
//!     cargo bench --bench hot_paths              # measure
//!     cargo bench --bench hot_paths -- --test    # run each benchmark once (a quick smoke test)

use std::hint::black_box;

use bookstore::domain::{Category, Isbn};
use bookstore::model::{AuthorRef, Book};
use bookstore::service::cursor::{self, Cursor};
use chrono::{TimeZone, Utc};
use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::Value;

fn isbn_parse(c: &mut Criterion) {
    let inputs = [
        ("isbn13", "9780000000422"),
        ("hyphenated", "978-0-00-000042-2"),
        ("isbn10", "0-306-40615-2"),
    ];
    let mut group = c.benchmark_group("Isbn::parse");
    for (name, input) in inputs {
        assert!(Isbn::parse(input).is_ok(), "{input} must parse");
        group.bench_function(name, |b| b.iter(|| Isbn::parse(black_box(input))));
    }
    group.finish();
}

fn cursors(c: &mut Criterion) {
    // What `GET /v1/books?sort=title` puts in `next_cursor`: the scope, the last title and its ISBN.
    let by_title = Cursor {
        s: "books:title:asc".into(),
        v: Value::from("Book 4242"),
        k: Value::from("9780000042428"),
    };
    // The default sort (isbn) carries no sort value.
    let by_isbn = Cursor {
        s: "books:isbn:asc".into(),
        v: Value::Null,
        k: Value::from("9780000042428"),
    };
    let raw = cursor::encode(&by_title);
    assert_eq!(
        cursor::decode(&raw, "books:title:asc", "cursor").ok(),
        Some(by_title.clone())
    );

    let mut group = c.benchmark_group("cursor");
    group.bench_function("encode/title", |b| {
        b.iter(|| cursor::encode(black_box(&by_title)))
    });
    group.bench_function("encode/isbn", |b| {
        b.iter(|| cursor::encode(black_box(&by_isbn)))
    });
    group.bench_function("decode/title", |b| {
        b.iter(|| cursor::decode(black_box(&raw), "books:title:asc", "cursor"))
    });
    group.bench_function("decode/wrong_scope", |b| {
        b.iter(|| cursor::decode(black_box(&raw), "books:year:asc", "cursor"))
    });
    group.finish();
}

/// Book 4242 of the benchmark data set (../shared/dataset.md), with two authors.
fn book() -> Book {
    let at = Utc.with_ymd_and_hms(2025, 1, 2, 3, 4, 5).unwrap();
    Book {
        isbn: "9780000042428".into(),
        title: "Book 4242".into(),
        category: Category::Science,
        year: 1950 + 4242 % 75,
        price_cents: 500 + (4242 * 37) % 5000,
        stock: (4242 * 13) % 200,
        authors: vec![
            AuthorRef {
                id: 243,
                name: "Author 243".into(),
            },
            AuthorRef {
                id: 1695,
                name: "Author 1695".into(),
            },
        ],
        created_at: at,
        updated_at: at,
        version: 1,
    }
}

fn book_json(c: &mut Criterion) {
    let book = book();
    let page: Vec<Book> = (0..20).map(|_| book.clone()).collect();
    let mut group = c.benchmark_group("json");
    group.bench_function("book", |b| {
        b.iter(|| serde_json::to_vec(black_box(&book)).unwrap())
    });
    group.bench_function("books_page_20", |b| {
        b.iter(|| serde_json::to_vec(black_box(&page)).unwrap())
    });
    group.finish();
}

criterion_group!(benches, isbn_parse, cursors, book_json);
criterion_main!(benches);
