//! The 3-replica topology of `scripts/cluster.sh` (three `bookstore` processes behind nginx with
//! TLS): REST, GraphQL and a GraphQL WebSocket subscription through the proxy over HTTPS, with
//! writes on one replica seen on the others.
//!
//! The script installs nginx with apt when it is missing. The cluster gets its own database,
//! ports, state directory and Redis key prefixes, so it runs beside the other tests.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use reqwest::{Method, Version};
use rustls::pki_types::{pem::PemObject, CertificateDer, ServerName};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message};

use crate::helpers::{
    book_body, create_test_database, drop_test_database, isbn, server_url, url_for_db, PASSWORD,
};
use crate::process::{free_port, JWT_SECRET};

struct Cluster {
    dir: PathBuf,
    env: Vec<(String, String)>,
    https_port: u16,
    http_port: u16,
    db_name: String,
}

impl Cluster {
    fn script(&self, command: &str) -> std::process::Output {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/cluster.sh");
        Command::new("bash")
            .arg(script)
            .arg(command)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .expect("running scripts/cluster.sh")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let out = self.script("down");
        if !out.status.success() {
            eprintln!("cluster down: {}", String::from_utf8_lossy(&out.stderr));
        }
        drop_test_database(std::mem::take(&mut self.db_name));
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn start_cluster() -> Cluster {
    let db_name = create_test_database().await;
    let unique = uuid::Uuid::new_v4().simple().to_string();
    let dir = std::env::temp_dir().join(format!("bookstore-cluster-test-{unique}"));
    let api_ports: Vec<String> = (0..3).map(|_| free_port().to_string()).collect();
    let (https_port, http_port) = (free_port(), free_port());
    let redis = std::env::var("TEST_REDIS_URL")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "redis://127.0.0.1:6379".into());
    let env: Vec<(String, String)> = [
        ("CLUSTER_DIR", dir.display().to_string()),
        ("CLUSTER_API_PORTS", api_ports.join(" ")),
        ("CLUSTER_HTTPS_PORT", https_port.to_string()),
        ("CLUSTER_HTTP_PORT", http_port.to_string()),
        ("CLUSTER_SKIP_SERVICES", "1".into()),
        ("BOOKSTORE_BIN", env!("CARGO_BIN_EXE_bookstore").into()),
        ("DATABASE_URL", url_for_db(&server_url(), &db_name)),
        ("REDIS_URL", redis),
        ("JWT_SECRET", JWT_SECRET.into()),
        ("BOOKSTORE_ADMIN_PASSWORD", PASSWORD.into()),
        ("BOOKSTORE_CACHE_PREFIX", format!("bs-cluster-{unique}")),
        (
            "BOOKSTORE_RATE_LIMIT_REDIS_PREFIX",
            format!("bookstore:cluster-test:{unique}:"),
        ),
        ("RUST_LOG", "info".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let cluster = Cluster {
        dir,
        env,
        https_port,
        http_port,
        db_name,
    };
    let out = tokio::task::block_in_place(|| cluster.script("up"));
    assert!(
        out.status.success(),
        "cluster up failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    cluster
}

fn https_client(cluster: &Cluster) -> reqwest::Client {
    let pem = std::fs::read(cluster.dir.join("ca.crt")).unwrap();
    reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .resolve(
            "localhost",
            SocketAddr::from(([127, 0, 0, 1], cluster.https_port)),
        )
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// A graphql-transport-ws connection over TLS (ALPN http/1.1) through nginx.
async fn wss_subscribe(
    cluster: &Cluster,
    query: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    let pem = std::fs::read(cluster.dir.join("ca.crt")).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(&pem).unwrap())
        .unwrap();
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", cluster.https_port))
        .await
        .unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let mut req = format!("wss://localhost:{}/graphql/ws", cluster.https_port)
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut ws, res) = tokio_tungstenite::client_async(req, tls).await.unwrap();
    assert_eq!(
        res.headers()
            .get("sec-websocket-protocol")
            .and_then(|v| v.to_str().ok()),
        Some("graphql-transport-ws")
    );
    ws.send(Message::text(
        json!({"type": "connection_init"}).to_string(),
    ))
    .await
    .unwrap();
    let ack = next_json(&mut ws).await;
    assert_eq!(ack["type"], "connection_ack", "{ack}");
    ws.send(Message::text(
        json!({"id": "1", "type": "subscribe", "payload": {"query": query}}).to_string(),
    ))
    .await
    .unwrap();
    ws
}

async fn next_json<S>(ws: &mut tokio_tungstenite::WebSocketStream<S>) -> Value
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(15), ws.next())
            .await
            .expect("a WebSocket message in time")
            .expect("the socket is open")
            .expect("a good frame");
        if let Message::Text(t) = msg {
            return serde_json::from_str(&t).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_graphql_and_subscriptions_through_nginx_over_https() {
    let cluster = start_cluster().await;
    let c = https_client(&cluster);
    let url = |p: &str| format!("https://localhost:{}{p}", cluster.https_port);

    // HTTP/2 over TLS at the edge; plain HTTP redirects to HTTPS.
    let r = c.get(url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.version(), Version::HTTP_2);
    assert!(r.headers().contains_key("strict-transport-security"));
    let r = c
        .get(format!("http://127.0.0.1:{}/v1/books", cluster.http_port))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 308);
    assert_eq!(
        r.headers()["location"].to_str().unwrap(),
        format!("https://127.0.0.1:{}/v1/books", cluster.https_port)
    );

    // REST: sign in (the admin made by the first replica), create, read back through every replica.
    let r = c
        .post(url("/v1/token"))
        .form(&[
            ("grant_type", "password"),
            ("username", "admin"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let token = r.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = c
        .post(url("/v1/author"))
        .bearer_auth(&token)
        .json(&json!({"name": "Clustered Author"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let author_id = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let isbn = isbn(4242);

    // A subscriber on some replica hears about writes made through any replica.
    let mut ws = wss_subscribe(&cluster, "subscription { bookChanged { kind isbn } }").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = c
        .post(url("/v1/book"))
        .bearer_auth(&token)
        .json(&book_body(&isbn, "Through the Proxy", &[author_id]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let event = next_json(&mut ws).await;
    assert_eq!(event["type"], "next", "{event}");
    assert_eq!(event["payload"]["data"]["bookChanged"]["kind"], "CREATED");
    assert_eq!(
        event["payload"]["data"]["bookChanged"]["isbn"],
        isbn.as_str()
    );

    // Reads are answered by the replicas in turn (least_conn); all of them see the new book.
    for _ in 0..6 {
        let r = c
            .get(url(&format!("/v1/book/{isbn}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.json::<Value>().await.unwrap()["title"],
            "Through the Proxy"
        );
    }

    // GraphQL over the proxy, signed in.
    let r = c
        .request(Method::POST, url("/graphql"))
        .bearer_auth(&token)
        .json(&json!({"query": format!(
            "{{ me {{ username }} book(isbn: \"{isbn}\") {{ title authors {{ name }} }} }}"
        )}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["data"]["me"]["username"], "admin", "{body}");
    assert_eq!(
        body["data"]["book"]["authors"][0]["name"],
        "Clustered Author"
    );

    // Problems from the replicas come through unchanged.
    let r = c.get(url("/v1/book/9780000000002")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );

    // Each replica served some of this (the request counter of /metrics, read directly).
    let direct = reqwest::Client::new();
    let ports: Vec<u16> = cluster
        .env
        .iter()
        .find(|(k, _)| k == "CLUSTER_API_PORTS")
        .unwrap()
        .1
        .split(' ')
        .map(|p| p.parse().unwrap())
        .collect();
    let mut served = 0;
    for port in &ports {
        let text = direct
            .get(format!("http://127.0.0.1:{port}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if text.contains(r#"route="/v1/book/{isbn}""#) {
            served += 1;
        }
    }
    assert!(served >= 2, "reads were spread over {served} replica(s)");

    ws.send(Message::Close(None)).await.ok();
    let started = Instant::now();
    drop(cluster);
    assert!(started.elapsed() < Duration::from_secs(30));
}
