//! A bounded load test of the bookstore API with goose: each virtual user is registered by the
//! admin (`POST /v1/user`, there is no self-service sign-up), signs in, then browses (REST lists,
//! single books, authors, a nested GraphQL query), creates books, and signs in again now and then.
//!
//! ```sh
//! CLUSTER_LIMITS=off scripts/cluster.sh up
//! cargo run --release --manifest-path loadtest/Cargo.toml -- \
//!     --host https://localhost:8443 --users 20 --increase-rate 10 --run-time 30s
//! ```
//!
//! Environment: `LOADTEST_CA` (PEM file of the CA to trust; default
//! `/tmp/bookstore-cluster/ca.crt` when it exists), `LOADTEST_ADMIN_USER` (`admin`),
//! `LOADTEST_ADMIN_PASSWORD` (default: the content of `/tmp/bookstore-cluster/admin-password`).
//! The run is bounded: without `--run-time` it stops after 30 s.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use goose::prelude::*;
use serde_json::{json, Value};

const CLUSTER_DIR: &str = "/tmp/bookstore-cluster";

static SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// Per-user state: its token, its author, the books it made.
#[derive(Clone)]
struct Session {
    username: String,
    password: String,
    token: String,
    author_id: i64,
    isbns: Vec<String>,
}

fn env_or(name: &str, default: impl FnOnce() -> Option<String>) -> Option<String> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .or_else(default)
}

fn admin_password() -> String {
    env_or("LOADTEST_ADMIN_PASSWORD", || {
        std::fs::read_to_string(format!("{CLUSTER_DIR}/admin-password"))
            .ok()
            .map(|s| s.trim().to_owned())
    })
    .expect("set LOADTEST_ADMIN_PASSWORD (or start scripts/cluster.sh, which keeps it)")
}

/// A unique number per process run and request, for usernames and ISBNs.
fn next_number() -> u64 {
    let start = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() % 100_000)
        .unwrap_or(0);
    start * 10_000 + SEQUENCE.fetch_add(1, Ordering::Relaxed)
}

/// ISBN-13 `978` + 9 digits of `n` + the check digit.
fn isbn13(n: u64) -> String {
    let body = format!("978{:09}", n % 1_000_000_000);
    let sum: u32 = body
        .bytes()
        .enumerate()
        .map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 1 } else { 3 })
        .sum();
    format!("{body}{}", (10 - sum % 10) % 10)
}

fn transaction_error(message: String) -> Box<TransactionError> {
    Box::new(TransactionError::Custom(message))
}

async fn send_json(
    user: &mut GooseUser,
    method: GooseMethod,
    path: &str,
    name: &str,
    token: Option<&str>,
    body: Option<&Value>,
    expect: u16,
) -> Result<Option<Value>, Box<TransactionError>> {
    let mut rb = user.get_request_builder(&method, path)?;
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    if let Some(b) = body {
        rb = rb.json(b);
    }
    let request = GooseRequest::builder()
        .method(method)
        .path(path)
        .name(name)
        .expect_status_code(expect)
        .set_request_builder(rb)
        .build();
    let goose = user.request(request).await?;
    match goose.response {
        Ok(res) if res.status().as_u16() == expect => Ok(res.json::<Value>().await.ok()),
        Ok(res) => {
            let status = res.status();
            let text = res.text().await.unwrap_or_default();
            Err(transaction_error(format!("{name}: {status}: {text}")))
        }
        Err(e) => Err(transaction_error(format!("{name}: {e}"))),
    }
}

