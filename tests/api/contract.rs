//! The contract as real clients meet it: who may act is decided before what they sent, caching
//! headers on every read, `errors` only on 422, and an OpenAPI document that states all of it.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{book_body, isbn, send, TestApp};

/// An anonymous write is a 401 and a write without the role a 403, whatever its input: bad path
/// keys, malformed JSON, a wrong media type or invalid fields never answer first.
#[tokio::test]
async fn who_may_act_is_decided_before_the_input() {
    let app = TestApp::spawn().await;
    let editor = app.editor_token().await;
    let writes: &[(Method, &str, &str)] = &[
        (Method::DELETE, "/v1/book/0", ""),
        (Method::DELETE, "/v1/author/abc", ""),
        (Method::DELETE, "/v1/magazine/-1", ""),
        (Method::POST, "/v1/book", "{"),
        (Method::POST, "/v1/book", "[1]"),
        (Method::POST, "/v1/book", r#"{"isbn": 5, "id": 1}"#),
        (Method::PUT, "/v1/book/not-an-isbn", "{"),
        (Method::POST, "/v1/author", "{"),
        (Method::PATCH, "/v1/author/x/name", "{"),
        (Method::PATCH, "/v1/author/0", r#"{"name": null}"#),
        (Method::POST, "/v1/magazine", "nul"),
        (Method::PUT, "/v1/magazine/abc", "{}"),
        (Method::POST, "/v1/user", "{"),
        (Method::PUT, "/v1/user", "{"),
    ];
    for (method, path, body) in writes {
        for content_type in ["application/json", "text/plain"] {
            let rb = app
                .req(method.clone(), path)
                .header("content-type", content_type)
                .body(*body);
            let r = send(rb).await;
            r.problem(401);
            assert_eq!(
                r.header("www-authenticate"),
                Some("Bearer realm=\"bookstore\""),
                "{method} {path}"
            );
        }
    }
    // Signed in without the role: 403 before any 400, 415 or 422.
    let admin_only: &[(Method, &str, &str)] = &[
        (Method::DELETE, "/v1/book/0", ""),
        (Method::DELETE, "/v1/author/abc", ""),
        (Method::DELETE, "/v1/magazine/0", ""),
        (Method::POST, "/v1/user", "{"),
        (Method::POST, "/v1/user", r#"{"role": "root"}"#),
    ];
    for (method, path, body) in admin_only {
        let r = send(
            app.req(method.clone(), path)
                .bearer_auth(&editor)
                .header("content-type", "text/plain")
                .body(*body),
        )
        .await;
        r.problem(403);
    }
    // With the role, the input is judged as before.
    let r = app.delete("/v1/book/0", &app.admin_token().await).await;
    r.problem(400);
    let r = send(
        app.req(Method::POST, "/v1/book")
            .bearer_auth(&editor)
            .header("content-type", "application/json")
            .body("{"),
    )
    .await;
    r.problem(400);
}

/// Every public read may be kept but must be revalidated; personal answers are kept by no one.
#[tokio::test]
async fn cache_control_on_every_read() {
    let app = TestApp::spawn().await;
    let editor = app.editor_token().await;
    let author = app.create_author(&editor, "Ursula").await;
    let id = author["id"].as_i64().unwrap();
    app.create_book(&editor, &book_body(&isbn(1), "Earthsea", &[id]))
        .await;
    for path in [
        "/v1/books".to_owned(),
        "/v1/book?category=fiction".to_owned(),
        "/v1/authors".to_owned(),
        "/v1/magazines".to_owned(),
        format!("/v1/author/{id}"),
        format!("/v1/author/{id}/book"),
        format!("/v1/book/{}", isbn(1)),
    ] {
        let r = app.get(&path).await;
        r.expect(200);
        assert_eq!(
            r.header("cache-control"),
            Some("public, no-cache"),
            "{path}"
        );
    }
    let r = app.get_auth("/v1/user", &editor).await;
    r.expect(200);
    assert_eq!(r.header("cache-control"), Some("private, no-store"));
    let r = app
        .put("/v1/user", &editor, &json!({"email": "ed@example.org"}))
        .await;
    r.expect(200);
    assert_eq!(r.header("cache-control"), Some("private, no-store"));
    let r = send(app.req(Method::POST, "/v1/token").form(&[
        ("grant_type", "password"),
        ("username", "editor"),
        ("password", crate::helpers::PASSWORD),
    ]))
    .await;
    r.expect(200);
    assert_eq!(r.header("cache-control"), Some("no-store"));
}

/// `errors` belongs to 422 alone; a 400 names its parameter in `detail`.
#[tokio::test]
async fn errors_only_on_validation_problems() {
    let app = TestApp::spawn().await;
    for (path, param) in [
        ("/v1/books?limit=0", "limit"),
        ("/v1/books?limit=x", "limit"),
        ("/v1/authors?cursor=nope", "cursor"),
        ("/v1/magazines?frequency=daily", "frequency"),
        ("/v1/books?sort=colour", "sort"),
        ("/v1/book/123", "isbn"),
        ("/v1/author/0", "id"),
    ] {
        let r = app.get(path).await;
        r.problem(400);
        r.assert_names_param(param);
    }
    let editor = app.editor_token().await;
    let r = app.post("/v1/author", &editor, &json!({"name": 7})).await;
    r.problem(422);
    assert_eq!(
        r.body["errors"],
        json!([{"field": "name", "message": "must be a string"}])
    );
}

fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            out.push((method.clone(), path.clone(), op));
        }
    }
    out
}

