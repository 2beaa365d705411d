//! Authors: create, read, list, rename, partial update, delete, and an author's books.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{book_body, id_of, isbn, send, TestApp};

#[tokio::test]
async fn create_and_read_an_author() {
    let app = TestApp::spawn().await;
    let editor = app.editor_token().await;
    let r = app
        .post(
            "/v1/author",
            &editor,
            &json!({"name": "  Ursula K. Le Guin ", "bio": "Wrote Earthsea.", "born_year": 1929}),
        )
        .await;
    r.expect(201);
    let id = id_of(&r.body);
    assert_eq!(
        r.header("location"),
        Some(format!("/v1/author/{id}").as_str())
    );
    assert_eq!(r.header("etag"), Some("\"1\""));
    let a = &r.body;
    assert_eq!(a["name"], "Ursula K. Le Guin", "names are trimmed");
    assert_eq!(a["bio"], "Wrote Earthsea.");
    assert_eq!(a["born_year"], 1929);
    assert_eq!(a["book_count"], 0);
    assert_eq!(a["version"], 1);
    let mut keys: Vec<&str> = a.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "bio",
            "book_count",
            "born_year",
            "created_at",
            "id",
            "name",
            "updated_at",
            "version"
        ]
    );

    let got = app.get(r.header("location").unwrap()).await;
    got.expect(200);
    assert_eq!(got.body, r.body);
    assert_eq!(got.header("etag"), Some("\"1\""));

    // bio and born_year are optional.
    let r = app
        .post("/v1/author", &editor, &json!({"name": "Anon"}))
        .await;
    r.expect(201);
    assert!(r.body["bio"].is_null() && r.body["born_year"].is_null());
}

#[tokio::test]
async fn author_validation() {
    let app = TestApp::spawn().await;
    let editor = app.editor_token().await;
    let this_year = chrono::Datelike::year(&chrono::Utc::now());
    let r = app
        .post(
            "/v1/author",
            &editor,
            &json!({"name": "   ", "bio": 42, "born_year": this_year + 1, "id": 7}),
        )
        .await;
    r.problem(422);
    let mut fields = r.error_fields();
    fields.sort();
    assert_eq!(fields, ["bio", "born_year", "id", "name"]);

    let cases = [
        (json!({}), Some("name")),
        (json!({"name": "x".repeat(201)}), Some("name")),
        (json!({"name": "x".repeat(200)}), None),
        (
            json!({"name": "Old", "born_year": -3001}),
            Some("born_year"),
        ),
        (json!({"name": "Older", "born_year": -3000}), None),
        (json!({"name": "Now", "born_year": this_year}), None),
        (
            json!({"name": "Float", "born_year": 1950.5}),
            Some("born_year"),
        ),
        (json!({"name": 5}), Some("name")),
        (json!(["not", "an", "object"]), Some("")),
    ];
    for (body, bad) in cases {
        let r = app.post("/v1/author", &editor, &body).await;
        match bad {
            Some(field) => {
                r.problem(422);
                assert_eq!(r.error_fields(), [field], "{body}");
            }
            None => {
                r.expect(201);
            }
        }
    }
}

#[tokio::test]
async fn author_writes_need_a_role() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let id = id_of(&app.create_author(&admin, "Writer").await);
    app.json(Method::POST, "/v1/author", None, &json!({"name": "A"}))
        .await
        .problem(401);
    app.json(
        Method::PATCH,
        &format!("/v1/author/{id}"),
        None,
        &json!({"name": "B"}),
    )
    .await
    .problem(401);
    app.json(
        Method::PATCH,
        &format!("/v1/author/{id}/name"),
        None,
        &json!({"name": "B"}),
    )
    .await
    .problem(401);
    send(app.req(Method::DELETE, &format!("/v1/author/{id}")))
        .await
        .problem(401);
    assert_eq!(
        app.get(&format!("/v1/author/{id}")).await.body["name"],
        "Writer"
    );
}

#[tokio::test]
async fn unknown_and_malformed_author_ids() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    app.get("/v1/author/12345").await.problem(404);
    for bad in ["abc", "0", "-1", "1.5"] {
        let r = app.get(&format!("/v1/author/{bad}")).await;
        r.problem(400);
        r.assert_names_param("id");
    }
    app.patch("/v1/author/999", &admin, &json!({"name": "X"}))
        .await
        .problem(404);
    app.patch("/v1/author/999/name", &admin, &json!({"name": "X"}))
        .await
        .problem(404);
    app.delete("/v1/author/999", &admin).await.problem(404);
    app.get("/v1/author/999/book").await.problem(404);
}

