//! REST: books.

use axum::{
    extract::{Path, State},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde::Deserialize;
use utoipa::IntoParams;

use super::extract::{etag, if_match, if_none_match, Auth, IfNoneMatch, JsonInput, Params};
use super::{params, problem::Problem};
use crate::app::AppState;
use crate::domain::{BookSort, Category, SortOrder};
use crate::error::AppError;
use crate::model::{Book, Page};
use crate::service::books::BookFilter;
use crate::service::cached::CachedJson;
use crate::service::input::{BookInput, BookUpdate};
use crate::service::{books::isbn_param, books::BookListArgs, PageArgs};
use http::{HeaderName, HeaderValue};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BooksQuery {
    #[param(value_type = Option<Category>)]
    category: Option<String>,
    /// Publication year
    #[param(value_type = Option<i32>)]
    year: Option<String>,
    /// Only books by this author
    #[param(value_type = Option<i64>, minimum = 1)]
    author_id: Option<String>,
    /// Case-insensitive title substring (at most 200 characters)
    q: Option<String>,
    /// Sort field (default isbn)
    #[param(value_type = Option<BookSort>)]
    sort: Option<String>,
    /// asc (default) or desc
    #[param(value_type = Option<SortOrder>)]
    order: Option<String>,
    /// Page size (default 20)
    #[param(value_type = Option<i32>)]
    limit: Option<String>,
    /// `next_cursor` of the previous page
    cursor: Option<String>,
}

/// A single cached resource: its JSON bytes as stored, `ETag` (its version), `Cache-Control`
/// (clients may keep it but must revalidate, so no one reads it stale after a write), RFC 9211
/// `Cache-Status`, or 304 when the client's copy is current.
pub fn cached_entity(condition: &IfNoneMatch, entity: CachedJson) -> Response {
    // Built by hand rather than from tuples: one header map sized for everything this response
    // will carry (these, `Content-Length`, the request context's security headers and request
    // id), so that it never grows on the hottest path.
    let not_modified = if_none_match(condition, entity.version);
    let mut res = if not_modified {
        let mut res = Response::new(axum::body::Body::empty());
        *res.status_mut() = StatusCode::NOT_MODIFIED;
        res
    } else {
        Response::new(axum::body::Body::from(entity.json))
    };
    let headers = res.headers_mut();
    headers.reserve(RESPONSE_HEADERS);
    if !not_modified {
        headers.insert(header::CONTENT_TYPE, APPLICATION_JSON);
    }
    headers.insert(header::ETAG, etag(entity.version));
    headers.insert(header::CACHE_CONTROL, REVALIDATE);
    headers.insert(CACHE_STATUS, super::cache_status(entity.outcome));
    res
}

// Constants: `from_static` outside a const context validates its bytes on every call.
const APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");
/// Clients may keep a copy but must revalidate it, so no one reads it stale after a write. Sent
/// on every public read (single resources and lists).
pub const REVALIDATE: HeaderValue = HeaderValue::from_static("public, no-cache");
const CACHE_STATUS: HeaderName = HeaderName::from_static("cache-status");

/// Headers a cached read ends up with (see [`cached_entity`]).
const RESPONSE_HEADERS: usize = 12;

/// A public list page: clients may keep it but must revalidate (like single resources).
pub fn public_page<T: serde::Serialize>(page: T) -> Response {
    ([(header::CACHE_CONTROL, REVALIDATE)], Json(page)).into_response()
}

pub fn created<T: serde::Serialize>(location: String, version: i32, body: &T) -> Response {
    let mut res = (
        StatusCode::CREATED,
        [(header::ETAG, etag(version))],
        Json(body),
    )
        .into_response();
    if let Ok(v) = location.parse() {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}

#[utoipa::path(get, path = "/v1/books", tag = "books", params(BooksQuery),
    responses((status = 200, description = "A page of books", body = Page<Book>),
              (status = 400, description = "Bad query parameter", body = Problem)))]
