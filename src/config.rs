//! Configuration from the environment.
//!
//! | variable | meaning | default |
//! | --- | --- | --- |
//! | `DATABASE_URL` | PostgreSQL URL | required |
//! | `REDIS_URL` | Redis URL; unset = in-process cache only | unset |
//! | `BOOKSTORE_REDIS_BREAKER_COOLDOWN_MS` | after a failed or timed-out Redis call, how long no feature calls Redis (then one call probes it) | `2000` |
//! | `BOOKSTORE_ADDR` | listen address | `127.0.0.1:3000` |
//! | `BOOKSTORE_ENV` | `development` or `production` | `development` |
//! | `JWT_SECRET` | HS256 key, at least 32 bytes | random in development; required in production |
//! | `BOOKSTORE_ADMIN_USERNAME`, `BOOKSTORE_ADMIN_PASSWORD` | admin created at start-up if none exists | unset |
//! | `BOOKSTORE_ADMIN_EMAIL` | e-mail of that admin | `<username>@localhost.localdomain` |
//! | `DATABASE_POOL_SIZE` | connections per process | 4 x cores, at least 8 |
//! | `DATABASE_POOL_TIMEOUT_MS` | longest wait for a pooled connection before a 503 | `2000` |
//! | `DATABASE_STATEMENT_TIMEOUT_MS` | PostgreSQL `statement_timeout` per connection | `5000` |
//! | `DATABASE_LISTEN_URL` | where the change listener (`LISTEN`, for subscriptions and in-process cache invalidations) connects: the primary directly when `DATABASE_URL` points at PgBouncer in transaction mode, which cannot carry `LISTEN` | `DATABASE_URL` |
//! | `DATABASE_REPLICA_URLS` | comma-separated URLs of read-only streaming standbys; reads that may be served by a standby go there (see [`crate::db::replicas`]). A malformed URL stops start-up; an unreachable standby is only out of rotation | none |
//! | `DATABASE_REPLICA_MAX_LAG_MS` | a standby whose replay is behind the primary for longer than this is out of rotation until it catches up | `1000` |
//! | `DATABASE_STATEMENT_CACHE` | `on` or `off`. `off` for PgBouncer in transaction mode: no prepared-statement cache, and every read in an explicit transaction (one more round trip for BEGIN and one for COMMIT per read) | `on` |
//! | `BOOKSTORE_CACHE` | `on` or `off` | `on` |
//! | `BOOKSTORE_CACHE_PREFIX` | prefix of cache keys in Redis (several deployments can share one Redis) | `bs` |
//! | `BOOKSTORE_RATE_LIMIT` | `on` or `off` (off: no limit at all, for benchmarks) | `on` |
//! | `BOOKSTORE_RATE_LIMIT_IP` | requests per client IP, as `COUNT/UNIT,BURST` (UNIT `s`, `min` or `h`) | `50/s,200` |
//! | `BOOKSTORE_RATE_LIMIT_USER` | requests per signed-in user (token `sub`), same form | `50/s,200` |
//! | `BOOKSTORE_RATE_LIMIT_LOGIN` | password logins (`POST /v1/token`, GraphQL `login`) per client IP + username | `5/min,10` |
//! | `BOOKSTORE_RATE_LIMIT_LOGIN_IP` | password logins per client IP, any username | `30/min,30` |
//! | `BOOKSTORE_RATE_LIMIT_REDIS_PREFIX` | key prefix of the limiter's counters in Redis (shared by replicas when `REDIS_URL` is set) | `bookstore:rl:` |
//! | `BOOKSTORE_TLS_CERT`, `BOOKSTORE_TLS_KEY` | PEM files for HTTPS | unset |
//! | `BOOKSTORE_CORS_ORIGINS` | comma-separated origins allowed by CORS | none |
//! | `BOOKSTORE_TRUSTED_PROXIES` | comma-separated proxy addresses or CIDRs (`10.0.0.0/8`) whose `X-Forwarded-For` is believed | none |
//! | `BOOKSTORE_BODY_LIMIT_BYTES` | largest accepted request body | `1048576` |
//! | `BOOKSTORE_REQUEST_TIMEOUT_MS` | longest time a request may take before a 503 | `15000` |
//! | `BOOKSTORE_SHUTDOWN_TIMEOUT_SECS` | on SIGTERM/SIGINT, longest wait for in-flight requests and WebSockets | `20` |
//! | `BOOKSTORE_ACCESS_TOKEN_TTL_SECS` | access token lifetime | `900` |
//! | `BOOKSTORE_REFRESH_TOKEN_TTL_SECS` | refresh token lifetime | `1209600` (14 days) |
//! | `BOOKSTORE_JWT_ISSUER`, `BOOKSTORE_JWT_AUDIENCE` | `iss` and `aud` of access tokens | `bookstore`, `bookstore-api` |
//! | `BOOKSTORE_GRAPHQL_INTROSPECTION` | `on`/`off`; default on in development, off in production | env dependent |
//! | `BOOKSTORE_GRAPHQL_DEPTH`, `..._COMPLEXITY`, `..._ALIASES` | GraphQL limits | 12, 20000, 30 |
//! | `BOOKSTORE_GRAPHQL_WS_INIT_TIMEOUT_MS` | longest wait for `connection_init` on a GraphQL WebSocket before closing it with 4408 | `10000` |
//! | `BOOKSTORE_MIGRATE` | `off` stops `serve` from running migrations | `on` |
//! | `RUST_LOG` | tracing filter | `info` |
//!
//! Secrets are never printed: `Debug` of [`Config`] redacts them.

