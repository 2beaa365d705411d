//! Health, readiness, metrics and the API description.

use axum::{
    extract::State,
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
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
    let (db_ok, redis_ok) = tokio::join!(async { db_ok }, app.cache.ping());
    let cache = &app.cache;
    let redis = match (app.config.redis_url.is_some(), cache.backend_name()) {
        (false, _) => "disabled",
        (true, "off") => "unused (cache off)",
        (true, _) if redis_ok => "ok",
        (true, _) => "unreachable",
    };
    let counters = &cache.counters;
    let load = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
    let body = json!({
        "status": if db_ok { "ok" } else { "unavailable" },
        "postgres": {
            "status": if db_ok { "ok" } else { "unreachable" },
            "pool": {"size": pool.size, "available": pool.available, "max_size": pool.max_size, "waiting": pool.waiting},
        },
                "redis": {"status": redis},
        "cache": {
            "backend": cache.backend_name(),
            "status": cache.health(),
                        "hits": load(&counters.hits),
            "front_hits": load(&counters.front_hits),
            "misses": load(&counters.misses),
            "errors": load(&counters.errors),
        },
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

/// `GET /metrics`: the Prometheus text exposition, with the pool gauges read now.
pub async fn metrics(State(app): State<AppState>) -> Response {
    let body = crate::metrics::render(app.db.status());
    (
        [
            (
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}
