//! Request bodies: malformed JSON, media types, size limits (plain and chunked), and field
//! validation (every bad field at once, unknown fields).

use reqwest::Method;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{book_body, id_of, isbn, magazine_body, send, TestApp};

#[tokio::test]
async fn malformed_json_is_400() {
    let app = TestApp::spawn().await;
    let editor = app.editor_token().await;
    for body in ["{", "{\"name\": }", "{\"name\": \"x\"} trailing", "", "nul"] {
        let r = send(
            app.req(Method::POST, "/v1/author")
                .bearer_auth(&editor)
                .header("content-type", "application/json")
                .body(body),
        )
        .await;
        r.problem(400);
        assert!(r.body.get("errors").is_none(), "{body:?}: {}", r.text);
        assert!(
            r.body["detail"].as_str().unwrap().contains("JSON"),
            "{body:?}: {}",
            r.text
        );
    }
    // Well-formed JSON that is not an object parses, so it is a validation problem.
    let r = app.post("/v1/author", &editor, &json!([1, 2])).await;
    r.problem(422);
    assert_eq!(app.get("/v1/authors").await.body["items"], json!([]));
}

#[tokio::test]
async fn wrong_content_type_is_415() {
    let app = TestApp::spawn().await;
    let editor = app.editor_token().await;
    let body = r#"{"name": "Typed"}"#;
    for ct in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("application/xml"),
        None,
    ] {
        let mut rb = app
            .req(Method::POST, "/v1/author")
            .bearer_auth(&editor)
            .body(body);
        if let Some(ct) = ct {
            rb = rb.header("content-type", ct);
        }
        let r = send(rb).await;
        r.problem(415);
        assert!(r.body["detail"]
            .as_str()
            .unwrap()
            .contains("application/json"));
    }
    // JSON with parameters, and +json types, are JSON.
    for ct in [
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/merge-patch+json",
    ] {
        let r = send(
            app.req(Method::POST, "/v1/author")
                .bearer_auth(&editor)
                .header("content-type", ct)
                .body(body),
        )
        .await;
        r.expect(201);
    }
}

/// A body just over the 1 MiB default.
fn oversized_author() -> String {
    format!(r#"{{"name": "{}"}}"#, "x".repeat(1024 * 1024))
}

#[tokio::test]
async fn bodies_over_one_mebibyte_are_413() {
    let app = TestApp::spawn().await;
    let editor = app.editor_token().await;
    let big = oversized_author();
    assert!(big.len() > 1024 * 1024);
    let r = send(
        app.req(Method::POST, "/v1/author")
            .bearer_auth(&editor)
            .header("content-type", "application/json")
            .body(big),
    )
    .await;
    r.problem(413);
    // Just under the limit is read (and refused for what it says, not for its size).
    let under = format!(r#"{{"name": "{}"}}"#, "x".repeat(1024 * 1024 - 100));
    assert!(under.len() < 1024 * 1024);
    let r = send(
        app.req(Method::POST, "/v1/author")
            .bearer_auth(&editor)
            .header("content-type", "application/json")
            .body(under),
    )
    .await;
    r.problem(422);
    // The token endpoint has the same limit.
    let r = send(
        app.req(Method::POST, "/v1/token")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "grant_type=password&username={}",
                "u".repeat(1024 * 1024)
            )),
    )
    .await;
    r.problem(413);
}

#[tokio::test]
async fn chunked_bodies_over_the_limit_are_413() {
    let app = TestApp::spawn().await;
    let editor = app.editor_token().await;
    // No Content-Length: the limit must hold while streaming.
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST /v1/author HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {editor}\r\n\
         content-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n",
        app.addr
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let chunk = vec![b' '; 64 * 1024];
    for _ in 0..40 {
        let mut frame = format!("{:x}\r\n", chunk.len()).into_bytes();
        frame.extend_from_slice(&chunk);
        frame.extend_from_slice(b"\r\n");
        if stream.write_all(&frame).await.is_err() {
            break; // The server may stop reading once it has refused the body.
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut response = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut response),
    )
    .await;
    let text = String::from_utf8_lossy(&response);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(text.contains("application/problem+json"), "{text}");
}

#[tokio::test]
async fn validation_names_every_bad_field_at_once() {
    let app = TestApp::spawn().await;
    let editor = app.editor_token().await;
    let r = app
        .post(
            "/v1/magazine",
            &editor,
            &json!({"title": 7, "issn": "nope", "publisher": "   ", "category": "x",
                    "frequency": "hourly", "year": 1000, "price_cents": 10_000_001}),
        )
        .await;
    r.problem(422);
    let mut fields = r.error_fields();
    fields.sort();
    assert_eq!(
        fields,
        [
            "category",
            "frequency",
            "issn",
            "price_cents",
            "publisher",
            "title",
            "year"
        ]
    );
    let detail = r.body["detail"].as_str().unwrap();
    for f in &fields {
        assert!(detail.contains(f.as_str()), "{detail}");
    }
}

#[tokio::test]
async fn unknown_json_fields_are_422() {
    let app = TestApp::spawn().await;
    let editor = app.editor_token().await;
    let a = id_of(&app.create_author(&editor, "Known").await);
    let r = app
        .post(
            "/v1/author",
            &editor,
            &json!({"name": "Sneaky", "version": 7, "created_at": "2000-01-01T00:00:00Z", "book_count": 99}),
        )
        .await;
    r.problem(422);
    let mut fields = r.error_fields();
    fields.sort();
    assert_eq!(fields, ["book_count", "created_at", "version"]);
    let mut body = book_body(&isbn(1), "Book", &[a]);
    body["authors"] = json!([{"id": a}]);
    body["updated_at"] = json!("2000-01-01T00:00:00Z");
    let r = app.post("/v1/book", &editor, &body).await;
    r.problem(422);
    let mut fields = r.error_fields();
    fields.sort();
    assert_eq!(fields, ["authors", "updated_at"]);
    let mut m = magazine_body("M", "2049-3630");
    m["id"] = json!(1);
    let r = app.post("/v1/magazine", &editor, &m).await;
    r.problem(422);
    assert_eq!(r.error_fields(), ["id"]);
    // Nothing was created.
    app.get(&format!("/v1/book/{}", isbn(1))).await.problem(404);
    assert_eq!(app.get("/v1/magazines").await.body["items"], json!([]));
    assert_eq!(
        app.get("/v1/authors").await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}
