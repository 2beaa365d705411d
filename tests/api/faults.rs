//! Faults injected for real (see also `make faults` for the longer suite under load):
//! - a COMMIT whose answer is lost (a private PostgreSQL holds the acknowledgement for a
//!   synchronous standby that does not exist, and the waiting backend is terminated);
//! - NUL characters in every text parameter and argument of both doors;
//! - a hung (SIGSTOP) and a killed Redis with rate limiting on, as deployed;
//! - clients still sending their headers during a graceful shutdown;
//! - one book changed many times in quick succession, watched by several subscribers on two
//!   processes: every change once, in order, with its own state.

use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::Method;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;

use crate::cache::spawn_with_redis;
use crate::graphql::gql;
use crate::helpers::{book_body, isbn, send, TestApp};
use crate::private_services::{PgCluster, RedisServer};
use crate::process::{Options, ServerProcess};
use crate::subscriptions::{connect, next_json, second_server};

/// Polls `sql` on `pg` until it returns a non-empty answer (bounded).
fn wait_for(pg: &PgCluster, sql: &str, within: Duration) -> String {
    let deadline = Instant::now() + within;
    loop {
        let out = pg.psql(sql);
        if !out.is_empty() {
            return out;
        }
        assert!(
            Instant::now() < deadline,
            "no answer to {sql} within {within:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_whose_answer_was_lost_invalidates_the_cache_and_says_the_outcome_is_unknown() {
    let pg = PgCluster::start();
    let app = TestApp::spawn_on(pg.url("bookstore"), |_| {}).await;
    let editor = app.editor_token().await;
    let author = app.create_author(&editor, "Lost Answer").await["id"]
        .as_i64()
        .unwrap();
    let isbn1 = isbn(41);
    app.create_book(&editor, &book_body(&isbn1, "Version One", &[author]))
        .await;
    let path = format!("/v1/book/{isbn1}");
    app.get(&path).await.expect(200);
    let cached = app.get(&path).await;
    assert_eq!(cached.header("cache-status"), Some("bookstore; hit"));
    assert_eq!(cached.header("etag"), Some("\"1\""));

    // PostgreSQL now holds every commit's acknowledgement for a standby that never comes.
    pg.psql("ALTER SYSTEM SET synchronous_standby_names = 'x'");
    pg.psql("SELECT pg_reload_conf()");
    std::thread::sleep(Duration::from_millis(300));
    let mut body = book_body(&isbn1, "Version Two", &[author]);
    body.as_object_mut().unwrap().remove("isbn");
    let put = tokio::spawn(send(
        app.req(Method::PUT, &path)
            .bearer_auth(&editor)
            .header("if-match", "\"1\"")
            .json(&body),
    ));
    let pid = wait_for(
        &pg,
        "SELECT pid FROM pg_stat_activity WHERE wait_event = 'SyncRep' LIMIT 1",
        Duration::from_secs(10),
    );
    pg.psql(&format!("SELECT pg_terminate_backend({pid})"));
    pg.psql("ALTER SYSTEM RESET synchronous_standby_names");
    pg.psql("SELECT pg_reload_conf()");

    let r = put.await.unwrap();
    r.expect(503);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    assert_eq!(
        r.body["type"], "https://bookstore.example/problems/outcome-unknown",
        "{}",
        r.text
    );
    assert!(r.header("retry-after").is_some());
    // The commit did happen...
    assert_eq!(
        pg.psql_in(
            "bookstore",
            &format!("SELECT version FROM books WHERE isbn = '{isbn1}'")
        ),
        "2"
    );
    // ...and no door serves the old version from the cache.
    let r = app.get(&path).await;
    r.expect(200);
    assert_eq!(r.header("etag"), Some("\"2\""), "{}", r.text);
    assert_eq!(r.body["title"], "Version Two");
    let g = gql(
        &app,
        "query($isbn: String!) { book(isbn: $isbn) { title version } }",
        json!({"isbn": isbn1}),
        None,
    )
    .await;
    assert_eq!(g.body["data"]["book"]["version"], 2, "{}", g.text);
    // The client re-reads and goes on with the version it now sees.
    let mut body = book_body(&isbn1, "Version Three", &[author]);
    body.as_object_mut().unwrap().remove("isbn");
    send(
        app.req(Method::PUT, &path)
            .bearer_auth(&editor)
            .header("if-match", "\"2\"")
            .json(&body),
    )
    .await
    .expect(200);
}

/// A cursor of the right shape whose values carry a NUL.
fn nul_cursor(scope: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
        json!({"s": scope, "v": "a\u{0}b", "k": "978\u{0}"})
            .to_string()
            .as_bytes(),
    )
}

#[tokio::test]
async fn nul_characters_in_any_text_parameter_are_refused_as_bad_input_never_a_500() {
    let app = TestApp::spawn().await;
    let editor = app.editor_token().await;
    let author = app.create_author(&editor, "Nul Tester").await["id"]
        .as_i64()
        .unwrap();
    app.create_book(&editor, &book_body(&isbn(42), "Nul Book", &[author]))
        .await;

    let rest = [
        ("/v1/books?q=%00".to_owned(), 400, Some("q")),
        ("/v1/books?q=ab%00cd".to_owned(), 400, Some("q")),
        ("/v1/book?q=%00&category=fiction".to_owned(), 400, Some("q")),
        ("/v1/authors?name=%00".to_owned(), 400, Some("name")),
        ("/v1/authors?name=x%00".to_owned(), 400, Some("name")),
        (
            format!(
                "/v1/books?sort=title&cursor={}",
                nul_cursor("books:title:asc")
            ),
            400,
            Some("cursor"),
        ),
        (
            format!("/v1/books?cursor={}", nul_cursor("books:isbn:asc")),
            400,
            Some("cursor"),
        ),
        (
            format!(
                "/v1/author/{author}/book?cursor={}",
                nul_cursor("books:year:asc")
            ),
            400,
            Some("cursor"),
        ),
        ("/v1/books?sort=%00".to_owned(), 400, Some("sort")),
        ("/v1/books?order=%00".to_owned(), 400, Some("order")),
        ("/v1/books?category=%00".to_owned(), 400, Some("category")),
        (
            "/v1/magazines?frequency=%00".to_owned(),
            400,
            Some("frequency"),
        ),
        ("/v1/book/%00".to_owned(), 400, None),
        ("/v1/author/%00".to_owned(), 400, None),
        ("/v1/magazine/%00".to_owned(), 400, None),
    ];
    for (path, status, param) in rest {
        let r = app.get(&path).await;
        assert_eq!(r.status, status, "GET {path}: {}", r.text);
        if let Some(p) = param {
            assert!(
                r.body["detail"].as_str().unwrap_or("").contains(p)
                    || r.text.contains(&format!("\"{p}\"")),
                "GET {path} does not name {p}: {}",
                r.text
            );
        }
    }
    // Logins: a NUL cannot be in any username, so it is a wrong login (401), by JSON and form.
    let r = send(app.req(Method::POST, "/v1/token").json(&json!({
        "grant_type": "password", "username": "edi\u{0}tor", "password": "whatever-password"
    })))
    .await;
    r.expect(401);
    let r = send(app.req(Method::POST, "/v1/token").form(&[
        ("grant_type", "password"),
        ("username", "\u{0}"),
        ("password", "\u{0}\u{0}"),
    ]))
    .await;
    r.expect(401);
    // Bodies: 422 naming the field.
    let r = app
        .post(
            "/v1/book",
            &editor,
            &book_body(&isbn(43), "Nul\u{0}Title", &[author]),
        )
        .await;
    r.expect(422);
    assert!(r.error_fields().contains(&"title".to_owned()), "{}", r.text);

    let graphql = [
        (
            r#"{ books(filter: {titleContains: "\u0000"}) { nodes { isbn } } }"#.to_owned(),
            "BAD_USER_INPUT",
        ),
        (
            r#"{ authors(nameContains: "a\u0000") { nodes { id } } }"#.to_owned(),
            "BAD_USER_INPUT",
        ),
        (
            format!(
                r#"{{ books(after: "{}") {{ nodes {{ isbn }} }} }}"#,
                nul_cursor("books:isbn:asc")
            ),
            "BAD_USER_INPUT",
        ),
        (
            format!(
                r#"{{ author(id: "{author}") {{ books(after: "{}") {{ nodes {{ isbn }} }} }} }}"#,
                nul_cursor("books:year:asc")
            ),
            "BAD_USER_INPUT",
        ),
        (
            r#"{ book(isbn: "\u0000") { isbn } }"#.to_owned(),
            "BAD_USER_INPUT",
        ),
        (
            r#"{ author(id: "\u0000") { id } }"#.to_owned(),
            "BAD_USER_INPUT",
        ),
        (
            r#"mutation { login(username: "a\u0000b", password: "\u0000") { accessToken } }"#
                .to_owned(),
            "UNAUTHENTICATED",
        ),
    ];
    for (query, code) in graphql {
        let r = gql(&app, &query, json!({}), None).await;
        assert!(r.status.as_u16() < 500, "{query}: {}", r.text);
        assert_eq!(
            r.body["errors"][0]["extensions"]["code"], code,
            "{query}: {}",
            r.text
        );
    }
    // The same through variables (the way clients send user input).
    let r = gql(
        &app,
        "query($t: String) { books(filter: {titleContains: $t}) { nodes { isbn } } }",
        json!({"t": "x\u{0}"}),
        None,
    )
    .await;
    assert_eq!(
        r.body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{}",
        r.text
    );
}

/// Reads `path` `n` times one after another; the latency of each.
async fn timed_reads(app: &TestApp, path: &str, n: usize) -> Vec<Duration> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let r = app.get(path).await;
        out.push(started.elapsed());
        r.expect(200);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_hung_or_killed_a_rate_limited_request_waits_on_redis_at_most_once_per_breaker_window(
) {
    let mut redis = RedisServer::start();
    let app = spawn_with_redis(redis.url()).await;
    let cool_down = app.state.config.redis_breaker_cool_down;
    let editor = app.editor_token().await;
    let author = app.create_author(&editor, "Hung Redis").await["id"]
        .as_i64()
        .unwrap();
    app.create_book(&editor, &book_body(&isbn(44), "Limited", &[author]))
        .await;
    let path = format!("/v1/book/{}", isbn(44));
    timed_reads(&app, &path, 3).await;

    redis.hang();
    let started = Instant::now();
    let latencies = timed_reads(&app, &path, 60).await;
    let windows = 1 + (started.elapsed().as_millis() / cool_down.as_millis()) as usize;
    let slow = latencies
        .iter()
        .filter(|d| **d > Duration::from_millis(100))
        .count();
    let mut sorted = latencies.clone();
    sorted.sort();
    assert!(
        slow <= windows,
        "{slow} of 60 reads waited on the hung Redis over {windows} breaker windows: {latencies:?}"
    );
    assert!(
        sorted[44] < Duration::from_millis(50),
        "p75 {:?} with Redis hung",
        sorted[44]
    );
    redis.resume();

    redis.kill();
    let started = Instant::now();
    let latencies = timed_reads(&app, &path, 60).await;
    let windows = 1 + (started.elapsed().as_millis() / cool_down.as_millis()) as usize;
    let slow = latencies
        .iter()
        .filter(|d| **d > Duration::from_millis(100))
        .count();
    assert!(
        slow <= windows,
        "{slow} of 60 reads waited on the dead Redis: {latencies:?}"
    );
}

#[tokio::test]
async fn a_graceful_shutdown_does_not_wait_for_clients_still_sending_their_headers() {
    let mut server = ServerProcess::start(Options {
        env: vec![("BOOKSTORE_SHUTDOWN_TIMEOUT_SECS".into(), "20".into())],
        ..Options::default()
    })
    .await;
    let mut slow = Vec::new();
    for _ in 0..200 {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", server.port))
            .await
            .unwrap();
        s.write_all(b"GET /v1/books HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: 1")
            .await
            .unwrap();
        slow.push(s);
    }
    // A normal keep-alive client too, idle after its answer.
    let r = server
        .client
        .get(server.url("/v1/books"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    server.signal(nix::sys::signal::Signal::SIGTERM);
    let status = server.wait_exit(Duration::from_secs(25)).await;
    let took = started.elapsed();
    assert!(status.success(), "{status}");
    assert!(
        took < Duration::from_secs(5),
        "shutdown took {took:?} with 200 clients still sending headers"
    );
    drop(slow);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_change_reaches_every_subscriber_once_in_order_with_its_own_state() {
    let app = TestApp::spawn().await;
    app.state
        .events
        .spawn_listener(app.db_url.clone(), app.state.cache.clone());
    let (other_base, _other) = second_server(&app).await;
    let editor = app.editor_token().await;
    let author = app.create_author(&editor, "Fast Changes").await["id"]
        .as_i64()
        .unwrap();
    let isbn1 = isbn(45);
    app.create_book(&editor, &book_body(&isbn1, "Changing", &[author]))
        .await;
    let query = "subscription($isbn: String) { bookChanged(isbn: $isbn) { kind isbn book { stock version } } }";
    let mut sockets = Vec::new();
    for (i, base) in [&app.base, &other_base, &app.base, &other_base]
        .into_iter()
        .enumerate()
    {
        let mut ws = connect(base, json!({})).await;
        let msg = json!({"id": format!("s{i}"), "type": "subscribe",
                         "payload": {"query": query, "variables": {"isbn": isbn1}}});
        futures::SinkExt::send(
            &mut ws,
            tokio_tungstenite::tungstenite::Message::text(msg.to_string()),
        )
        .await
        .unwrap();
        sockets.push(ws);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    // 30 changes as fast as one client can make them, alternating the two processes.
    const CHANGES: i64 = 30;
    let path = format!("/v1/book/{isbn1}");
    for k in 1..=CHANGES {
        let mut body = book_body(&isbn1, "Changing", &[author]);
        body["stock"] = json!(1000 + k);
        body.as_object_mut().unwrap().remove("isbn");
        let url = if k % 2 == 0 {
            format!("{other_base}{path}")
        } else {
            app.url(&path)
        };
        send(app.client.put(url).bearer_auth(&editor).json(&body))
            .await
            .expect(200);
    }
    for (i, ws) in sockets.iter_mut().enumerate() {
        let mut seen: Vec<(i64, i64)> = Vec::new();
        while seen.len() < CHANGES as usize {
            let msg: Value = next_json(ws).await;
            assert_eq!(msg["type"], "next", "subscriber {i}: {msg}");
            let book = &msg["payload"]["data"]["bookChanged"]["book"];
            if book["version"] == 1 {
                // The creation, when its event reached the process after this subscription began.
                assert!(
                    seen.is_empty(),
                    "subscriber {i}: creation out of order: {msg}"
                );
                continue;
            }
            seen.push((
                book["stock"].as_i64().unwrap(),
                book["version"].as_i64().unwrap(),
            ));
        }
        let expected: Vec<(i64, i64)> = (1..=CHANGES).map(|k| (1000 + k, 1 + k)).collect();
        assert_eq!(
            seen, expected,
            "subscriber {i}: every change once, in order, with its own state"
        );
    }
}
