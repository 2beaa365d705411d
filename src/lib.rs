//! Bookstore Gateway: one axum server with a REST API (`/v1/...`) and a GraphQL API (`/graphql`)
//! over one service layer and one diesel-async PostgreSQL repository.

pub mod app;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod graphql;
pub mod http;
pub mod model;
pub mod repo;
pub mod seed;
pub mod server;
pub mod service;

pub use app::{App, AppState};

use axum::Router;

/// The whole HTTP application: REST, GraphQL, docs and operations, with the request middleware.
pub fn router(state: AppState) -> Router {
    http::routes()
        .merge(graphql::routes(&state))
        .layer(axum::extract::DefaultBodyLimit::max(
            state.config.body_limit_bytes,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            http::middleware::request_context,
        ))
        .with_state(state)
}
