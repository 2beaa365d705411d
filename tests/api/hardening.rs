//! Request time-outs (503 problem), CORS allow-list, gzip compression and security headers.

use std::time::{Duration, Instant};

use reqwest::Method;

use serde_json::Value;

use crate::helpers::{book_body, id_of, isbn, send, TestApp};

#[tokio::test]
async fn a_request_over_the_time_limit_is_a_503_problem_with_retry_after() {
    let app = TestApp::spawn_with(|c| c.request_timeout = Duration::from_millis(400)).await;
    // Hold a lock that every read of `books` waits for.
    let mut db = app.db().await;
    let tx = db.transaction().await.unwrap();
    tx.batch_execute("LOCK TABLE books IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let started = Instant::now();
    let r = app.get("/v1/books").await;
    let took = started.elapsed();
    tx.rollback().await.unwrap();
    r.problem(503);
    assert!(
        r.body["detail"].as_str().unwrap().contains("400 ms"),
        "{r:?}"
    );
    assert_eq!(r.header("retry-after"), Some("1"));
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_secs(3),
        "{took:?}"
    );
    // The server is fine afterwards.
    app.get("/v1/books").await.expect(200);
}

fn preflight(app: &TestApp, origin: &str) -> reqwest::RequestBuilder {
    app.req(Method::OPTIONS, "/v1/book")
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
}

#[tokio::test]
async fn cors_allows_only_the_configured_origins() {
    let app = TestApp::spawn_with(|c| {
        c.cors_origins = vec![
            "https://shop.example".into(),
            "http://localhost:5173".into(),
        ]
    })
    .await;
    let r = send(preflight(&app, "https://shop.example")).await;
    assert!(r.status.is_success(), "{r:?}");
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://shop.example")
    );
    let methods = r.header("access-control-allow-methods").unwrap_or("");
    assert!(
        methods.contains("POST") && methods.contains("DELETE"),
        "{r:?}"
    );
    let headers = r
        .header("access-control-allow-headers")
        .unwrap_or("")
        .to_ascii_lowercase();
    assert!(headers.contains("authorization") && headers.contains("content-type"));
    // A simple request from an allowed origin sees the headers it needs.
    let r = send(
        app.req(Method::GET, "/v1/books")
            .header("origin", "http://localhost:5173"),
    )
    .await;
    r.expect(200);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("http://localhost:5173")
    );
    assert!(r
        .header("access-control-expose-headers")
        .unwrap_or("")
        .to_ascii_lowercase()
        .contains("etag"));
    // Another origin gets no CORS grant.
    let r = send(preflight(&app, "https://evil.example")).await;
    assert_eq!(r.header("access-control-allow-origin"), None, "{r:?}");
    let r = send(
        app.req(Method::GET, "/v1/books")
            .header("origin", "https://evil.example"),
    )
    .await;
    assert_eq!(r.header("access-control-allow-origin"), None);
}

#[tokio::test]
async fn without_origins_there_is_no_cors() {
    let app = TestApp::spawn().await;
    let r = send(preflight(&app, "https://shop.example")).await;
    assert_eq!(r.header("access-control-allow-origin"), None, "{r:?}");
}