pub async fn list_books(
    State(app): State<AppState>,
    Auth(ctx): Auth,
    Params(q): Params<BooksQuery>,
) -> Result<Response, AppError> {
    let args = BookListArgs {
        filter: BookFilter {
            category: params::category("category", &q.category)?,
            year: params::int32("year", &q.year)?,
            author_id: params::id("author_id", &q.author_id)?,
            title_contains: q.q,
        },
        sort: params::book_sort("sort", &q.sort)?,
        order: params::order("order", &q.order)?,
    };
    let page = PageArgs::rest(params::int("limit", &q.limit)?, q.cursor);
    let page = app.list_books_shared(&ctx, &args, &page).await?;
    // The shared page's JSON, rendered once per cached page.
    let body = page.json().map_err(AppError::internal)?;
    Ok((
        [
            (header::CONTENT_TYPE, APPLICATION_JSON),
            (header::CACHE_CONTROL, REVALIDATE),
        ],
        body,
    )
        .into_response())
}

#[utoipa::path(get, path = "/v1/book", tag = "books", params(BooksQuery),
    responses((status = 200, description = "The seed's filter form (?category= and/or ?year=): same answer as /v1/books", body = Page<Book>),
              (status = 400, description = "Bad query parameter", body = Problem)))]
pub async fn filter_books(
    state: State<AppState>,
    auth: Auth,
    q: Params<BooksQuery>,
) -> Result<Response, AppError> {
    list_books(state, auth, q).await
}

#[utoipa::path(get, path = "/v1/book/{isbn}", tag = "books",
    params(("isbn" = String, Path, description = "ISBN-13 or ISBN-10, hyphens allowed")),
    responses((status = 200, description = "The book; `ETag` is its version", body = Book),
              (status = 304, description = "Not modified (If-None-Match)"),
              (status = 400, description = "Not an ISBN", body = Problem),
              (status = 404, description = "No such book", body = Problem)))]
pub async fn get_book(
    State(app): State<AppState>,
    Auth(ctx): Auth,
    Path(isbn): Path<String>,
    condition: IfNoneMatch,
) -> Result<Response, AppError> {
    let isbn = isbn_param(&isbn, "isbn")?;
    Ok(cached_entity(&condition, app.book_json(&ctx, &isbn).await?))
}

#[utoipa::path(post, path = "/v1/book", tag = "books", request_body = BookInput,
    security(("bearer" = [])),
    responses((status = 201, description = "Created; `Location` names it", body = Book),
              (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 409, description = "ISBN exists", body = Problem),
              (status = 422, description = "Invalid fields", body = Problem)))]
pub async fn create_book(
    State(app): State<AppState>,
    Auth(ctx): Auth,
    body: JsonInput<BookInput>,
) -> Result<Response, AppError> {
    let book = app.create_book(&ctx, body).await?;
    Ok(created(
        format!("/v1/book/{}", book.isbn),
        book.version,
        &book,
    ))
}

#[utoipa::path(put, path = "/v1/book/{isbn}", tag = "books", request_body = BookUpdate,
    params(("isbn" = String, Path), ("If-Match" = Option<String>, Header, description = "ETag the client last saw")),
    security(("bearer" = [])),
    responses((status = 200, body = Book), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 412, body = Problem), (status = 422, body = Problem)))]
pub async fn replace_book(
    State(app): State<AppState>,
    Auth(ctx): Auth,
    Path(isbn): Path<String>,
    headers: HeaderMap,
    body: JsonInput<BookUpdate>,
) -> Result<Response, AppError> {
    let book = app
        .update_book(&ctx, &isbn, body, if_match(&headers), false)
        .await?;
    Ok(([(header::ETAG, etag(book.version))], Json(book)).into_response())
}

#[utoipa::path(delete, path = "/v1/book/{isbn}", tag = "books",
    params(("isbn" = String, Path), ("If-Match" = Option<String>, Header)),
    security(("bearer" = [])),
    responses((status = 204, description = "Deleted"), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 412, body = Problem)))]
pub async fn delete_book(
    State(app): State<AppState>,
    Auth(ctx): Auth,
    Path(isbn): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, AppError> {
    app.delete_book(&ctx, &isbn, if_match(&headers)).await?;
    Ok(StatusCode::NO_CONTENT)
}
