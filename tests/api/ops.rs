//! Operations endpoints: liveness, readiness, the OpenAPI description and the offline docs.

use crate::helpers::{drop_test_database, is_json, TestApp};

#[tokio::test]
async fn healthz_says_ok() {
    let app = TestApp::spawn().await;
    let r = app.get("/healthz").await;
    r.expect(200);
    assert!(is_json(&r));
    assert_eq!(r.body["status"], "ok");
    assert!(r.header("x-request-id").is_some());
}

#[tokio::test]
async fn readyz_reports_postgres_as_json() {
    let app = TestApp::spawn().await;
    let r = app.get("/readyz").await;
    r.expect(200);
    assert!(is_json(&r), "{r:?}");
    assert_eq!(r.body["status"], "ok");
    assert_eq!(r.body["postgres"]["status"], "ok");
    assert!(r.body["postgres"]["pool"]["max_size"].as_u64().unwrap() >= 1);
    assert!(r.body["redis"]["status"].is_string());
}

#[tokio::test]
async fn readyz_is_503_with_retry_after_when_the_database_is_gone() {
    let app = TestApp::spawn_with(|c| c.pool_timeout = std::time::Duration::from_millis(500)).await;
    app.get("/readyz").await.expect(200);
    // Take the database away underneath the running server.
    drop_test_database(app.db_name.clone());
    let r = app.get("/readyz").await;
    r.expect(503);
    assert!(is_json(&r), "{r:?}");
    assert_eq!(r.body["status"], "unavailable");
    assert_eq!(r.body["postgres"]["status"], "unreachable");
    assert!(r.header("retry-after").is_some(), "{r:?}");
    // A data request is a 503 problem with Retry-After too, not a hang or a 500.
    let r = app.get("/v1/books").await;
    r.problem(503);
    assert!(r.header("retry-after").is_some(), "{r:?}");
    // /healthz does not depend on the database.
    app.get("/healthz").await.expect(200);
}

/// Every REST operation of the contract (method, path template).
pub const CONTRACT_OPERATIONS: &[(&str, &str)] = &[
    ("post", "/v1/token"),
    ("post", "/v1/user"),
    ("get", "/v1/user"),
    ("put", "/v1/user"),
    ("delete", "/v1/user"),
    ("post", "/v1/author"),
    ("get", "/v1/authors"),
    ("get", "/v1/author/{id}"),
    ("patch", "/v1/author/{id}/name"),
    ("patch", "/v1/author/{id}"),
    ("delete", "/v1/author/{id}"),
    ("get", "/v1/author/{id}/book"),
    ("post", "/v1/book"),
    ("get", "/v1/books"),
    ("get", "/v1/book"),
    ("get", "/v1/book/{isbn}"),
    ("put", "/v1/book/{isbn}"),
    ("delete", "/v1/book/{isbn}"),
    ("post", "/v1/magazine"),
    ("get", "/v1/magazines"),
    ("get", "/v1/magazine/{id}"),
    ("put", "/v1/magazine/{id}"),
    ("delete", "/v1/magazine/{id}"),
    ("get", "/healthz"),
    ("get", "/readyz"),
];

#[tokio::test]
async fn openapi_is_3_1_and_lists_every_contract_path() {
    let app = TestApp::spawn().await;
    let r = app.get("/openapi.json").await;
    r.expect(200);
    assert!(is_json(&r), "{r:?}");
    let doc = &r.body;
    let version = doc["openapi"].as_str().expect("openapi version");
    assert!(version.starts_with("3.1"), "OpenAPI {version}");
    let paths = doc["paths"].as_object().expect("paths");
    let mut missing = Vec::new();
    for (method, path) in CONTRACT_OPERATIONS {
        if paths.get(*path).and_then(|p| p.get(*method)).is_none() {
            missing.push(format!("{} {path}", method.to_uppercase()));
        }
    }
    assert!(
        missing.is_empty(),
        "missing from /openapi.json: {missing:?}"
    );
    // Protected operations declare the bearer scheme.
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer", "{schemes}");
    let post_book = &paths["/v1/book"]["post"];
    assert!(
        post_book["security"]
            .as_array()
            .is_some_and(|s| !s.is_empty()),
        "POST /v1/book should require a bearer token: {post_book}"
    );
    // Errors are documented as problems.
    assert!(doc["components"]["schemas"].get("Problem").is_some());
}

#[tokio::test]
async fn docs_serve_html_without_a_cdn() {
    let app = TestApp::spawn().await;
    let r = app.get("/docs/").await;
    r.expect(200);
    let ct = r.header("content-type").unwrap_or_default();
    assert!(ct.starts_with("text/html"), "content type {ct}");
    assert!(r.text.to_lowercase().contains("swagger"), "{}", r.text);
    for cdn in ["unpkg.com", "cdn.jsdelivr", "cdnjs"] {
        assert!(!r.text.contains(cdn), "docs load assets from {cdn}");
    }
    // /docs (no slash) reaches the same page (possibly by redirect).
    let r = app.get("/docs").await;
    r.expect(200);
    assert!(r
        .header("content-type")
        .unwrap_or_default()
        .starts_with("text/html"));
    // The page's own script is served by us, and points at our /openapi.json.
    let init = app.get("/docs/swagger-initializer.js").await;
    init.expect(200);
    assert!(init.text.contains("/openapi.json"), "{}", init.text);
}
