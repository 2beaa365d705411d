//! What every fault scenario shares: the release `bookstore` binary as a child process against a
//! private PostgreSQL cluster (and, when asked, a private Redis), a few REST helpers, latency
//! percentiles, and the `FAULT <name>: key=value ...` figures line each scenario prints.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::io::Write as _;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub use crate::private_services::{free_port, PgCluster, RedisServer};

/// A 48-byte JWT secret for the child (production refuses shorter ones).
pub const JWT_SECRET: &str = "fault-suite-jwt-secret-0123456789-abcdefghijklmnop";
/// The password of the start-up admin `admin`.
pub const ADMIN_PASSWORD: &str = "fault-suite admin password 42";

/// A private PostgreSQL cluster (initdb + pg_ctl take a second or two: off the async workers).
pub fn start_pg() -> PgCluster {
    tokio::task::block_in_place(PgCluster::start)
}

/// A superuser connection to the private cluster's `bookstore` database, driven in this runtime.
pub async fn superuser(pg: &PgCluster) -> tokio_postgres::Client {
    let (client, connection) =
        tokio_postgres::connect(&pg.superuser_url("bookstore"), tokio_postgres::NoTls)
            .await
            .expect("superuser connection to the private cluster");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// The `n`-th ISBN-13 of the suite's own range (978 + 9 digits + check digit).
pub fn isbn(n: u64) -> String {
    let base = format!("978{:09}", n % 1_000_000_000);
    let sum: u32 = base
        .bytes()
        .enumerate()
        .map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 1 } else { 3 })
        .sum();
    format!("{base}{}", (10 - sum % 10) % 10)
}

/// A full book body (`POST /v1/book` with `isbn`, `PUT /v1/book/{isbn}` without).
pub fn book_body(isbn: Option<&str>, title: &str, stock: i64, author_ids: &[i64]) -> Value {
    let mut body = json!({
        "title": title,
        "category": "fiction",
        "year": 2001,
        "price_cents": 1999,
        "stock": stock,
        "author_ids": author_ids,
    });
    if let Some(isbn) = isbn {
        body["isbn"] = json!(isbn);
    }
    body
}

/// Prints the scenario's figures line (`FAULT name: k=v k=v`) and appends it to `$FAULTS_REPORT`
/// when set (scripts/faults.sh prints that file as the summary). Called before the assertions, so
/// a failing scenario still reports what it saw.
pub fn report(name: &str, figures: &[(&str, String)]) {
    let mut line = format!("FAULT {name}:");
    for (k, v) in figures {
        line.push_str(&format!(" {k}={v}"));
    }
    println!("{line}");
    if let Ok(path) = std::env::var("FAULTS_REPORT") {
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = writeln!(f, "{line}");
        }
    }
}

/// The `p`-th percentile (0..=100) of `samples` in milliseconds (0 when empty).
pub fn percentile_ms(samples: &[Duration], p: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let mut v: Vec<Duration> = samples.to_vec();
    v.sort_unstable();
    let rank = ((p / 100.0) * (v.len() - 1) as f64).round() as usize;
    (v[rank.min(v.len() - 1)].as_secs_f64() * 1000.0 * 10.0).round() / 10.0
}

pub fn ms(d: Duration) -> String {
    format!("{}", d.as_millis())
}

/// A client for the suite: loopback, bounded time per request, no proxy.
pub fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(timeout)
        .pool_max_idle_per_host(64)
        .build()
        .expect("client")
}

/// The release `bookstore` binary serving on a free loopback port.
pub struct Server {
    pub child: Child,
    pub port: u16,
    pub base: String,
    pub client: reqwest::Client,
    output: Arc<Mutex<VecDeque<String>>>,
}

impl Server {
    /// Starts `bookstore serve` against `database_url` (it runs the migrations itself) in
    /// development mode (so responses carry `x-sql-statements`), with the start-up admin `admin`
    /// and `env` on top. Rate limiting and the cache keep the server's defaults (on) unless `env`
    /// says otherwise.
    pub async fn start(database_url: &str, env: &[(&str, String)]) -> Server {
        let port = free_port();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_bookstore"));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", database_url)
            .env("BOOKSTORE_ADDR", format!("127.0.0.1:{port}"))
            .env("BOOKSTORE_ENV", "development")
            .env("JWT_SECRET", JWT_SECRET)
            .env("BOOKSTORE_ADMIN_USERNAME", "admin")
            .env("BOOKSTORE_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("RUST_LOG", "warn")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .arg("serve")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("starting the bookstore binary");
        let output = Arc::new(Mutex::new(VecDeque::new()));
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        for reader in [
            Box::new(stdout) as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
            Box::new(stderr),
        ] {
            let output = output.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(reader).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let mut out = output.lock().unwrap();
                    if out.len() >= 500 {
                        out.pop_front();
                    }
                    out.push_back(line);
                }
            });
        }
        let mut server = Server {
            child,
            port,
            base: format!("http://127.0.0.1:{port}"),
            client: client(Duration::from_secs(10)),
            output,
        };
        server.wait_until_up().await;
        server
    }

    async fn wait_until_up(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "the server exited early with {status}:\n{}",
                    self.output_tail()
                );
            }
            let up = self
                .client
                .get(self.url("/healthz"))
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200);
            if up {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not come up:\n{}",
                self.output_tail()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("the server is running")
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The last lines the server wrote (for failure messages).
    pub fn output_tail(&self) -> String {
        let out = self.output.lock().unwrap();
        let skip = out.len().saturating_sub(40);
        out.iter()
            .skip(skip)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// An access token of the start-up admin (who may do everything an editor may).
    pub async fn admin_token(&self) -> String {
        let r = self
            .client
            .post(self.url("/v1/token"))
            .form(&[
                ("grant_type", "password"),
                ("username", "admin"),
                ("password", ADMIN_PASSWORD),
            ])
            .send()
            .await
            .expect("token request");
        assert_eq!(
            r.status(),
            200,
            "token: {}",
            r.text().await.unwrap_or_default()
        );
        let body: Value = r.json().await.expect("token JSON");
        body["access_token"].as_str().expect("token").to_owned()
    }

    pub async fn create_author(&self, token: &str, name: &str) -> i64 {
        let r = self
            .client
            .post(self.url("/v1/author"))
            .bearer_auth(token)
            .json(&json!({ "name": name }))
            .send()
            .await
            .expect("create author");
        let status = r.status();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        assert_eq!(status, 201, "create author: {body}");
        body["id"].as_i64().expect("author id")
    }

    pub async fn create_book(&self, token: &str, body: &Value) -> Value {
        let r = self
            .client
            .post(self.url("/v1/book"))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("create book");
        let status = r.status();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        assert_eq!(status, 201, "create book: {body}");
        body
    }
}