use std::{fmt, net::SocketAddr, time::Duration};

use anyhow::{bail, Context};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

#[derive(Clone)]
pub struct Config {
    pub database_url: String,
    pub redis_url: Option<String>,
    /// After a Redis failure, how long every feature leaves Redis alone.
    pub redis_breaker_cool_down: Duration,
    pub addr: SocketAddr,
    pub env: Environment,
    pub jwt_secret: Vec<u8>,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub admin_username: Option<String>,
    pub admin_password: Option<String>,
    pub admin_email: Option<String>,
    pub pool_size: usize,
    pub pool_timeout: Duration,
    pub statement_timeout: Duration,
    /// `DATABASE_LISTEN_URL`: the change listener's database URL (default `database_url`).
    pub listen_url: Option<String>,
    /// Read-only standbys (`DATABASE_REPLICA_URLS`), already checked to be PostgreSQL URLs.
    pub replica_urls: Vec<String>,
    pub replica_max_lag: Duration,
    /// `DATABASE_STATEMENT_CACHE`: off behind PgBouncer in transaction mode.
    pub statement_cache: bool,
    pub cache_enabled: bool,
    /// Prefix of every cache key in Redis (lets several deployments share one Redis).
    pub cache_prefix: String,
    pub rate_limit_enabled: bool,
    pub rate_limits: RateLimits,
    pub tls_cert: Option<String>,
    pub tls_key: Option<String>,
    pub cors_origins: Vec<String>,
    pub trusted_proxies: Vec<String>,
    pub body_limit_bytes: usize,
    pub request_timeout: Duration,
    pub shutdown_timeout: Duration,
    pub graphql_introspection: bool,
    pub graphql_depth: usize,
    pub graphql_complexity: usize,
    pub graphql_aliases: usize,
    /// Longest wait for `connection_init` on a graphql-transport-ws socket (then close 4408).
    pub graphql_ws_init_timeout: Duration,
    pub run_migrations: bool,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &redact_url(&self.database_url))
            .field("redis_url", &self.redis_url.as_deref().map(redact_url))
            .field("addr", &self.addr)
            .field("env", &self.env)
            .field("jwt_secret", &"***")
            .field("pool_size", &self.pool_size)
            .field("cache_enabled", &self.cache_enabled)
            .field("rate_limit_enabled", &self.rate_limit_enabled)
            .finish_non_exhaustive()
    }
}

/// `postgres://user:secret@host/db` -> `postgres://user:***@host/db`.
pub fn redact_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        if let Some((creds, host)) = rest.rsplit_once('@') {
            let user = creds.split(':').next().unwrap_or("");
            return format!("{scheme}://{user}:***@{host}");
        }
    }
    url.to_owned()
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn parse_var<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T>
where
    T::Err: fmt::Display,
{
    match var(name) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse()
            .map_err(|e| anyhow::anyhow!("{name}={v:?} is invalid: {e}")),
    }
}

fn on_off(name: &str, default: bool) -> anyhow::Result<bool> {
    match var(name).as_deref().map(str::to_ascii_lowercase).as_deref() {
        None => Ok(default),
        Some("on" | "true" | "1" | "yes") => Ok(true),
        Some("off" | "false" | "0" | "no") => Ok(false),
        Some(other) => bail!("{name}={other:?} is invalid: use on or off"),
    }
}

