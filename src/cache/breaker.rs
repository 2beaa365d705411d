//! A small circuit breaker for Redis: after a failure, Redis is left alone for a cool-down, then
//! one request probes it. Written here because it is a dozen lines over two atomics; the crates
//! for it bring their own runtimes and policies we do not need.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use super::expiring::now_ms;

const COOL_DOWN: Duration = Duration::from_secs(2);

pub struct Breaker {
    /// Until when (ms since the epoch) Redis is not called; 0 = closed.
    open_until_ms: AtomicU64,
    /// A probe is in flight during half-open.
    probing: AtomicBool,
}

impl Breaker {
    pub fn new() -> Breaker {
        Breaker {
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
            tracing::info!("redis is back: caching resumes");
        }
        self.probing.store(false, Ordering::Release);
    }

    pub fn failure(&self) {
        if self
            .open_until_ms
            .swap(now_ms() + COOL_DOWN.as_millis() as u64, Ordering::Relaxed)
            == 0
        {
            tracing::warn!("redis unavailable: serving from PostgreSQL for a while");
        }
        self.probing.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_and_probes_once() {
        let b = Breaker::new();
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
