//! Health, readiness and the API description.

use axum::{extract::State, http::StatusCode, response::IntoResponse, Json};
use serde_json::json;

use crate::app::AppState;

#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "The process is alive")))]
pub async fn healthz() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, description = "Ready: PostgreSQL answers"), (status = 503, description = "PostgreSQL is unreachable")))]
pub async fn readyz(State(app): State<AppState>) -> impl IntoResponse {
    let db_ok = app.db.ping().await;
    let pool = app.db.status();
    let redis = if app.config.redis_url.is_some() {
        "configured"
    } else {
        "disabled"
    };
    let body = json!({
        "status": if db_ok { "ok" } else { "unavailable" },
        "postgres": {
            "status": if db_ok { "ok" } else { "unreachable" },
            "pool": {"size": pool.size, "available": pool.available, "max_size": pool.max_size, "waiting": pool.waiting},
        },
        "redis": {"status": redis},
    });
    if db_ok {
        (StatusCode::OK, Json(body)).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [(http::header::RETRY_AFTER, "5")],
            Json(body),
        )
            .into_response()
    }
}
