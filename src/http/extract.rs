//! Extractors that turn HTTP input into what the service takes, with our own error answers.

use std::sync::Arc;

use axum::{
    body::Bytes,
    extract::{FromRef, FromRequest, FromRequestParts, Request},
};
use http::{header, request::Parts, HeaderMap};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::app::{AppState, Ctx};
use crate::db::QueryStats;
use crate::error::{AppError, AuthFailure};
use crate::service::input::{parse_json, read_json, Input, Received};

/// A JSON request body for an input of type `T`, read only when the service asks for it (after
/// its role check, see [`crate::service::input::Input`]): then 415 unless the content type is
/// JSON, 413 over the body limit, 400 when it does not parse, 422 for every bad field.
pub struct JsonInput<T> {
    body: Result<Bytes, AppError>,
    _input: std::marker::PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> Input<T> for JsonInput<T> {
    fn read(self) -> Result<Received<T>, AppError> {
        read_json(&self.body?)
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| {
            let m = m.trim().to_ascii_lowercase();
            m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
        })
        .unwrap_or(false)
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| {
            m.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, AppError>
where
    AppState: FromRef<S>,
{
    let limit = AppState::from_ref(state).config.body_limit_bytes;
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == http::StatusCode::PAYLOAD_TOO_LARGE {
            AppError::PayloadTooLarge { limit }
        } else {
            AppError::BadRequest {
                param: None,
                message: "the request body could not be read".into(),
            }
        }
    })
}

impl<S: Send + Sync, T> FromRequest<S> for JsonInput<T>
where
    AppState: FromRef<S>,
{
    type Rejection = std::convert::Infallible;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let body = if is_json(req.headers()) {
            read_body(req, state).await
        } else {
            Err(AppError::UnsupportedMediaType(
                "the request body must be application/json".into(),
            ))
        };
        Ok(JsonInput {
            body,
            _input: std::marker::PhantomData,
        })
    }
}

/// A JSON body as a `serde_json::Value`, read at once: 415 unless the content type is JSON, 413
/// over the body limit, 400 when it does not parse (the GraphQL endpoint's body).
pub struct JsonBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for JsonBody
where
    AppState: FromRef<S>,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(AppError::UnsupportedMediaType(
                "the request body must be application/json".into(),
            ));
        }
        let bytes = read_body(req, state).await?;
        Ok(JsonBody(parse_json(&bytes)?))
    }
}

/// A JSON or `application/x-www-form-urlencoded` body (the OAuth2 token endpoint takes both),
/// as a JSON object of strings for forms.
pub struct FormOrJson(pub Value);

impl FromRequest<AppState> for FormOrJson {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        if is_json(req.headers()) {
            let bytes = read_body(req, state).await?;
            return Ok(FormOrJson(parse_json(&bytes)?));
        }
        if !is_form(req.headers()) {
            return Err(AppError::UnsupportedMediaType(
                "the request body must be application/x-www-form-urlencoded or application/json"
                    .into(),
            ));
        }
        let bytes = read_body(req, state).await?;
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_bytes(&bytes).map_err(|_| AppError::BadRequest {
                param: None,
                message: "malformed form body".into(),
            })?;
        let mut map = serde_json::Map::new();
        for (k, v) in pairs {
            if map.contains_key(&k) {
                return Err(AppError::bad_param(
                    &k,
                    format!("{k} appears more than once"),
                ));
            }
            map.insert(k, Value::String(v));
        }
        Ok(FormOrJson(Value::Object(map)))
    }
}

/// The caller, from `Authorization: Bearer ...`. No header: anonymous. A header that does not
/// hold a working bearer token: 401, never silently anonymous.
pub struct Auth(pub Ctx);

impl FromRequestParts<AppState> for Auth {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let stats = parts
            .extensions
            .get::<Arc<QueryStats>>()
            .cloned()
            .unwrap_or_default();
        let actor = match bearer_token(&parts.headers)? {
            None => None,
            Some(token) => {
                let ctx = Ctx {
                    actor: None,
                    stats: stats.clone(),
                };
                // Boxed: the token check's state (a database look-up) would otherwise size the
                // future of every anonymous request too.
                Some(Box::pin(state.authenticate(token, &ctx)).await?)
            }
        };
        Ok(Auth(Ctx { actor, stats }))
    }
}

