//! The benchmark data set loader gives exactly the rows of `shared/dataset.md`.

use bookstore::seed::Dataset;
use serde_json::json;

use crate::helpers::{id_of, TestApp};

const SET: Dataset = Dataset {
    authors: 20,
    books: 200,
    magazines: 10,
};

/// ISBN-13 of book `i`, computed here independently of the server's code.
fn expected_isbn(i: u32) -> String {
    let body = format!("978{i:09}");
    let sum: u32 = body
        .bytes()
        .enumerate()
        .map(|(k, b)| u32::from(b - b'0') * if k % 2 == 0 { 1 } else { 3 })
        .sum();
    format!("{body}{}", (10 - sum % 10) % 10)
}

/// ISSN of magazine `i`, computed here independently of the server's code.
fn expected_issn(i: u32) -> String {
    let digits = format!("{:07}", 1_000_000 + i);
    let sum: u32 = digits
        .bytes()
        .enumerate()
        .map(|(k, b)| u32::from(b - b'0') * (8 - k as u32))
        .sum();
    let c = (11 - sum % 11) % 11;
    let check = if c == 10 {
        'X'
    } else {
        char::from(b'0' + c as u8)
    };
    format!("{}-{}{check}", &digits[..4], &digits[4..])
}

const CATEGORIES: [&str; 8] = [
    "fiction",
    "non_fiction",
    "science",
    "history",
    "children",
    "technology",
    "fantasy",
    "biography",
];

/// The (author, position) links of book `i` with `n` authors.
fn expected_links(i: u32, n: u32) -> Vec<(i64, i16)> {
    let first = 1 + (i - 1) % n;
    let mut links = vec![(i64::from(first), 1)];
    if i % 5 == 0 {
        let second = 1 + (i * 7) % n;
        if second != first {
            links.push((i64::from(second), 2));
        }
    }
    links
}

#[test]
fn the_documented_examples_hold_for_the_independent_formulas() {
    assert_eq!(expected_isbn(1), "9780000000019");
    assert_eq!(expected_isbn(42), "9780000000422");
    assert_eq!(expected_issn(1), "1000-0011");
}

#[tokio::test]
async fn the_data_set_has_exactly_the_documented_rows() {
    let app = TestApp::spawn().await;
    SET.load(&app.db_url, false).await.expect("loading");
    let db = app.db().await;

    // Authors.
    let rows = db
        .query(
            "SELECT id, name, bio, born_year FROM authors ORDER BY id",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 20);
    for (k, row) in rows.iter().enumerate() {
        let i = k as i64 + 1;
        assert_eq!(row.get::<_, i64>(0), i);
        assert_eq!(row.get::<_, String>(1), format!("Author {i}"));
        assert_eq!(
            row.get::<_, Option<String>>(2).as_deref(),
            Some(format!("Biography of author {i}").as_str())
        );
    }

    // Books.
    let rows = db
        .query(
            "SELECT isbn, title, category, year, price_cents, stock FROM books ORDER BY isbn",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 200);
    for (k, row) in rows.iter().enumerate() {
        let i = k as u32 + 1;
        assert_eq!(row.get::<_, String>(0), expected_isbn(i), "book {i}");
        assert_eq!(row.get::<_, String>(1), format!("Book {i}"));
        assert_eq!(
            row.get::<_, String>(2),
            CATEGORIES[(i % 8) as usize],
            "book {i}"
        );
        assert_eq!(row.get::<_, i32>(3), 1950 + (i % 75) as i32, "book {i}");
        assert_eq!(
            row.get::<_, i32>(4),
            500 + ((i * 37) % 5000) as i32,
            "book {i}"
        );
        assert_eq!(row.get::<_, i32>(5), ((i * 13) % 200) as i32, "book {i}");
    }

    // Book-author links with their positions.
    let rows = db
        .query(
            "SELECT book_isbn, author_id, position FROM book_authors ORDER BY book_isbn, position",
            &[],
        )
        .await
        .unwrap();
    let got: Vec<(String, i64, i16)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let want: Vec<(String, i64, i16)> = (1..=200)
        .flat_map(|i| {
            expected_links(i, 20)
                .into_iter()
                .map(move |(a, p)| (expected_isbn(i), a, p))
        })
        .collect();
    assert_eq!(got.len(), want.len());
    assert_eq!(got, want);

    // Magazines.
    let rows = db
        .query(
            "SELECT id, title, issn, publisher, category, frequency, year, price_cents \
             FROM magazines ORDER BY id",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 10);
    let mag_categories = ["science", "technology", "history", "fiction"];
    let frequencies = ["weekly", "monthly", "quarterly"];
    for (k, row) in rows.iter().enumerate() {
        let i = k as u32 + 1;
        assert_eq!(row.get::<_, i64>(0), i64::from(i));
        assert_eq!(row.get::<_, String>(1), format!("Magazine {i}"));
        assert_eq!(row.get::<_, String>(2), expected_issn(i), "magazine {i}");
        assert_eq!(row.get::<_, String>(3), format!("Publisher {}", 1 + i % 40));
        assert_eq!(row.get::<_, String>(4), mag_categories[(i % 4) as usize]);
        assert_eq!(row.get::<_, String>(5), frequencies[(i % 3) as usize]);
        assert_eq!(row.get::<_, i32>(6), 1990 + (i % 35) as i32);
        assert_eq!(row.get::<_, i32>(7), 300 + (i % 900) as i32);
    }
}

