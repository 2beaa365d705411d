//! A bounded in-process map whose entries expire a fixed time after they were stored: the front
//! of the Redis cache and the list-page cache. quick_cache (a hit is a read lock on one shard,
//! without moka's per-read LRU bookkeeping, measured on W1) has no time-to-live of its own, so
//! each entry carries its expiry time.

use std::borrow::Borrow;
use std::hash::Hash;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Keys are `K` (the front's are rendered Redis keys, the page cache's are typed).
pub struct Expiring<K, V> {
    /// Value and the time (ms since the epoch) it expires.
    entries: quick_cache::sync::Cache<K, (V, u64)>,
    ttl_ms: u64,
}

impl<K: Eq + Hash + Clone, V: Clone> Expiring<K, V> {
    pub fn new(capacity: usize, ttl: Duration) -> Expiring<K, V> {
        Expiring {
            entries: quick_cache::sync::Cache::new(capacity),
            ttl_ms: ttl.as_millis() as u64,
        }
    }

    /// The value stored under `key`, unless it expired by `now_ms` (then it is dropped).
    pub fn get_at<Q>(&self, key: &Q, now_ms: u64) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        match self.entries.get(key) {
            Some((value, expires)) if now_ms < expires => Some(value),
            Some(_) => {
                self.entries.remove(key);
                None
            }
            None => None,
        }
    }

    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        self.get_at(key, now_ms())
    }

    /// Stores `value`, expiring the time-to-live after `now_ms`.
    pub fn insert_at(&self, key: K, value: V, now_ms: u64) {
        self.entries
            .insert(key, (value, now_ms.saturating_add(self.ttl_ms)));
    }

    pub fn insert(&self, key: K, value: V) {
        self.insert_at(key, value, now_ms());
    }

    pub fn remove<Q>(&self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        self.entries.remove(key);
    }

    pub fn clear(&self) {
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_after_the_ttl() {
        let map: Expiring<String, i32> = Expiring::new(10, Duration::from_millis(100));
        map.insert_at("a".into(), 1, 1_000);
        assert_eq!(map.get_at("a", 1_099), Some(1));
        assert_eq!(map.get_at("a", 1_100), None);
        // An expired entry is gone, not just hidden.
        assert_eq!(map.get_at("a", 1_000), None);
        map.insert("b".into(), 2);
        assert_eq!(map.get("b"), Some(2));
        map.remove("b");
        assert_eq!(map.get("b"), None);
        map.insert("c".into(), 3);
        map.clear();
        assert_eq!(map.get("c"), None);
    }
}
