//! Books: create, read by any ISBN spelling, list and filter, replace, delete.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{book_body, id_of, isbn, send, TestApp};

/// Two authors and an editor token.
async fn setup(app: &TestApp) -> (String, i64, i64) {
    let editor = app.editor_token().await;
    let a = id_of(&app.create_author(&editor, "First Author").await);
    let b = id_of(&app.create_author(&editor, "Second Author").await);
    (editor, a, b)
}

#[tokio::test]
async fn create_a_book() {
    let app = TestApp::spawn().await;
    let (editor, a, b) = setup(&app).await;
    let body = json!({
        "isbn": "978-0-306-40615-7", "title": "  Signals and Systems ", "category": "science",
        "year": 1999, "price_cents": 4599, "stock": 3, "author_ids": [b, a],
    });
    let r = app.post("/v1/book", &editor, &body).await;
    r.expect(201);
    assert_eq!(r.header("location"), Some("/v1/book/9780306406157"));
    assert_eq!(r.header("etag"), Some("\"1\""));
    let book = &r.body;
    assert_eq!(book["isbn"], "9780306406157", "stored as 13 digits");
    assert_eq!(book["title"], "Signals and Systems");
    assert_eq!(book["category"], "science");
    assert_eq!(book["year"], 1999);
    assert_eq!(book["price_cents"], 4599);
    assert_eq!(book["stock"], 3);
    assert_eq!(book["version"], 1);
    assert_eq!(
        book["authors"],
        json!([{"id": b, "name": "Second Author"}, {"id": a, "name": "First Author"}]),
        "authors in their given order"
    );
    let mut keys: Vec<&str> = book
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "authors",
            "category",
            "created_at",
            "isbn",
            "price_cents",
            "stock",
            "title",
            "updated_at",
            "version",
            "year"
        ]
    );
    let got = app.get("/v1/book/9780306406157").await;
    got.expect(200);
    assert_eq!(&got.body, book);
    // Counts on the authors follow.
    assert_eq!(
        app.get(&format!("/v1/author/{a}")).await.body["book_count"],
        1
    );
}

#[tokio::test]
async fn isbn10_input_is_converted_and_any_spelling_finds_the_book() {
    let app = TestApp::spawn().await;
    let (editor, a, _) = setup(&app).await;
    let r = app
        .post(
            "/v1/book",
            &editor,
            &book_body("0-8044-2957-X", "Ten", &[a]),
        )
        .await;
    r.expect(201);
    assert_eq!(r.body["isbn"], "9780804429573");
    for spelling in [
        "9780804429573",
        "978-0-8044-2957-3",
        "080442957X",
        "080442957x",
        "0-8044-2957-X",
    ] {
        let r = app.get(&format!("/v1/book/{spelling}")).await;
        r.expect(200);
        assert_eq!(r.body["isbn"], "9780804429573", "{spelling}");
    }
    let r = app.get("/v1/book/978%200%208044%202957%203").await;
    r.expect(200);
    // The same book under another spelling is a duplicate.
    let r = app
        .post(
            "/v1/book",
            &editor,
            &book_body("978-0-8044-2957-3", "Again", &[a]),
        )
        .await;
    r.problem(409);
    assert!(r.body["detail"].as_str().unwrap().contains("ISBN"));
    // 979 prefixes are fine.
    let r = app
        .post(
            "/v1/book",
            &editor,
            &book_body("979-10-90636-07-1", "Nine", &[a]),
        )
        .await;
    r.expect(201);
}

#[tokio::test]
async fn bad_isbns_in_the_path() {
    let app = TestApp::spawn().await;
    for bad in ["123", "9780306406158", "abc", "97803064061570"] {
        let r = app.get(&format!("/v1/book/{bad}")).await;
        r.problem(400);
        r.assert_names_param("isbn");
    }
    // Valid but absent.
    app.get(&format!("/v1/book/{}", isbn(99)))
        .await
        .problem(404);
}

