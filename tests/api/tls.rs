//! TLS termination in the server: with BOOKSTORE_TLS_CERT/KEY set, the binary speaks HTTPS with
//! HTTP/2 (and HTTP/1.1) chosen by ALPN.

use std::net::SocketAddr;
use std::time::Duration;

use nix::sys::signal::Signal;
use reqwest::Version;
use serde_json::{json, Value};

use crate::process::{free_port, Options, ServerProcess};

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A self-signed certificate for `localhost` / 127.0.0.1, written to a fresh directory.
fn self_signed() -> (TempDir, String, String, String) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .expect("a self-signed certificate");
    let dir = std::env::temp_dir().join(format!("bookstore-tls-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let cert_pem = certified.cert.pem();
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    std::fs::write(&cert, &cert_pem).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    (
        TempDir(dir),
        cert.display().to_string(),
        key.display().to_string(),
        cert_pem,
    )
}

fn client(cert_pem: &str, port: u16, http1_only: bool) -> reqwest::Client {
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap())
        .resolve("localhost", SocketAddr::from(([127, 0, 0, 1], port)))
        .timeout(Duration::from_secs(30));
    if http1_only {
        b = b.http1_only();
    }
    b.build().unwrap()
}

#[tokio::test]
async fn https_with_http2_and_http1_when_a_certificate_is_configured() {
    let (_dir, cert, key, cert_pem) = self_signed();
    // The port is chosen before the process starts, so the client can pin `localhost` to it.
    let port = free_port();
    let mut server = ServerProcess::start_on(
        port,
        Options {
            env: vec![
                ("BOOKSTORE_TLS_CERT".into(), cert),
                ("BOOKSTORE_TLS_KEY".into(), key),
            ],
            tls: true,
            client: client(&cert_pem, port, false),
        },
    )
    .await;

    // HTTP/2 over TLS (ALPN h2), REST and GraphQL.
    let r = server
        .client
        .get(server.url("/v1/books"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.version(), Version::HTTP_2);
    assert!(r.headers().get("x-request-id").is_some());
    let token = server.admin_token().await;
    let r = server
        .client
        .post(server.url("/graphql"))
        .bearer_auth(&token)
        .json(&json!({"query": "{ me { username } }"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.version(), Version::HTTP_2);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["data"]["me"]["username"], "admin", "{body}");

    // HTTP/1.1 over TLS for clients that do not offer h2.
    let h1 = client(&cert_pem, port, true);
    let r = h1.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.version(), Version::HTTP_11);

    // Plain HTTP on the TLS port gets no HTTP answer.
    let plain = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let r = plain
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .send()
        .await;
    assert!(r.is_err(), "{r:?}");

    // A client that does not trust the certificate is refused.
    let untrusting = reqwest::Client::builder()
        .use_rustls_tls()
        .resolve("localhost", SocketAddr::from(([127, 0, 0, 1], port)))
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    assert!(untrusting.get(server.url("/healthz")).send().await.is_err());

    // Graceful shutdown works over TLS too.
    server.signal(Signal::SIGTERM);
    let exit = server.wait_exit(Duration::from_secs(15)).await;
    assert!(exit.success(), "{exit}");
}
