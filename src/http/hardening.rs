//! Cross-cutting HTTP protections: request time-outs, CORS, security headers, and panics turned
//! into 500 problems ([`answer_panics`]). (Compression is `crate::http::compression`: tower-http's gzip, applied only
//! to requests that send `Accept-Encoding`; added in `crate::router`.)

use std::time::Duration;

use axum::response::{IntoResponse, Response};
use http::{header, HeaderName, HeaderValue, Method, StatusCode};
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::problem::Problem;
use crate::app::AppState;
use crate::config::Config;

/// A request that takes longer than `BOOKSTORE_REQUEST_TIMEOUT_MS` is answered with a 503
/// problem with `Retry-After`. Writes run to completion in their own task (`App::write`), so a
/// time-out never leaves a transaction half-done; the client just does not wait for it.
/// WebSocket upgrades are not bounded: the upgrade answers at once and the socket lives on.
/// Called by the request-context middleware around the rest of the stack (one middleware
/// instead of several: every `from_fn` layer boxes a future and a service per request).
pub async fn within_time_limit(
    app: &AppState,
    path: &str,
    response: impl std::future::Future<Output = Response>,
) -> Response {
    let limit = app.config.request_timeout;
    // The first poll runs without a timer: a cached answer is ready at once, and arming a timer
    // (a runtime handle shared by every worker thread, a clock read) for it is wasted work.
    let mut response = std::pin::pin!(response);
    if let std::task::Poll::Ready(res) = futures::poll!(response.as_mut()) {
        return res;
    }
    match tokio::time::timeout(limit, response).await {
        Ok(res) => res,
        Err(_) => {
            tracing::warn!(path = %path, timeout_ms = limit.as_millis() as u64, "request timed out");
            let mut res = Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "the request took longer than {} ms; try again later",
                    limit.as_millis()
                ),
            )
            .into_response();
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            res
        }
    }
}

/// CORS for the `BOOKSTORE_CORS_ORIGINS` allow-list; `None` (same-origin only) when it is empty.
/// A `*` entry allows any origin (credentials are never allowed: tokens travel in headers).
pub fn cors(config: &Config) -> anyhow::Result<Option<CorsLayer>> {
    if config.cors_origins.is_empty() {
        return Ok(None);
    }
    let origin = if config.cors_origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        let list = config
            .cors_origins
            .iter()
            .map(|o| {
                let o = o.trim_end_matches('/');
                HeaderValue::from_str(o)
                    .map_err(|_| anyhow::anyhow!("BOOKSTORE_CORS_ORIGINS: {o:?} is not an origin"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        AllowOrigin::list(list)
    };
    Ok(Some(
        CorsLayer::new()
            .allow_origin(origin)
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
                Method::HEAD,
            ])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::ACCEPT,
                header::IF_MATCH,
                header::IF_NONE_MATCH,
                HeaderName::from_static("accept-version"),
                HeaderName::from_static("x-request-id"),
                HeaderName::from_static("x-bookstore-read-after"),
            ])
            .expose_headers([
                header::ETAG,
                header::LOCATION,
                header::RETRY_AFTER,
                header::WWW_AUTHENTICATE,
                HeaderName::from_static("x-request-id"),
                HeaderName::from_static("x-bookstore-read-after"),
            ])
            .max_age(Duration::from_secs(3600)),
    ))
}

/// A strict policy for everything but the two HTML pages: API answers are data, never documents.
const API_CSP: &str =
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
/// Swagger UI at `/docs`: its scripts and styles come from this origin (it sets inline styles).
const DOCS_CSP: &str =
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; connect-src 'self'; font-src 'self' data:; frame-ancestors 'self'; \
     base-uri 'self'; form-action 'self'";

fn is_page(path: &str) -> bool {
    path == "/docs"
        || path.starts_with("/docs/")
        || path == "/graphiql"
        || path.starts_with("/graphiql/")
}

/// `X-Content-Type-Options`, `X-Frame-Options`, `Referrer-Policy` and a Content-Security-Policy
/// on every response. The pages `/docs` and `/graphiql` may be framed by this origin and load
/// their own scripts; a handler that sets its own CSP (GraphiQL) keeps it.
pub fn add_security_headers(path: &str, res: &mut Response) {
    // Constants, so that no header value is validated byte by byte on every response
    // (`from_static` outside a const context checks its argument at run time).
    const NOSNIFF: HeaderValue = HeaderValue::from_static("nosniff");
    const DENY: HeaderValue = HeaderValue::from_static("DENY");
    const SAMEORIGIN: HeaderValue = HeaderValue::from_static("SAMEORIGIN");
    const NO_REFERRER: HeaderValue = HeaderValue::from_static("no-referrer");
    const API_POLICY: HeaderValue = HeaderValue::from_static(API_CSP);
    const DOCS_POLICY: HeaderValue = HeaderValue::from_static(DOCS_CSP);
    let page = is_page(path);
    let h = res.headers_mut();
    h.insert(header::X_CONTENT_TYPE_OPTIONS, NOSNIFF);
    h.insert(
        header::X_FRAME_OPTIONS,
        if page { SAMEORIGIN } else { DENY },
    );
    h.insert(header::REFERRER_POLICY, NO_REFERRER);
    if let http::header::Entry::Vacant(slot) = h.entry(header::CONTENT_SECURITY_POLICY) {
        slot.insert(if page { DOCS_POLICY } else { API_POLICY });
    }
}

/// A handler that panics is answered with a 500 problem (nothing of the panic in it) instead of
/// a dropped connection; the panic is logged once, here. `futures`' `catch_unwind` around the
/// request-context middleware's inner future costs nothing until a panic (tower-http's
/// `CatchPanicLayer` would re-box every response body).
pub async fn answer_panics(response: impl std::future::Future<Output = Response>) -> Response {
    use futures::FutureExt as _;
    match std::panic::AssertUnwindSafe(response).catch_unwind().await {
        Ok(res) => res,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".to_owned());
            crate::error::AppError::internal(anyhow::anyhow!("a request handler panicked: {what}"))
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_becomes_a_500_problem_without_its_message() {
        let res = answer_panics(async {
            if true {
                panic!("secret detail of the panic");
            }
            StatusCode::OK.into_response()
        })
        .await;
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let problem = res.extensions().get::<Problem>().expect("a problem");
        assert_eq!(problem.status, 500);
        assert!(!problem.detail.contains("secret"));
    }
}