#[tokio::test]
async fn book_validation_names_every_field() {
    let app = TestApp::spawn().await;
    let (editor, a, b) = setup(&app).await;
    let next_year = chrono::Datelike::year(&chrono::Utc::now()) + 1;
    let r = app
        .post(
            "/v1/book",
            &editor,
            &json!({
                "isbn": "9780306406158", "title": "", "category": "poetry", "year": 1449,
                "price_cents": -1, "stock": 1_000_001, "author_ids": [],
            }),
        )
        .await;
    r.problem(422);
    let mut fields = r.error_fields();
    fields.sort();
    assert_eq!(
        fields,
        [
            "author_ids",
            "category",
            "isbn",
            "price_cents",
            "stock",
            "title",
            "year"
        ]
    );
    let detail = r.body["detail"].as_str().unwrap();
    assert!(
        detail.contains("isbn") && detail.contains("stock"),
        "{detail}"
    );

    // One field at a time, around each boundary.
    let cases: Vec<(&str, Value, bool)> = vec![
        ("year", json!(1450), true),
        ("year", json!(next_year), true),
        ("year", json!(next_year + 1), false),
        ("year", json!("2001"), false),
        ("price_cents", json!(0), true),
        ("price_cents", json!(10_000_000), true),
        ("price_cents", json!(10_000_001), false),
        ("price_cents", json!(19.99), false),
        ("stock", json!(0), true),
        ("stock", json!(1_000_000), true),
        ("stock", json!(-1), false),
        ("title", json!("t".repeat(500)), true),
        ("title", json!("t".repeat(501)), false),
        ("title", json!("   "), false),
        ("title", json!(null), false),
        ("category", json!("Fiction"), false),
        ("category", json!("non_fiction"), true),
        ("author_ids", json!([a, a]), false),
        ("author_ids", json!([a, b]), true),
        ("author_ids", json!((1..=11).collect::<Vec<i64>>()), false),
        ("author_ids", json!([0]), false),
        ("author_ids", json!("1"), false),
        ("isbn", json!("978-0-306-40615-2"), false),
        ("isbn", json!("9770306406154"), false),
        ("isbn", json!(9780306406157u64), false),
    ];
    for (n, (field, value, ok)) in cases.into_iter().enumerate() {
        let mut body = book_body(&isbn(100 + n as u32), "Edge", &[a]);
        body[field] = value.clone();
        let r = app.post("/v1/book", &editor, &body).await;
        if ok {
            r.expect(201);
        } else {
            r.problem(422);
            assert_eq!(r.error_fields(), [field], "{field} = {value}");
        }
    }
}

#[tokio::test]
async fn unknown_author_ids_are_named() {
    let app = TestApp::spawn().await;
    let (editor, a, _) = setup(&app).await;
    let r = app
        .post(
            "/v1/book",
            &editor,
            &book_body(&isbn(1), "Ghosts", &[a, 404, 405]),
        )
        .await;
    r.problem(422);
    assert_eq!(r.error_fields(), ["author_ids"]);
    let message = r.body["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("404") && message.contains("405"),
        "{message}"
    );
    assert!(!message.contains(&format!("{a},")), "{message}");
    app.get(&format!("/v1/book/{}", isbn(1))).await.problem(404);
}

#[tokio::test]
async fn book_writes_need_a_role() {
    let app = TestApp::spawn().await;
    let (editor, a, _) = setup(&app).await;
    let body = book_body(&isbn(1), "Guarded", &[a]);
    app.json(Method::POST, "/v1/book", None, &body)
        .await
        .problem(401);
    app.create_book(&editor, &body).await;
    let path = format!("/v1/book/{}", isbn(1));
    let mut replacement = body.clone();
    replacement.as_object_mut().unwrap().remove("isbn");
    app.json(Method::PUT, &path, None, &replacement)
        .await
        .problem(401);
    send(app.req(Method::DELETE, &path)).await.problem(401);
    // Editors may create and replace, but only admins delete.
    app.delete(&path, &editor).await.problem(403);
    app.get(&path).await.expect(200);
}