#[tokio::test]
async fn small_bodies_are_sent_as_they_are_and_large_ones_gzipped() {
    let app = TestApp::spawn().await;
    let editor = app.editor_token().await;
    let author = id_of(&app.create_author(&editor, "Gzip Author").await);
    for n in 1..=12 {
        app.create_book(
            &editor,
            &book_body(
                &isbn(n),
                &format!("A Rather Long Title Number {n}"),
                &[author],
            ),
        )
        .await;
    }
    let gzip_get = |path: String| {
        let req = app
            .req(Method::GET, &path)
            .header("accept-encoding", "gzip");
        async move { req.send().await.unwrap() }
    };
    // One book (about 250 bytes) is below the 1 KiB floor: plain, and no Vary (nothing varies).
    let one = gzip_get(format!("/v1/book/{}", isbn(1))).await;
    assert_eq!(one.status(), 200);
    assert_eq!(one.headers().get("content-encoding"), None);
    assert_eq!(one.headers().get("vary"), None);
    let body: Value = one.json().await.unwrap();
    assert_eq!(body["isbn"], isbn(1));
    // A page of twelve books is above it: gzip, and Vary says why.
    let page = gzip_get("/v1/books?limit=20".to_owned()).await;
    assert_eq!(page.status(), 200);
    assert_eq!(
        page.headers()
            .get("content-encoding")
            .and_then(|v| v.to_str().ok()),
        Some("gzip")
    );
    assert_eq!(
        page.headers().get("vary").and_then(|v| v.to_str().ok()),
        Some("accept-encoding")
    );
    let bytes = page.bytes().await.unwrap();
    assert_eq!(&bytes[..2], &[0x1f, 0x8b], "gzip magic");
    // Asking for identity only, or not asking at all: the same page as it is.
    let identity = app
        .req(Method::GET, "/v1/books?limit=20")
        .header("accept-encoding", "identity")
        .send()
        .await
        .unwrap();
    assert_eq!(identity.headers().get("content-encoding"), None);
    let identity: Value = identity.json().await.unwrap();
    let plain = app.get("/v1/books?limit=20").await;
    plain.expect(200);
    assert_eq!(plain.header("content-encoding"), None);
    assert_eq!(identity, plain.body);
    assert_eq!(plain.body["items"].as_array().map(Vec::len), Some(12));
}

#[tokio::test]
async fn responses_are_gzipped_when_the_client_accepts_it() {
    let app = TestApp::spawn().await;
    let res = app
        .req(Method::GET, "/openapi.json")
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()
            .get("content-encoding")
            .and_then(|v| v.to_str().ok()),
        Some("gzip")
    );
    let bytes = res.bytes().await.unwrap();
    assert_eq!(&bytes[..2], &[0x1f, 0x8b], "gzip magic");
    // Without Accept-Encoding: plain.
    let r = app.get("/openapi.json").await;
    r.expect(200);
    assert_eq!(r.header("content-encoding"), None);
    assert!(r.body.is_object());
}

#[tokio::test]
async fn security_headers_are_on_every_response() {
    let app = TestApp::spawn().await;
    for path in [
        "/v1/books",
        "/v1/book/0",
        "/healthz",
        "/graphql?query={me{id}}",
    ] {
        let r = app.get(path).await;
        assert_eq!(
            r.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(r.header("x-frame-options"), Some("DENY"), "{path}");
        assert_eq!(r.header("referrer-policy"), Some("no-referrer"), "{path}");
        let csp = r.header("content-security-policy").unwrap_or("");
        assert!(
            csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
            "{path}: {csp}"
        );
    }
    // The two pages may be framed by the same origin and load their own scripts and styles.
    let r = app.get("/docs/").await;
    r.expect(200);
    assert_eq!(r.header("x-frame-options"), Some("SAMEORIGIN"));
    let csp = r.header("content-security-policy").unwrap();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("style-src 'self'"),
        "{csp}"
    );
    // Every script and stylesheet the docs page loads is from its own origin.
    for src in attribute_values(&r.text, "src=\"")
        .into_iter()
        .chain(attribute_values(&r.text, "href=\""))
    {
        assert!(
            !src.contains("//"),
            "/docs loads {src} from elsewhere, which its CSP refuses"
        );
        let path = if src.starts_with('/') {
            src.clone()
        } else {
            format!("/docs/{}", src.trim_start_matches("./"))
        };
        app.get(&path).await.expect(200);
    }
    let r = app.get("/graphiql").await;
    r.expect(200);
    assert_eq!(r.header("x-frame-options"), Some("SAMEORIGIN"));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    let csp = r.header("content-security-policy").unwrap();
    assert!(
        csp.contains("script-src 'self'"),
        "GraphiQL keeps its own CSP: {csp}"
    );
    assert!(csp.contains("connect-src 'self'"), "{csp}");
}

fn attribute_values(html: &str, prefix: &str) -> Vec<String> {
    html.match_indices(prefix)
        .filter_map(|(i, _)| {
            let rest = &html[i + prefix.len()..];
            rest.find('"').map(|end| rest[..end].to_owned())
        })
        .collect()
}
