//! `bookChanged` over graphql-transport-ws: events from REST and GraphQL writes, from another
//! server process on the same database, the `isbn` filter, and the per-connection cap.

use std::net::SocketAddr;
use std::time::Duration;

use axum::ServiceExt as _;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message};

use crate::graphql::gql;
use crate::helpers::{book_body, isbn, TestApp};

pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A second server process (same code, own pool, cache and listener) on the same database, with
/// the same Redis, cache prefix and JWT secret as `app`.
pub async fn second_server(app: &TestApp) -> (String, bookstore::AppState) {
    let mut config = bookstore::config::Config::for_database(app.db_url.clone());
    config.jwt_secret = app.state.config.jwt_secret.clone();
    config.redis_url = app.state.config.redis_url.clone();
    config.cache_prefix = app.state.config.cache_prefix.clone();
    let state = bookstore::App::new(config).unwrap();
    state
        .events
        .spawn_listener(app.db_url.clone(), state.cache.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = bookstore::router(state.clone());
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    (format!("http://{addr}"), state)
}

pub async fn connect(base: &str, init: Value) -> Ws {
    let url = format!("{}/graphql/ws", base.replacen("http", "ws", 1));
    let mut req = url.into_client_request().unwrap();
    req.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut ws, res) = tokio_tungstenite::connect_async(req)
        .await
        .expect("websocket upgrade");
    assert_eq!(
        res.headers().get("sec-websocket-protocol").unwrap(),
        "graphql-transport-ws"
    );
    ws.send(Message::text(
        json!({"type": "connection_init", "payload": init}).to_string(),
    ))
    .await
    .unwrap();
    let ack = next_json(&mut ws).await;
    assert_eq!(ack["type"], "connection_ack", "{ack}");
    ws
}

pub async fn next_json(ws: &mut Ws) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a message within 10 s")
            .expect("an open socket")
            .expect("a readable message");
        match msg {
            Message::Text(t) => {
                let v: Value = serde_json::from_str(&t).unwrap();
                if v["type"] == "ping" {
                    ws.send(Message::text(json!({"type": "pong"}).to_string()))
                        .await
                        .unwrap();
                    continue;
                }
                return v;
            }
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected message {other:?}"),
        }
    }
}

async fn subscribe(ws: &mut Ws, id: &str, isbn: Option<&str>) {
    let query = "subscription($isbn: String) { bookChanged(isbn: $isbn) { kind isbn book { title stock } } }";
    let msg = json!({"id": id, "type": "subscribe", "payload": {"query": query, "variables": {"isbn": isbn}}});
    ws.send(Message::text(msg.to_string())).await.unwrap();
}

#[tokio::test]
async fn book_changes_arrive_from_both_doors_and_other_processes() {
    let app = TestApp::spawn().await;
    app.state
        .events
        .spawn_listener(app.db_url.clone(), app.state.cache.clone());
    let (other_base, _other) = second_server(&app).await;
    let editor = app.editor_token().await;
    let admin = app.admin_token().await;
    let author = app.create_author(&editor, "Iain Banks").await["id"]
        .as_i64()
        .unwrap();

    // Subscribed on the other process, filtered to one ISBN; a second subscription sees all.
    let mut ws = connect(
        &other_base,
        json!({"Authorization": format!("Bearer {editor}")}),
    )
    .await;
    subscribe(&mut ws, "one", Some(&isbn(7))).await;
    subscribe(&mut ws, "all", None).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    app.create_book(&editor, &book_body(&isbn(8), "Excession", &[author]))
        .await; // only "all"
    app.create_book(&editor, &book_body(&isbn(7), "Use of Weapons", &[author]))
        .await;
    let upd = gql(
        &app,
        &format!(
            "mutation {{ updateBook(isbn: \"{}\", input: {{stock: 42}}) {{ stock }} }}",
            isbn(7)
        ),
        json!({}),
        Some(&editor),
    )
    .await;
    assert_eq!(upd.body["data"]["updateBook"]["stock"], 42, "{}", upd.text);
    app.delete(&format!("/v1/book/{}", isbn(7)), &admin)
        .await
        .expect(204);

    let mut seen_one = Vec::new();
    let mut seen_all = Vec::new();
    while seen_one.len() < 3 || seen_all.len() < 4 {
        let m = next_json(&mut ws).await;
        assert_eq!(m["type"], "next", "{m}");
        let change = m["payload"]["data"]["bookChanged"].clone();
        match m["id"].as_str().unwrap() {
            "one" => seen_one.push(change),
            "all" => seen_all.push(change),
            other => panic!("unknown id {other}"),
        }
    }
    assert_eq!(
        seen_one[0],
        json!({"kind": "CREATED", "isbn": isbn(7), "book": {"title": "Use of Weapons", "stock": 5}})
    );
    assert_eq!(
        seen_one[1],
        json!({"kind": "UPDATED", "isbn": isbn(7), "book": {"title": "Use of Weapons", "stock": 42}})
    );
    assert_eq!(
        seen_one[2],
        json!({"kind": "DELETED", "isbn": isbn(7), "book": null})
    );
    assert_eq!(seen_all[0]["isbn"], isbn(8));
    assert_eq!(seen_all.len(), 4);

    // Clean completion of a subscription.
    ws.send(Message::text(
        json!({"id": "one", "type": "complete"}).to_string(),
    ))
    .await
    .unwrap();
    ws.close(None).await.unwrap();
}

