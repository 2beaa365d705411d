//! The test harness: every test gets its own server and its own PostgreSQL database.
//!
//! - A template database `bookstore_tpl_<hash of migrations/>` is created and migrated once per
//!   migrations version (guarded by a PostgreSQL advisory lock and built under a temporary name,
//!   then renamed, so parallel test processes and a crash half-way are both safe).
//! - `TestApp::spawn()` clones it (`CREATE DATABASE bs_test_<uuid> TEMPLATE ...`), builds the real
//!   `App` and router, and serves them on `127.0.0.1:0` in the test's own runtime.
//! - Dropping the `TestApp` stops the server and drops the database (`WITH (FORCE)`) from a separate
//!   thread with its own runtime and a time limit, so cleanup never hangs a test.
//!
//! Nothing here lives in a `static` that holds connections: each `#[tokio::test]` has its own
//! runtime, and a pool must not outlive the runtime that made it.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::ServiceExt as _;
use bookstore::config::Config;
use bookstore::domain::{Isbn, Role};
use bookstore::{App, AppState};
use reqwest::header::{HeaderMap, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

/// The password of every user the harness creates.
pub const PASSWORD: &str = "correct horse battery staple";

const DEFAULT_SERVER_URL: &str = "postgres://bookstore:bookstore@127.0.0.1:5432/postgres";

/// The maintenance database URL tests connect to for `CREATE DATABASE`.
pub fn server_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_SERVER_URL.to_owned())
}

/// `url` with its database name replaced by `db` (query string kept).
pub fn url_for_db(url: &str, db: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL with a scheme");
    let (authority, tail) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, ""),
    };
    let query = tail.split_once('?').map(|(_, q)| q);
    match query {
        Some(q) => format!("{scheme}://{authority}/{db}?{q}"),
        None => format!("{scheme}://{authority}/{db}"),
    }
}

/// A raw tokio-postgres connection whose driver runs in the current runtime.
pub async fn pg_connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "cannot connect to {}: {e} (is PostgreSQL up? run scripts/services.sh)",
                bookstore::config::redact_url(url)
            )
        });
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

fn migrations_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations")
}

/// A short hash of every file under `migrations/` (names and contents).
fn migrations_hash() -> String {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let entries =
            std::fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.push(path);
            }
        }
    }
    let root = migrations_dir();
    let mut files = Vec::new();
    walk(&root, &mut files);
    files.sort();
    let mut hasher = Sha256::new();
    for f in files {
        let rel = f.strip_prefix(&root).expect("under migrations/");
        hasher.update(rel.to_string_lossy().as_bytes());
        hasher.update([0]);
        hasher.update(std::fs::read(&f).expect("readable migration file"));
        hasher.update([0]);
    }
    hasher
        .finalize()
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn quote_ident(name: &str) -> String {
    assert!(
        name.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
        "unexpected database name {name:?}"
    );
    format!("\"{name}\"")
}

/// The name of the migrated template database, creating it on first use. The result (a plain
/// string) is shared by the tests of this process; no connection outlives the call.
async fn template() -> &'static str {
    static TEMPLATE: OnceCell<String> = OnceCell::const_new();
    TEMPLATE
        .get_or_init(|| async {
            let name = format!("bookstore_tpl_{}", migrations_hash());
            let admin = pg_connect(&server_url()).await;
            // One creator at a time across processes; others wait here and then find it ready.
            admin
                .execute("SELECT pg_advisory_lock(727274002)", &[])
                .await
                .expect("advisory lock");
            let exists = admin
                .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
                .await
                .expect("query pg_database")
                .is_some();
            if !exists {
                // Build under a temporary name, rename when complete: a template that exists is
                // always fully migrated, even if a previous run died half-way.
                let building = format!("bookstore_tplbuild_{}", uuid::Uuid::new_v4().simple());
                admin
                    .batch_execute(&format!("CREATE DATABASE {}", quote_ident(&building)))
                    .await
                    .expect("create the template database");
                let url = url_for_db(&server_url(), &building);
                bookstore::db::run_migrations(&url)
                    .await
                    .expect("migrating the template database");
                admin
                    .batch_execute(&format!(
                        "ALTER DATABASE {} RENAME TO {}",
                        quote_ident(&building),
                        quote_ident(&name)
                    ))
                    .await
                    .expect("rename the template database");
            }
            admin
                .execute("SELECT pg_advisory_unlock(727274002)", &[])
                .await
                .expect("advisory unlock");
            name
        })
        .await
}

/// Creates a fresh database cloned from the template and returns its name.
pub async fn create_test_database() -> String {
    let template = template().await;
    let name = format!("bs_test_{}", uuid::Uuid::new_v4().simple());
    let admin = pg_connect(&server_url()).await;
    let sql = format!(
        "CREATE DATABASE {} TEMPLATE {}",
        quote_ident(&name),
        quote_ident(template)
    );
    // The template may be briefly busy (an autovacuum worker, another clone): retry a little.
    let mut last_error = None;
    for attempt in 0..20u64 {
        match admin.batch_execute(&sql).await {
            Ok(()) => return name,
            Err(e) => last_error = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(50 * (attempt + 1))).await;
    }
    panic!("CREATE DATABASE {name}: {last_error:?}");
}