/// The served document states what the server does: problem+json for every error, the error
/// answers of each kind of operation, closed request bodies, bounded parameters.
#[tokio::test]
async fn openapi_states_errors_bounds_and_headers() {
    let app = TestApp::spawn().await;
    let r = app.get("/openapi.json").await;
    r.expect(200);
    let doc = &r.body;
    for (method, path, op) in operations(doc) {
        let responses = op["responses"].as_object().unwrap();
        for (status, response) in responses {
            if status.as_str() >= "400" {
                assert_eq!(
                    response["content"]["application/problem+json"]["schema"]["$ref"],
                    "#/components/schemas/Problem",
                    "{method} {path} {status}"
                );
                assert!(response["content"].get("application/json").is_none());
            }
        }
        let has = |s: &str| responses.contains_key(s);
        if op.get("security").is_some() {
            assert!(has("401"), "{method} {path}");
            assert!(
                responses["401"]["headers"]["WWW-Authenticate"].is_object(),
                "{method} {path}"
            );
        }
        if let Some(body) = op.get("requestBody") {
            assert!(has("413") && has("415") && has("400"), "{method} {path}");
            if body["content"].get("application/json").is_some() {
                assert!(has("422"), "{method} {path}");
                let name = body["content"]["application/json"]["schema"]["$ref"]
                    .as_str()
                    .unwrap()
                    .rsplit('/')
                    .next()
                    .unwrap();
                let schema = &doc["components"]["schemas"][name];
                assert_eq!(schema["additionalProperties"], false, "{name}");
            }
        }
        if path.contains('{') {
            assert!(has("400") && has("404"), "{method} {path}");
        }
        if !matches!(path.as_str(), "/healthz" | "/readyz") {
            assert!(has("429") && has("503"), "{method} {path}");
            assert!(responses["429"]["headers"]["Retry-After"].is_object());
        }
    }
    let books = &doc["paths"]["/v1/books"]["get"];
    let limit = books["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "limit")
        .unwrap();
    assert_eq!(limit["schema"]["minimum"], 1);
    assert_eq!(limit["schema"]["maximum"], 100);
    assert!(books["responses"]["200"]["headers"]["Cache-Control"].is_object());
    let get_book = &doc["paths"]["/v1/book/{isbn}"]["get"];
    assert!(get_book["parameters"][0]["schema"]["pattern"].is_string());
    assert!(get_book["responses"]["200"]["headers"]["ETag"].is_object());
    let created = &doc["paths"]["/v1/book"]["post"]["responses"]["201"]["headers"];
    assert!(created["Location"].is_object() && created["ETag"].is_object());
    let input = &doc["components"]["schemas"]["BookInput"];
    assert_eq!(input["required"].as_array().unwrap().len(), 7);
    assert_eq!(input["properties"]["stock"]["maximum"], 1_000_000);
    assert_eq!(input["properties"]["title"]["maxLength"], 500);
}