#[tokio::test]
async fn subscriptions_need_no_token_but_refuse_a_bad_one_and_are_capped() {
    let app = TestApp::spawn().await;
    let mut ws = connect(&app.base, json!({})).await;
    for i in 0..bookstore::graphql::subscription::MAX_SUBSCRIPTIONS_PER_CONNECTION {
        subscribe(&mut ws, &format!("s{i}"), None).await;
    }
    subscribe(&mut ws, "over", None).await;
    // Subscriptions start concurrently: exactly one of the 17 is refused (RATE_LIMITED).
    let m = next_json(&mut ws).await;
    assert!(
        m.to_string().contains("subscriptions per connection"),
        "{m}"
    );
    assert_eq!(
        m["payload"]["errors"][0]["extensions"]["code"], "RATE_LIMITED",
        "{m}"
    );
    let refused = m["id"].as_str().unwrap().to_owned();
    if m["type"] == "next" {
        let done = next_json(&mut ws).await;
        assert_eq!(
            (done["id"].as_str(), done["type"].as_str()),
            (Some(refused.as_str()), Some("complete")),
            "{done}"
        );
    }
    // A bad ISBN argument is an error, not a silent never-firing subscription.
    ws.send(Message::text(
        json!({"id": refused, "type": "complete"}).to_string(),
    ))
    .await
    .unwrap();
    subscribe(&mut ws, "bad", Some("12345")).await;
    let m = next_json(&mut ws).await;
    assert_eq!(m["id"], "bad", "{m}");
    assert_eq!(
        m["payload"]["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{m}"
    );
    // The alias limit holds inside the socket too (documents there never pass the HTTP handler).
    let aliases: String = (0..31)
        .map(|i| format!("a{i}: bookChanged {{ kind }} "))
        .collect();
    let msg = json!({"id": "aliases", "type": "subscribe", "payload": {"query": format!("subscription {{ {aliases} }}")}});
    ws.send(Message::text(msg.to_string())).await.unwrap();
    let mut m = next_json(&mut ws).await;
    while m["id"] == "bad" {
        m = next_json(&mut ws).await;
    }
    assert_eq!(m["id"], "aliases", "{m}");
    assert!(m.to_string().contains("aliases"), "{m}");

    // A bad token in connection_init closes the connection (4403) instead of acknowledging it.
    let url = format!("{}/graphql/ws", app.base.replacen("http", "ws", 1));
    let mut req = url.into_client_request().unwrap();
    req.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut bad, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    bad.send(Message::text(
        json!({"type": "connection_init", "payload": {"Authorization": "Bearer nope"}}).to_string(),
    ))
    .await
    .unwrap();
    let reply = tokio::time::timeout(Duration::from_secs(5), bad.next())
        .await
        .expect("an answer");
    match reply {
        Some(Ok(Message::Close(Some(frame)))) => {
            // graphql-transport-ws: 4403 Forbidden.
            assert_eq!(u16::from(frame.code), 4403, "{frame:?}");
            assert!(frame.reason.contains("token"), "{frame:?}");
        }
        other => panic!("expected a close frame, got {other:?}"),
    }
}
