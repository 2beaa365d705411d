//! Rate limiting: GCRA limits (a token bucket without a refill task) keyed by client IP, user and
//! login attempt, shared by all replicas through Redis when `REDIS_URL` is set.
//!
//! Policy (limits in [`crate::config::RateLimits`], all off with `BOOKSTORE_RATE_LIMIT=off`):
//! - Every request counts against its client IP (`ip`), and a request with a bearer token whose
//!   signature checks out also against its user (`user`). Probes (`/healthz`, `/readyz`,
//!   `/metrics`) are exempt. This is `crate::http::ratelimit`'s middleware, in front of both doors.
//! - A password login (`POST /v1/token`, the GraphQL `login` mutation) counts against the client
//!   IP + username (`login`) and the client IP (`login_ip`), in [`crate::App::login`], so both
//!   doors share one budget.
//! - A refused request is a 429 problem with `Retry-After` (GraphQL: `RATE_LIMITED`).
//!
//! Storage: with Redis, one GCRA state per key in Redis, updated by one Lua script with Redis's
//! own clock, so every replica sees the same budget. Without Redis, or while Redis fails (errors
//! and time-outs, bounded by [`crate::redis_handle::COMMAND_TIMEOUT`], and while the shared
//! Redis breaker is open), the in-process limiter (`governor`) decides: a Redis outage loosens the
//! limits to per-process ones, never fails a request, and costs a request at most one wait per
//! breaker window.
//!
//! The client IP is worked out by the HTTP door (`crate::http::client_ip`): the TCP peer, or the
//! forwarded client when the peer is one of `BOOKSTORE_TRUSTED_PROXIES`.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::redis_handle::RedisHandle;
use governor::{clock::Clock, DefaultKeyedRateLimiter, Quota};

use crate::config::{RateLimits, RateQuota};

/// The client's address as the rate limiter sees it (a request extension, and GraphQL request
/// data): the TCP peer, or the forwarded client when the peer is a trusted proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// What a limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    Ip,
    User,
    Login,
    LoginIp,
}

impl Scope {
    pub const ALL: [Scope; 4] = [Scope::Ip, Scope::User, Scope::Login, Scope::LoginIp];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Ip => "ip",
            Scope::User => "user",
            Scope::Login => "login",
            Scope::LoginIp => "login_ip",
        }
    }

    fn quota(self, limits: &RateLimits) -> RateQuota {
        match self {
            Scope::Ip => limits.ip,
            Scope::User => limits.user,
            Scope::Login => limits.login,
            Scope::LoginIp => limits.login_ip,
        }
    }
}

/// A refusal: try again after this long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    pub retry_after: Duration,
}

impl Refused {
    /// Whole seconds for `Retry-After`, rounded up, at least 1.
    pub fn retry_after_secs(&self) -> u64 {
        let ms = self.retry_after.as_millis() as u64;
        ms.div_ceil(1000).max(1)
    }
}

/// GCRA in Redis: KEYS[1] holds the theoretical arrival time (ms, Redis clock). ARGV: the
/// interval between requests in ms, the burst. Returns {1, 0} when allowed, else {0, wait ms}.
const GCRA_LUA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - interval * burst
if now < allow_at then
  return {0, math.ceil(allow_at - now)}
end
redis.call('SET', KEYS[1], string.format('%.3f', new_tat), 'PX', math.ceil(new_tat - now) + 1000)
return {1, 0}
";

struct RedisLimiter {
    redis: Arc<RedisHandle>,
    script: redis::Script,
}

impl RedisLimiter {
    /// `Some(decision)` from Redis, `None` when Redis could not decide (down, hung, or its
    /// breaker open: then no call is made at all).
    async fn check(&self, key: &str, quota: RateQuota) -> Option<Result<(), Refused>> {
        let interval_ms = quota.interval().as_secs_f64() * 1000.0;
        let mut invocation = self.script.key(key);
        invocation.arg(interval_ms).arg(quota.burst);
        let answer: Option<(i64, i64)> = self
            .redis
            .run(|mut conn| async move { invocation.invoke_async(&mut conn).await })
            .await;
        match answer {
            Some((1, _)) => Some(Ok(())),
            Some((_, wait_ms)) => Some(Err(Refused {
                retry_after: Duration::from_millis(wait_ms.max(1) as u64),
            })),
            None => {
                crate::metrics::rate_limit_redis_error();
                None
            }
        }
    }
}

