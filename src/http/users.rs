//! REST: the token endpoint and users.

use axum::{
    extract::State,
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde::Deserialize;

use super::books::created;
use super::extract::{Auth, FormOrJson, JsonInput};
use super::problem::Problem;
use crate::app::AppState;
use crate::domain::validate::Field;
use crate::error::AppError;
use crate::model::User;
use crate::service::auth::TokenPair;
use crate::service::input::{TokenRequest, UserInput, UserUpdate};

/// A grant parameter that must be a non-empty string (400 naming it otherwise).
fn required<'a>(field: &'a Field<String>, name: &str) -> Result<&'a str, AppError> {
    match field {
        Field::Given(s) if !s.is_empty() => Ok(s),
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
    // Not an object, or fields of other types: as if they were not sent.
    let body = TokenRequest::deserialize(body).unwrap_or_default();
    let pair = match &body.grant_type {
        Field::Given(g) if g == "password" => {
            app.login(
                &ctx,
                client,
                required(&body.username, "username")?,
                required(&body.password, "password")?,
            )
            .await?
        }
        Field::Given(g) if g == "refresh_token" => {
            app.refresh(&ctx, required(&body.refresh_token, "refresh_token")?)
                .await?
        }
        Field::Given(_) => {
            return Err(AppError::bad_param(
                "grant_type",
                "grant_type must be password or refresh_token",
            ))
        }
        _ => return Err(AppError::bad_param("grant_type", "grant_type is required")),
    };
    let mut res = Json(pair).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(res)
}

#[utoipa::path(post, path = "/v1/user", tag = "users", request_body = UserInput, security(("bearer" = [])),
    responses((status = 201, body = User), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 409, description = "Username or e-mail taken", body = Problem), (status = 422, body = Problem)))]
pub async fn create_user(
    State(app): State<AppState>,
    Auth(ctx): Auth,
    body: JsonInput<UserInput>,
) -> Result<Response, AppError> {
    let user = app.create_user(&ctx, body).await?;
    let mut res = created(format!("/v1/user/{}", user.id), 1, &user);
    res.headers_mut().remove(header::ETAG);
    res.headers_mut()
        .insert(header::LOCATION, HeaderValue::from_static("/v1/user"));
    Ok(res)
}

#[utoipa::path(get, path = "/v1/user", tag = "users", security(("bearer" = [])),
    responses((status = 200, description = "The signed-in user", body = User), (status = 401, body = Problem)))]
pub async fn get_user(State(app): State<AppState>, Auth(ctx): Auth) -> Result<Response, AppError> {
    Ok(personal(app.me(&ctx).await?))
}

/// An answer about the signed-in user: for them alone, and kept by no cache.
fn personal(user: User) -> Response {
    (
        [(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-store"),
        )],
        Json(user),
    )
        .into_response()
}

#[utoipa::path(put, path = "/v1/user", tag = "users", request_body = UserUpdate, security(("bearer" = [])),
    responses((status = 200, body = User), (status = 401, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn update_user(
    State(app): State<AppState>,
    Auth(ctx): Auth,
    body: JsonInput<UserUpdate>,
) -> Result<Response, AppError> {
    Ok(personal(app.update_me(&ctx, body).await?))
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