#[tokio::test]
async fn replace_a_book() {
    let app = TestApp::spawn().await;
    let (editor, a, b) = setup(&app).await;
    let created = app
        .create_book(&editor, &book_body(&isbn(1), "Draft", &[a]))
        .await;
    let path = format!("/v1/book/{}", isbn(1));
    let replacement = json!({
        "title": "Final", "category": "history", "year": 2020, "price_cents": 2500,
        "stock": 0, "author_ids": [b, a],
    });
    let r = app.put(&path, &editor, &replacement).await;
    r.expect(200);
    assert_eq!(r.header("etag"), Some("\"2\""));
    let book = &r.body;
    assert_eq!(book["isbn"], isbn(1));
    assert_eq!(book["title"], "Final");
    assert_eq!(book["category"], "history");
    assert_eq!(book["year"], 2020);
    assert_eq!(book["price_cents"], 2500);
    assert_eq!(book["stock"], 0);
    assert_eq!(book["version"], 2);
    assert_eq!(book["authors"][0]["id"], b);
    assert_eq!(book["authors"][1]["id"], a);
    assert_eq!(book["created_at"], created["created_at"]);
    assert_ne!(book["updated_at"], created["updated_at"]);
    // What GET returns afterwards is what PUT returned.
    let got = app.get(&path).await;
    assert_eq!(&got.body, book);

    // A full replacement needs every field; the ISBN is not one of them.
    let r = app
        .put(&path, &editor, &json!({"title": "Only a title"}))
        .await;
    r.problem(422);
    let mut fields = r.error_fields();
    fields.sort();
    assert_eq!(
        fields,
        ["author_ids", "category", "price_cents", "stock", "year"]
    );
    let mut with_isbn = replacement.clone();
    with_isbn["isbn"] = json!(isbn(2));
    let r = app.put(&path, &editor, &with_isbn).await;
    r.problem(422);
    assert_eq!(r.error_fields(), ["isbn"]);
    let mut unknown_author = replacement.clone();
    unknown_author["author_ids"] = json!([a, 999]);
    let r = app.put(&path, &editor, &unknown_author).await;
    r.problem(422);
    assert_eq!(r.error_fields(), ["author_ids"]);
    // None of the refused PUTs changed the book.
    let got = app.get(&path).await;
    assert_eq!(&got.body, book);
    // The path may use any spelling.
    let r = app
        .put(
            &format!("/v1/book/{}", "978-0-00-000001-9"),
            &editor,
            &replacement,
        )
        .await;
    r.expect(200);
    assert_eq!(r.body["version"], 3);
}

#[tokio::test]
async fn delete_a_book() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let a = id_of(&app.create_author(&admin, "A").await);
    app.create_book(&admin, &book_body(&isbn(1), "Doomed", &[a]))
        .await;
    let path = format!("/v1/book/{}", isbn(1));
    let r = app.delete(&path, &admin).await;
    r.expect(204);
    assert!(r.text.is_empty());
    app.get(&path).await.problem(404);
    app.delete(&path, &admin).await.problem(404);
    assert_eq!(
        app.get(&format!("/v1/author/{a}")).await.body["book_count"],
        0
    );
    // The ISBN is free again.
    app.create_book(&admin, &book_body(&isbn(1), "Reborn", &[a]))
        .await;
    app.delete("/v1/book/not-an-isbn", &admin)
        .await
        .problem(400);
}

