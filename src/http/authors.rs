//! REST: authors.

use axum::{
    extract::{Path, State},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde::Deserialize;
use utoipa::IntoParams;

use super::books::{cached_entity, created, public_page};
use super::extract::{etag, if_match, Auth, IfNoneMatch, JsonInput, Params};
use super::{params, problem::Problem};
use crate::app::AppState;
use crate::domain::{Category, SortOrder};
use crate::error::AppError;
use crate::model::{Author, Book, Page};
use crate::service::input::{AuthorInput, AuthorPatch, AuthorRename};
use crate::service::{id_param, PageArgs};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuthorsQuery {
    /// Case-insensitive substring of the name (at most 200 characters)
    name: Option<String>,
    /// Page size (default 20)
    #[param(value_type = Option<i32>)]
    limit: Option<String>,
    /// `next_cursor` of the previous page
    cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuthorBooksQuery {
    /// asc (default) or desc, by year then isbn
    #[param(value_type = Option<SortOrder>)]
    order: Option<String>,
    #[param(value_type = Option<Category>)]
    category: Option<String>,
    /// Page size (default 20)
    #[param(value_type = Option<i32>)]
    limit: Option<String>,
    /// `next_cursor` of the previous page
    cursor: Option<String>,
}

#[utoipa::path(get, path = "/v1/authors", tag = "authors", params(AuthorsQuery),
    responses((status = 200, body = Page<Author>), (status = 400, body = Problem)))]
pub async fn list_authors(
    State(app): State<AppState>,
    Auth(ctx): Auth,
    Params(q): Params<AuthorsQuery>,
) -> Result<Response, AppError> {
    let page = PageArgs::rest(params::int("limit", &q.limit)?, q.cursor);
    Ok(public_page(
        app.list_authors(&ctx, q.name.as_deref(), &page).await?,
    ))
}

#[utoipa::path(get, path = "/v1/author/{id}", tag = "authors", params(("id" = i64, Path)),
    responses((status = 200, body = Author), (status = 304), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn get_author(
    State(app): State<AppState>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    condition: IfNoneMatch,
) -> Result<Response, AppError> {
    let author = app.author_json(&ctx, id_param(&id, "id")?).await?;
    Ok(cached_entity(&condition, author))
}

#[utoipa::path(get, path = "/v1/author/{id}/book", tag = "authors", params(("id" = i64, Path), AuthorBooksQuery),
    responses((status = 200, body = Page<Book>), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn author_books(
    State(app): State<AppState>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    Params(q): Params<AuthorBooksQuery>,
) -> Result<Response, AppError> {
    let id = id_param(&id, "id")?;
    let category = params::category("category", &q.category)?;
    let order = params::order("order", &q.order)?;
    let page = PageArgs::rest(params::int("limit", &q.limit)?, q.cursor);
    Ok(public_page(
        app.author_books(&ctx, id, category, order, &page).await?,
    ))
}

#[utoipa::path(post, path = "/v1/author", tag = "authors", request_body = AuthorInput, security(("bearer" = [])),
    responses((status = 201, body = Author), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create_author(
    State(app): State<AppState>,
    Auth(ctx): Auth,
    body: JsonInput<AuthorInput>,
) -> Result<Response, AppError> {
    let author = app.create_author(&ctx, body).await?;
    Ok(created(
        format!("/v1/author/{}", author.id),
        author.version,
        &author,
    ))
}

fn updated(author: Author) -> Response {
    ([(header::ETAG, etag(author.version))], Json(author)).into_response()
}

#[utoipa::path(patch, path = "/v1/author/{id}/name", tag = "authors", request_body = AuthorRename,
    params(("id" = i64, Path), ("If-Match" = Option<String>, Header)), security(("bearer" = [])),
    responses((status = 200, body = Author), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 412, body = Problem), (status = 422, body = Problem)))]
pub async fn rename_author(
    State(app): State<AppState>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: JsonInput<AuthorRename>,
) -> Result<Response, AppError> {
    Ok(updated(
        app.update_author(&ctx, &id, body, if_match(&headers))
            .await?,
    ))
}

#[utoipa::path(patch, path = "/v1/author/{id}", tag = "authors", request_body = AuthorPatch,
    params(("id" = i64, Path), ("If-Match" = Option<String>, Header)), security(("bearer" = [])),
    responses((status = 200, body = Author), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 412, body = Problem), (status = 422, body = Problem)))]
pub async fn patch_author(
    State(app): State<AppState>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: JsonInput<AuthorPatch>,
) -> Result<Response, AppError> {
    Ok(updated(
        app.update_author(&ctx, &id, body, if_match(&headers))
            .await?,
    ))
}

#[utoipa::path(delete, path = "/v1/author/{id}", tag = "authors",
    params(("id" = i64, Path), ("If-Match" = Option<String>, Header)), security(("bearer" = [])),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, description = "The author still has books", body = Problem), (status = 412, body = Problem)))]
pub async fn delete_author(
    State(app): State<AppState>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, AppError> {
    app.delete_author(&ctx, &id, if_match(&headers)).await?;
    Ok(StatusCode::NO_CONTENT)
}