#[tokio::test]
async fn list_authors_filters_by_name_and_pages() {
    let app = TestApp::spawn().await;
    let editor = app.editor_token().await;
    for name in [
        "Émile Zola",
        "Anne Carson",
        "Carson McCullers",
        "Rachel Carson",
        "Ted Chiang",
        "100% Real_Name",
    ] {
        app.create_author(&editor, name).await;
    }
    let r = app.get("/v1/authors?name=CARSON").await;
    r.expect(200);
    let names: Vec<&str> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Anne Carson", "Carson McCullers", "Rachel Carson"]);
    assert!(r.body["next_cursor"].is_null());
    // LIKE wildcards in the filter are literal.
    let r = app.get("/v1/authors?name=%25").await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1, "{}", r.text);
    // `_` would match the "o" of every "Carson" if it were a wildcard.
    let r = app.get("/v1/authors?name=rs_n").await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 0, "{}", r.text);
    let r = app.get("/v1/authors?name=_n").await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1, "{}", r.text);
    // Case-insensitive beyond ASCII.
    for needle in ["%C3%A9mile", "%C3%89MILE", "zOLA"] {
        let r = app.get(&format!("/v1/authors?name={needle}")).await;
        assert_eq!(
            r.body["items"][0]["name"], "Émile Zola",
            "{needle}: {}",
            r.text
        );
    }

    // Pages of two: 2 + 2 + 1, by id, no repeats.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/authors?limit=2&cursor={c}"),
            None => "/v1/authors?limit=2".to_owned(),
        };
        let r = app.get(&path).await;
        r.expect(200);
        pages += 1;
        for a in r.body["items"].as_array().unwrap() {
            seen.push(id_of(a));
        }
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(
        pages, 3,
        "six authors in pages of two: the third page is the last"
    );
    assert_eq!(seen, [1, 2, 3, 4, 5, 6]);
    // A name filter and pagination together.
    let r = app.get("/v1/authors?name=carson&limit=2").await;
    let c = r.body["next_cursor"].as_str().unwrap().to_owned();
    let r = app
        .get(&format!("/v1/authors?name=carson&limit=2&cursor={c}"))
        .await;
    assert_eq!(r.body["items"][0]["name"], "Rachel Carson");
    assert!(r.body["next_cursor"].is_null());
    // A books cursor is not an authors cursor.
    app.create_book(&editor, &book_body(&isbn(1), "B1", &[1]))
        .await;
    app.create_book(&editor, &book_body(&isbn(2), "B2", &[1]))
        .await;
    let books = app.get("/v1/books?limit=1").await;
    let c = books.body["next_cursor"].as_str().unwrap().to_owned();
    let r = app.get(&format!("/v1/authors?cursor={c}")).await;
    r.problem(400);
    r.assert_names_param("cursor");
    let r = app.get("/v1/authors?cursor=abc").await;
    r.problem(400);
    r.assert_names_param("cursor");
}

#[tokio::test]
async fn rename_an_author() {
    let app = TestApp::spawn().await;
    let editor = app.editor_token().await;
    let a = app.create_author(&editor, "Jon Doe").await;
    let id = id_of(&a);
    let r = app
        .patch(
            &format!("/v1/author/{id}/name"),
            &editor,
            &json!({"name": " John Doe "}),
        )
        .await;
    r.expect(200);
    assert_eq!(r.body["name"], "John Doe");
    assert_eq!(r.body["version"], 2);
    assert_eq!(r.header("etag"), Some("\"2\""));
    // Only `name`, and it is required.
    let r = app
        .patch(
            &format!("/v1/author/{id}/name"),
            &editor,
            &json!({"name": "X", "bio": "b"}),
        )
        .await;
    r.problem(422);
    assert_eq!(r.error_fields(), ["bio"]);
    let r = app
        .patch(&format!("/v1/author/{id}/name"), &editor, &json!({}))
        .await;
    r.problem(422);
    assert_eq!(r.error_fields(), ["name"]);
    let r = app
        .patch(
            &format!("/v1/author/{id}/name"),
            &editor,
            &json!({"name": ""}),
        )
        .await;
    r.problem(422);
    // Books show the new name.
    app.create_book(&editor, &book_body(&isbn(1), "A Book", &[id]))
        .await;
    app.patch(
        &format!("/v1/author/{id}/name"),
        &editor,
        &json!({"name": "J. Doe"}),
    )
    .await
    .expect(200);
    let b = app.get(&format!("/v1/book/{}", isbn(1))).await;
    assert_eq!(b.body["authors"][0]["name"], "J. Doe");
    let got = app.get(&format!("/v1/author/{id}")).await;
    assert_eq!(got.body["name"], "J. Doe");
    assert_eq!(got.body["version"], 3);
}

#[tokio::test]
async fn patch_an_author_partially() {
    let app = TestApp::spawn().await;
    let editor = app.editor_token().await;
    let r = app
        .post(
            "/v1/author",
            &editor,
            &json!({"name": "Mary", "bio": "Historian", "born_year": 1955}),
        )
        .await;
    let id = id_of(&r.body);
    let path = format!("/v1/author/{id}");

    let r = app
        .patch(&path, &editor, &json!({"bio": "Classicist"}))
        .await;
    r.expect(200);
    assert_eq!(r.body["name"], "Mary");
    assert_eq!(r.body["bio"], "Classicist");
    assert_eq!(r.body["born_year"], 1955);

    // A present null clears an optional field.
    let r = app.patch(&path, &editor, &json!({"born_year": null})).await;
    r.expect(200);
    assert!(r.body["born_year"].is_null());
    assert_eq!(r.body["bio"], "Classicist");

    // The name may not be cleared; every bad field is named.
    let r = app
        .patch(
            &path,
            &editor,
            &json!({"name": null, "born_year": 99999, "version": 9}),
        )
        .await;
    r.problem(422);
    let mut fields = r.error_fields();
    fields.sort();
    fields.dedup();
    assert_eq!(fields, ["born_year", "name", "version"]);
    let now = app.get(&path).await.body;
    assert_eq!(now["version"], 3, "the refused PATCH changed nothing");
    assert_eq!(now["name"], "Mary");
}

