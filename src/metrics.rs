//! Prometheus metrics at `GET /metrics` (text format), through the `metrics` facade.
//!
//! | metric | type | labels |
//! | --- | --- | --- |
//! | `bookstore_http_requests_total` | counter | `method`, `route` (the route template, e.g. `/v1/book/{isbn}`; `unmatched` for no route), `status` |
//! | `bookstore_http_request_duration_seconds` | histogram | `method`, `route`, `status` |
//! | `bookstore_sql_statements_per_request` | histogram | `route` |
//! | `bookstore_graphql_operations_total` | counter | `type` (`query`, `mutation`, `subscription`) |
//! | `bookstore_db_pool_size`, `..._available`, `..._waiting`, `..._max_size` | gauges, read at scrape time | |
//! | `bookstore_db_reads_total` | counter | `target` (`primary`, `replica`, `replica_failed`: a standby read that failed and ran again on the primary) |
//! | `bookstore_db_replica_up` | gauge, read at scrape time: 1 in rotation, 0 out | `replica` (its URL without password) |
//! | `bookstore_db_replica_lag_seconds` | gauge, read at scrape time | `replica` |
//! | `bookstore_db_replica_pool_size`, `..._available`, `..._waiting` | gauges, read at scrape time | `replica` |
//! | `bookstore_rate_limited_total` | counter | `scope` (`ip`, `user`, `login`, `login_ip`) |
//! | `bookstore_rate_limit_redis_errors_total` | counter | |
//! | `bookstore_redis_errors_total` | counter | |
//! | `bookstore_cache_events_total` | counter | `kind`, `outcome` (see [`cache_event`]) |
//!
//! The recorder is installed once per process ([`install`], behind a `OnceLock`), so many apps in
//! one test process share it. Every function here is safe to call before or without it: the
//! `metrics` macros do nothing while no recorder is installed.

use rustc_hash::FxHashMap;
use std::cell::RefCell;
use std::sync::OnceLock;
use std::time::Duration;

use async_graphql::parser::types::OperationType;
use http::{Method, StatusCode};
use metrics::{counter, gauge, histogram, Counter, Histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
const STATEMENT_BUCKETS: &[f64] = &[
    0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 8.0, 13.0, 21.0, 34.0, 55.0, 89.0,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide Prometheus recorder on first call; later calls return the same
/// handle. `None` when another recorder was installed first (then `/metrics` is empty).
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("bookstore_http_request_duration_seconds".into()),
                    LATENCY_BUCKETS,
                )
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("bookstore_sql_statements_per_request".into()),
                        STATEMENT_BUCKETS,
                    )
                });
            let installed = builder.map_err(|e| e.to_string()).and_then(|b| {
                b.install_recorder().map_err(|e| e.to_string())
            });
            match installed {
                Ok(handle) => {
                    describe();
                    Some(handle)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "metrics recorder not installed: /metrics stays empty");
                    None
                }
            }
        })
        .as_ref()
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(
        "bookstore_http_requests_total",
        "HTTP requests by route template and status"
    );
    describe_histogram!(
        "bookstore_http_request_duration_seconds",
        Unit::Seconds,
        "HTTP request latency by route template and status"
    );
    describe_histogram!(
        "bookstore_sql_statements_per_request",
        "SQL statements one HTTP request ran"
    );
    describe_counter!(
        "bookstore_graphql_operations_total",
        "GraphQL operations by type"
    );
    describe_gauge!(
        "bookstore_db_pool_size",
        "open PostgreSQL connections in the pool"
    );
    describe_gauge!(
        "bookstore_db_pool_available",
        "idle PostgreSQL connections in the pool"
    );
    describe_gauge!(
        "bookstore_db_pool_waiting",
        "requests waiting for a PostgreSQL connection"
    );
    describe_gauge!("bookstore_db_pool_max_size", "the pool's connection limit");
    describe_counter!(
        "bookstore_rate_limited_total",
        "requests refused by a rate limit, by scope"
    );
    describe_counter!(
        "bookstore_rate_limit_redis_errors_total",
        "rate-limit checks Redis could not answer (the in-process limiter decided)"
    );
    describe_counter!(
        "bookstore_redis_errors_total",
        "Redis calls that failed or timed out (each opens the shared circuit breaker)"
    );
    describe_counter!(
        "bookstore_cache_events_total",
        "cache events by kind and outcome"
    );
}

/// Drains histogram buffers every few seconds, so memory stays flat between scrapes. Call once
/// from the server (tests do without it: rendering drains too).
pub fn spawn_upkeep() {
    if let Some(handle) = install() {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            loop {
                tick.tick().await;
                handle.run_upkeep();
            }
        });
    }
}

