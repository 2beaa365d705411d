//! Rate limits: per client IP (X-Forwarded-For only from trusted proxies), per user, the login
//! budget shared by REST and GraphQL, Redis-backed limits shared by replicas, and the in-process
//! fallback when Redis is down.

use std::time::Duration;

use bookstore::config::{Config, RateQuota};
use bookstore::domain::Role;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{send, Resp, TestApp, PASSWORD};

fn per_min(count: u32, burst: u32) -> RateQuota {
    RateQuota::new(count, Duration::from_secs(60), burst)
}

/// Rate limiting on, generous everywhere except what `tune` sets; 127.0.0.1 is a trusted proxy
/// so each test can play several clients with `X-Forwarded-For`.
async fn limited_app(tune: impl FnOnce(&mut Config)) -> TestApp {
    TestApp::spawn_with(|c| {
        c.rate_limit_enabled = true;
        c.rate_limits.ip = per_min(10_000, 10_000);
        c.rate_limits.user = per_min(10_000, 10_000);
        c.rate_limits.login = per_min(10_000, 10_000);
        c.rate_limits.login_ip = per_min(10_000, 10_000);
        c.trusted_proxies = vec!["127.0.0.1".into()];
        tune(c);
    })
    .await
}

async fn get_from(app: &TestApp, path: &str, client: &str) -> Resp {
    send(app.req(Method::GET, path).header("x-forwarded-for", client)).await
}

#[track_caller]
fn assert_429(r: &Resp) -> u64 {
    r.problem(429);
    let secs: u64 = r
        .header("retry-after")
        .unwrap_or_else(|| panic!("no Retry-After: {r:?}"))
        .parse()
        .expect("Retry-After in seconds");
    assert!(secs >= 1, "{r:?}");
    secs
}

async fn password_grant(app: &TestApp, path: &str, username: &str, password: &str) -> Resp {
    let mut rb = app.req(Method::POST, path).form(&[
        ("grant_type", "password"),
        ("username", username),
        ("password", password),
    ]);
    if !path.starts_with("/v1") {
        rb = rb.header("accept-version", "1");
    }
    send(rb).await
}

async fn graphql_login(app: &TestApp, username: &str, password: &str) -> Resp {
    send(app.req(Method::POST, "/graphql").json(&json!({
        "query": "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { accessToken } }",
        "variables": {"u": username, "p": password},
    })))
    .await
}

fn gql_code(r: &Resp) -> Option<&str> {
    r.body["errors"][0]["extensions"]["code"].as_str()
}

#[tokio::test]
async fn the_general_limit_is_per_client_ip_with_a_429_problem_and_retry_after() {
    let app = limited_app(|c| c.rate_limits.ip = per_min(1, 3)).await;
    for _ in 0..3 {
        get_from(&app, "/v1/books", "203.0.113.1").await.expect(200);
    }
    let r = get_from(&app, "/v1/books", "203.0.113.1").await;
    let secs = assert_429(&r);
    assert!(secs <= 60, "{secs}");
    // GraphQL is behind the same limit.
    let r = send(
        app.req(Method::POST, "/graphql")
            .header("x-forwarded-for", "203.0.113.1")
            .json(&json!({"query": "{ books { nodes { isbn } } }"})),
    )
    .await;
    assert_429(&r);
    // Another client has its own budget; probes are never limited.
    get_from(&app, "/v1/books", "203.0.113.2").await.expect(200);
    for _ in 0..5 {
        get_from(&app, "/healthz", "203.0.113.1").await.expect(200);
    }
}

#[tokio::test]
async fn forwarded_for_from_an_untrusted_peer_is_ignored() {
    let app = limited_app(|c| {
        c.rate_limits.ip = per_min(1, 2);
        c.trusted_proxies = vec!["10.0.0.0/8".into()];
    })
    .await;
    // The peer (127.0.0.1) is not trusted: spoofed addresses do not buy a fresh budget.
    get_from(&app, "/v1/books", "198.51.100.1")
        .await
        .expect(200);
    get_from(&app, "/v1/books", "198.51.100.2")
        .await
        .expect(200);
    assert_429(&get_from(&app, "/v1/books", "198.51.100.3").await);
}

#[tokio::test]
async fn the_right_most_untrusted_hop_is_the_client() {
    let app = limited_app(|c| c.rate_limits.ip = per_min(1, 1)).await;
    // A client cannot escape its budget by prepending addresses: the proxy appends the real one.
    get_from(&app, "/v1/books", "1.1.1.1, 203.0.113.50")
        .await
        .expect(200);
    assert_429(&get_from(&app, "/v1/books", "2.2.2.2, 203.0.113.50").await);
}

#[tokio::test]
async fn token_holders_are_limited_per_user() {
    let app = limited_app(|c| c.rate_limits.user = per_min(1, 3)).await;
    let token = app.user_token("reader", Role::Editor).await;
    let mut statuses = Vec::new();
    for i in 0..4 {
        // Different client addresses: the user budget follows the token, not the address.
        let r = send(
            app.req(Method::GET, "/v1/user")
                .bearer_auth(&token)
                .header("x-forwarded-for", format!("203.0.113.{}", 10 + i)),
        )
        .await;
        statuses.push(r.status.as_u16());
        if r.status == 429 {
            assert_429(&r);
        }
    }
    assert_eq!(statuses, vec![200, 200, 200, 429]);
    // Anonymous requests are not charged to that user.
    get_from(&app, "/v1/books", "203.0.113.10")
        .await
        .expect(200);
}