#[tokio::test]
async fn delete_an_author() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let editor = app.editor_token().await;
    let lonely = id_of(&app.create_author(&admin, "Lonely").await);
    let busy = id_of(&app.create_author(&admin, "Busy").await);
    app.create_book(&admin, &book_body(&isbn(7), "Busy's Book", &[busy]))
        .await;

    app.delete(&format!("/v1/author/{lonely}"), &editor)
        .await
        .problem(403);
    let r = app.delete(&format!("/v1/author/{busy}"), &admin).await;
    r.problem(409);
    assert!(
        r.body["detail"].as_str().unwrap().contains("books"),
        "{}",
        r.text
    );
    assert_eq!(
        app.get(&format!("/v1/author/{busy}")).await.body["book_count"],
        1
    );

    let r = app.delete(&format!("/v1/author/{lonely}"), &admin).await;
    r.expect(204);
    assert!(r.text.is_empty());
    app.get(&format!("/v1/author/{lonely}")).await.problem(404);
    app.delete(&format!("/v1/author/{lonely}"), &admin)
        .await
        .problem(404);

    // Once its book is gone, the busy author can go too.
    app.delete(&format!("/v1/book/{}", isbn(7)), &admin)
        .await
        .expect(204);
    app.delete(&format!("/v1/author/{busy}"), &admin)
        .await
        .expect(204);
}

fn isbns(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["isbn"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn an_authors_books() {
    let app = TestApp::spawn().await;
    let editor = app.editor_token().await;
    let a = id_of(&app.create_author(&editor, "Prolific").await);
    let b = id_of(&app.create_author(&editor, "Other").await);
    // (n, year, category, authors)
    let books = [
        (1, 2001, "fiction", vec![a]),
        (2, 1999, "science", vec![a, b]),
        (3, 2001, "science", vec![b, a]),
        (4, 1980, "fiction", vec![a]),
        (5, 2010, "fiction", vec![b]),
    ];
    for (n, year, category, authors) in &books {
        let mut body = book_body(&isbn(*n), &format!("Book {n}"), authors);
        body["year"] = json!(year);
        body["category"] = json!(category);
        app.create_book(&editor, &body).await;
    }
    assert_eq!(
        app.get(&format!("/v1/author/{a}")).await.body["book_count"],
        4
    );

    // Default: ascending by year, then isbn.
    let r = app.get(&format!("/v1/author/{a}/book")).await;
    r.expect(200);
    assert_eq!(isbns(&r.body), [isbn(4), isbn(2), isbn(1), isbn(3)]);
    let r = app.get(&format!("/v1/author/{a}/book?order=desc")).await;
    assert_eq!(isbns(&r.body), [isbn(3), isbn(1), isbn(2), isbn(4)]);
    let r = app
        .get(&format!("/v1/author/{a}/book?category=science"))
        .await;
    assert_eq!(isbns(&r.body), [isbn(2), isbn(3)]);
    // The books carry all their authors, in their order.
    let third = &r.body["items"][1];
    assert_eq!(third["authors"][0]["id"], b);
    assert_eq!(third["authors"][1]["id"], a);

    // Pages.
    let r = app
        .get(&format!("/v1/author/{a}/book?order=desc&limit=3"))
        .await;
    assert_eq!(isbns(&r.body), [isbn(3), isbn(1), isbn(2)]);
    let c = r.body["next_cursor"].as_str().unwrap().to_owned();
    let r = app
        .get(&format!(
            "/v1/author/{a}/book?order=desc&limit=3&cursor={c}"
        ))
        .await;
    assert_eq!(isbns(&r.body), [isbn(4)]);
    assert!(r.body["next_cursor"].is_null());
    // A cursor of one order is refused by the other.
    let r = app
        .get(&format!("/v1/author/{a}/book?order=asc&limit=3&cursor={c}"))
        .await;
    r.problem(400);
    r.assert_names_param("cursor");

    // Bad parameters name themselves; an unknown author is 404.
    for (q, param) in [
        ("order=sideways", "order"),
        ("category=poetry", "category"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("cursor=zzz", "cursor"),
    ] {
        let r = app.get(&format!("/v1/author/{a}/book?{q}")).await;
        r.problem(400);
        r.assert_names_param(param);
    }
    let none = id_of(&app.create_author(&editor, "Bookless").await);
    let r = app.get(&format!("/v1/author/{none}/book")).await;
    r.expect(200);
    assert_eq!(r.body["items"], json!([]));
    app.get("/v1/author/4242/book").await.problem(404);
}
