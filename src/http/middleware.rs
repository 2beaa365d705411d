//! Request-wide middleware: request ids, `Accept-Version`, the request span with its SQL
//! statement count, and turning every error response into problem+json.

use std::sync::Arc;
use std::time::Instant;

use axum::{
    body::Body,
    extract::{Request, State},
    middleware::Next,
    response::Response,
};
use http::{header, HeaderName, HeaderValue, StatusCode};
use tracing::Instrument;

use super::problem::{Problem, PROBLEM_JSON};
use crate::app::AppState;
use crate::db::QueryStats;
use crate::error::AppError;

pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// A write's commit position, sent with the answer to a write when read replicas are configured;
/// a client that sends it back reads at least that position (never an older standby).
pub static X_READ_AFTER: HeaderName = HeaderName::from_static("x-bookstore-read-after");
const ACCEPT_VERSION: HeaderName = HeaderName::from_static("accept-version");

/// A client-sent id is kept when it is sane: 1..=128 of `[A-Za-z0-9._:-]`.
fn sane_request_id(v: &HeaderValue) -> Option<&str> {
    let s = v.to_str().ok()?;
    let ok = (1..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b));
    ok.then_some(s)
}

pub async fn request_context(
    State(app): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    // Counted until the answer is made, so a graceful shutdown knows when nothing is in flight.
    let _in_flight = app.shutdown.requests.enter();
    // Kept as the header value it is sent back as (a client's is shared, not copied).
    let id: HeaderValue = match req.headers().get(&X_REQUEST_ID) {
        Some(v) if sane_request_id(v).is_some() => v.clone(),
        _ => {
            let mut buf = uuid::Uuid::encode_buffer();
            let fresh = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buf);
            HeaderValue::from_str(fresh).unwrap_or_else(|_| HeaderValue::from_static("-"))
        }
    };
    let stats = Arc::new(QueryStats::default());
    // A malformed position is ignored (it can only make reads less fresh than asked, never
    // stale: the client then reads whatever a standby in rotation has).
    if let Some(lsn) = req
        .headers()
        .get(&X_READ_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(crate::db::Lsn::parse)
    {
        stats.set_read_after(lsn);
    }
    req.extensions_mut().insert(stats.clone());
    let uri = req.uri().clone();
    let path = uri.path();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .cloned();
    let span = tracing::info_span!(
        "request",
        request_id = tracing::field::Empty,
        method = %method,
        path = %path,
        client_ip = tracing::field::Empty,
        status = tracing::field::Empty,
        sql_statements = tracing::field::Empty,
        pool_wait_us = tracing::field::Empty,
        latency_ms = tracing::field::Empty,
    );
    if !span.is_disabled() {
        span.record("request_id", id.to_str().unwrap_or("-"));
    }

    let version_error = match req.headers().get(&ACCEPT_VERSION) {
        Some(v) if v.as_bytes().trim_ascii() != b"1" => Some(AppError::UnsupportedVersion {
            requested: String::from_utf8_lossy(v.as_bytes()).into_owned(),
        }),
        _ => None,
    };
    let mut res = match version_error {
        Some(e) => axum::response::IntoResponse::into_response(e),
        None => {
            async {
                match super::ratelimit::check(&app, &mut req, &span).await {
                    Err(refusal) => refusal,
                    Ok(()) => {
                        super::hardening::within_time_limit(
                            &app,
                            path,
                            super::hardening::answer_panics(next.run(req)),
                        )
                        .await
                    }
                }
            }
            .instrument(span.clone())
            .await
        }
    };
    // Room for what is added below (request id, security headers, statement count) at once.
    res.headers_mut().reserve(8);
    finish_problem(&mut res, path, &id);
    super::hardening::add_security_headers(path, &mut res);
    res.headers_mut().insert(X_REQUEST_ID.clone(), id.clone());
    if let Some(lsn) = stats.wrote() {
        if let Ok(v) = HeaderValue::from_str(&lsn.to_string()) {
            res.headers_mut().insert(X_READ_AFTER.clone(), v);
        }
    }
    if !app.config.is_production() {
        // Development aid (and what the statement-budget tests read): SQL statements this request ran.
        res.headers_mut()
            .insert("x-sql-statements", HeaderValue::from(stats.statements()));
    }
    span.record("status", res.status().as_u16());
    span.record("sql_statements", stats.statements());
    span.record("pool_wait_us", stats.pool_wait().as_micros() as u64);
    let elapsed = started.elapsed();
    span.record("latency_ms", elapsed.as_secs_f64() * 1000.0);
    crate::metrics::http_request(
        &method,
        route.as_ref().map(axum::extract::MatchedPath::as_str),
        res.status(),
        elapsed,
        stats.statements(),
    );
    span.in_scope(|| {
        if res.status().is_server_error() {
            tracing::warn!("request failed");
        } else {
            tracing::info!("request done");
        }
    });
    res
}

/// Writes the body of a [`Problem`] response, or turns a bare framework error into one.
fn finish_problem(res: &mut Response, path: &str, request_id: &HeaderValue) {
    let problem = match res.extensions_mut().remove::<Problem>() {
        Some(p) => p,
        None => {
            let status = res.status();
            if !(status.is_client_error() || status.is_server_error()) {
                return;
            }
            // Bodies that are already JSON (problem+json, `/readyz`'s status) stay as they are.
            let is_json = res.headers().get(header::CONTENT_TYPE).is_some_and(|v| {
                v.as_bytes().starts_with(b"application/") && v.as_bytes().ends_with(b"json")
            });
            if is_json {
                return;
            }
            let detail = match status {
                StatusCode::METHOD_NOT_ALLOWED => {
                    "this method is not allowed here; see the Allow header".to_owned()
                }
                StatusCode::NOT_FOUND => "no such resource".to_owned(),
                StatusCode::PAYLOAD_TOO_LARGE => "the request body is too large".to_owned(),
                s if s.is_server_error() => "internal error".to_owned(),
                s => s.canonical_reason().unwrap_or("error").to_owned(),
            };
            Problem::new(status, detail)
        }
    };
    let body = problem.into_body(path, request_id.to_str().unwrap_or("-"));
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    res.headers_mut().remove(header::CONTENT_LENGTH);
    *res.body_mut() = Body::from(body);
}
