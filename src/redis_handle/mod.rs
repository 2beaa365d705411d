//! The one Redis handle of the process: a connection manager made on first use, a time-out on
//! every call, and one circuit breaker, shared by every feature that talks to Redis (the cache,
//! the rate limiter). While Redis is down or hung, the breaker is open: no caller waits on Redis,
//! each feature falls back (PostgreSQL for the cache, in-process limits for the limiter), and one
//! call per cool-down probes whether Redis is back. So a request waits on Redis at most once per
//! breaker window, whichever feature it touches.

mod breaker;

use std::future::Future;
use std::time::Duration;

use redis::aio::ConnectionManager;
use tokio::sync::OnceCell;

pub use self::breaker::Breaker;

/// Longest wait for one Redis call (the connection manager's response time-out too).
pub const COMMAND_TIMEOUT: Duration = Duration::from_millis(250);

pub struct RedisHandle {
    url: String,
    conn: OnceCell<ConnectionManager>,
    breaker: Breaker,
}

impl RedisHandle {
    /// A handle for `url`; nothing connects until the first call.
    pub fn new(url: &str, cool_down: Duration) -> RedisHandle {
        RedisHandle {
            url: url.to_owned(),
            conn: OnceCell::new(),
            breaker: Breaker::new(cool_down),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether the breaker is open (Redis failed recently and is being left alone).
    pub fn is_open(&self) -> bool {
        self.breaker.is_open()
    }

    /// Runs `op` on the shared connection, through the breaker, within [`COMMAND_TIMEOUT`] (the
    /// first connection within four times that). `None` when Redis is not to be used now or the
    /// call failed; a failure opens the breaker for everyone.
    pub async fn run<T, F, Fut>(&self, op: F) -> Option<T>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        self.run_within(COMMAND_TIMEOUT, op).await
    }

    /// [`RedisHandle::run`] with another time-out for the call.
    pub async fn run_within<T, F, Fut>(&self, timeout: Duration, op: F) -> Option<T>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        if !self.breaker.allow() {
            return None;
        }
        let connecting = self.conn.get_or_try_init(|| connect(&self.url));
        let manager = match tokio::time::timeout(COMMAND_TIMEOUT * 4, connecting).await {
            Ok(Ok(m)) => m.clone(),
            Ok(Err(e)) => {
                self.fail(&format!("cannot connect: {e}"));
                return None;
            }
            Err(_) => {
                self.fail("connecting timed out");
                return None;
            }
        };
        match tokio::time::timeout(timeout, op(manager)).await {
            Ok(Ok(v)) => {
                self.breaker.success();
                Some(v)
            }
            Ok(Err(e)) => {
                self.fail(&format!("command failed: {e}"));
                None
            }
            Err(_) => {
                self.fail("command timed out");
                None
            }
        }
    }

    fn fail(&self, problem: &str) {
        crate::metrics::redis_error();
        if self.breaker.failure() {
            tracing::warn!(
                problem,
                cool_down_ms = self.breaker.cool_down().as_millis() as u64,
                "redis unavailable: the cache reads PostgreSQL and the rate limiter counts in process until it is back"
            );
        }
    }
}

/// A connection manager for `url` with the handle's time-outs.
pub async fn connect(url: &str) -> redis::RedisResult<ConnectionManager> {
    let client = redis::Client::open(url)?;
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(COMMAND_TIMEOUT * 2)
        .set_response_timeout(COMMAND_TIMEOUT)
        .set_number_of_retries(1);
    client.get_connection_manager_with_config(config).await
}