async fn password_grant(
    user: &mut GooseUser,
    username: &str,
    password: &str,
) -> Result<String, Box<TransactionError>> {
    let rb = user
        .get_request_builder(&GooseMethod::Post, "/v1/token")?
        .form(&[
            ("grant_type", "password"),
            ("username", username),
            ("password", password),
        ]);
    let request = GooseRequest::builder()
        .method(GooseMethod::Post)
        .path("/v1/token")
        .name("/v1/token")
        .set_request_builder(rb)
        .build();
    let goose = user.request(request).await?;
    let res = goose
        .response
        .map_err(|e| transaction_error(format!("token: {e}")))?;
    if !res.status().is_success() {
        return Err(transaction_error(format!("token: {}", res.status())));
    }
    let body: Value = res
        .json()
        .await
        .map_err(|e| transaction_error(format!("token body: {e}")))?;
    body["access_token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| transaction_error("no access_token".into()))
}

/// On start: trust the cluster's CA, register this user through the admin, sign in, make an author.
async fn register(user: &mut GooseUser) -> TransactionResult {
    let mut builder = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .user_agent("bookstore-loadtest");
    let ca = env_or("LOADTEST_CA", || {
        let p = format!("{CLUSTER_DIR}/ca.crt");
        std::path::Path::new(&p).exists().then_some(p)
    });
    if let Some(path) = ca {
        let pem = std::fs::read(&path).map_err(|e| transaction_error(format!("{path}: {e}")))?;
        let cert = reqwest::Certificate::from_pem(&pem)
            .map_err(|e| transaction_error(format!("{path}: {e}")))?;
        builder = builder.add_root_certificate(cert);
    }
    user.set_client_builder(builder).await?;

    let admin_user = env_or("LOADTEST_ADMIN_USER", || Some("admin".into())).unwrap();
    let admin_token = password_grant(user, &admin_user, &admin_password()).await?;
    let n = next_number();
    let username = format!("load{n}");
    let password = format!("load-test-password-{n}");
    send_json(
        user,
        GooseMethod::Post,
        "/v1/user",
        "/v1/user",
        Some(&admin_token),
        Some(&json!({
            "username": username,
            "email": format!("{username}@example.com"),
            "password": password,
            "role": "editor",
        })),
        201,
    )
    .await?;
    let token = password_grant(user, &username, &password).await?;
    let author = send_json(
        user,
        GooseMethod::Post,
        "/v1/author",
        "/v1/author",
        Some(&token),
        Some(&json!({"name": format!("Load Author {n}")})),
        201,
    )
    .await?
    .unwrap_or_default();
    let author_id = author["id"]
        .as_i64()
        .ok_or_else(|| transaction_error(format!("no author id in {author}")))?;
    user.set_session_data(Session {
        username,
        password,
        token,
        author_id,
        isbns: Vec::new(),
    });
    Ok(())
}

async fn login(user: &mut GooseUser) -> TransactionResult {
    let (username, password) = {
        let s = user.get_session_data_unchecked::<Session>();
        (s.username.clone(), s.password.clone())
    };
    let token = password_grant(user, &username, &password).await?;
    user.get_session_data_unchecked_mut::<Session>().token = token;
    Ok(())
}

async fn browse_books(user: &mut GooseUser) -> TransactionResult {
    let _ = user.get_named("/v1/books?limit=20", "/v1/books").await?;
    let _ = user
        .get_named(
            "/v1/books?category=fiction&sort=year&order=desc&limit=20",
            "/v1/books (filtered)",
        )
        .await?;
    Ok(())
}

async fn browse_book(user: &mut GooseUser) -> TransactionResult {
    let isbn = {
        let s = user.get_session_data_unchecked::<Session>();
        let n = SEQUENCE.load(Ordering::Relaxed) as usize;
        (!s.isbns.is_empty()).then(|| s.isbns[n % s.isbns.len()].clone())
    };
    match isbn {
        Some(isbn) => {
            let path = format!("/v1/book/{isbn}");
            send_json(
                user,
                GooseMethod::Get,
                &path,
                "/v1/book/{isbn}",
                None,
                None,
                200,
            )
            .await?;
        }
        None => {
            let _ = user.get_named("/v1/books?limit=5", "/v1/books").await?;
        }
    }
    Ok(())
}

async fn browse_authors(user: &mut GooseUser) -> TransactionResult {
    let _ = user
        .get_named("/v1/authors?limit=20", "/v1/authors")
        .await?;
    let author_id = user.get_session_data_unchecked::<Session>().author_id;
    let path = format!("/v1/author/{author_id}/book?limit=10");
    let _ = user.get_named(&path, "/v1/author/{id}/book").await?;
    Ok(())
}

async fn graphql_books(user: &mut GooseUser) -> TransactionResult {
    let token = user.get_session_data_unchecked::<Session>().token.clone();
    let body = json!({
        "query": "{ books(first: 10) { nodes { isbn title authors { name bookCount } } } }"
    });
    let result = send_json(
        user,
        GooseMethod::Post,
        "/graphql",
        "/graphql (books)",
        Some(&token),
        Some(&body),
        200,
    )
    .await?
    .unwrap_or_default();
    if !result["errors"].is_null() {
        return Err(transaction_error(format!(
            "GraphQL errors: {}",
            result["errors"]
        )));
    }
    Ok(())
}

async fn create_book(user: &mut GooseUser) -> TransactionResult {
    let (token, author_id) = {
        let s = user.get_session_data_unchecked::<Session>();
        (s.token.clone(), s.author_id)
    };
    let isbn = isbn13(next_number());
    let body = json!({
        "isbn": isbn,
        "title": format!("Load Test Book {isbn}"),
        "category": "fiction",
        "year": 2020,
        "price_cents": 1299,
        "stock": 3,
        "author_ids": [author_id],
    });
    send_json(
        user,
        GooseMethod::Post,
        "/v1/book",
        "/v1/book",
        Some(&token),
        Some(&body),
        201,
    )
    .await?;
    let s = user.get_session_data_unchecked_mut::<Session>();
    if s.isbns.len() < 50 {
        s.isbns.push(isbn);
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), GooseError> {
    let metrics = GooseAttack::initialize()?
        .register_scenario(
            scenario!("Editor")
                .register_transaction(transaction!(register).set_on_start().set_name("register"))
                .register_transaction(
                    transaction!(browse_books)
                        .set_weight(6)?
                        .set_name("browse books"),
                )
                .register_transaction(
                    transaction!(browse_book)
                        .set_weight(6)?
                        .set_name("browse a book"),
                )
                .register_transaction(
                    transaction!(browse_authors)
                        .set_weight(2)?
                        .set_name("browse authors"),
                )
                .register_transaction(
                    transaction!(graphql_books)
                        .set_weight(3)?
                        .set_name("graphql"),
                )
                .register_transaction(transaction!(create_book).set_weight(2)?.set_name("create"))
                .register_transaction(transaction!(login).set_weight(1)?.set_name("login")),
        )
        .set_default(GooseDefault::Host, "https://localhost:8443")?
        .set_default(GooseDefault::Users, 20)?
        .set_default(GooseDefault::IncreaseRate, "10")?
        .set_default(GooseDefault::RunTime, 30)?
        .execute()
        .await?;
    let failed: usize = metrics.requests.values().map(|r| r.fail_count).sum();
    let total: usize = metrics
        .requests
        .values()
        .map(|r| r.success_count + r.fail_count)
        .sum();
    println!("bookstore-loadtest: {total} requests, {failed} failed");
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn isbn_check_digits() {
        // 978-0-306-40615-7
        assert_eq!(super::isbn13(30_640_615), "9780306406157");
    }
}
