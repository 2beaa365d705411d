//! The REST door: axum routers, extractors, middleware and the OpenAPI description.

pub mod authors;
pub mod books;
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

/// The `/v1` resource routes (mounted at `/v1` and, for header versioning, at `/`).
fn v1_routes() -> Router<AppState> {
    Router::new()
        .route("/token", post(users::token))
        .route(
            "/user",
            post(users::create_user)
                .get(users::get_user)
                .put(users::update_user)
                .delete(users::delete_user),
        )
        .route("/author", post(authors::create_author))
        .route("/authors", get(authors::list_authors))
        .route(
            "/author/{id}",
            get(authors::get_author)
                .patch(authors::patch_author)
                .delete(authors::delete_author),
        )
        .route("/author/{id}/name", patch(authors::rename_author))
        .route("/author/{id}/book", get(authors::author_books))
        .route("/book", post(books::create_book).get(books::filter_books))
        .route("/books", get(books::list_books))
        .route(
            "/book/{isbn}",
            get(books::get_book)
                .put(books::replace_book)
                .delete(books::delete_book),
        )
        .route("/magazine", post(magazines::create_magazine))
        .route("/magazines", get(magazines::list_magazines))
        .route(
            "/magazine/{id}",
            get(magazines::get_magazine)
                .put(magazines::replace_magazine)
                .delete(magazines::delete_magazine),
        )
}

/// REST routes, docs and operations endpoints (GraphQL is merged in by `crate::router`).
pub fn routes() -> Router<AppState> {
    Router::new()
        .nest("/v1", v1_routes())
        .merge(v1_routes())
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .merge(SwaggerUi::new("/docs").url("/openapi.json", openapi::openapi()))
        .fallback(not_found)
}

async fn not_found() -> AppError {
    AppError::not_found("resource")
}
