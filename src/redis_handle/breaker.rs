//! A small circuit breaker for Redis: after a failure, Redis is left alone for a cool-down, then
//! one request probes it. Written here because it is a dozen lines over three atomics; the
//! breaker crates (`failsafe`, for one) bring failure-rate policies and back-off types that this
//! one rule does not need.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crate::cache::expiring::now_ms;

pub struct Breaker {
    cool_down_ms: u64,
    /// Until when (ms since the epoch) Redis is not called; 0 = closed.
    open_until_ms: AtomicU64,
    /// A probe is in flight during half-open.
    probing: AtomicBool,
}

impl Breaker {
    pub fn new(cool_down: Duration) -> Breaker {
        Breaker {
            cool_down_ms: cool_down.as_millis().max(1) as u64,
            open_until_ms: AtomicU64::new(0),
            probing: AtomicBool::new(false),
        }
    }

    pub fn is_open(&self) -> bool {
        self.open_until_ms.load(Ordering::Relaxed) != 0
    }

    /// Whether a call may go to Redis now.
    pub fn allow(&self) -> bool {
        let until = self.open_until_ms.load(Ordering::Relaxed);
        if until == 0 {
            return true;
        }
        if now_ms() < until {
            return false;
        }
        // Half-open: one caller probes, the others keep going to PostgreSQL.
        self.probing
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
    }

    pub fn success(&self) {
        if self.open_until_ms.swap(0, Ordering::Relaxed) != 0 {
            tracing::info!("redis is back: the cache and the rate limiter use it again");
        }
        self.probing.store(false, Ordering::Release);
    }

    pub fn cool_down(&self) -> Duration {
        Duration::from_millis(self.cool_down_ms)
    }

    /// Opens the breaker for a cool-down; `true` when it was closed (a new outage).
    pub fn failure(&self) -> bool {
        let was = self
            .open_until_ms
            .swap(now_ms() + self.cool_down_ms, Ordering::Relaxed);
        self.probing.store(false, Ordering::Release);
        was == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_and_probes_once() {
        let b = Breaker::new(Duration::from_secs(2));
        assert!(b.allow());
        b.failure();
        assert!(b.is_open());
        assert!(!b.allow());
        b.open_until_ms.store(1, Ordering::Relaxed);
        assert!(b.allow());
        assert!(!b.allow(), "only one probe at a time");
        b.success();
        assert!(!b.is_open());
        assert!(b.allow());
    }
}
