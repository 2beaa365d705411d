//! Methods and routes: 405 with `Allow`, 404 problems, `Location` of created resources, and
//! `PUT` that never creates.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{book_body, id_of, isbn, magazine_body, send, TestApp};

#[tokio::test]
async fn wrong_method_is_405_with_allow() {
    let app = TestApp::spawn().await;
    let r = send(app.req(Method::DELETE, "/v1/books")).await;
    r.problem(405);
    let allow = r
        .header("allow")
        .expect("Allow header")
        .to_ascii_uppercase();
    assert!(allow.contains("GET"), "{allow}");
    assert!(!allow.contains("DELETE"), "{allow}");

    let r = send(app.req(Method::PATCH, &format!("/v1/book/{}", isbn(1)))).await;
    r.problem(405);
    let allow = r.header("allow").unwrap().to_ascii_uppercase();
    for m in ["GET", "PUT", "DELETE"] {
        assert!(allow.contains(m), "{allow}");
    }
    let r = app.get("/v1/token").await;
    r.problem(405);
    assert!(r
        .header("allow")
        .unwrap()
        .to_ascii_uppercase()
        .contains("POST"));
    // Unprefixed (header-versioned) routes behave the same.
    let r = send(app.req(Method::PUT, "/books")).await;
    r.problem(405);
    assert!(r.header("allow").is_some());
}

#[tokio::test]
async fn unknown_routes_are_404_problems() {
    let app = TestApp::spawn().await;
    for path in [
        "/v1/nope",
        "/nope",
        "/v2/books",
        &format!("/v1/book/{}/extra", isbn(1)),
        "/v1/",
    ] {
        let r = app.get(path).await;
        r.problem(404);
        assert_eq!(r.body["instance"], *path);
    }
}

#[tokio::test]
async fn created_resources_carry_a_location_that_works() {
    let app = TestApp::spawn().await;
    let editor = app.editor_token().await;
    let a = app
        .post("/v1/author", &editor, &json!({"name": "Located"}))
        .await;
    let m = app
        .post(
            "/v1/magazine",
            &editor,
            &magazine_body("Located Mag", "2049-3630"),
        )
        .await;
    for r in [&a, &m] {
        r.expect(201);
        let location = r.header("location").expect("Location");
        assert!(location.starts_with("/v1/"), "{location}");
        let got = app.get(location).await;
        got.expect(200);
        assert_eq!(got.body, r.body, "{location}");
    }
    let b = app
        .post(
            "/v1/book",
            &editor,
            &book_body("0-306-40615-2", "Located Book", &[id_of(&a.body)]),
        )
        .await;
    b.expect(201);
    let got = app.get(b.header("location").expect("Location")).await;
    got.expect(200);
    assert_eq!(got.body, b.body);
    assert_eq!(b.header("location"), Some("/v1/book/9780306406157"));
}

#[tokio::test]
async fn put_to_a_missing_resource_is_404_and_creates_nothing() {
    let app = TestApp::spawn().await;
    let editor = app.editor_token().await;
    let a = id_of(&app.create_author(&editor, "Exists").await);
    let mut body = book_body(&isbn(5), "Never", &[a]);
    body.as_object_mut().unwrap().remove("isbn");
    let path = format!("/v1/book/{}", isbn(5));
    let r = app.put(&path, &editor, &body).await;
    r.problem(404);
    app.get(&path).await.problem(404);
    let r = app
        .put(
            "/v1/magazine/77",
            &editor,
            &magazine_body("Never", "2049-3630"),
        )
        .await;
    r.problem(404);
    app.get("/v1/magazine/77").await.problem(404);
    let db = app.db().await;
    let books: i64 = db
        .query_one("SELECT count(*) FROM books", &[])
        .await
        .unwrap()
        .get(0);
    let mags: i64 = db
        .query_one("SELECT count(*) FROM magazines", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!((books, mags), (0, 0));
    // And a PUT to a malformed ISBN is a 400, not a 404.
    let r = app.put("/v1/book/12345", &editor, &body).await;
    r.problem(400);
    r.assert_names_param("isbn");
}
