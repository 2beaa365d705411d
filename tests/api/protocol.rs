//! Cross-cutting HTTP behaviour: request ids, header versioning, problem+json, body handling,
//! method and route errors, conditional requests, keyset pagination and query parameters.

use std::cmp::Ordering;
use std::collections::HashSet;

use bookstore::seed::Dataset;
use reqwest::Method;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{book_body, id_of, isbn, magazine_body, send, Resp, TestApp};

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