/// The bearer token of `Authorization`, if any; a malformed header is an invalid token.
pub fn bearer_token(headers: &HeaderMap) -> Result<Option<&str>, AppError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| AppError::Unauthenticated(AuthFailure::InvalidToken))?;
    crate::service::auth::bearer_credentials(value).map(Some)
}

/// Query parameters; a parameter of the wrong type is a 400 naming it.
pub struct Params<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        serde_urlencoded::from_str::<T>(query)
            .map(Params)
            .map_err(|e| {
                let msg = e.to_string();
                let param = msg
                    .split('`')
                    .nth(1)
                    .filter(|_| msg.contains("unknown field") || msg.contains("missing field"))
                    .map(str::to_owned);
                AppError::BadRequest {
                    param,
                    message: format!("bad query parameter: {msg}"),
                }
            })
    }
}

/// The version an `If-Match` header asks for: `None` when absent or `*`. A tag that cannot be a
/// version of ours never matches (412).
pub fn if_match(headers: &HeaderMap) -> Option<i32> {
    let raw = headers.get(header::IF_MATCH)?.to_str().ok()?.trim();
    if raw == "*" {
        return None;
    }
    Some(parse_etag(raw.split(',').next().unwrap_or("")).unwrap_or(-1))
}

/// The request's `If-None-Match`, taken alone (extracting the whole `HeaderMap` would copy every
/// header of every cached read).
pub struct IfNoneMatch(pub Option<http::HeaderValue>);

impl<S: Send + Sync> FromRequestParts<S> for IfNoneMatch {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(IfNoneMatch(
            parts.headers.get(header::IF_NONE_MATCH).cloned(),
        ))
    }
}

/// Whether `If-None-Match` names `version` (or is `*`).
pub fn if_none_match(condition: &IfNoneMatch, version: i32) -> bool {
    let Some(raw) = condition.0.as_ref().and_then(|v| v.to_str().ok()) else {
        return false;
    };
    raw.split(',')
        .any(|tag| tag.trim() == "*" || parse_etag(tag) == Some(version))
}

fn parse_etag(tag: &str) -> Option<i32> {
    let tag = tag.trim();
    let tag = tag.strip_prefix("W/").unwrap_or(tag);
    tag.strip_prefix('"')?.strip_suffix('"')?.parse().ok()
}

pub fn etag(version: i32) -> http::HeaderValue {
    let mut digits = itoa::Buffer::new();
    let digits = digits.format(version);
    let mut tag = Vec::with_capacity(digits.len() + 2);
    tag.push(b'"');
    tag.extend_from_slice(digits.as_bytes());
    tag.push(b'"');
    http::HeaderValue::from_bytes(&tag).unwrap_or(http::HeaderValue::from_static("\"0\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags() {
        let mut h = HeaderMap::new();
        h.insert(header::IF_MATCH, "\"3\"".parse().unwrap());
        assert_eq!(if_match(&h), Some(3));
        h.insert(header::IF_MATCH, "*".parse().unwrap());
        assert_eq!(if_match(&h), None);
        h.insert(header::IF_MATCH, "garbage".parse().unwrap());
        assert_eq!(if_match(&h), Some(-1));
        let condition = IfNoneMatch(Some("\"1\", W/\"2\"".parse().unwrap()));
        assert!(if_none_match(&condition, 2));
        assert!(!if_none_match(&condition, 3));
        assert!(if_none_match(&IfNoneMatch(Some("*".parse().unwrap())), 7));
        assert!(!if_none_match(&IfNoneMatch(None), 1));
        for version in [0, 1, 42, i32::MAX, -5] {
            assert_eq!(etag(version), format!("\"{version}\"").as_str());
        }
    }
}
