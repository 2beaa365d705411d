//! Scenario 8: hostile input at every text parameter of both doors: NUL bytes, huge strings,
//! invalid UTF-8 percent-escapes, SQL meta-characters, CR/LF, and deeply nested JSON and GraphQL.
//! Not one answer may be a 5xx, no request may go unanswered, and the server must survive.

use std::time::Duration;

use futures::StreamExt;
use serde_json::{json, Value};

use crate::support::*;

/// Hostile values, written percent-encoded (as they go into a URL or a form body).
fn hostile_encoded() -> Vec<String> {
    let mut v: Vec<String> = [
        "%00",
        "a%00b",
        "%00%00%00%00",
        "%FF",
        "%FE%FF",
        "%C0%AF",
        "%ED%A0%80",
        "%F4%90%80%80",
        "%E2%80%AE",
        "%F0%9F%92%A9",
        "%27",
        "%27%20OR%201%3D1--",
        "%27%3B%20DROP%20TABLE%20books%3B--",
        "%22%3B%20SELECT%20pg_sleep(10)%3B--",
        "%5C",
        "%5C%27",
        "%25",
        "_%25_",
        "%25%25%25",
        "%0D%0AX-Injected%3A%20yes",
        "..%2F..%2Fetc%2Fpasswd",
        "%7B%22a%22%3A1%7D",
        "-1",
        "0",
        "-0",
        "1e309",
        "NaN",
        "99999999999999999999999999999",
        "-9223372036854775809",
        "%20",
        "",
        "eyJ0IjoiYm9vayJ9",
        "AAAAAAAAAAAAAAAAAAAAAAAA%00",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.push("A".repeat(60_000));
    v.push("%00".repeat(5_000));
    v.push("%FF".repeat(5_000));
    v.push("%27".repeat(5_000));
    v
}

/// A percent-encoded value as the bytes it stands for.
fn decode(encoded: &str) -> Vec<u8> {
    let b = encoded.as_bytes();
    let hex = |c: u8| (c as char).to_digit(16);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

enum Body {
    None,
    Json(Value),
    Raw(&'static str, Vec<u8>),
}

struct Probe {
    label: String,
    method: reqwest::Method,
    /// Path and query, already encoded.
    path: String,
    body: Body,
    auth: bool,
}

fn get(label: impl Into<String>, path: String) -> Probe {
    Probe {
        label: label.into(),
        method: reqwest::Method::GET,
        path,
        body: Body::None,
        auth: false,
    }
}

fn graphql(label: impl Into<String>, query: &str, variables: Value) -> Probe {
    Probe {
        label: label.into(),
        method: reqwest::Method::POST,
        path: "/graphql".into(),
        body: Body::Json(json!({"query": query, "variables": variables})),
        auth: false,
    }
}

/// A GraphQL request whose variables are written by hand, so that the value can be any bytes.
fn graphql_raw(label: impl Into<String>, query: &str, name: &str, raw_value: &[u8]) -> Probe {
    let mut body = format!(
        "{{\"query\":{},\"variables\":{{\"{name}\":\"",
        serde_json::to_string(query).unwrap()
    )
    .into_bytes();
    body.extend_from_slice(raw_value);
    body.extend_from_slice(b"\"}}");
    Probe {
        label: label.into(),
        method: reqwest::Method::POST,
        path: "/graphql".into(),
        body: Body::Raw("application/json", body),
        auth: false,
    }
}

fn probes(isbn: &str, author: i64) -> Vec<Probe> {
    let mut p = Vec::new();
    for (n, v) in hostile_encoded().iter().enumerate() {
        let tag = |what: &str| format!("{what} [{n}]");
        // REST query parameters.
        for (path, param) in [
            ("/v1/books", "q"),
            ("/v1/books", "cursor"),
            ("/v1/books", "sort"),
            ("/v1/books", "order"),
            ("/v1/books", "category"),
            ("/v1/books", "year"),
            ("/v1/books", "limit"),
            ("/v1/books", "author_id"),
            ("/v1/book", "category"),
            ("/v1/book", "year"),
            ("/v1/authors", "name"),
            ("/v1/authors", "cursor"),
            ("/v1/authors", "limit"),
            ("/v1/magazines", "category"),
            ("/v1/magazines", "frequency"),
            ("/v1/magazines", "year"),
            ("/v1/magazines", "cursor"),
        ] {
            p.push(get(
                tag(&format!("GET {path}?{param}=")),
                format!("{path}?{param}={v}"),
            ));
        }
        for param in ["order", "category", "limit", "cursor"] {
            p.push(get(
                tag(&format!("GET /v1/author/{{id}}/book?{param}=")),
                format!("/v1/author/{author}/book?{param}={v}"),
            ));
        }
        // Path ids and ISBNs (an empty segment is another route; skip it).
        if !v.is_empty() {
            for path in ["/v1/book/", "/v1/author/", "/v1/magazine/"] {
                p.push(get(tag(&format!("GET {path}{{v}}")), format!("{path}{v}")));
            }
            p.push(get(
                tag("GET /v1/author/{v}/book"),
                format!("/v1/author/{v}/book"),
            ));
            p.push(Probe {
                label: tag("PUT /v1/book/{v}"),
                method: reqwest::Method::PUT,
                path: format!("/v1/book/{v}"),
                body: Body::Json(book_body(None, "Hostile", 1, &[author])),
                auth: true,
            });
        }
        // POST /v1/token: form (raw bytes) and JSON.
        p.push(Probe {
            label: tag("POST /v1/token form"),
            method: reqwest::Method::POST,
            path: "/v1/token".into(),
            body: Body::Raw(
                "application/x-www-form-urlencoded",
                format!("grant_type=password&username={v}&password={v}").into_bytes(),
            ),
            auth: false,
        });
        let bytes = decode(v);
        let text = String::from_utf8_lossy(&bytes).into_owned();
        p.push(Probe {
            label: tag("POST /v1/token json"),
            method: reqwest::Method::POST,
            path: "/v1/token".into(),
            body: Body::Json(json!({"grant_type": "password", "username": text, "password": text})),
            auth: false,
        });
        let mut raw = b"{\"grant_type\":\"password\",\"username\":\"".to_vec();
        raw.extend_from_slice(&bytes);
        raw.extend_from_slice(b"\",\"password\":\"x\"}");
        p.push(Probe {
            label: tag("POST /v1/token raw json"),
            method: reqwest::Method::POST,
            path: "/v1/token".into(),
            body: Body::Raw("application/json", raw),
            auth: false,
        });
        // GraphQL arguments, as variables (valid JSON strings, NUL as \u0000) and raw bytes.
        let queries = [
            (
                "titleContains",
                "query($v: String) { books(filter: {titleContains: $v}) { nodes { isbn } } }",
            ),
            (
                "nameContains",
                "query($v: String) { authors(nameContains: $v) { nodes { id } } }",
            ),
            ("book(isbn)", "query($v: String!) { book(isbn: $v) { isbn } }"),
            (
                "after",
                "query($v: String) { books(after: $v) { nodes { isbn } } authors(after: $v) { nodes { id } } magazines(after: $v) { nodes { id } } }",
            ),
            (
                "author.books(after)",
                "query($v: String) { authors(first: 1) { nodes { books(after: $v) { nodes { isbn } } } } }",
            ),
            ("author(id)", "query($v: ID!) { author(id: $v) { id } magazine(id: $v) { id } }"),
            (
                "login",
                "mutation($v: String!) { login(username: $v, password: $v) { accessToken } }",
            ),
        ];
        for (what, q) in queries {
            p.push(graphql(
                tag(&format!("GraphQL {what}")),
                q,
                json!({"v": text}),
            ));
            p.push(graphql_raw(
                tag(&format!("GraphQL raw {what}")),
                q,
                "v",
                &bytes,
            ));
        }
        // An argument written into the query text itself, and GET /graphql.
        let literal = serde_json::to_string(&text).unwrap();
        p.push(graphql(
            tag("GraphQL literal book(isbn)"),
            &format!("{{ book(isbn: {literal}) {{ isbn }} }}"),
            json!({}),
        ));
        p.push(get(
            tag("GET /graphql?query="),
            format!("/graphql?query=%7B%20book(isbn%3A%20%22{v}%22)%20%7B%20isbn%20%7D%20%7D"),
        ));
        let _ = isbn;
    }
    // Deep nesting: JSON bodies, GraphQL variables, selection sets and list literals.
    for depth in [1_000usize, 100_000] {
        let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let nested_obj = format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth));
        for path in ["/v1/book", "/v1/author", "/v1/token"] {
            p.push(Probe {
                label: format!("POST {path} nested JSON {depth}"),
                method: reqwest::Method::POST,
                path: path.into(),
                body: Body::Raw("application/json", nested_obj.clone().into_bytes()),
                auth: true,
            });
        }
        p.push(Probe {
            label: format!("PUT /v1/book nested JSON {depth}"),
            method: reqwest::Method::PUT,
            path: format!("/v1/book/{isbn}"),
            body: Body::Raw("application/json", nested.clone().into_bytes()),
            auth: true,
        });
        let mut raw = b"{\"query\":\"{ __typename }\",\"variables\":{\"v\":".to_vec();
        raw.extend_from_slice(nested.as_bytes());
        raw.extend_from_slice(b"}}");
        p.push(Probe {
            label: format!("GraphQL nested variables {depth}"),
            method: reqwest::Method::POST,
            path: "/graphql".into(),
            body: Body::Raw("application/json", raw),
            auth: false,
        });
        p.push(graphql(
            format!("GraphQL nested list literal {depth}"),
            &format!("{{ book(isbn: {nested}) {{ isbn }} }}"),
            json!({}),
        ));
        p.push(graphql(
            format!("GraphQL nested object literal {depth}"),
            &format!(
                "{{ books(filter: {}1{}) {{ nodes {{ isbn }} }} }}",
                "{a: ".repeat(depth),
                "}".repeat(depth)
            ),
            json!({}),
        ));
        p.push(graphql(
            format!("GraphQL nested selection {depth}"),
            &format!("{}{}", "{ a ".repeat(depth), "}".repeat(depth)),
            json!({}),
        ));
    }
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_input_never_5xx() {
    let pg = start_pg();
    let mut server = Server::start(
        &pg.url("bookstore"),
        // The default body limit (1 MiB) admits the 100 000-deep bodies below.
        &[("BOOKSTORE_RATE_LIMIT", "off".into())],
    )
    .await;
    let token = server.admin_token().await;
    let author = server.create_author(&token, "Hostile Author").await;
    let isbn = isbn(640_001);
    server
        .create_book(
            &token,
            &book_body(Some(&isbn), "Hostile Target", 1, &[author]),
        )
        .await;

    let probes = probes(&isbn, author);
    let total = probes.len();
    let client = client(Duration::from_secs(20));
    let base = server.base.clone();
    let outcomes: Vec<(String, Result<u16, String>)> = futures::stream::iter(probes)
        .map(|probe| {
            let (client, base, token) = (client.clone(), base.clone(), token.clone());
            async move {
                let mut req = client.request(probe.method, format!("{base}{}", probe.path));
                if probe.auth {
                    req = req.bearer_auth(token);
                }
                req = match probe.body {
                    Body::None => req,
                    Body::Json(v) => req.json(&v),
                    Body::Raw(ct, bytes) => req.header("content-type", ct).body(bytes),
                };
                let r = match req.send().await {
                    Ok(r) => {
                        let s = r.status().as_u16();
                        r.bytes().await.map(|_| s).map_err(|e| e.to_string())
                    }
                    Err(e) => Err(e.to_string()),
                };
                (probe.label, r)
            }
        })
        .buffer_unordered(4)
        .collect()
        .await;

    let mut by_class = [0usize; 6];
    let mut bad = Vec::new();
    let mut unanswered = Vec::new();
    for (label, r) in &outcomes {
        match r {
            Ok(s) => {
                by_class[(*s as usize / 100).min(5)] += 1;
                if *s >= 500 {
                    bad.push(format!("{label} -> {s}"));
                }
            }
            Err(e) => unanswered.push(format!("{label}: {e}")),
        }
    }
    let alive = server.alive()
        && server
            .client
            .get(server.url(&format!("/v1/book/{isbn}")))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200);
    report(
        "hostile-input",
        &[
            ("requests", total.to_string()),
            ("status_2xx", by_class[2].to_string()),
            ("status_4xx", by_class[4].to_string()),
            ("status_5xx", bad.len().to_string()),
            ("unanswered", unanswered.len().to_string()),
            ("server_alive", alive.to_string()),
        ],
    );
    for line in bad.iter().chain(unanswered.iter()).take(25) {
        println!("  hostile-input failure: {line}");
    }
    assert!(
        alive,
        "the server died or stopped answering:\n{}",
        server.output_tail()
    );
    assert!(
        bad.is_empty(),
        "{} answers were 5xx, e.g. {:?}",
        bad.len(),
        &bad[..bad.len().min(10)]
    );
    assert!(
        unanswered.is_empty(),
        "{} requests got no answer, e.g. {:?}",
        unanswered.len(),
        &unanswered[..unanswered.len().min(10)]
    );
}