/// Checks every standby URL: a PostgreSQL URL with a host (a typo here is a start-up error, not a
/// standby that silently never joins).
pub fn replica_urls(urls: &[String]) -> anyhow::Result<Vec<String>> {
    urls.iter()
        .enumerate()
        .map(|(i, raw)| {
            let parsed = url::Url::parse(raw).map_err(|e| {
                anyhow::anyhow!(
                    "DATABASE_REPLICA_URLS entry {} ({}) is not a URL: {e}",
                    i + 1,
                    redact_url(raw)
                )
            })?;
            if !matches!(parsed.scheme(), "postgres" | "postgresql") {
                bail!(
                    "DATABASE_REPLICA_URLS entry {} ({}) must start with postgres:// or postgresql://",
                    i + 1,
                    redact_url(raw)
                );
            }
            if parsed.host_str().is_none_or(str::is_empty) {
                bail!(
                    "DATABASE_REPLICA_URLS entry {} ({}) has no host",
                    i + 1,
                    redact_url(raw)
                );
            }
            Ok(raw.clone())
        })
        .collect()
}

fn list(name: &str) -> Vec<String> {
    var(name)
        .map(|v| {
            v.split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

impl Config {
    /// Reads the configuration for commands that need only the database (`migrate`, `seed`, ...).
    pub fn database_url() -> anyhow::Result<String> {
        var("DATABASE_URL").context(
            "DATABASE_URL is not set (e.g. postgres://bookstore:bookstore@127.0.0.1/bookstore)",
        )
    }

    pub fn from_env() -> anyhow::Result<Config> {
        let env = match var("BOOKSTORE_ENV")
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("development" | "dev") => Environment::Development,
            Some("production" | "prod") => Environment::Production,
            Some(other) => {
                bail!("BOOKSTORE_ENV={other:?} is invalid: use development or production")
            }
        };
        let jwt_secret = match var("JWT_SECRET") {
            Some(s) if s.len() >= 32 => s.into_bytes(),
            Some(_) if env == Environment::Production => {
                bail!("JWT_SECRET must be at least 32 bytes in production")
            }
            None if env == Environment::Production => bail!("JWT_SECRET is required in production"),
            Some(_) => {
                tracing::warn!("JWT_SECRET is shorter than 32 bytes: using a random secret for this process instead");
                random_secret()
            }
            None => {
                tracing::warn!("JWT_SECRET is not set: using a random secret; tokens will not survive a restart");
                random_secret()
            }
        };
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        let admin_password = var("BOOKSTORE_ADMIN_PASSWORD");
        if env == Environment::Production {
            if let Some(p) = &admin_password {
                if p.chars().count() < 12 {
                    bail!("BOOKSTORE_ADMIN_PASSWORD must be at least 12 characters");
                }
            }
        }
        let config = Config {
            database_url: Self::database_url()?,
            redis_url: var("REDIS_URL"),
            redis_breaker_cool_down: Duration::from_millis(parse_var(
                "BOOKSTORE_REDIS_BREAKER_COOLDOWN_MS",
                2000u64,
            )?),
            addr: parse_var("BOOKSTORE_ADDR", SocketAddr::from(([127, 0, 0, 1], 3000)))?,
            env,
            jwt_secret,
            jwt_issuer: var("BOOKSTORE_JWT_ISSUER").unwrap_or_else(|| "bookstore".into()),
            jwt_audience: var("BOOKSTORE_JWT_AUDIENCE").unwrap_or_else(|| "bookstore-api".into()),
            access_token_ttl: Duration::from_secs(parse_var(
                "BOOKSTORE_ACCESS_TOKEN_TTL_SECS",
                900u64,
            )?),
            refresh_token_ttl: Duration::from_secs(parse_var(
                "BOOKSTORE_REFRESH_TOKEN_TTL_SECS",
                14 * 86_400u64,
            )?),
            admin_username: var("BOOKSTORE_ADMIN_USERNAME"),
            admin_password,
            admin_email: var("BOOKSTORE_ADMIN_EMAIL"),
            pool_size: parse_var("DATABASE_POOL_SIZE", (cores * 4).max(8))?,
            pool_timeout: Duration::from_millis(parse_var("DATABASE_POOL_TIMEOUT_MS", 2000u64)?),
            statement_timeout: Duration::from_millis(parse_var(
                "DATABASE_STATEMENT_TIMEOUT_MS",
                5000u64,
            )?),
            listen_url: var("DATABASE_LISTEN_URL"),
            replica_urls: replica_urls(&list("DATABASE_REPLICA_URLS"))?,
            replica_max_lag: Duration::from_millis(parse_var(
                "DATABASE_REPLICA_MAX_LAG_MS",
                1000u64,
            )?),
            statement_cache: on_off("DATABASE_STATEMENT_CACHE", true)?,
            cache_enabled: on_off("BOOKSTORE_CACHE", true)?,
            cache_prefix: var("BOOKSTORE_CACHE_PREFIX").unwrap_or_else(|| "bs".into()),
            rate_limit_enabled: on_off("BOOKSTORE_RATE_LIMIT", true)?,
            rate_limits: RateLimits::from_env()?,
            tls_cert: var("BOOKSTORE_TLS_CERT"),
            tls_key: var("BOOKSTORE_TLS_KEY"),
            cors_origins: list("BOOKSTORE_CORS_ORIGINS"),
            trusted_proxies: list("BOOKSTORE_TRUSTED_PROXIES"),
            body_limit_bytes: parse_var("BOOKSTORE_BODY_LIMIT_BYTES", 1024 * 1024usize)?,
            request_timeout: Duration::from_millis(parse_var(
                "BOOKSTORE_REQUEST_TIMEOUT_MS",
                15_000u64,
            )?),
            shutdown_timeout: Duration::from_secs(parse_var(
                "BOOKSTORE_SHUTDOWN_TIMEOUT_SECS",
                20u64,
            )?),
            graphql_introspection: on_off(
                "BOOKSTORE_GRAPHQL_INTROSPECTION",
                env == Environment::Development,
            )?,
            graphql_depth: parse_var("BOOKSTORE_GRAPHQL_DEPTH", 12usize)?,
            graphql_complexity: parse_var("BOOKSTORE_GRAPHQL_COMPLEXITY", 20_000usize)?,
            graphql_aliases: parse_var("BOOKSTORE_GRAPHQL_ALIASES", 30usize)?,
            graphql_ws_init_timeout: Duration::from_millis(parse_var(
                "BOOKSTORE_GRAPHQL_WS_INIT_TIMEOUT_MS",
                10_000u64,
            )?),
            run_migrations: on_off("BOOKSTORE_MIGRATE", true)?,
        };
        if config.redis_breaker_cool_down.is_zero() {
            bail!("BOOKSTORE_REDIS_BREAKER_COOLDOWN_MS must be at least 1");
        }
        if config.pool_size == 0 {
            bail!("DATABASE_POOL_SIZE must be at least 1");
        }
        if config.tls_cert.is_some() != config.tls_key.is_some() {
            bail!("BOOKSTORE_TLS_CERT and BOOKSTORE_TLS_KEY must be set together");
        }
        Ok(config)
    }

    /// A development configuration for `database_url` that reads nothing from the environment:
    /// the documented defaults, a small pool, no start-up admin, and a random 48-byte JWT secret
    /// fixed for the life of this `Config` (tests read it from `jwt_secret` to forge tokens).
    pub fn for_database(database_url: String) -> Config {
        Config {
            database_url,
            redis_url: None,
            redis_breaker_cool_down: Duration::from_millis(2000),
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            env: Environment::Development,
            jwt_secret: random_secret(),
            jwt_issuer: "bookstore".into(),
            jwt_audience: "bookstore-api".into(),
            access_token_ttl: Duration::from_secs(900),
            refresh_token_ttl: Duration::from_secs(14 * 86_400),
            admin_username: None,
            admin_password: None,
            admin_email: None,
            pool_size: 8,
            pool_timeout: Duration::from_millis(2000),
            statement_timeout: Duration::from_millis(5000),
            listen_url: None,
            replica_urls: Vec::new(),
            replica_max_lag: Duration::from_millis(1000),
            statement_cache: true,
            cache_enabled: true,
            cache_prefix: "bs".into(),
            rate_limit_enabled: false,
            rate_limits: RateLimits::default(),
            tls_cert: None,
            tls_key: None,
            cors_origins: Vec::new(),
            trusted_proxies: Vec::new(),
            body_limit_bytes: 1024 * 1024,
            request_timeout: Duration::from_millis(15_000),
            shutdown_timeout: Duration::from_secs(20),
            graphql_introspection: true,
            graphql_depth: 12,
            graphql_complexity: 20_000,
            graphql_aliases: 30,
            graphql_ws_init_timeout: Duration::from_millis(10_000),
            run_migrations: false,
        }
    }

    pub fn is_production(&self) -> bool {
        self.env == Environment::Production
    }
}

/// One rate limit: `count` requests per `per` on average, with bursts of up to `burst` requests
/// (a GCRA / token bucket: one request's allowance comes back every `per / count`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateQuota {
    pub count: u32,
    pub per: Duration,
    pub burst: u32,
}

impl RateQuota {
    pub const fn new(count: u32, per: Duration, burst: u32) -> RateQuota {
        RateQuota { count, per, burst }
    }

    /// The time after which one more request is allowed (`per / count`).
    pub fn interval(&self) -> Duration {
        self.per / self.count.max(1)
    }
}

impl std::str::FromStr for RateQuota {
    type Err = String;

    /// `COUNT/UNIT[,BURST]` with UNIT `s`, `min` or `h` (e.g. `50/s,200`, `5/min,10`); the burst
    /// defaults to COUNT.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || format!("{s:?} is not COUNT/UNIT[,BURST] (e.g. 50/s,200 or 5/min,10)");
        let (rate, burst) = match s.split_once(',') {
            Some((r, b)) => (r.trim(), Some(b.trim())),
            None => (s.trim(), None),
        };
        let (count, unit) = rate.split_once('/').ok_or_else(err)?;
        let count: u32 = count.trim().parse().map_err(|_| err())?;
        let per = match unit.trim() {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "m" | "min" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            _ => return Err(err()),
        };
        let burst: u32 = match burst {
            Some(b) => b.parse().map_err(|_| err())?,
            None => count,
        };
        if count == 0 || burst == 0 {
            return Err(format!("{s:?}: the count and the burst must be at least 1"));
        }
        Ok(RateQuota { count, per, burst })
    }
}

