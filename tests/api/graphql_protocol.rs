//! GraphQL over HTTP and over WebSocket, by the specs: the `graphql-http` audit (run with node on
//! tests/js), content negotiation by `Accept`, request errors without `data`, the standard
//! introspection query and its own limits, introspection switched off, and every
//! graphql-transport-ws close code.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::graphql::code;
use crate::helpers::{send, Resp, TestApp};

const GQL_RESPONSE: &str = "application/graphql-response+json";

fn js_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/js")
}

/// `node` with the pinned packages of tests/js; fails (not skips) with the fix when missing.
fn node() -> tokio::process::Command {
    let node = std::env::var("BOOKSTORE_NODE").unwrap_or_else(|_| "node".into());
    assert!(
        js_dir().join("node_modules").is_dir(),
        "tests/js/node_modules is missing: run `bash scripts/tools.sh node` (npm ci in tests/js)"
    );
    let mut cmd = tokio::process::Command::new(node);
    cmd.current_dir(js_dir())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    cmd
}

/// Runs a node script of tests/js; returns (success, stdout + stderr).
async fn run_node(args: &[&str]) -> (bool, String) {
    let out = tokio::time::timeout(Duration::from_secs(120), node().args(args).output())
        .await
        .expect("node finished within 120 s")
        .unwrap_or_else(|e| panic!("could not run node ({e}): run `bash scripts/tools.sh node`"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

async fn post(app: &TestApp, accept: Option<&str>, body: &Value) -> Resp {
    let mut rb = app.req(Method::POST, "/graphql").json(body);
    if let Some(a) = accept {
        rb = rb.header("accept", a);
    }
    send(rb).await
}

fn content_type(r: &Resp) -> &str {
    r.header("content-type").unwrap_or("")
}

fn has_data_key(r: &Resp) -> bool {
    r.body.as_object().is_some_and(|o| o.contains_key("data"))
}

#[tokio::test]
async fn graphql_http_audit_passes() {
    let app = TestApp::spawn().await;
    let url = app.url("/graphql");
    let (ok, out) = run_node(&["audit.mjs", &url]).await;
    println!("{out}");
    assert!(ok, "graphql-http audit failed:\n{out}");
}

#[tokio::test]
async fn accept_selects_the_response_media_type() {
    let app = TestApp::spawn().await;
    let q = json!({"query": "{ __typename }"});
    for (accept, want) in [
        (None, "application/json"),
        (Some("*/*"), "application/json"),
        (Some("application/*"), "application/json"),
        (Some("application/json"), "application/json"),
        (Some(GQL_RESPONSE), GQL_RESPONSE),
        (
            Some("application/graphql-response+json, application/json"),
            GQL_RESPONSE,
        ),
        (
            Some("application/json, application/graphql-response+json"),
            "application/json",
        ),
        (
            Some("application/json;q=0.5, application/graphql-response+json"),
            GQL_RESPONSE,
        ),
        (
            Some("application/graphql-response+json;q=0.1, application/json;q=0.9"),
            "application/json",
        ),
    ] {
        let r = post(&app, accept, &q).await;
        assert_eq!(r.status, 200, "{accept:?}: {}", r.text);
        assert_eq!(content_type(&r), want, "Accept {accept:?}");
        assert_eq!(r.body["data"]["__typename"], "Query", "{}", r.text);
    }
    // Neither type acceptable: 406, a problem that says what is served.
    for accept in [
        "text/html",
        "application/xml, text/*",
        "application/json;q=0",
    ] {
        let r = post(&app, Some(accept), &q).await;
        assert_eq!(r.status, 406, "{accept}: {}", r.text);
        assert_eq!(content_type(&r), "application/problem+json");
        crate::helpers::assert_problem_shape(&r);
        assert!(r.text.contains(GQL_RESPONSE), "{}", r.text);
    }
    // GET negotiates the same way.
    let r = send(
        app.req(Method::GET, "/graphql?query=%7B__typename%7D")
            .header("accept", GQL_RESPONSE),
    )
    .await;
    assert_eq!((r.status.as_u16(), content_type(&r)), (200, GQL_RESPONSE));
    let r = send(
        app.req(Method::GET, "/graphql?query=%7B__typename%7D")
            .header("accept", "text/html"),
    )
    .await;
    assert_eq!(r.status, 406);
    // operationName over GET picks the operation (GraphQL over HTTP spells it in camelCase).
    let r = app
        .get("/graphql?query=query%20A%7Ba%3A__typename%7D%20query%20B%7Bb%3A__typename%7D&operationName=B")
        .await;
    assert_eq!(r.body, json!({"data": {"b": "Query"}}), "{}", r.text);
}

#[tokio::test]
async fn request_errors_carry_no_data() {
    let app = TestApp::spawn().await;
    let cases = [
        ("parse", json!({"query": "{"})),
        ("validation", json!({"query": "{ noSuchField }"})),
        (
            "variable coercion",
            json!({"query": "query($id: ID!) { author(id: $id) { name } }", "variables": {"id": null}}),
        ),
        (
            "depth",
            json!({"query": "{ authors { nodes { books { nodes { authors { books { nodes { authors { books { nodes { authors { name } } } } } } } } } } } }"}),
        ),
    ];
    for (what, body) in &cases {
        let r = post(&app, Some(GQL_RESPONSE), body).await;
        assert_eq!(r.status, 400, "{what}: {}", r.text);
        assert_eq!(content_type(&r), GQL_RESPONSE, "{what}");
        assert!(!has_data_key(&r), "{what}: no data key: {}", r.text);
        assert_eq!(code(&r), "BAD_USER_INPUT", "{what}");
        // application/json keeps 200 (the spec's legacy behaviour), still without data.
        let r = post(&app, Some("application/json"), body).await;
        assert_eq!(r.status, 200, "{what}: {}", r.text);
        assert_eq!(content_type(&r), "application/json", "{what}");
        assert!(!has_data_key(&r), "{what}: no data key: {}", r.text);
    }
    // A request that never reached GraphQL (no query) is a 400 in both types, without data.
    for accept in [GQL_RESPONSE, "application/json"] {
        for body in [
            json!({}),
            json!({"qeury": "{ __typename }"}),
            json!({"query": null}),
        ] {
            let r = post(&app, Some(accept), &body).await;
            assert_eq!(r.status, 400, "{accept} {body}: {}", r.text);
            assert_eq!(content_type(&r), accept);
            assert!(!has_data_key(&r), "{}", r.text);
            assert_eq!(code(&r), "BAD_USER_INPUT");
        }
    }
    // An unknown persisted query: no data, so 400 in graphql-response+json (200 in json).
    let ext = json!({"persistedQuery": {"version": 1, "sha256Hash": "ab".repeat(32)}});
    for (accept, status) in [(GQL_RESPONSE, 400), ("application/json", 200)] {
        let r = post(&app, Some(accept), &json!({"extensions": ext})).await;
        assert_eq!(r.status, status, "{accept}: {}", r.text);
        assert_eq!(code(&r), "PERSISTED_QUERY_NOT_FOUND");
        assert!(!has_data_key(&r), "{}", r.text);
    }
    // A field error is not a request error: data stays, and the status is 200.
    let r = post(
        &app,
        Some(GQL_RESPONSE),
        &json!({"query": "{ books(first: 500) { nodes { isbn } } }"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(has_data_key(&r), "{}", r.text);
    // null parameters are as good as absent.
    let r = post(
        &app,
        Some(GQL_RESPONSE),
        &json!({"query": "{ __typename }", "operationName": null, "variables": null, "extensions": null}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

fn standard_introspection_query() -> String {
    std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/introspection.graphql"),
    )
    .expect("tests/fixtures/introspection.graphql")
}

#[tokio::test]
async fn the_fixture_is_graphql_js_standard_introspection_query() {
    let (ok, out) = run_node(&["print-introspection-query.mjs"]).await;
    assert!(ok, "{out}");
    assert_eq!(
        out,
        standard_introspection_query(),
        "regenerate tests/fixtures/introspection.graphql with tests/js/print-introspection-query.mjs"
    );
}

#[tokio::test]
async fn standard_introspection_is_answered_and_measured_apart() {
    let app = TestApp::spawn().await;
    let query = standard_introspection_query();
    for accept in [GQL_RESPONSE, "application/json"] {
        let r = post(
            &app,
            Some(accept),
            &json!({"query": query, "operationName": "IntrospectionQuery"}),
        )
        .await;
        assert_eq!(r.status, 200, "{}", &r.text[..r.text.len().min(500)]);
        assert!(r.body.get("errors").is_none(), "{}", r.text);
        let schema = &r.body["data"]["__schema"];
        assert_eq!(schema["queryType"]["name"], "Query");
        assert_eq!(schema["subscriptionType"]["name"], "Subscription");
        let types = schema["types"].as_array().unwrap();
        assert!(types.iter().any(|t| t["name"] == "Book"));
    }
    // With a token too (the door that authenticates).
    let editor = app.editor_token().await;
    let r = send(
        app.req(Method::POST, "/graphql")
            .bearer_auth(&editor)
            .json(&json!({"query": query})),
    )
    .await;
    assert!(r.body["data"]["__schema"]["types"].is_array(), "{}", r.text);
    // Ordinary queries keep depth 12 (cheap lists: refused for depth, not complexity) ...
    let cheap_deep = "{ authors(first: 1) { nodes { books(first: 1) { nodes { authors { books(first: 1) { nodes { authors { books(first: 1) { nodes { authors { books(first: 1) { nodes { isbn } } } } } } } } } } } } } }";
    let r = post(&app, None, &json!({"query": cheap_deep})).await;
    assert!(r.text.contains("nested too deep"), "{}", r.text);
    // ... also when introspection rides along with them.
    let mixed = format!(
        "{{ __schema {{ queryType {{ name }} }} {} }}",
        &cheap_deep[1..cheap_deep.len() - 1]
    );
    let r = post(&app, None, &json!({"query": mixed})).await;
    assert!(r.text.contains("nested too deep"), "{}", r.text);
    // An abusive introspection query, much deeper than the standard one, is refused.
    let mut abusive = String::from("name");
    for _ in 0..30 {
        abusive = format!("ofType {{ {abusive} }}");
    }
    let abusive = format!("{{ __schema {{ types {{ fields {{ type {{ {abusive} }} }} }} }} }}");
    let r = post(&app, Some(GQL_RESPONSE), &json!({"query": abusive})).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("nested too deep"), "{}", r.text);
    let mut cyclic = String::from("name");
    for _ in 0..12 {
        cyclic = format!("fields {{ type {{ {cyclic} }} }}");
    }
    let r = post(
        &app,
        None,
        &json!({"query": format!("{{ __type(name: \"Book\") {{ {cyclic} }} }}")}),
    )
    .await;
    assert!(r.text.contains("nested too deep"), "{}", r.text);
}

#[tokio::test]
async fn introspection_off_is_an_error_with_a_code() {
    let prod = TestApp::spawn_with(|c| {
        c.env = bookstore::config::Environment::Production;
        c.graphql_introspection = false;
    })
    .await;
    let flag_off = TestApp::spawn_with(|c| c.graphql_introspection = false).await;
    let query = standard_introspection_query();
    for app in [&prod, &flag_off] {
        for q in [
            "{ __schema { queryType { name } } }",
            "{ __type(name: \"Book\") { name } }",
            "{ books(first: 1) { nodes { isbn } } __schema { types { name } } }",
            "query { ...f } fragment f on Query { __schema { types { name } } }",
            query.as_str(),
        ] {
            let r = post(app, Some(GQL_RESPONSE), &json!({"query": q})).await;
            assert_eq!(r.status, 400, "{}", r.text);
            assert!(!has_data_key(&r), "{}", r.text);
            assert_eq!(code(&r), "INTROSPECTION_DISABLED", "{}", r.text);
            assert!(
                r.body["errors"][0]["message"]
                    .as_str()
                    .unwrap()
                    .contains("introspection is disabled"),
                "{}",
                r.text
            );
            let r = post(app, None, &json!({"query": q})).await;
            assert_eq!(r.status, 200);
            assert_eq!(code(&r), "INTROSPECTION_DISABLED", "{}", r.text);
        }
        // __typename is no introspection: always answered.
        let r = post(app, None, &json!({"query": "{ __typename }"})).await;
        assert_eq!(r.body, json!({"data": {"__typename": "Query"}}));
    }
}

// --- graphql-transport-ws -----------------------------------------------------------------------

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn open_socket(app: &TestApp) -> Ws {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let url = format!("{}/graphql/ws", app.base.replacen("http", "ws", 1));
    let mut req = url.into_client_request().unwrap();
    req.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (ws, res) = tokio_tungstenite::connect_async(req)
        .await
        .expect("websocket upgrade");
    assert_eq!(
        res.headers().get("sec-websocket-protocol").unwrap(),
        "graphql-transport-ws"
    );
    ws
}

async fn send_text(ws: &mut Ws, text: &str) {
    use futures::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    ws.send(Message::text(text)).await.unwrap();
}

async fn send_json(ws: &mut Ws, v: Value) {
    send_text(ws, &v.to_string()).await;
}

/// The next protocol message (text), or `Err((code, reason))` when the server closed.
async fn next_msg(ws: &mut Ws) -> Result<Value, (u16, String)> {
    use futures::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a message within 10 s");
        match msg {
            Some(Ok(Message::Text(t))) => return Ok(serde_json::from_str(&t).unwrap()),
            Some(Ok(Message::Close(Some(frame)))) => {
                return Err((u16::from(frame.code), frame.reason.to_string()))
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("expected a message or a close frame, got {other:?}"),
        }
    }
}

async fn expect_close(ws: &mut Ws, code: u16, reason_contains: &str) {
    let got = next_msg(ws).await;
    match got {
        Err((c, reason)) => {
            assert_eq!(c, code, "close code (reason {reason:?})");
            assert!(
                reason.contains(reason_contains),
                "close reason {reason:?} should contain {reason_contains:?}"
            );
        }
        Ok(m) => panic!("expected close {code}, got message {m}"),
    }
}

async fn acked_socket(app: &TestApp) -> Ws {
    let mut ws = open_socket(app).await;
    send_json(&mut ws, json!({"type": "connection_init"})).await;
    assert_eq!(next_msg(&mut ws).await.unwrap()["type"], "connection_ack");
    ws
}

fn subscribe_msg(id: &str) -> Value {
    json!({"id": id, "type": "subscribe", "payload": {"query": "subscription { bookChanged { kind isbn } }"}})
}

#[tokio::test]
async fn graphql_transport_ws_close_codes() {
    let app = TestApp::spawn_with(|c| c.graphql_ws_init_timeout = Duration::from_millis(300)).await;

    // 4400: a message that is not JSON, of an unknown type, or of the wrong shape.
    for bad in [
        "not json".to_owned(),
        json!({"type": "connection_init", "payload": "x"}).to_string(),
        json!({"type": "unknown"}).to_string(),
        json!({"no": "type"}).to_string(),
    ] {
        let mut ws = open_socket(&app).await;
        send_text(&mut ws, &bad).await;
        expect_close(&mut ws, 4400, "Invalid message").await;
    }
    for bad in [
        json!({"type": "subscribe", "id": "1", "payload": {"query": 42}}),
        json!({"type": "subscribe", "payload": {"query": "{ __typename }"}}),
        json!({"type": "complete"}),
        json!({"type": "next", "id": "1", "payload": {}}),
    ] {
        let mut ws = acked_socket(&app).await;
        send_json(&mut ws, bad).await;
        expect_close(&mut ws, 4400, "Invalid message").await;
    }

    // 4401: subscribe before connection_ack.
    let mut ws = open_socket(&app).await;
    send_json(&mut ws, subscribe_msg("1")).await;
    expect_close(&mut ws, 4401, "Unauthorized").await;

    // 4403: connection_init refused (a bad token).
    let mut ws = open_socket(&app).await;
    send_json(
        &mut ws,
        json!({"type": "connection_init", "payload": {"Authorization": "Bearer nope"}}),
    )
    .await;
    expect_close(&mut ws, 4403, "Forbidden").await;

    // 4408: no connection_init within the (configured) timeout; a ping does not count.
    let mut ws = open_socket(&app).await;
    send_json(&mut ws, json!({"type": "ping"})).await;
    assert_eq!(next_msg(&mut ws).await.unwrap()["type"], "pong");
    let started = std::time::Instant::now();
    expect_close(&mut ws, 4408, "Connection initialisation timeout").await;
    assert!(started.elapsed() < Duration::from_secs(5));

    // 4409: a second subscribe with the id of a running subscription.
    let mut ws = acked_socket(&app).await;
    send_json(&mut ws, subscribe_msg("dup")).await;
    send_json(&mut ws, subscribe_msg("dup")).await;
    expect_close(&mut ws, 4409, "Subscriber for dup already exists").await;

    // 4429: a second connection_init.
    let mut ws = acked_socket(&app).await;
    send_json(&mut ws, json!({"type": "connection_init"})).await;
    expect_close(&mut ws, 4429, "Too many initialisation requests").await;
}

#[tokio::test]
async fn graphql_transport_ws_ping_pong_and_complete_from_both_sides() {
    let app = TestApp::spawn().await;
    app.state
        .events
        .spawn_listener(app.db_url.clone(), app.state.cache.clone());
    let mut ws = acked_socket(&app).await;
    // ping -> pong (its payload is optional).
    send_json(&mut ws, json!({"type": "ping", "payload": {"n": 1}})).await;
    let pong = next_msg(&mut ws).await.unwrap();
    assert_eq!(pong["type"], "pong", "{pong}");

    // A query over the socket: next, then complete from the server.
    send_json(
        &mut ws,
        json!({"id": "q", "type": "subscribe", "payload": {"query": "{ __typename }"}}),
    )
    .await;
    let next = next_msg(&mut ws).await.unwrap();
    assert_eq!(
        (next["type"].as_str(), next["id"].as_str()),
        (Some("next"), Some("q")),
        "{next}"
    );
    assert_eq!(next["payload"]["data"]["__typename"], "Query");
    let done = next_msg(&mut ws).await.unwrap();
    assert_eq!(done, json!({"type": "complete", "id": "q"}));
    // The id of a completed operation may be used again.
    send_json(
        &mut ws,
        json!({"id": "q", "type": "subscribe", "payload": {"query": "{ __typename }"}}),
    )
    .await;
    assert_eq!(next_msg(&mut ws).await.unwrap()["type"], "next");
    assert_eq!(next_msg(&mut ws).await.unwrap()["type"], "complete");

    // An operation refused before it ran gets `error` (the list of errors), and no complete.
    send_json(
        &mut ws,
        json!({"id": "bad", "type": "subscribe", "payload": {"query": "subscription { noSuchField }"}}),
    )
    .await;
    let error = next_msg(&mut ws).await.unwrap();
    assert_eq!(
        (error["type"].as_str(), error["id"].as_str()),
        (Some("error"), Some("bad")),
        "{error}"
    );
    assert!(error["payload"][0]["message"].is_string(), "{error}");
    send_json(&mut ws, json!({"type": "ping"})).await;
    let m = next_msg(&mut ws).await.unwrap();
    assert_eq!(m["type"], "pong", "no complete after an error: {m}");
    // A field error is no request error: it stays a `next`.
    send_json(
        &mut ws,
        json!({"id": "bad", "type": "subscribe", "payload": {"query": "subscription { bookChanged(isbn: \"12345\") { kind } }"}}),
    )
    .await;
    let m = next_msg(&mut ws).await.unwrap();
    assert_eq!(
        (m["type"].as_str(), m["id"].as_str()),
        (Some("next"), Some("bad")),
        "{m}"
    );
    assert_eq!(
        next_msg(&mut ws).await.unwrap(),
        json!({"type": "complete", "id": "bad"})
    );

    // complete from the client stops a subscription (no echo), and its id is free again.
    send_json(&mut ws, subscribe_msg("s")).await;
    send_json(&mut ws, json!({"id": "s", "type": "complete"})).await;
    send_json(&mut ws, subscribe_msg("s")).await;
    send_json(&mut ws, json!({"type": "ping"})).await;
    let m = next_msg(&mut ws).await.unwrap();
    assert_eq!(m["type"], "pong", "no complete echoed back: {m}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The resubscribed "s" is live: a change arrives on it.
    let editor = app.editor_token().await;
    let author = app.create_author(&editor, "Socket Author").await;
    app.create_book(
        &editor,
        &crate::helpers::book_body(
            &crate::helpers::isbn(77),
            "Socket Book",
            &[crate::helpers::id_of(&author)],
        ),
    )
    .await;
    let event = next_msg(&mut ws).await.unwrap();
    assert_eq!(
        (event["type"].as_str(), event["id"].as_str()),
        (Some("next"), Some("s")),
        "{event}"
    );
    assert_eq!(event["payload"]["data"]["bookChanged"]["kind"], "CREATED");
}

#[tokio::test]
async fn the_graphql_ws_client_speaks_with_the_server() {
    let app = TestApp::spawn().await;
    let url = format!("{}/graphql/ws", app.base.replacen("http", "ws", 1));
    let (ok, out) = run_node(&["ws-client.mjs", &url]).await;
    println!("{out}");
    assert!(ok, "graphql-ws client checks failed:\n{out}");
}
