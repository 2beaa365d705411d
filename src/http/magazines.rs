//! REST: magazines.

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
use crate::domain::{Category, Frequency};
use crate::error::AppError;
use crate::model::{Magazine, Page};
use crate::service::input::MagazineInput;
use crate::service::magazines::MagazineFilter;
use crate::service::{id_param, PageArgs};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MagazinesQuery {
    #[param(value_type = Option<Category>)]
    category: Option<String>,
    #[param(value_type = Option<Frequency>)]
    frequency: Option<String>,
    /// Publication year
    #[param(value_type = Option<i32>)]
    year: Option<String>,
    /// Page size (default 20)
    #[param(value_type = Option<i32>)]
    limit: Option<String>,
    /// `next_cursor` of the previous page
    cursor: Option<String>,
}

#[utoipa::path(get, path = "/v1/magazines", tag = "magazines", params(MagazinesQuery),
    responses((status = 200, body = Page<Magazine>), (status = 400, body = Problem)))]
pub async fn list_magazines(
    State(app): State<AppState>,
    Auth(ctx): Auth,
    Params(q): Params<MagazinesQuery>,
) -> Result<Response, AppError> {
    let filter = MagazineFilter {
        category: params::category("category", &q.category)?,
        frequency: params::frequency("frequency", &q.frequency)?,
        year: params::int32("year", &q.year)?,
    };
    let page = PageArgs::rest(params::int("limit", &q.limit)?, q.cursor);
    Ok(public_page(app.list_magazines(&ctx, &filter, &page).await?))
}

#[utoipa::path(get, path = "/v1/magazine/{id}", tag = "magazines", params(("id" = i64, Path)),
    responses((status = 200, body = Magazine), (status = 304), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn get_magazine(
    State(app): State<AppState>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    condition: IfNoneMatch,
) -> Result<Response, AppError> {
    let m = app.magazine_json(&ctx, id_param(&id, "id")?).await?;
    Ok(cached_entity(&condition, m))
}

#[utoipa::path(post, path = "/v1/magazine", tag = "magazines", request_body = MagazineInput, security(("bearer" = [])),
    responses((status = 201, body = Magazine), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 409, description = "ISSN exists", body = Problem), (status = 422, body = Problem)))]
pub async fn create_magazine(
    State(app): State<AppState>,
    Auth(ctx): Auth,
    body: JsonInput<MagazineInput>,
) -> Result<Response, AppError> {
    let m = app.create_magazine(&ctx, body).await?;
    Ok(created(format!("/v1/magazine/{}", m.id), m.version, &m))
}

#[utoipa::path(put, path = "/v1/magazine/{id}", tag = "magazines", request_body = MagazineInput,
    params(("id" = i64, Path), ("If-Match" = Option<String>, Header)), security(("bearer" = [])),
    responses((status = 200, body = Magazine), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem), (status = 422, body = Problem)))]
pub async fn replace_magazine(
    State(app): State<AppState>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: JsonInput<MagazineInput>,
) -> Result<Response, AppError> {
    let m = app
        .update_magazine(&ctx, &id, body, if_match(&headers), false)
        .await?;
    Ok(([(header::ETAG, etag(m.version))], Json(m)).into_response())
}

#[utoipa::path(delete, path = "/v1/magazine/{id}", tag = "magazines",
    params(("id" = i64, Path), ("If-Match" = Option<String>, Header)), security(("bearer" = [])),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 412, body = Problem)))]
pub async fn delete_magazine(
    State(app): State<AppState>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, AppError> {
    app.delete_magazine(&ctx, &id, if_match(&headers)).await?;
    Ok(StatusCode::NO_CONTENT)
}