/// The limits of `crate::ratelimit` (used only when `rate_limit_enabled`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimits {
    /// Every request, per client IP (`/healthz`, `/readyz` and `/metrics` are exempt).
    pub ip: RateQuota,
    /// Every request with a bearer token, per user.
    pub user: RateQuota,
    /// Password logins per client IP + username.
    pub login: RateQuota,
    /// Password logins per client IP.
    pub login_ip: RateQuota,
    /// Prefix of the limiter's Redis keys.
    pub redis_prefix: String,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            ip: RateQuota::new(50, Duration::from_secs(1), 200),
            user: RateQuota::new(50, Duration::from_secs(1), 200),
            login: RateQuota::new(5, Duration::from_secs(60), 10),
            login_ip: RateQuota::new(30, Duration::from_secs(60), 30),
            redis_prefix: "bookstore:rl:".into(),
        }
    }
}

impl RateLimits {
    fn from_env() -> anyhow::Result<RateLimits> {
        let d = RateLimits::default();
        Ok(RateLimits {
            ip: parse_var("BOOKSTORE_RATE_LIMIT_IP", d.ip)?,
            user: parse_var("BOOKSTORE_RATE_LIMIT_USER", d.user)?,
            login: parse_var("BOOKSTORE_RATE_LIMIT_LOGIN", d.login)?,
            login_ip: parse_var("BOOKSTORE_RATE_LIMIT_LOGIN_IP", d.login_ip)?,
            redis_prefix: var("BOOKSTORE_RATE_LIMIT_REDIS_PREFIX").unwrap_or(d.redis_prefix),
        })
    }
}

fn random_secret() -> Vec<u8> {
    use rand::RngCore;
    let mut key = vec![0u8; 48];
    rand::rng().fill_bytes(&mut key);
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rate_quotas() {
        let q: RateQuota = "50/s,200".parse().unwrap();
        assert_eq!(q, RateQuota::new(50, Duration::from_secs(1), 200));
        assert_eq!(q.interval(), Duration::from_millis(20));
        let q: RateQuota = " 5/min , 10 ".parse().unwrap();
        assert_eq!(q, RateQuota::new(5, Duration::from_secs(60), 10));
        let q: RateQuota = "100/h".parse().unwrap();
        assert_eq!(q.burst, 100);
        for bad in ["", "5", "5/day", "0/s", "5/s,0", "x/s", "5/s,y"] {
            assert!(bad.parse::<RateQuota>().is_err(), "{bad}");
        }
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact_url("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact_url("redis://127.0.0.1/"), "redis://127.0.0.1/");
    }
}
