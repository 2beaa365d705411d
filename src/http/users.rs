//! REST: the token endpoint and users.

use axum::{
    extract::State,
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde::Deserialize;

use super::books::created;
use super::extract::{Auth, FormOrJson, JsonBody};
use super::problem::Problem;
use crate::app::AppState;
use crate::error::AppError;
use crate::model::User;
use crate::service::auth::TokenPair;

#[derive(Deserialize, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct TokenRequest {
    /// `password` or `refresh_token`
    #[schema(example = "password")]
    grant_type: String,
    username: Option<String>,
    password: Option<String>,
    refresh_token: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct CreateUserRequest {
    username: String,
    email: String,
    password: String,
    role: crate::domain::Role,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct UpdateUserRequest {
    email: Option<String>,
    password: Option<String>,
    /// Required with `password`
    current_password: Option<String>,
}

fn field<'a>(body: &'a serde_json::Value, name: &str) -> Result<&'a str, AppError> {
    match body.get(name) {
        Some(serde_json::Value::String(s)) if !s.is_empty() => Ok(s),
        _ => Err(AppError::bad_param(name, format!("{name} is required"))),
    }
}

#[utoipa::path(post, path = "/v1/token", tag = "auth",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded",
                 description = "OAuth2 password grant (RFC 6749 4.3) or refresh grant; JSON is accepted too"),
    responses((status = 200, description = "Tokens (Cache-Control: no-store)", body = TokenPair),
              (status = 400, description = "Missing field or unsupported grant_type", body = Problem),
              (status = 401, description = "Wrong username or password, or a used/unknown refresh token", body = Problem)))]
pub async fn token(
    State(app): State<AppState>,
    Auth(ctx): Auth,
    client: Option<axum::Extension<crate::ratelimit::ClientIp>>,
    FormOrJson(body): FormOrJson,
) -> Result<Response, AppError> {
    let client = client.map(|axum::Extension(c)| c.0);
    let pair = match body.get("grant_type").and_then(|v| v.as_str()) {
        Some("password") => {
            app.login(
                &ctx,
                client,
                field(&body, "username")?,
                field(&body, "password")?,
            )
            .await?
        }
        Some("refresh_token") => app.refresh(&ctx, field(&body, "refresh_token")?).await?,
        Some(_) => {
            return Err(AppError::bad_param(
                "grant_type",
                "grant_type must be password or refresh_token",
            ))
        }
        None => return Err(AppError::bad_param("grant_type", "grant_type is required")),
    };
    let mut res = Json(pair).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(res)
}

#[utoipa::path(post, path = "/v1/user", tag = "users", request_body = CreateUserRequest, security(("bearer" = [])),
    responses((status = 201, body = User), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 409, description = "Username or e-mail taken", body = Problem), (status = 422, body = Problem)))]
pub async fn create_user(
    State(app): State<AppState>,
    Auth(ctx): Auth,
    JsonBody(body): JsonBody,
) -> Result<Response, AppError> {
    let user = app.create_user(&ctx, &body).await?;
    let mut res = created(format!("/v1/user/{}", user.id), 1, &user);
    res.headers_mut().remove(header::ETAG);
    res.headers_mut()
        .insert(header::LOCATION, HeaderValue::from_static("/v1/user"));
    Ok(res)
}

#[utoipa::path(get, path = "/v1/user", tag = "users", security(("bearer" = [])),
    responses((status = 200, description = "The signed-in user", body = User), (status = 401, body = Problem)))]
pub async fn get_user(
    State(app): State<AppState>,
    Auth(ctx): Auth,
) -> Result<Json<User>, AppError> {
    Ok(Json(app.me(&ctx).await?))
}

#[utoipa::path(put, path = "/v1/user", tag = "users", request_body = UpdateUserRequest, security(("bearer" = [])),
    responses((status = 200, body = User), (status = 401, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn update_user(
    State(app): State<AppState>,
    Auth(ctx): Auth,
    JsonBody(body): JsonBody,
) -> Result<Json<User>, AppError> {
    Ok(Json(app.update_me(&ctx, &body).await?))
}

#[utoipa::path(delete, path = "/v1/user", tag = "users", security(("bearer" = [])),
    responses((status = 204, description = "Deleted; its tokens stop working at once"), (status = 401, body = Problem)))]
pub async fn delete_user(
    State(app): State<AppState>,
    Auth(ctx): Auth,
) -> Result<StatusCode, AppError> {
    app.delete_me(&ctx).await?;
    Ok(StatusCode::NO_CONTENT)
}
