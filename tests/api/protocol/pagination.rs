//! Keyset pagination: every sort walked without gaps or duplicates, cursors that survive changes,
//! and bad list parameters.

use std::cmp::Ordering;
use std::collections::HashSet;

use bookstore::seed::Dataset;
use serde_json::{json, Value};

use crate::helpers::{book_body, isbn, TestApp};

/// Loads 30 data-set books and adds 12 with deliberately repeated titles, years and prices.
async fn pagination_fixture(app: &TestApp) -> usize {
    Dataset {
        authors: 3,
        books: 30,
        magazines: 0,
    }
    .load(&app.db_url, false)
    .await
    .expect("loading the data set");
    let editor = app.editor_token().await;
    let titles = ["Book 7", "Alpha", "Alpha", "Zeta"];
    for i in 0..12u32 {
        let mut body = book_body(
            &isbn(900 + i * 7),
            titles[(i % 4) as usize],
            &[1 + i64::from(i % 3)],
        );
        body["year"] = json!(1960 + (i % 3) as i32);
        body["price_cents"] = json!(537 + (i % 2) as i32 * 100);
        body["category"] = json!(if i % 2 == 0 { "fiction" } else { "science" });
        app.create_book(&editor, &body).await;
    }
    42
}

async fn walk(app: &TestApp, query: &str, limit: usize) -> (Vec<Value>, usize) {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/books?{query}&limit={limit}&cursor={c}"),
            None => format!("/v1/books?{query}&limit={limit}"),
        };
        let r = app.get(&path).await;
        r.expect(200);
        pages += 1;
        let page = r.body["items"].as_array().unwrap();
        assert!(page.len() <= limit);
        items.extend(page.iter().cloned());
        match r.body["next_cursor"].as_str() {
            Some(c) => {
                assert_eq!(page.len(), limit, "only the last page may be short");
                cursor = Some(c.to_owned());
            }
            None => break,
        }
        assert!(pages < 100, "pagination does not end");
    }
    (items, pages)
}

fn sort_key(book: &Value, sort: &str) -> Value {
    match sort {
        "isbn" => book["isbn"].clone(),
        "title" => book["title"].clone(),
        "year" => book["year"].clone(),
        "price" => book["price_cents"].clone(),
        _ => unreachable!(),
    }
}

#[tokio::test]
async fn keyset_pagination_walks_every_sort_without_gaps_or_duplicates() {
    let app = TestApp::spawn().await;
    let total = pagination_fixture(&app).await;
    for sort in ["isbn", "title", "year", "price"] {
        for order in ["asc", "desc"] {
            let query = format!("sort={sort}&order={order}");
            // The whole list in one page is the reference order.
            let one = app.get(&format!("/v1/books?{query}&limit=100")).await;
            one.expect(200);
            assert!(one.body["next_cursor"].is_null());
            let reference: Vec<Value> = one.body["items"].as_array().unwrap().clone();
            assert_eq!(reference.len(), total, "{query}");
            // Integer keys, ISBNs and ties are checked against our own comparison (titles that
            // differ are left to the database's collation).
            for pair in reference.windows(2) {
                let (a, b) = (&pair[0], &pair[1]);
                let (ka, kb) = (sort_key(a, sort), sort_key(b, sort));
                let (ia, ib) = (a["isbn"].as_str().unwrap(), b["isbn"].as_str().unwrap());
                let cmp = match (ka.as_i64(), kb.as_i64()) {
                    (Some(x), Some(y)) => Some((x, ia).cmp(&(y, ib))),
                    _ if ka == kb || sort == "isbn" => Some(ia.cmp(ib)),
                    _ => None,
                };
                let want = if order == "asc" {
                    Ordering::Less
                } else {
                    Ordering::Greater
                };
                if let Some(cmp) = cmp {
                    assert_eq!(cmp, want, "{query}: {a} then {b}");
                }
            }
            for limit in [1, 5, 7, 41, 42] {
                let (items, pages) = walk(&app, &query, limit).await;
                let got: Vec<&str> = items.iter().map(|b| b["isbn"].as_str().unwrap()).collect();
                let want: Vec<&str> = reference
                    .iter()
                    .map(|b| b["isbn"].as_str().unwrap())
                    .collect();
                assert_eq!(got, want, "{query} limit {limit}");
                assert_eq!(pages, total.div_ceil(limit), "{query} limit {limit}");
            }
        }
    }
    // With a filter, too.
    let (items, _) = walk(&app, "category=fiction&sort=title&order=desc", 3).await;
    let reference = app
        .get("/v1/books?category=fiction&sort=title&order=desc&limit=100")
        .await;
    assert_eq!(items, *reference.body["items"].as_array().unwrap());
    assert!(items.iter().all(|b| b["category"] == "fiction"));
    let unique: HashSet<&str> = items.iter().map(|b| b["isbn"].as_str().unwrap()).collect();
    assert_eq!(unique.len(), items.len());
}

