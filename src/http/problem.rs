//! RFC 9457 problem details: the one error body of the REST API.
//!
//! Errors become responses in two steps: `AppError::into_response` sets the status and headers and
//! leaves a [`Problem`] in the response extensions; the request middleware then fills in the
//! request's `instance` (path) and `request_id` and writes the body. Error responses made by the
//! framework itself (405, a rejected extractor) are turned into problems by the same middleware.

use axum::response::{IntoResponse, Response};
use http::{header, HeaderValue, StatusCode};
use serde::Serialize;

use crate::error::{AppError, AuthFailure, FieldError};

pub const PROBLEM_JSON: &str = "application/problem+json";

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    pub instance: String,
    pub request_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
}

fn slug(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "bad-request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not-found",
        405 => "method-not-allowed",
        406 => "not-acceptable",
        409 => "conflict",
        412 => "precondition-failed",
        413 => "payload-too-large",
        415 => "unsupported-media-type",
        422 => "validation-error",
        429 => "too-many-requests",
        503 => "service-unavailable",
        504 => "gateway-timeout",
        _ => "internal-error",
    }
}

impl Problem {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Problem {
        Problem {
            kind: format!("https://bookstore.example/problems/{}", slug(status)),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            instance: String::new(),
            request_id: String::new(),
            errors: None,
        }
    }

    /// The final body, once `instance` and `request_id` are known.
    pub fn into_body(mut self, instance: &str, request_id: &str) -> Vec<u8> {
        self.instance = instance.to_owned();
        self.request_id = request_id.to_owned();
        serde_json::to_vec(&self).unwrap_or_default()
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut res = status.into_response();
        res.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        res.extensions_mut().insert(self);
        res
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        self.log();
        let status = self.status();
        // `errors` only on 422 (field validation); a bad parameter (400) is named in `detail`.
        let detail = match &self {
            AppError::BadRequest {
                param: Some(p),
                message,
            } if !message.contains(p.as_str()) => format!("{p}: {message}"),
            other => other.public_message(),
        };
        let mut problem = Problem::new(status, detail);
        if let AppError::OutcomeUnknown = &self {
            problem.kind = "https://bookstore.example/problems/outcome-unknown".to_owned();
            problem.title = "Outcome Unknown".to_owned();
        }
        if let AppError::Validation(errors) = &self {
            problem.errors = Some(errors.clone());
        }
        let mut res = problem.into_response();
        let headers = res.headers_mut();
        match &self {
            AppError::Unauthenticated(AuthFailure::InvalidToken) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(
                        "Bearer realm=\"bookstore\", error=\"invalid_token\", error_description=\"the access token is invalid or expired\"",
                    ),
                );
            }
            AppError::Unauthenticated(_) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"bookstore\""),
                );
            }
            AppError::RateLimited { retry_after_secs } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            AppError::Unavailable | AppError::OutcomeUnknown => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        res
    }
}
