//! Graceful shutdown of the real binary: on SIGTERM it stops accepting, lets the request in
//! flight finish, closes GraphQL WebSockets with 1001, and exits 0.

use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use nix::sys::signal::Signal;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message};

use crate::helpers::{book_body, isbn, pg_connect};
use crate::process::{Options, ServerProcess};

async fn post(server: &ServerProcess, token: &str, path: &str, body: &Value) -> Value {
    let r = server
        .client
        .post(server.url(path))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{path}");
    r.json().await.unwrap()
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A graphql-transport-ws connection with one `bookChanged` subscription, acknowledged.
async fn subscribe(server: &ServerProcess) -> Ws {
    let mut req = format!("ws://127.0.0.1:{}/graphql/ws", server.port)
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    ws.send(Message::text(
        json!({"type": "connection_init"}).to_string(),
    ))
    .await
    .unwrap();
    let ack = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(ack.to_text().unwrap().contains("connection_ack"), "{ack:?}");
    ws.send(Message::text(
        json!({"id": "1", "type": "subscribe", "payload": {
            "query": "subscription { bookChanged { kind isbn } }"
        }})
        .to_string(),
    ))
    .await
    .unwrap();
    ws
}

/// Waits until some backend waits for a lock (the request under test is blocked).
async fn wait_for_lock_waiter(db: &tokio_postgres::Client) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let row = db
            .query_one(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE wait_event_type = 'Lock' AND datname = current_database()",
                &[],
            )
            .await
            .unwrap();
        if row.get::<_, i64>(0) > 0 {
            return;
        }
        assert!(Instant::now() < deadline, "the request never blocked");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn sigterm_finishes_the_request_in_flight_closes_websockets_and_exits_0() {
    let mut server = ServerProcess::start(Options::default()).await;
    let token = server.admin_token().await;
    let author = post(
        &server,
        &token,
        "/v1/author",
        &json!({"name": "Slow Writer"}),
    )
    .await;
    let isbn = isbn(77);
    post(
        &server,
        &token,
        "/v1/book",
        &book_body(&isbn, "Before", &[author["id"].as_i64().unwrap()]),
    )
    .await;
    let mut ws = subscribe(&server).await;

    // Hold the book's row lock from another connection, so the PUT below waits on it.
    let mut locker = pg_connect(&server.db_url).await;
    let tx = locker.transaction().await.unwrap();
    tx.execute("SELECT 1 FROM books WHERE isbn = $1 FOR UPDATE", &[&isbn])
        .await
        .unwrap();
    let put = {
        let client = server.client.clone();
        let url = server.url(&format!("/v1/book/{isbn}"));
        let token = token.clone();
        let mut body = book_body(&isbn, "After", &[author["id"].as_i64().unwrap()]);
        body.as_object_mut().unwrap().remove("isbn");
        tokio::spawn(async move {
            let r = client
                .put(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .expect("the in-flight request gets an answer");
            let status = r.status();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            (status, body)
        })
    };
    let watcher = pg_connect(&server.db_url).await;
    wait_for_lock_waiter(&watcher).await;

    server.signal(Signal::SIGTERM);

    // The WebSocket is closed by the server with 1001 (going away).
    let deadline = Instant::now() + Duration::from_secs(10);
    let close = loop {
        let msg = tokio::time::timeout_at(deadline.into(), ws.next())
            .await
            .expect("a close frame in time");
        match msg {
            Some(Ok(Message::Close(frame))) => break frame,
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    let frame = close.expect("a close code");
    assert_eq!(u16::from(frame.code), 1001, "{frame:?}");

    // New connections are refused while the request is still in flight.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let refused = tokio::net::TcpStream::connect(("127.0.0.1", server.port))
            .await
            .is_err();
        if refused {
            break;
        }
        assert!(Instant::now() < deadline, "still accepting after SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "the server must wait for the request in flight"
    );
    assert!(!put.is_finished());

    // Release the lock: the request completes, then the process exits 0.
    tx.commit().await.unwrap();
    let (status, body) = tokio::time::timeout(Duration::from_secs(10), put)
        .await
        .expect("the request finishes")
        .unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["title"], "After");
    let exit = server.wait_exit(Duration::from_secs(15)).await;
    assert!(
        exit.success(),
        "exit status {exit}:\n{}",
        server.output().join("\n")
    );
    let log = server.output().join("\n");
    assert!(log.contains("shutting down"), "{log}");
    assert!(log.contains("stopped"), "{log}");
    // The write was committed.
    let row = watcher
        .query_one("SELECT title FROM books WHERE isbn = $1", &[&isbn])
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "After");
}

#[tokio::test]
async fn sigint_on_an_idle_server_exits_0_promptly() {
    let mut server = ServerProcess::start(Options::default()).await;
    server.signal(Signal::SIGINT);
    let started = Instant::now();
    let exit = server.wait_exit(Duration::from_secs(10)).await;
    assert!(exit.success(), "{exit}");
    assert!(started.elapsed() < Duration::from_secs(5));
}