#[tokio::test]
async fn a_cursor_survives_changes_before_it() {
    let app = TestApp::spawn().await;
    let total = pagination_fixture(&app).await;
    let admin = app.admin_token().await;
    let first = app.get("/v1/books?sort=price&limit=10").await;
    let seen: Vec<String> = first.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["isbn"].as_str().unwrap().to_owned())
        .collect();
    let cursor = first.body["next_cursor"].as_str().unwrap().to_owned();
    // Deleting rows already seen does not shift the rest (unlike OFFSET).
    for isbn in &seen[..5] {
        app.delete(&format!("/v1/book/{isbn}"), &admin)
            .await
            .expect(204);
    }
    let (rest, _) = {
        let mut items = Vec::new();
        let mut cursor = Some(cursor);
        while let Some(c) = cursor {
            let r = app
                .get(&format!("/v1/books?sort=price&limit=10&cursor={c}"))
                .await;
            r.expect(200);
            items.extend(r.body["items"].as_array().unwrap().iter().cloned());
            cursor = r.body["next_cursor"].as_str().map(str::to_owned);
        }
        (items, ())
    };
    assert_eq!(rest.len(), total - 10);
    assert!(rest
        .iter()
        .all(|b| !seen.contains(&b["isbn"].as_str().unwrap().to_owned())));
}

#[tokio::test]
async fn bad_list_parameters_are_400_naming_the_parameter() {
    let app = TestApp::spawn().await;
    pagination_fixture(&app).await;
    let title_cursor = app.get("/v1/books?sort=title&limit=2").await.body["next_cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    let forged = {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"s":"books:title:asc","v":5,"k":"x"}"#)
    };
    let cases: Vec<(String, &str)> = vec![
        ("cursor=garbage".into(), "cursor"),
        ("cursor=".into(), "cursor"),
        (format!("cursor={title_cursor}&sort=year"), "cursor"),
        (
            format!("cursor={title_cursor}&sort=title&order=desc"),
            "cursor",
        ),
        (format!("cursor={forged}&sort=title"), "cursor"),
        (format!("cursor={}", "A".repeat(3000)), "cursor"),
        ("limit=0".into(), "limit"),
        ("limit=101".into(), "limit"),
        ("limit=-1".into(), "limit"),
        ("limit=ten".into(), "limit"),
        ("limit=99999999999999999999".into(), "limit"),
        ("category=poetry".into(), "category"),
        ("category=FICTION".into(), "category"),
        ("sort=author".into(), "sort"),
        ("sort=price_cents".into(), "sort"),
        ("order=random".into(), "order"),
        ("year=nineteen".into(), "year"),
        ("author_id=-4".into(), "author_id"),
    ];
    for (q, param) in &cases {
        for base in ["/v1/books", "/v1/book"] {
            let r = app.get(&format!("{base}?{q}")).await;
            r.problem(400);
            r.assert_names_param(param);
            assert!(
                r.body["detail"].as_str().unwrap().contains(param),
                "{q}: {}",
                r.text
            );
        }
    }
    // The boundaries themselves are fine, and the default is 20.
    let r = app.get("/v1/books?limit=1").await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    let r = app.get("/v1/books?limit=100").await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 42);
    let r = app.get("/v1/books").await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 20);
    assert!(r.body["next_cursor"].is_string());
    for (path, param) in [
        ("/v1/authors?limit=0", "limit"),
        ("/v1/authors?cursor=xyz", "cursor"),
        ("/v1/magazines?limit=101", "limit"),
        ("/v1/magazines?category=poetry", "category"),
    ] {
        let r = app.get(path).await;
        r.problem(400);
        r.assert_names_param(param);
    }
}
