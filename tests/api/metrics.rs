//! `/metrics`: Prometheus text with per-route request counts and latencies (route templates, not
//! raw paths), SQL statements per request, GraphQL operations, pool gauges, rate-limit
//! rejections, and the cache-event API other modules call.
//!
//! The recorder is process-wide and the tests of this binary run in parallel, so the assertions
//! look for series and lower bounds, never exact totals.

use std::time::Duration;

use bookstore::config::RateQuota;
use reqwest::Method;
use serde_json::json;

use crate::helpers::{isbn, send, TestApp};

/// The value of the series whose line starts with `series` (name and labels as rendered).
fn value_of(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

async fn scrape(app: &TestApp) -> String {
    let r = app.get("/metrics").await;
    r.expect(200);
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("text/plain")),
        "{r:?}"
    );
    r.text
}

#[tokio::test]
async fn requests_are_counted_by_route_template_and_status() {
    let app = TestApp::spawn().await;
    let missing = isbn(424_242);
    for _ in 0..3 {
        app.get(&format!("/v1/book/{missing}")).await.expect(404);
    }
    app.get("/v1/books?limit=5").await.expect(200);
    let text = scrape(&app).await;
    let series =
        r#"bookstore_http_requests_total{method="GET",route="/v1/book/{isbn}",status="404"}"#;
    assert!(
        value_of(&text, series).is_some_and(|v| v >= 3.0),
        "{series} missing in\n{text}"
    );
    assert!(!text.contains(&missing), "raw paths must not become labels");
    assert!(text.contains(
        r#"bookstore_http_request_duration_seconds_bucket{method="GET",route="/v1/books",status="200",le="0.1"}"#
    ), "{text}");
    assert!(text.contains("# TYPE bookstore_http_request_duration_seconds histogram"));
    // SQL statements per request, by route.
    let count = value_of(
        &text,
        r#"bookstore_sql_statements_per_request_count{route="/v1/books"}"#,
    );
    assert!(count.is_some_and(|c| c >= 1.0), "{text}");
    let sum = value_of(
        &text,
        r#"bookstore_sql_statements_per_request_sum{route="/v1/books"}"#,
    );
    assert!(sum.is_some_and(|s| s >= 1.0), "a list runs SQL: {text}");
    // Unknown paths are one series, not one per path.
    app.get("/no/such/thing/123").await.expect(404);
    let text = scrape(&app).await;
    assert!(
        text.contains(r#"route="unmatched""#) && !text.contains("/no/such/thing"),
        "{text}"
    );
}

#[tokio::test]
async fn pool_gauges_are_read_at_scrape_time() {
    let app = TestApp::spawn().await;
    app.get("/v1/books").await.expect(200);
    let text = scrape(&app).await;
    for gauge in [
        "bookstore_db_pool_size",
        "bookstore_db_pool_available",
        "bookstore_db_pool_waiting",
        "bookstore_db_pool_max_size",
    ] {
        assert!(value_of(&text, gauge).is_some(), "{gauge} in\n{text}");
    }
}

#[tokio::test]
async fn graphql_operations_are_counted_by_type() {
    let app = TestApp::spawn().await;
    let before = scrape(&app).await;
    let queries =
        |t: &str| value_of(t, r#"bookstore_graphql_operations_total{type="query"}"#).unwrap_or(0.0);
    let mutations = |t: &str| {
        value_of(t, r#"bookstore_graphql_operations_total{type="mutation"}"#).unwrap_or(0.0)
    };
    for _ in 0..2 {
        send(
            app.req(Method::POST, "/graphql")
                .json(&json!({"query": "{ books(first: 1) { nodes { isbn } } }"})),
        )
        .await
        .expect(200);
    }
    // Named operations: the one chosen by operationName is counted.
    send(app.req(Method::POST, "/graphql").json(&json!({
        "query": "query A { me { id } } mutation B { login(username: \"x\", password: \"y\") { accessToken } }",
        "operationName": "B",
    })))
    .await
    .expect(200);
    let after = scrape(&app).await;
    assert!(queries(&after) >= queries(&before) + 2.0, "{after}");
    assert!(mutations(&after) >= mutations(&before) + 1.0, "{after}");
}

#[tokio::test]
async fn rate_limit_rejections_are_counted() {
    let app = TestApp::spawn_with(|c| {
        c.rate_limit_enabled = true;
        c.rate_limits.ip = RateQuota::new(1, Duration::from_secs(60), 1);
        c.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;
    let get = |client: &'static str| {
        send(
            app.req(Method::GET, "/v1/books")
                .header("x-forwarded-for", client),
        )
    };
    get("203.0.113.200").await.expect(200);
    get("203.0.113.200").await.expect(429);
    // /metrics itself is exempt from the limit.
    let text = scrape(&app).await;
    assert!(
        value_of(&text, r#"bookstore_rate_limited_total{scope="ip"}"#).is_some_and(|v| v >= 1.0),
        "{text}"
    );
    assert!(text
        .contains(r#"bookstore_http_requests_total{method="GET",route="/v1/books",status="429"}"#));
}

#[tokio::test]
async fn cache_events_can_be_recorded_by_other_modules() {
    let app = TestApp::spawn().await;
    bookstore::metrics::cache_event("metrics_test", "hit");
    bookstore::metrics::cache_event("metrics_test", "hit");
    bookstore::metrics::cache_event("metrics_test", "miss");
    let text = scrape(&app).await;
    assert_eq!(
        value_of(
            &text,
            r#"bookstore_cache_events_total{kind="metrics_test",outcome="hit"}"#
        ),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        value_of(
            &text,
            r#"bookstore_cache_events_total{kind="metrics_test",outcome="miss"}"#
        ),
        Some(1.0)
    );
}