/// Drops a test database from a fresh thread and runtime, giving up after a while.
pub fn drop_test_database(name: String) {
    let handle = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("cleanup runtime");
        rt.block_on(async move {
            let work = async {
                let (client, connection) =
                    tokio_postgres::connect(&server_url(), tokio_postgres::NoTls).await?;
                tokio::spawn(async move {
                    let _ = connection.await;
                });
                client
                    .batch_execute(&format!(
                        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                        quote_ident(&name)
                    ))
                    .await
            };
            match tokio::time::timeout(Duration::from_secs(20), work).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => eprintln!("warning: could not drop test database {name}: {e}"),
                Err(_) => eprintln!("warning: dropping test database {name} timed out"),
            }
        });
    });
    let _ = handle.join();
}

/// A response, read completely.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
    /// The body as JSON (`Value::Null` when it is empty or not JSON).
    pub body: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the status, printing the whole response when it differs.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "expected {status}, got {} with body {}",
            self.status,
            self.text
        );
        self
    }

    /// Asserts an RFC 9457 problem with this status and returns it.
    #[track_caller]
    pub fn problem(&self, status: u16) -> &Value {
        self.expect(status);
        assert_problem_shape(self);
        &self.body
    }

    /// A 400 names the bad parameter in `detail`; `errors` belongs to 422s alone.
    #[track_caller]
    pub fn assert_names_param(&self, param: &str) {
        assert!(
            self.body.get("errors").is_none(),
            "no `errors` outside 422: {}",
            self.text
        );
        let detail = self.body["detail"].as_str().unwrap_or_default();
        assert!(
            detail.contains(param),
            "detail names {param}: {}",
            self.text
        );
    }

    /// The `field`s of the problem's `errors`.
    pub fn error_fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| e["field"].as_str().unwrap_or_default().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The problem+json shape of the contract: content type, the six members with the right types,
/// `status` equal to the HTTP status, `request_id` equal to the `x-request-id` header, and
/// `errors` (when present) a list of `{field, message}`.
#[track_caller]
pub fn assert_problem_shape(r: &Resp) {
    assert_eq!(
        r.header("content-type"),
        Some("application/problem+json"),
        "problem content type: {r:?}"
    );
    let obj = r
        .body
        .as_object()
        .unwrap_or_else(|| panic!("problem body: {}", r.text));
    for key in obj.keys() {
        assert!(
            [
                "type",
                "title",
                "status",
                "detail",
                "instance",
                "request_id",
                "errors"
            ]
            .contains(&key.as_str()),
            "unexpected problem member {key}: {}",
            r.text
        );
    }
    for key in ["type", "title", "detail", "instance", "request_id"] {
        assert!(
            obj.get(key)
                .is_some_and(|v| v.as_str().is_some_and(|s| !s.is_empty())),
            "problem member {key} missing or empty: {}",
            r.text
        );
    }
    assert_eq!(obj["status"].as_u64(), Some(u64::from(r.status.as_u16())));
    assert_eq!(
        obj["request_id"].as_str(),
        r.header("x-request-id"),
        "request_id must equal the x-request-id header"
    );
    if let Some(errors) = obj.get("errors") {
        let errors = errors.as_array().expect("errors is a list");
        assert!(!errors.is_empty(), "errors is present but empty");
        for e in errors {
            assert!(e["field"].is_string() && e["message"].is_string(), "{e}");
        }
    }
}

pub struct TestApp {
    pub addr: SocketAddr,
    /// `http://127.0.0.1:<port>`
    pub base: String,
    pub client: reqwest::Client,
    pub state: AppState,
    pub db_name: String,
    pub db_url: String,
    server: tokio::task::JoinHandle<()>,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    /// Like `spawn`, with a chance to adjust the configuration first.
    pub async fn spawn_with(configure: impl FnOnce(&mut Config)) -> TestApp {
        let db_name = create_test_database().await;
        let db_url = url_for_db(&server_url(), &db_name);
        Self::serve(db_name, db_url, configure).await
    }

    /// An app on a database this harness did not make (a private cluster's): migrated here,
    /// never dropped by it.
    pub async fn spawn_on(db_url: String, configure: impl FnOnce(&mut Config)) -> TestApp {
        bookstore::db::run_migrations(&db_url)
            .await
            .expect("migrating the private database");
        Self::serve(String::new(), db_url, configure).await
    }

    /// An app on a database that is already migrated (e.g. behind PgBouncer in transaction mode,
    /// where the migration lock, a session-level advisory lock, cannot work).
    pub async fn spawn_unmigrated(db_url: String, configure: impl FnOnce(&mut Config)) -> TestApp {
        Self::serve(String::new(), db_url, configure).await
    }

