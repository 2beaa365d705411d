//! One error type for the whole server, mapped to HTTP (RFC 9457 problem+json) and to GraphQL
//! (`extensions.code`) here and nowhere else.
//!
//! Policy:
//! - Input problems are the client's: 400 for malformed syntax or a bad query parameter, 422 with
//!   every bad field for a body that parses but breaks the rules.
//! - Database `NotFound` is 404; a unique violation is 409; a foreign-key violation on delete is 409
//!   (it would orphan data); a check violation is 422 (the API validates first, so this is a backstop).
//! - Pool time-outs and lost connections are 503 with `Retry-After`: the database is unreachable or
//!   saturated, retrying later can work.
//! - Everything else is a 500 whose body says nothing about the cause; the cause is logged once, here.

use std::borrow::Cow;

use serde::Serialize;

/// One `{field, message}` entry of a validation problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A body that parsed but breaks the rules (422 / BAD_USER_INPUT).
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// Malformed syntax or a bad query parameter (400 / BAD_USER_INPUT).
    #[error("{message}")]
    BadRequest {
        param: Option<String>,
        message: String,
    },
    /// No credentials, or credentials that do not work (401 / UNAUTHENTICATED).
    #[error("{0}")]
    Unauthenticated(AuthFailure),
    /// Signed in, but the role does not allow it (403 / FORBIDDEN).
    #[error("your role does not allow this")]
    Forbidden,
    #[error("{0} not found")]
    NotFound(Cow<'static, str>),
    /// Duplicate key, or a delete that would orphan data (409 / CONFLICT).
    #[error("{0}")]
    Conflict(Cow<'static, str>),
    /// The resource changed since the version the client had (412 over REST, CONFLICT in GraphQL).
    #[error("the resource was changed by someone else (current version {current})")]
    VersionMismatch { current: i32 },
    /// The body is larger than the configured limit (413).
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// The body is not of a media type the endpoint reads (415).
    #[error("{0}")]
    UnsupportedMediaType(Cow<'static, str>),
    /// The request's `Accept-Version` is not one the server speaks (400).
    #[error("unsupported API version {requested:?}; supported versions: 1")]
    UnsupportedVersion { requested: String },
    #[error("too many requests")]
    RateLimited { retry_after_secs: u64 },
    /// The database is unreachable or saturated (503 / INTERNAL with a retry hint).
    #[error("the service is temporarily unavailable")]
    Unavailable,
    /// The connection to the database broke while a COMMIT was under way: the write may or may
    /// not have been applied (503 / INTERNAL with `extensions.outcome = "unknown"`). The caches
    /// have been invalidated all the same; the client should read again before retrying.
    #[error("the connection to the database was lost while the change was being committed: it may or may not have been applied; read the resource again before retrying")]
    OutcomeUnknown,
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

/// Why a request is not authenticated; decides the `WWW-Authenticate` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// No token was sent (`WWW-Authenticate: Bearer realm=...`, no `error`).
    MissingToken,
    /// A token was sent but is malformed, expired, revoked or for a deleted user.
    InvalidToken,
    /// Username/password or refresh token did not work.
    InvalidCredentials,
}

impl std::fmt::Display for AuthFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AuthFailure::MissingToken => "authentication is required",
            AuthFailure::InvalidToken => "the access token is invalid or expired",
            AuthFailure::InvalidCredentials => "invalid username or password",
        })
    }
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn not_found(what: &'static str) -> Self {
        AppError::NotFound(Cow::Borrowed(what))
    }
    pub fn bad_param(param: &str, message: impl Into<String>) -> Self {
        AppError::BadRequest {
            param: Some(param.to_owned()),
            message: message.into(),
        }
    }
    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        AppError::Internal(e.into())
    }
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        AppError::Validation(vec![FieldError::new(field, message)])
    }

    /// HTTP status of this error over REST.
    pub fn status(&self) -> http::StatusCode {
        use http::StatusCode as S;
        match self {
            AppError::Validation(_) => S::UNPROCESSABLE_ENTITY,
            AppError::BadRequest { .. } => S::BAD_REQUEST,
            AppError::Unauthenticated(_) => S::UNAUTHORIZED,
            AppError::Forbidden => S::FORBIDDEN,
            AppError::NotFound(_) => S::NOT_FOUND,
            AppError::Conflict(_) => S::CONFLICT,
            AppError::VersionMismatch { .. } => S::PRECONDITION_FAILED,
            AppError::RateLimited { .. } => S::TOO_MANY_REQUESTS,
            AppError::PayloadTooLarge { .. } => S::PAYLOAD_TOO_LARGE,
            AppError::UnsupportedMediaType(_) => S::UNSUPPORTED_MEDIA_TYPE,
            AppError::UnsupportedVersion { .. } => S::BAD_REQUEST,
            AppError::Unavailable | AppError::OutcomeUnknown => S::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => S::INTERNAL_SERVER_ERROR,
        }
    }

    /// `extensions.code` of this error over GraphQL.
    pub fn graphql_code(&self) -> &'static str {
        match self {
            AppError::Validation(_)
            | AppError::BadRequest { .. }
            | AppError::PayloadTooLarge { .. }
            | AppError::UnsupportedMediaType(_)
            | AppError::UnsupportedVersion { .. } => "BAD_USER_INPUT",
            AppError::Unauthenticated(_) => "UNAUTHENTICATED",
            AppError::Forbidden => "FORBIDDEN",
            AppError::NotFound(_) => "NOT_FOUND",
            AppError::Conflict(_) | AppError::VersionMismatch { .. } => "CONFLICT",
            AppError::RateLimited { .. } => "RATE_LIMITED",
            AppError::Unavailable | AppError::OutcomeUnknown | AppError::Internal(_) => "INTERNAL",
        }
    }

    /// The message a client may see (never the internal cause).
    pub fn public_message(&self) -> String {
        match self {
            AppError::Validation(errors) => {
                let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
                format!("invalid fields: {}", fields.join(", "))
            }
            other => other.to_string(),
        }
    }

    /// Whether PostgreSQL said for sure that a failed COMMIT rolled the transaction back (a
    /// deferred constraint or a serialization failure), as opposed to a COMMIT whose answer was
    /// lost with its connection.
    pub fn is_definite_rollback(&self) -> bool {
        matches!(
            self,
            AppError::Validation(_)
                | AppError::BadRequest { .. }
                | AppError::Conflict(_)
                | AppError::NotFound(_)
                | AppError::VersionMismatch { .. }
                | AppError::Forbidden
                | AppError::Unauthenticated(_)
        )
    }

    /// Logs the cause once, where the error is turned into a response.
    pub fn log(&self) {
        match self {
            AppError::Internal(e) => tracing::error!(error = ?e, "internal error"),
            AppError::Unavailable => tracing::warn!("database unavailable"),
            AppError::OutcomeUnknown => tracing::warn!("commit outcome unknown"),
            _ => {}
        }
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind as K, Error as E};
        match e {
            E::NotFound => AppError::not_found("resource"),
            E::DatabaseError(K::UniqueViolation, info) => {
                AppError::Conflict(Cow::Owned(unique_message(info.constraint_name())))
            }
            E::DatabaseError(K::ForeignKeyViolation, info) => {
                AppError::Conflict(Cow::Owned(format!(
                    "the change would break a reference ({})",
                    info.constraint_name().unwrap_or("foreign key")
                )))
            }
            E::DatabaseError(K::CheckViolation, info) => {
                AppError::Validation(vec![FieldError::new(
                    check_field(info.constraint_name()),
                    "breaks a rule of the data model",
                )])
            }
            E::DatabaseError(K::ClosedConnection, _) => AppError::Unavailable,
            // A write reached a server that is (now) a read-only standby: a failover is under
            // way, and the pool's next connection finds the new primary.
            E::DatabaseError(K::ReadOnlyTransaction, _) => AppError::Unavailable,
            E::DatabaseError(_, ref info) if is_unavailable_message(info.message()) => {
                AppError::Unavailable
            }
            other => AppError::Internal(other.into()),
        }
    }
}

