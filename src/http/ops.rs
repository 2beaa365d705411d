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
    // Every standby: in rotation or not (and why), lag, replay position, pool use. Standbys never
    // make the process unready: reads fall back to the primary.
    let replicas: Vec<serde_json::Value> = app
        .db
        .replicas()
        .list
        .iter()
        .map(|r| {
            let s = r.state();
            let p = r.pool_status();
            json!({
                "url": r.name,
                "status": s.status.as_str(),
                "in_rotation": s.status == crate::db::replicas::ReplicaStatus::Up,
                "lag_ms": s.lag.map(|l| l.as_millis() as u64),
                "replay_lsn": s.replay_lsn.to_string(),
                "detail": s.detail,
                "reads_served": r.served(),
                "pool": {"size": p.size, "available": p.available, "max_size": p.max_size, "waiting": p.waiting},
            })
        })
        .collect();
    let counters = &cache.counters;
    let load = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
    let body = json!({
        "status": if db_ok { "ok" } else { "unavailable" },
        "postgres": {
            "status": if db_ok { "ok" } else { "unreachable" },
            "pool": {"size": pool.size, "available": pool.available, "max_size": pool.max_size, "waiting": pool.waiting},
            "statement_cache": app.db.statement_cache(),
            "replicas": replicas,
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
    use metrics::gauge;
    for replica in &app.db.replicas().list {
        let state = replica.state();
        let name = replica.name.clone();
        let up = state.status == crate::db::replicas::ReplicaStatus::Up;
        gauge!("bookstore_db_replica_up", "replica" => name.clone()).set(if up {
            1.0
        } else {
            0.0
        });
        gauge!("bookstore_db_replica_lag_seconds", "replica" => name.clone())
            .set(state.lag.map_or(f64::NAN, |l| l.as_secs_f64()));
        let pool = replica.pool_status();
        gauge!("bookstore_db_replica_pool_size", "replica" => name.clone()).set(pool.size as f64);
        gauge!("bookstore_db_replica_pool_available", "replica" => name.clone())
            .set(pool.available as f64);
        gauge!("bookstore_db_replica_pool_waiting", "replica" => name).set(pool.waiting as f64);
    }
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