#[tokio::test]
async fn the_data_set_through_the_api() {
    let app = TestApp::spawn().await;
    SET.load(&app.db_url, false).await.expect("loading");

    let r = app.get("/v1/book/9780000000422").await;
    r.expect(200);
    assert_eq!(r.body["title"], "Book 42");
    assert_eq!(r.body["category"], "science");
    assert_eq!(r.body["year"], 1992);
    assert_eq!(r.body["price_cents"], 2054); // 500 + (42 * 37) % 5000
    assert_eq!(r.body["stock"], 146); // (42 * 13) % 200
    assert_eq!(r.body["authors"], json!([{"id": 2, "name": "Author 2"}]));

    // Book 5 has two authors, in order: 1 + 4 % 20 = 5, then 1 + 35 % 20 = 16.
    let r = app.get(&format!("/v1/book/{}", expected_isbn(5))).await;
    assert_eq!(
        r.body["authors"],
        json!([{"id": 5, "name": "Author 5"}, {"id": 16, "name": "Author 16"}])
    );
    // Book 1 is the documented first ISBN.
    app.get("/v1/book/9780000000019").await.expect(200);

    let r = app.get("/v1/magazine/1").await;
    r.expect(200);
    assert_eq!(r.body["issn"], "1000-0011");
    assert_eq!(r.body["title"], "Magazine 1");
    assert_eq!(r.body["publisher"], "Publisher 2");
    assert_eq!(r.body["category"], "technology");
    assert_eq!(r.body["frequency"], "monthly");
    assert_eq!(r.body["year"], 1991);
    assert_eq!(r.body["price_cents"], 301);

    let r = app.get("/v1/author/16").await;
    assert_eq!(r.body["name"], "Author 16");
    assert_eq!(r.body["bio"], "Biography of author 16");
    // Author 16 is first author of books 15, 35, ..., 195 (10) and second author of books whose
    // second author is 16.
    let second: usize = (1..=200u32)
        .filter(|i| expected_links(*i, 20).get(1).is_some_and(|l| l.0 == 16))
        .count();
    assert_eq!(r.body["book_count"], 10 + second as i64);

    // The id sequences continue after the loaded rows.
    let editor = app.editor_token().await;
    assert_eq!(id_of(&app.create_author(&editor, "Next").await), 21);
    let m = app
        .post(
            "/v1/magazine",
            &editor,
            &crate::helpers::magazine_body("Next", "2049-3630"),
        )
        .await;
    m.expect(201);
    assert_eq!(id_of(&m.body), 11);
}

async fn counts(app: &TestApp) -> (i64, i64, i64, i64) {
    let db = app.db().await;
    let row = db
        .query_one(
            "SELECT (SELECT count(*) FROM authors), (SELECT count(*) FROM books), \
                    (SELECT count(*) FROM book_authors), (SELECT count(*) FROM magazines)",
            &[],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1), row.get(2), row.get(3))
}

#[tokio::test]
async fn loading_into_a_non_empty_catalogue_without_reset_fails_and_changes_nothing() {
    let app = TestApp::spawn().await;
    // A catalogue with a single hand-made author.
    let editor = app.editor_token().await;
    app.create_author(&editor, "Already Here").await;
    let err = SET
        .load(&app.db_url, false)
        .await
        .expect_err("a non-empty catalogue needs --reset");
    assert!(err.to_string().contains("not empty"), "{err}");
    assert_eq!(counts(&app).await, (1, 0, 0, 0));
    let r = app.get("/v1/authors").await;
    assert_eq!(r.body["items"][0]["name"], "Already Here");

    // A second load over the data set fails too, and leaves it as it was.
    let app = TestApp::spawn().await;
    SET.load(&app.db_url, false).await.expect("first load");
    let before = counts(&app).await;
    let smaller = Dataset {
        authors: 2,
        books: 3,
        magazines: 1,
    };
    assert!(smaller.load(&app.db_url, false).await.is_err());
    assert_eq!(counts(&app).await, before);
    assert_eq!(
        app.get("/v1/book/9780000000422").await.body["title"],
        "Book 42"
    );

    // With reset, the catalogue is replaced (users stay).
    app.create_user("keeper", bookstore::domain::Role::Editor)
        .await;
    smaller.load(&app.db_url, true).await.expect("reset load");
    let links: i64 = (1..=3).map(|i| expected_links(i, 2).len() as i64).sum();
    assert_eq!(counts(&app).await, (2, 3, links, 1));
    // (Checked in the database: a running server's entity cache is not told about the reset.)
    let db = app.db().await;
    let gone = db
        .query_opt("SELECT 1 FROM books WHERE isbn = '9780000000422'", &[])
        .await
        .unwrap();
    assert!(gone.is_none());
    app.token("keeper").await;
}