fn is_unavailable_message(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("connection closed") || m.contains("canceling statement due to statement timeout")
}

fn unique_message(constraint: Option<&str>) -> String {
    match constraint {
        Some("users_username_key") => "the username is taken".into(),
        Some("users_email_key") => "the e-mail address is taken".into(),
        Some("books_pkey") => "a book with this ISBN exists".into(),
        Some("magazines_issn_key") => "a magazine with this ISSN exists".into(),
        _ => "a record with the same key exists".into(),
    }
}

fn check_field(constraint: Option<&str>) -> String {
    // Constraint names are `<table>_<column>_check`.
    constraint
        .and_then(|c| c.strip_suffix("_check"))
        .and_then(|c| c.split_once('_').map(|(_, col)| col.to_owned()))
        .unwrap_or_default()
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for AppError {
    fn from(e: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        tracing::warn!(error = %e, "no database connection");
        AppError::Unavailable
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::result::{DatabaseErrorInformation, DatabaseErrorKind, Error as DieselError};

    struct Info(&'static str);
    impl DatabaseErrorInformation for Info {
        fn message(&self) -> &str {
            "duplicate key"
        }
        fn details(&self) -> Option<&str> {
            None
        }
        fn hint(&self) -> Option<&str> {
            None
        }
        fn table_name(&self) -> Option<&str> {
            None
        }
        fn column_name(&self) -> Option<&str> {
            None
        }
        fn constraint_name(&self) -> Option<&str> {
            Some(self.0)
        }
        fn statement_position(&self) -> Option<i32> {
            None
        }
    }

    #[test]
    fn maps_database_errors() {
        let e: AppError = DieselError::NotFound.into();
        assert_eq!(e.status(), 404);
        let e: AppError = DieselError::DatabaseError(
            DatabaseErrorKind::UniqueViolation,
            Box::new(Info("books_pkey")),
        )
        .into();
        assert_eq!(e.status(), 409);
        assert_eq!(e.graphql_code(), "CONFLICT");
        assert!(e.public_message().contains("ISBN"));
        let e: AppError = DieselError::DatabaseError(
            DatabaseErrorKind::ForeignKeyViolation,
            Box::new(Info("book_authors_author_id_fkey")),
        )
        .into();
        assert_eq!(e.status(), 409);
        let e: AppError = DieselError::DatabaseError(
            DatabaseErrorKind::CheckViolation,
            Box::new(Info("books_stock_check")),
        )
        .into();
        match e {
            AppError::Validation(f) => assert_eq!(f[0].field, "stock"),
            other => panic!("{other:?}"),
        }
        let e: AppError =
            DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, Box::new(Info("x")))
                .into();
        assert_eq!(e.status(), 503);
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let e = AppError::internal(anyhow::anyhow!("SELECT secret FROM pg_shadow"));
        assert_eq!(e.status(), 500);
        assert_eq!(e.graphql_code(), "INTERNAL");
        assert!(!e.public_message().contains("SELECT"));
    }

    #[test]
    fn codes_line_up_between_doors() {
        assert_eq!(AppError::Forbidden.status(), 403);
        assert_eq!(AppError::Forbidden.graphql_code(), "FORBIDDEN");
        assert_eq!(AppError::VersionMismatch { current: 2 }.status(), 412);
        assert_eq!(
            AppError::VersionMismatch { current: 2 }.graphql_code(),
            "CONFLICT"
        );
        assert_eq!(
            AppError::Unauthenticated(AuthFailure::MissingToken).graphql_code(),
            "UNAUTHENTICATED"
        );
        assert_eq!(
            AppError::RateLimited {
                retry_after_secs: 1
            }
            .status(),
            429
        );
        assert_eq!(AppError::field("isbn", "bad").status(), 422);
    }
}
