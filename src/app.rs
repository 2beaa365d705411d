//! The application state: one `App` behind an `Arc`, built once at start-up and shared by both
//! doors. The service layer (`crate::service`) is implemented as methods on it.

use std::sync::Arc;

use crate::cache::Cache;
use crate::config::Config;
use crate::db::{Db, QueryStats};
use crate::service::auth::AuthKeys;
use crate::service::events::Events;

pub struct App {
    pub config: Config,
    pub db: Db,
    pub auth: AuthKeys,
    pub events: Events,
    pub cache: Arc<Cache>,
    /// Where writes' commit positions are recorded, for reads from standbys.
    pub positions: Arc<crate::service::freshness::WritePositions>,
    pub limiter: crate::ratelimit::RateLimiter,
    /// Whose `X-Forwarded-For` is believed (parsed once from `BOOKSTORE_TRUSTED_PROXIES`).
    pub trusted_proxies: crate::http::client_ip::TrustedProxies,
    pub shutdown: crate::server::Shutdown,
}

pub type AppState = Arc<App>;

impl App {
    pub fn new(config: Config) -> anyhow::Result<AppState> {
        let db = Db::from_config(&config)?;
        db.start_monitor();
        let auth = AuthKeys::new(&config);
        // One Redis handle (connection, time-outs, circuit breaker) for every feature.
        let redis = match &config.redis_url {
            Some(url) => {
                redis::Client::open(url.as_str())
                    .map_err(|e| anyhow::anyhow!("REDIS_URL is invalid: {e}"))?;
                Some(Arc::new(crate::redis_handle::RedisHandle::new(
                    url,
                    config.redis_breaker_cool_down,
                )))
            }
            None => None,
        };
        let config_cache = (
            config.cache_enabled,
            redis.clone(),
            config.cache_prefix.clone(),
        );
        // A writer's own record outlives any lag a standby in rotation may have.
        let positions = Arc::new(crate::service::freshness::WritePositions::new(
            redis.clone(),
            &config.cache_prefix,
            (config.replica_max_lag * 10).max(std::time::Duration::from_secs(10)),
        ));
        crate::http::hardening::cors(&config)?;
        let limiter = crate::ratelimit::RateLimiter::new(
            config.rate_limit_enabled,
            config.rate_limits.clone(),
            redis,
        );
        let trusted_proxies =
            crate::http::client_ip::TrustedProxies::parse(&config.trusted_proxies)?;
        Ok(Arc::new(App {
            limiter,
            trusted_proxies,
            shutdown: crate::server::Shutdown::default(),
            config,
            db,
            auth,
            events: Events::new(),
            positions,
            cache: {
                let cache = Arc::new(Cache::new(config_cache.0, config_cache.1, &config_cache.2));
                if tokio::runtime::Handle::try_current().is_ok() {
                    cache.start_background();
                }
                cache
            },
        }))
    }
}

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user_id: i64,
    pub role: crate::domain::Role,
}

/// Per-request context: the caller and the request's database statistics.
#[derive(Debug, Clone, Default)]
pub struct Ctx {
    pub actor: Option<Actor>,
    pub stats: Arc<QueryStats>,
}

impl Ctx {
    pub fn anonymous() -> Ctx {
        Ctx::default()
    }
    pub fn with_actor(actor: Option<Actor>) -> Ctx {
        Ctx {
            actor,
            stats: Arc::default(),
        }
    }
}
