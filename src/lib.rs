//! Bookstore Gateway: one axum server with a REST API (`/v1/...`) and a GraphQL API (`/graphql`)
//! over one service layer and one diesel-async PostgreSQL repository.

pub mod app;
pub mod cache;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod graphql;
pub mod http;
pub mod metrics;
pub mod model;
pub mod ratelimit;
pub mod redis_handle;
pub mod repo;
pub mod seed;
pub mod server;
pub mod service;
pub mod timestamp;
pub mod tls;

pub use app::{App, AppState};

use std::convert::Infallible;
use std::future::Future;

use axum::{extract::Request, response::Response};

/// The whole HTTP application: REST, GraphQL, docs and operations, with the request middleware.
///
/// Outermost, around the whole router (once per request, not once per route): gzip compression,
/// CORS (when configured: it answers preflights itself and grants every other answer, 429s
/// included) and the body limit. Inside, applied per route because it needs the matched route
/// template: the request context (request id, problem+json, security headers, span, metrics,
/// then the rate limits, the request time-out and the panic catcher around the rest). One per-route layer on
/// purpose: axum clones and boxes a per-route layer's service and future for every request.
///
/// The result is what `axum::serve` takes, through
/// `axum::ServiceExt::into_make_service_with_connect_info`.
pub fn router(
    state: AppState,
) -> impl tower::Service<
    Request,
    Response = Response,
    Error = Infallible,
    Future: Future<Output = Result<Response, Infallible>> + Send + 'static,
> + Clone
       + Send
       + Sync
       + 'static {
    metrics::install();
    let cors = http::hardening::cors(&state.config).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "CORS disabled");
        None
    });
    let body_limit = state.config.body_limit_bytes;
    let router = http::routes()
        .merge(graphql::routes(&state))
        .route("/metrics", axum::routing::get(http::ops::metrics))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            http::middleware::request_context,
        ))
        .with_state(state);
    tower::ServiceBuilder::new()
        .layer(http::compression::GzipLayer)
        .option_layer(cors)
        .layer(axum::extract::DefaultBodyLimit::max(body_limit))
        .service(router)
}
