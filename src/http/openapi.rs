//! The OpenAPI 3.1 description, generated from the handlers' annotations.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{authors, books, magazines, ops, problem::Problem, users};
use crate::error::FieldError;
use crate::model::{Author, AuthorRef, Book, Magazine, Page, User};
use crate::service::auth::TokenPair;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Bookstore Gateway",
        version = "1",
        description = "REST API of the bookstore. Every path is also served without the `/v1` prefix when the request \
carries `Accept-Version: 1` (or no Accept-Version). Errors are RFC 9457 `application/problem+json`. Lists are keyset \
paginated: pass `next_cursor` back as `cursor`. Single-item GETs return `ETag`; writes honour `If-Match`."
    ),
    paths(
        users::token, users::create_user, users::get_user, users::update_user, users::delete_user,
        authors::create_author, authors::list_authors, authors::get_author, authors::rename_author,
        authors::patch_author, authors::delete_author, authors::author_books,
        books::create_book, books::list_books, books::filter_books, books::get_book, books::replace_book, books::delete_book,
        magazines::create_magazine, magazines::list_magazines, magazines::get_magazine,
        magazines::replace_magazine, magazines::delete_magazine,
        ops::healthz, ops::readyz,
    ),
    components(schemas(Problem, FieldError, Book, AuthorRef, Author, Magazine, User, TokenPair, Page<Book>, Page<Author>, Page<Magazine>)),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "OAuth2 password and refresh grants"),
        (name = "users"), (name = "authors"), (name = "books"), (name = "magazines"), (name = "operations"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