/// The limiter of one process: in-process GCRA per scope, and Redis when configured.
pub struct RateLimiter {
    enabled: bool,
    limits: RateLimits,
    local: HashMap<Scope, DefaultKeyedRateLimiter<String>>,
    redis: Option<RedisLimiter>,
    checks: AtomicU64,
}

impl fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter")
            .field("enabled", &self.enabled)
            .field("limits", &self.limits)
            .field("redis", &self.redis.is_some())
            .finish_non_exhaustive()
    }
}

fn governor_quota(q: RateQuota) -> Quota {
    let burst = NonZeroU32::new(q.burst).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(q.interval().max(Duration::from_nanos(1)))
        .expect("a non-zero period")
        .allow_burst(burst)
}

impl RateLimiter {
    /// Builds the limiter (in process, and in Redis through `redis` when given).
    pub fn new(enabled: bool, limits: RateLimits, redis: Option<Arc<RedisHandle>>) -> RateLimiter {
        let local = Scope::ALL
            .iter()
            .map(|s| {
                (
                    *s,
                    DefaultKeyedRateLimiter::keyed(governor_quota(s.quota(&limits))),
                )
            })
            .collect();
        let redis = match redis {
            Some(redis) if enabled => Some(RedisLimiter {
                redis,
                script: redis::Script::new(GCRA_LUA),
            }),
            _ => None,
        };
        RateLimiter {
            enabled,
            limits,
            local,
            redis,
            checks: AtomicU64::new(0),
        }
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    pub fn limits(&self) -> &RateLimits {
        &self.limits
    }

    /// Counts one request against `scope`/`key`; `Err` when it is over the limit.
    pub async fn check(&self, scope: Scope, key: &str) -> Result<(), Refused> {
        if !self.enabled {
            return Ok(());
        }
        let quota = scope.quota(&self.limits);
        let decision = match &self.redis {
            Some(redis) => {
                let redis_key = format!("{}{}:{key}", self.limits.redis_prefix, scope.as_str());
                match redis.check(&redis_key, quota).await {
                    Some(d) => d,
                    None => self.check_local(scope, key),
                }
            }
            None => self.check_local(scope, key),
        };
        if decision.is_err() {
            crate::metrics::rate_limited(scope.as_str());
        }
        decision
    }

    fn check_local(&self, scope: Scope, key: &str) -> Result<(), Refused> {
        let limiter = &self.local[&scope];
        // Forget idle keys now and then, so the maps stay small.
        if self.checks.fetch_add(1, Ordering::Relaxed) % 4096 == 4095 {
            for l in self.local.values() {
                l.retain_recent();
                l.shrink_to_fit();
            }
        }
        limiter.check_key(&key.to_owned()).map_err(|not_until| {
            let clock = governor::clock::DefaultClock::default();
            Refused {
                retry_after: not_until.wait_time_from(clock.now()),
            }
        })
    }

    /// The login budget: client IP + username, and client IP alone.
    pub async fn check_login(&self, client: Option<IpAddr>, username: &str) -> Result<(), Refused> {
        if !self.enabled {
            return Ok(());
        }
        let ip = client.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
        // Usernames are case-folded and bounded, so spelling variants share one budget.
        let user: String = username.trim().to_lowercase().chars().take(64).collect();
        let per_user = self.check(Scope::Login, &format!("{ip}|{user}")).await;
        let per_ip = self.check(Scope::LoginIp, &ip).await;
        match (per_user, per_ip) {
            (Ok(()), Ok(())) => Ok(()),
            (Err(a), Err(b)) => Err(if a.retry_after > b.retry_after { a } else { b }),
            (Err(e), _) | (_, Err(e)) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn local_limits_refuse_with_a_retry_hint() {
        let limits = RateLimits {
            ip: RateQuota::new(1, Duration::from_secs(60), 2),
            ..RateLimits::default()
        };
        let l = RateLimiter::new(true, limits, None);
        assert!(l.check(Scope::Ip, "a").await.is_ok());
        assert!(l.check(Scope::Ip, "a").await.is_ok());
        let refused = l.check(Scope::Ip, "a").await.unwrap_err();
        assert!(
            (59..=60).contains(&refused.retry_after_secs()),
            "{refused:?}"
        );
        // Other keys have their own budget.
        assert!(l.check(Scope::Ip, "b").await.is_ok());
        // Off means off.
        let off = RateLimiter::new(false, RateLimits::default(), None);
        for _ in 0..1000 {
            assert!(off.check(Scope::Login, "x").await.is_ok());
        }
    }
}
