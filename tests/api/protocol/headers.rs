//! Request ids, header versioning (`Accept-Version`) and the problem+json shape.

use std::collections::HashSet;

use reqwest::Method;
use serde_json::json;

use crate::helpers::{book_body, id_of, isbn, send, Resp, TestApp};

async fn with_request_id(app: &TestApp, path: &str, id: &str) -> Resp {
    send(app.req(Method::GET, path).header("x-request-id", id)).await
}

fn looks_generated(id: &str) -> bool {
    uuid::Uuid::parse_str(id).is_ok()
}

#[tokio::test]
async fn request_ids_are_echoed_when_sane_and_replaced_when_not() {
    let app = TestApp::spawn().await;
    // A sane id is echoed, on successes and on problems (where the body carries it too).
    let r = with_request_id(&app, "/v1/books", "client-42.retry:3").await;
    r.expect(200);
    assert_eq!(r.header("x-request-id"), Some("client-42.retry:3"));
    let r = with_request_id(&app, "/v1/nope", "trace-abc-123").await;
    r.problem(404);
    assert_eq!(r.header("x-request-id"), Some("trace-abc-123"));
    assert_eq!(r.body["request_id"], "trace-abc-123");
    let longest = "a".repeat(128);
    assert_eq!(
        with_request_id(&app, "/healthz", &longest)
            .await
            .header("x-request-id"),
        Some(longest.as_str())
    );

    // Insane ids are replaced by fresh ones: too long, odd characters, log-injection attempts.
    for bad in [
        "a".repeat(129),
        "has space".to_owned(),
        "<script>".to_owned(),
        "line\tbreak".to_owned(),
        "id\"quote".to_owned(),
        "ünïcode".to_owned(),
        String::new(),
    ] {
        let rb = app.req(Method::GET, "/v1/nope");
        let rb = match reqwest::header::HeaderValue::from_bytes(bad.as_bytes()) {
            Ok(v) => rb.header("x-request-id", v),
            Err(_) => continue,
        };
        let r = send(rb).await;
        let got = r.header("x-request-id").expect("x-request-id");
        assert_ne!(got, bad);
        assert!(looks_generated(got), "{bad:?} -> {got:?}");
        assert_eq!(r.body["request_id"], got);
    }

    // Without one, every response still carries a new, unique id.
    let mut seen = HashSet::new();
    for path in ["/healthz", "/v1/books", "/v1/nope", "/openapi.json"] {
        let r = app.get(path).await;
        let id = r.header("x-request-id").expect("x-request-id").to_owned();
        assert!(looks_generated(&id), "{id}");
        assert!(seen.insert(id), "ids are unique");
    }
}

#[tokio::test]
async fn accept_version_header_versioning() {
    let app = TestApp::spawn().await;
    let editor = app.editor_token().await;
    let a = id_of(&app.create_author(&editor, "Header Versioned").await);
    app.create_book(&editor, &book_body(&isbn(1), "Versioned", &[a]))
        .await;

    let v1 = app.get("/v1/books").await;
    v1.expect(200);
    // `Accept-Version: 1` on the unprefixed path: the same answer.
    let r = send(app.req(Method::GET, "/books").header("accept-version", "1")).await;
    r.expect(200);
    assert_eq!(r.body, v1.body);
    // No header: the latest version, 1.
    let r = app.get("/books").await;
    r.expect(200);
    assert_eq!(r.body, v1.body);
    let r = send(
        app.req(Method::GET, &format!("/book/{}", isbn(1)))
            .header("accept-version", "1"),
    )
    .await;
    r.expect(200);
    assert_eq!(r.body["title"], "Versioned");
    // Writes work unprefixed too.
    let r = send(
        app.req(Method::POST, "/author")
            .header("accept-version", "1")
            .bearer_auth(&editor)
            .json(&json!({"name": "Unprefixed"})),
    )
    .await;
    r.expect(201);

    // An unknown version is a 400 problem listing the supported versions.
    for v in ["2", "0", "v1", "banana"] {
        let r = send(app.req(Method::GET, "/books").header("accept-version", v)).await;
        r.problem(400);
        let detail = r.body["detail"].as_str().unwrap();
        assert!(
            detail.contains("supported") && detail.contains('1'),
            "{v}: {detail}"
        );
    }
    // ...and nothing was written by a refused request.
    let r = send(
        app.req(Method::POST, "/author")
            .header("accept-version", "2")
            .bearer_auth(&editor)
            .json(&json!({"name": "Future"})),
    )
    .await;
    r.problem(400);
    let names = app.get("/v1/authors?name=future").await;
    assert_eq!(names.body["items"], json!([]));
}

#[tokio::test]
async fn problem_details_shape() {
    let app = TestApp::spawn().await;
    let r = app.get("/v1/no-such-thing").await;
    r.problem(404);
    let mut keys: Vec<&str> = r
        .body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "detail",
            "instance",
            "request_id",
            "status",
            "title",
            "type"
        ],
        "no `errors` outside validation"
    );
    assert_eq!(r.body["status"], 404);
    assert_eq!(r.body["title"], "Not Found");
    assert_eq!(r.body["instance"], "/v1/no-such-thing");
    assert!(
        r.body["type"].as_str().unwrap().contains("://"),
        "type is a URI"
    );

    // Validation problems add `errors` with `field` and `message`.
    let editor = app.editor_token().await;
    let r = app.post("/v1/author", &editor, &json!({"name": ""})).await;
    r.problem(422);
    assert_eq!(r.body["errors"][0]["field"], "name");
    assert!(r.body["errors"][0]["message"].as_str().unwrap().len() > 3);
    assert_eq!(r.body["instance"], "/v1/author");
    assert_eq!(r.body["title"], "Unprocessable Entity");
    assert_ne!(r.body["type"], json!("about:blank"));
}