fn isbns(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap_or_else(|| panic!("a page: {page}"))
        .iter()
        .map(|b| b["isbn"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn list_and_filter_books() {
    let app = TestApp::spawn().await;
    let (editor, a, b) = setup(&app).await;
    // (n, title, category, year, authors)
    let rows = [
        (1, "The Dispossessed", "fiction", 1974, vec![a]),
        (2, "Cosmos", "science", 1980, vec![b]),
        (3, "The Lathe of Heaven", "fiction", 1971, vec![a, b]),
        (4, "Pale Blue Dot", "science", 1994, vec![b]),
        (5, "100% Pure_Science", "science", 1974, vec![a]),
    ];
    for (n, title, category, year, authors) in &rows {
        let mut body = book_body(&isbn(*n), title, authors);
        body["category"] = json!(category);
        body["year"] = json!(year);
        app.create_book(&editor, &body).await;
    }
    let all = app.get("/v1/books").await;
    all.expect(200);
    assert_eq!(
        isbns(&all.body),
        (1..=5).map(isbn).collect::<Vec<_>>(),
        "default: by isbn"
    );
    assert!(all.body["next_cursor"].is_null());

    let check = |q: &'static str, want: Vec<u32>| {
        let app = &app;
        async move {
            let r = app.get(&format!("/v1/books?{q}")).await;
            r.expect(200);
            assert_eq!(
                isbns(&r.body),
                want.into_iter().map(isbn).collect::<Vec<_>>(),
                "{q}"
            );
        }
    };
    check("category=science", vec![2, 4, 5]).await;
    check("year=1974", vec![1, 5]).await;
    check("category=fiction&year=1974", vec![1]).await;
    check(
        Box::leak(format!("author_id={a}").into_boxed_str()),
        vec![1, 3, 5],
    )
    .await;
    check("q=THE", vec![1, 3]).await;
    check("q=%25", vec![5]).await;
    check("q=t_e", vec![]).await;
    check("year=2100", vec![]).await;
    check("sort=year", vec![3, 1, 5, 2, 4]).await;
    check("sort=year&order=desc", vec![4, 2, 5, 1, 3]).await;
    check("sort=title", vec![5, 2, 4, 1, 3]).await;

    // The seed's filter form gives the same answer.
    for q in [
        "category=science",
        "year=1974",
        "category=science&year=1974",
        "",
    ] {
        let a = app.get(&format!("/v1/books?{q}")).await;
        let b = app.get(&format!("/v1/book?{q}")).await;
        b.expect(200);
        assert_eq!(a.body, b.body, "{q}");
    }
    // Bad filters are 400s naming the parameter.
    for (q, param) in [
        ("category=poetry", "category"),
        ("year=soon", "year"),
        ("author_id=x", "author_id"),
        ("author_id=0", "author_id"),
        ("sort=author", "sort"),
        ("order=up", "order"),
    ] {
        let r = app.get(&format!("/v1/book?{q}")).await;
        r.problem(400);
        r.assert_names_param(param);
    }
}

/// Reads twice, so a cache (if any) is filled and then served from.
async fn read_twice(app: &TestApp, path: &str) -> Value {
    let first = app.get(path).await;
    let second = app.get(path).await;
    assert_eq!(first.status, second.status, "{path}");
    assert_eq!(first.body, second.body, "{path}");
    second.body
}

#[tokio::test]
async fn reads_after_writes_are_never_stale() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let a = id_of(&app.create_author(&admin, "Author A").await);
    let b = id_of(&app.create_author(&admin, "Author B").await);
    let book = format!("/v1/book/{}", isbn(1));
    let (pa, pb) = (format!("/v1/author/{a}"), format!("/v1/author/{b}"));
    app.create_book(&admin, &book_body(&isbn(1), "Cached", &[a]))
        .await;
    assert_eq!(read_twice(&app, &pa).await["book_count"], 1);
    assert_eq!(read_twice(&app, &pb).await["book_count"], 0);
    assert_eq!(read_twice(&app, &book).await["authors"][0]["id"], a);

    // Moving the book to another author changes both authors' counts and the book.
    let mut moved = book_body(&isbn(1), "Cached", &[b]);
    moved.as_object_mut().unwrap().remove("isbn");
    app.put(&book, &admin, &moved).await.expect(200);
    assert_eq!(read_twice(&app, &pa).await["book_count"], 0);
    assert_eq!(read_twice(&app, &pb).await["book_count"], 1);
    assert_eq!(
        read_twice(&app, &book).await["authors"],
        json!([{"id": b, "name": "Author B"}])
    );

    // Renaming an author shows in the books that name them.
    app.patch(&format!("{pb}/name"), &admin, &json!({"name": "Author B2"}))
        .await
        .expect(200);
    assert_eq!(
        read_twice(&app, &book).await["authors"][0]["name"],
        "Author B2"
    );
    app.patch(&pb, &admin, &json!({"name": "Author B3", "bio": "x"}))
        .await
        .expect(200);
    assert_eq!(
        read_twice(&app, &book).await["authors"][0]["name"],
        "Author B3"
    );
    assert_eq!(read_twice(&app, &pb).await["bio"], "x");

    // Deleting the book: gone, and its author's count drops.
    app.delete(&book, &admin).await.expect(204);
    app.get(&book).await.problem(404);
    assert_eq!(read_twice(&app, &pb).await["book_count"], 0);
    // Creating it again is seen at once (no remembered 404).
    app.create_book(&admin, &book_body(&isbn(1), "Reborn", &[a]))
        .await;
    assert_eq!(read_twice(&app, &book).await["title"], "Reborn");
    assert_eq!(read_twice(&app, &pa).await["book_count"], 1);

    // Deleted authors and magazines are gone at once.
    let lonely = id_of(&app.create_author(&admin, "Lonely").await);
    read_twice(&app, &format!("/v1/author/{lonely}")).await;
    app.delete(&format!("/v1/author/{lonely}"), &admin)
        .await
        .expect(204);
    app.get(&format!("/v1/author/{lonely}")).await.problem(404);
    let m = app
        .post(
            "/v1/magazine",
            &admin,
            &crate::helpers::magazine_body("M", "2049-3630"),
        )
        .await;
    let pm = format!("/v1/magazine/{}", id_of(&m.body));
    read_twice(&app, &pm).await;
    app.put(
        &pm,
        &admin,
        &crate::helpers::magazine_body("M2", "2049-3630"),
    )
    .await
    .expect(200);
    assert_eq!(read_twice(&app, &pm).await["title"], "M2");
    app.delete(&pm, &admin).await.expect(204);
    app.get(&pm).await.problem(404);
}