/// A cache event, e.g. `cache_event("book", "hit")`: increments
/// `bookstore_cache_events_total{kind, outcome}`. Free to call without a recorder.
pub fn cache_event(kind: &'static str, outcome: &'static str) {
    if !recorder_installed() {
        return counter!("bookstore_cache_events_total", "kind" => kind, "outcome" => outcome)
            .increment(1);
    }
    CACHE_EVENTS.with_borrow_mut(|series| {
        series
            .entry((kind, outcome))
            .or_insert_with(
                || counter!("bookstore_cache_events_total", "kind" => kind, "outcome" => outcome),
            )
            .increment(1)
    });
}

/// Whether our recorder is installed: only then may a series handle be kept (a handle taken
/// before would stay a no-op for ever).
fn recorder_installed() -> bool {
    matches!(HANDLE.get(), Some(Some(_)))
}

/// The handles of one request series (method, route template, status).
struct RequestSeries {
    method: &'static str,
    status: u16,
    requests: Counter,
    duration: Histogram,
    statements: Histogram,
}

// Series handles, looked up once per worker thread: registering a labelled series on every
// request (key building, label clones, a registry lookup) cost ~5 % of the CPU of a cached
// `GET /v1/book/{isbn}` in a profile. Labels are bounded (route templates, methods, statuses),
// and so are these maps (Fx-hashed: the keys are ours, not the client's, and SipHash of the
// route on every request showed in the profile).
thread_local! {
    static REQUEST_SERIES: RefCell<FxHashMap<Box<str>, Vec<RequestSeries>>> =
        RefCell::new(FxHashMap::default());
    static CACHE_EVENTS: RefCell<FxHashMap<(&'static str, &'static str), Counter>> =
        RefCell::new(FxHashMap::default());
}

/// A request refused by the rate limiter.
pub fn rate_limited(scope: &'static str) {
    counter!("bookstore_rate_limited_total", "scope" => scope).increment(1);
}

/// Redis could not answer a rate-limit check.
pub fn rate_limit_redis_error() {
    counter!("bookstore_rate_limit_redis_errors_total").increment(1);
}

/// A Redis call failed or timed out (any feature).
/// One read ran on `target` (`primary`, `replica`, or `replica_failed`).
pub fn db_read(target: &'static str) {
    counter!("bookstore_db_reads_total", "target" => target).increment(1);
}

pub fn redis_error() {
    counter!("bookstore_redis_errors_total").increment(1);
}

/// One GraphQL operation of this type (`query`, `mutation`, `subscription`).
pub fn graphql_operation(ty: OperationType) {
    let kind = match ty {
        OperationType::Query => "query",
        OperationType::Mutation => "mutation",
        OperationType::Subscription => "subscription",
    };
    counter!("bookstore_graphql_operations_total", "type" => kind).increment(1);
}

/// One finished HTTP request. `route` is the route template (axum's `MatchedPath`), never the
/// raw path, so the number of series stays bounded.
pub fn http_request(
    method: &Method,
    route: Option<&str>,
    status: StatusCode,
    latency: Duration,
    sql_statements: u64,
) {
    let method = method_label(method);
    let route = route.unwrap_or("unmatched");
    let status = status.as_u16();
    let record = |series: &RequestSeries| {
        series.requests.increment(1);
        series.duration.record(latency.as_secs_f64());
        series.statements.record(sql_statements as f64);
    };
    if !recorder_installed() {
        return record(&request_series(method, route, status));
    }
    REQUEST_SERIES.with_borrow_mut(|by_route| {
        let of_route = match by_route.get_mut(route) {
            Some(v) => v,
            None => by_route.entry(route.into()).or_default(),
        };
        match of_route
            .iter()
            .find(|s| s.method == method && s.status == status)
        {
            Some(series) => record(series),
            None => {
                let series = request_series(method, route, status);
                record(&series);
                of_route.push(series);
            }
        }
    });
}

fn request_series(method: &'static str, route: &str, status: u16) -> RequestSeries {
    let route = route.to_owned();
    let status_label = status.to_string();
    RequestSeries {
        method,
        status,
        requests: counter!(
            "bookstore_http_requests_total",
            "method" => method,
            "route" => route.clone(),
            "status" => status_label.clone()
        ),
        duration: histogram!(
            "bookstore_http_request_duration_seconds",
            "method" => method,
            "route" => route.clone(),
            "status" => status_label
        ),
        statements: histogram!("bookstore_sql_statements_per_request", "route" => route),
    }
}

/// Bounded method labels: anything unusual is `other`.
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Sets the pool gauges from `status` (read at scrape time) and renders every metric in the
/// Prometheus text format.
pub fn render(status: deadpool::Status) -> String {
    gauge!("bookstore_db_pool_size").set(status.size as f64);
    gauge!("bookstore_db_pool_available").set(status.available as f64);
    gauge!("bookstore_db_pool_waiting").set(status.waiting as f64);
    gauge!("bookstore_db_pool_max_size").set(status.max_size as f64);
    install().map(PrometheusHandle::render).unwrap_or_default()
}