    async fn serve(
        db_name: String,
        db_url: String,
        configure: impl FnOnce(&mut Config),
    ) -> TestApp {
        let mut config = Config::for_database(db_url.clone());
        configure(&mut config);
        let state = App::new(config).expect("building the app");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding a port");
        let addr = listener.local_addr().expect("local address");
        let router = bookstore::router(state.clone());
        let server = tokio::spawn(async move {
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
            .expect("serving");
        });
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("http client");
        TestApp {
            addr,
            base: format!("http://{addr}"),
            client,
            state,
            db_name,
            db_url,
            server,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn req(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, self.url(path))
    }

    pub async fn get(&self, path: &str) -> Resp {
        send(self.req(Method::GET, path)).await
    }

    pub async fn get_auth(&self, path: &str, token: &str) -> Resp {
        send(self.req(Method::GET, path).bearer_auth(token)).await
    }

    /// A JSON request with an optional bearer token.
    pub async fn json(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: &Value,
    ) -> Resp {
        let mut rb = self.req(method, path).json(body);
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        send(rb).await
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> Resp {
        self.json(Method::POST, path, Some(token), body).await
    }

    pub async fn put(&self, path: &str, token: &str, body: &Value) -> Resp {
        self.json(Method::PUT, path, Some(token), body).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: &Value) -> Resp {
        self.json(Method::PATCH, path, Some(token), body).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Resp {
        send(self.req(Method::DELETE, path).bearer_auth(token)).await
    }

    /// Creates a user directly through the service (no acting admin) with [`PASSWORD`].
    pub async fn create_user(&self, username: &str, role: Role) -> bookstore::model::User {
        self.state
            .create_user_unchecked(username, None, PASSWORD, role)
            .await
            .unwrap_or_else(|e| panic!("creating user {username}: {e}"))
    }

    /// The token pair of a password grant (JSON body), asserting success.
    pub async fn login(&self, username: &str, password: &str) -> Value {
        let r = send(self.req(Method::POST, "/v1/token").json(&json!({
            "grant_type": "password",
            "username": username,
            "password": password,
        })))
        .await;
        r.expect(200);
        r.body
    }

    /// An access token for `username` with [`PASSWORD`].
    pub async fn token(&self, username: &str) -> String {
        self.login(username, PASSWORD).await["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// A new user with this role and an access token for it.
    pub async fn user_token(&self, username: &str, role: Role) -> String {
        self.create_user(username, role).await;
        self.token(username).await
    }

    pub async fn admin_token(&self) -> String {
        self.user_token("admin", Role::Admin).await
    }

    pub async fn editor_token(&self) -> String {
        self.user_token("editor", Role::Editor).await
    }

    /// Creates an author through the API and returns it.
    pub async fn create_author(&self, token: &str, name: &str) -> Value {
        let r = self
            .post("/v1/author", token, &json!({"name": name, "bio": null}))
            .await;
        r.expect(201);
        r.body
    }

    /// Creates a book through the API and returns it.
    pub async fn create_book(&self, token: &str, book: &Value) -> Value {
        let r = self.post("/v1/book", token, book).await;
        r.expect(201);
        r.body
    }

    /// A raw connection to this test's database.
    pub async fn db(&self) -> tokio_postgres::Client {
        pg_connect(&self.db_url).await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
        if !self.db_name.is_empty() {
            drop_test_database(std::mem::take(&mut self.db_name));
        }
    }
}

/// Sends a request and reads the whole response.
pub async fn send(rb: reqwest::RequestBuilder) -> Resp {
    let res = rb.send().await.expect("sending the request");
    let status = res.status();
    let headers = res.headers().clone();
    let text = res.text().await.expect("reading the response body");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Resp {
        status,
        headers,
        text,
        body,
    }
}

/// The ISBN-13 of the data set's numbering (`978` + `n` padded to 9 digits + check digit).
pub fn isbn(n: u32) -> String {
    Isbn::from_sequence(n).into_string()
}

/// A valid book body for `POST /v1/book`.
pub fn book_body(isbn: &str, title: &str, author_ids: &[i64]) -> Value {
    json!({
        "isbn": isbn,
        "title": title,
        "category": "fiction",
        "year": 2001,
        "price_cents": 1999,
        "stock": 5,
        "author_ids": author_ids,
    })
}

/// A valid magazine body for `POST /v1/magazine`.
pub fn magazine_body(title: &str, issn: &str) -> Value {
    json!({
        "title": title,
        "issn": issn,
        "publisher": "Acme Press",
        "category": "science",
        "frequency": "monthly",
        "year": 2010,
        "price_cents": 650,
    })
}

/// `application/json` check used by several tests.
pub fn is_json(r: &Resp) -> bool {
    r.headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// The `id` of a JSON resource.
pub fn id_of(v: &Value) -> i64 {
    v["id"].as_i64().unwrap_or_else(|| panic!("no id in {v}"))
}
