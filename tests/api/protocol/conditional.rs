//! Conditional requests: `ETag` with `If-None-Match`, and `If-Match` on every write.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{book_body, id_of, isbn, magazine_body, send, TestApp};

#[tokio::test]
async fn etag_and_if_none_match() {
    let app = TestApp::spawn().await;
    let editor = app.editor_token().await;
    let a = id_of(&app.create_author(&editor, "Tagged").await);
    app.create_book(&editor, &book_body(&isbn(1), "Tagged Book", &[a]))
        .await;
    let m = app
        .post(
            "/v1/magazine",
            &editor,
            &magazine_body("Tagged Mag", "2049-3630"),
        )
        .await;
    let paths = [
        format!("/v1/book/{}", isbn(1)),
        format!("/v1/author/{a}"),
        format!("/v1/magazine/{}", id_of(&m.body)),
    ];
    for path in &paths {
        let r = app.get(path).await;
        r.expect(200);
        let etag = r.header("etag").expect("ETag").to_owned();
        assert_eq!(etag, "\"1\"");
        for inm in [etag.as_str(), "W/\"1\"", "\"7\", \"1\"", "*"] {
            let r = send(app.req(Method::GET, path).header("if-none-match", inm)).await;
            r.expect(304);
            assert!(r.text.is_empty(), "a 304 has no body");
            assert_eq!(r.header("etag"), Some("\"1\""));
            assert!(r.header("x-request-id").is_some());
        }
        let r = send(app.req(Method::GET, path).header("if-none-match", "\"2\"")).await;
        r.expect(200);
        assert!(r.body.is_object());
    }
    // After a change the old tag no longer matches.
    let path = &paths[0];
    let mut replacement = book_body(&isbn(1), "Retagged", &[a]);
    replacement.as_object_mut().unwrap().remove("isbn");
    app.put(path, &editor, &replacement).await.expect(200);
    let r = send(app.req(Method::GET, path).header("if-none-match", "\"1\"")).await;
    r.expect(200);
    assert_eq!(r.header("etag"), Some("\"2\""));
    assert_eq!(r.body["title"], "Retagged");
}

#[tokio::test]
async fn if_match_guards_every_write() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let a = id_of(&app.create_author(&admin, "Guarded").await);
    app.create_book(&admin, &book_body(&isbn(1), "Guarded Book", &[a]))
        .await;
    let m = id_of(
        &app.post(
            "/v1/magazine",
            &admin,
            &magazine_body("Guarded Mag", "2049-3630"),
        )
        .await
        .body,
    );
    let book = format!("/v1/book/{}", isbn(1));
    let mut replacement = book_body(&isbn(1), "Changed", &[a]);
    replacement.as_object_mut().unwrap().remove("isbn");

    let with = |method: Method, path: &str, tag: &str, body: Option<&Value>| {
        let mut rb = app
            .req(method, path)
            .bearer_auth(&admin)
            .header("if-match", tag);
        if let Some(b) = body {
            rb = rb.json(b);
        }
        send(rb)
    };

    // Stale or foreign tags: 412 and no change.
    for tag in ["\"2\"", "\"0\"", "garbage", "W/\"9\""] {
        with(Method::PUT, &book, tag, Some(&replacement))
            .await
            .problem(412);
        with(Method::DELETE, &book, tag, None).await.problem(412);
        with(
            Method::PATCH,
            &format!("/v1/author/{a}/name"),
            tag,
            Some(&json!({"name": "Renamed"})),
        )
        .await
        .problem(412);
        with(
            Method::PATCH,
            &format!("/v1/author/{a}"),
            tag,
            Some(&json!({"bio": "b"})),
        )
        .await
        .problem(412);
        with(
            Method::PUT,
            &format!("/v1/magazine/{m}"),
            tag,
            Some(&magazine_body("Changed", "2049-3630")),
        )
        .await
        .problem(412);
        with(Method::DELETE, &format!("/v1/magazine/{m}"), tag, None)
            .await
            .problem(412);
    }
    let b = app.get(&book).await;
    assert_eq!(
        (b.body["title"].as_str(), b.body["version"].as_i64()),
        (Some("Guarded Book"), Some(1))
    );
    assert_eq!(app.get(&format!("/v1/author/{a}")).await.body["version"], 1);
    assert_eq!(
        app.get(&format!("/v1/magazine/{m}")).await.body["version"],
        1
    );

    // The current tag: success, and the answer carries the next tag.
    let r = with(Method::PUT, &book, "\"1\"", Some(&replacement)).await;
    r.expect(200);
    assert_eq!(r.header("etag"), Some("\"2\""));
    // Two clients that both read version 2: the second write is refused, not lost.
    let mut first = replacement.clone();
    first["title"] = json!("First writer");
    let mut second = replacement.clone();
    second["title"] = json!("Second writer");
    with(Method::PUT, &book, "\"2\"", Some(&first))
        .await
        .expect(200);
    with(Method::PUT, &book, "\"2\"", Some(&second))
        .await
        .problem(412);
    assert_eq!(app.get(&book).await.body["title"], "First writer");
    // `*` matches any current version.
    with(Method::PUT, &book, "*", Some(&replacement))
        .await
        .expect(200);
    let r = with(
        Method::PATCH,
        &format!("/v1/author/{a}/name"),
        "\"1\"",
        Some(&json!({"name": "Renamed"})),
    )
    .await;
    r.expect(200);
    assert_eq!(r.header("etag"), Some("\"2\""));
    with(
        Method::PUT,
        &format!("/v1/magazine/{m}"),
        "\"1\"",
        Some(&magazine_body("Changed", "2049-3630")),
    )
    .await
    .expect(200);
    with(Method::DELETE, &format!("/v1/magazine/{m}"), "\"2\"", None)
        .await
        .expect(204);
    with(Method::DELETE, &book, "\"4\"", None).await.expect(204);
    app.get(&book).await.problem(404);
}
