//! The REST door: axum routers, extractors, middleware and the OpenAPI description.

pub mod authors;
pub mod books;
pub mod client_ip;
pub mod compression;
pub mod extract;
pub mod hardening;
pub mod magazines;
pub mod middleware;
pub mod openapi;
pub mod ops;
pub mod params;
pub mod problem;
pub mod ratelimit;
pub mod users;

use axum::{
    routing::{get, patch, post},
    Router,
};
use utoipa_swagger_ui::SwaggerUi;

use crate::app::AppState;
use crate::error::AppError;

/// The version 1 resource routes under `prefix`: `/v1`, and `` (the root) for header versioning.
/// Registered twice with full paths rather than through `Router::nest`, which would wrap every
/// route in a prefix-stripping service (a new URI per request, seen in the W1 profile).
fn v1_routes(prefix: &str) -> Router<AppState> {
    let at = |path: &str| format!("{prefix}{path}");
    Router::new()
        .route(&at("/token"), post(users::token))
        .route(
            &at("/user"),
            post(users::create_user)
                .get(users::get_user)
                .put(users::update_user)
                .delete(users::delete_user),
        )
        .route(&at("/author"), post(authors::create_author))
        .route(&at("/authors"), get(authors::list_authors))
        .route(
            &at("/author/{id}"),
            get(authors::get_author)
                .patch(authors::patch_author)
                .delete(authors::delete_author),
        )
        .route(&at("/author/{id}/name"), patch(authors::rename_author))
        .route(&at("/author/{id}/book"), get(authors::author_books))
        .route(
            &at("/book"),
            post(books::create_book).get(books::filter_books),
        )
        .route(&at("/books"), get(books::list_books))
        .route(
            &at("/book/{isbn}"),
            get(books::get_book)
                .put(books::replace_book)
                .delete(books::delete_book),
        )
        .route(&at("/magazine"), post(magazines::create_magazine))
        .route(&at("/magazines"), get(magazines::list_magazines))
        .route(
            &at("/magazine/{id}"),
            get(magazines::get_magazine)
                .put(magazines::replace_magazine)
                .delete(magazines::delete_magazine),
        )
}

/// REST routes, docs and operations endpoints (GraphQL is merged in by `crate::router`).
pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(v1_routes("/v1"))
        .merge(v1_routes(""))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .merge(SwaggerUi::new("/docs").url("/openapi.json", openapi::openapi()))
        .fallback(not_found)
}

async fn not_found() -> AppError {
    AppError::not_found("resource")
}

/// RFC 9211 `Cache-Status` value of how the cache served a read.
pub fn cache_status(outcome: crate::cache::Outcome) -> http::HeaderValue {
    use crate::cache::Outcome;
    use http::HeaderValue;
    // Constants: no run-time validation of the bytes on every cached read.
    const HIT: HeaderValue = HeaderValue::from_static("bookstore; hit");
    const MISS: HeaderValue = HeaderValue::from_static("bookstore; fwd=miss");
    const BYPASS: HeaderValue = HeaderValue::from_static("bookstore; fwd=bypass");
    const UNAVAILABLE: HeaderValue =
        HeaderValue::from_static("bookstore; fwd=miss; detail=unavailable");
    match outcome {
        Outcome::Hit => HIT,
        Outcome::Miss => MISS,
        Outcome::Bypass => BYPASS,
        Outcome::Unavailable => UNAVAILABLE,
    }
}
