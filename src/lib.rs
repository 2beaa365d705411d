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
pub mod repo;
pub mod seed;
pub mod server;
pub mod service;
pub mod timestamp;
pub mod tls;

pub use app::{App, AppState};

use axum::Router;

/// The whole HTTP application: REST, GraphQL, docs and operations, with the request middleware.
///
/// Layers, outermost first: gzip compression, CORS (when configured: it answers preflights
/// itself and grants every other answer, 429s included), the request context (request id,
/// problem+json, security headers, span, metrics, then the rate limits and the request time-out
/// around the rest), and the body limit. Few layers on purpose: axum applies them to every route
/// and each `from_fn` layer clones and boxes a service and a future per request.
pub fn router(state: AppState) -> Router {
    metrics::install();
    let cors = http::hardening::cors(&state.config).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "CORS disabled");
        None
    });
    let mut router = http::routes()
        .merge(graphql::routes(&state))
        .route("/metrics", axum::routing::get(metrics::endpoint))
        .layer(axum::extract::DefaultBodyLimit::max(
            state.config.body_limit_bytes,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            http::middleware::request_context,
        ));
    if let Some(cors) = cors {
        router = router.layer(cors);
    }
    router
        .layer(tower_http::compression::CompressionLayer::new().gzip(true))
        .with_state(state)
}