#[tokio::test]
async fn the_login_limit_is_shared_by_rest_header_versioning_and_graphql() {
    let app = limited_app(|c| c.rate_limits.login = per_min(1, 3)).await;
    app.create_user("victim", Role::Editor).await;
    password_grant(&app, "/v1/token", "victim", "wrong password 1")
        .await
        .problem(401);
    password_grant(&app, "/token", "victim", "wrong password 2")
        .await
        .problem(401);
    let r = graphql_login(&app, "victim", "wrong password 3").await;
    assert_eq!(gql_code(&r), Some("UNAUTHENTICATED"), "{r:?}");
    // The budget of this IP + username is spent, whichever door is used, even with the right
    // password (and the username's case does not matter).
    assert_429(&password_grant(&app, "/v1/token", "victim", PASSWORD).await);
    assert_429(&password_grant(&app, "/token", "VICTIM", PASSWORD).await);
    let r = graphql_login(&app, "victim", PASSWORD).await;
    assert_eq!(gql_code(&r), Some("RATE_LIMITED"), "{r:?}");
    assert!(
        r.body["errors"][0]["extensions"]["retryAfter"]
            .as_u64()
            .unwrap()
            >= 1
    );
    assert!(r.header("retry-after").is_some(), "{r:?}");
    assert_eq!(r.body["data"], Value::Null);
    // Other users from the same address can still sign in.
    app.create_user("bystander", Role::Editor).await;
    password_grant(&app, "/v1/token", "bystander", PASSWORD)
        .await
        .expect(200);
}

#[tokio::test]
async fn the_login_limit_per_ip_stops_username_rotation() {
    let app = limited_app(|c| c.rate_limits.login_ip = per_min(1, 3)).await;
    for i in 0..3 {
        password_grant(&app, "/v1/token", &format!("nobody{i}"), "guess")
            .await
            .problem(401);
    }
    assert_429(&password_grant(&app, "/v1/token", "nobody9", "guess").await);
    let r = graphql_login(&app, "nobody10", "guess").await;
    assert_eq!(gql_code(&r), Some("RATE_LIMITED"), "{r:?}");
}

#[tokio::test]
async fn rate_limit_off_never_limits() {
    let app = limited_app(|c| {
        c.rate_limit_enabled = false;
        c.rate_limits.ip = per_min(1, 1);
        c.rate_limits.login = per_min(1, 1);
    })
    .await;
    app.create_user("someone", Role::Editor).await;
    for _ in 0..5 {
        get_from(&app, "/v1/books", "203.0.113.1").await.expect(200);
        password_grant(&app, "/v1/token", "someone", PASSWORD)
            .await
            .expect(200);
    }
}

fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "redis://127.0.0.1:6379".to_owned())
}

#[tokio::test]
async fn replicas_share_limits_through_redis() {
    let prefix = format!("bookstore:test:{}:", uuid::Uuid::new_v4().simple());
    let tune = |c: &mut Config| {
        c.redis_url = Some(redis_url());
        c.rate_limits.ip = per_min(1, 4);
        c.rate_limits.redis_prefix = prefix.clone();
    };
    let a = limited_app(tune).await;
    let b = limited_app(tune).await;
    for app in [&a, &b, &a, &b] {
        get_from(app, "/v1/books", "203.0.113.77").await.expect(200);
    }
    // The budget of 4 was spent across both processes.
    assert_429(&get_from(&a, "/v1/books", "203.0.113.77").await);
    assert_429(&get_from(&b, "/v1/books", "203.0.113.77").await);
    // The state lives in Redis under the prefix.
    let client = redis::Client::open(redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(keys, vec![format!("{prefix}ip:203.0.113.77")]);
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&keys[0])
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(ttl > 0, "keys expire: {ttl}");
}

#[tokio::test]
async fn a_redis_outage_falls_back_to_in_process_limits() {
    // Nothing listens on port 1: every Redis call fails at once.
    let app = limited_app(|c| {
        c.redis_url = Some("redis://127.0.0.1:1".into());
        c.rate_limits.ip = per_min(1, 3);
    })
    .await;
    for _ in 0..3 {
        get_from(&app, "/v1/books", "203.0.113.5").await.expect(200);
    }
    assert_429(&get_from(&app, "/v1/books", "203.0.113.5").await);
    get_from(&app, "/v1/books", "203.0.113.6").await.expect(200);
}

#[tokio::test]
async fn a_refusal_carries_the_cors_grant_and_the_request_id() {
    let app = limited_app(|c| {
        c.rate_limits.ip = per_min(2, 2);
        c.cors_origins = vec!["https://shop.example".into()];
    })
    .await;
    let from_shop = || {
        send(
            app.req(Method::GET, "/v1/books")
                .header("x-forwarded-for", "203.0.113.77")
                .header("origin", "https://shop.example"),
        )
    };
    for _ in 0..2 {
        from_shop().await.expect(200);
    }
    let r = from_shop().await;
    assert_429(&r);
    // A browser script can read the 429 (and its Retry-After) only with the CORS grant.
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://shop.example"),
        "{r:?}"
    );
    assert!(r.header("x-request-id").is_some(), "{r:?}");
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
}
