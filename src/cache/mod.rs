//! The entity cache shared by both doors (cache-aside, filled and invalidated by the service layer).
//!
//! What is cached: single books, authors and magazines, as the JSON bytes REST serves (so a REST
//! hit is served without serializing anything), prefixed with the entity's version for `ETag`
//! (in Redis when configured, shared by every process). Pages of lists are cached too, but only
//! in process and under a generation that every write moves on (see [`Cache::page_generation`]),
//! so no page outlives a write.
//!
//! Correctness under writes:
//! - Invalidation happens after commit and before the write is acknowledged. It writes a short-lived
//!   *tombstone* instead of deleting, and fills use `SET NX`, so a reader that fetched the old row
//!   before the commit cannot put it back afterwards (the classic cache-aside race).
//! - With Redis, every process reads the same entries, so a write through one process is seen by
//!   the next read through any other (read-your-writes across replicas). Without Redis, each
//!   process has its own in-process cache (moka), and invalidations are also sent to the other
//!   processes through PostgreSQL `NOTIFY` (see `service::events`).
//! - Redis is never a single point of failure: every command has a short time-out, and the
//!   process's one circuit breaker ([`crate::redis_handle`]) stops calling Redis for a while after
//!   a failure, so requests go to PostgreSQL without
//!   waiting on Redis time-outs. Invalidations that could not be written are kept and replayed
//!   before Redis is used again.
//! - Concurrent misses of one key in one process share one database read (single flight).
//!
//! Keys are namespaced and versioned (`bs:v1:book:<isbn>`): a deploy that changes the cached shape
//! bumps [`SCHEMA_VERSION`] and never reads old entries.

mod admin;
pub(crate) mod expiring;
mod front;
mod keys;
mod pages;
mod redis_scripts;
mod single_flight;

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use redis::aio::ConnectionManager;

pub use self::admin::flush_shared;
pub use self::keys::{CacheKey, SCHEMA_VERSION};
pub use self::pages::{CachedPage, PageKey};
pub use self::single_flight::SingleFlight;
use crate::redis_handle::{RedisHandle, COMMAND_TIMEOUT};

/// Lifetime of a cached entity.
const VALUE_TTL: Duration = Duration::from_secs(300);
/// Lifetime of a tombstone: longer than any read can take (statement_timeout + margin).
pub(crate) const TOMBSTONE_TTL: Duration = Duration::from_secs(60);
const TOMBSTONE: &[u8] = b"\0tomb";
/// Most invalidations kept while Redis is unreachable; past that the whole namespace is dropped.
const MAX_PENDING: usize = 100_000;

/// How a read was served, for the `Cache-Status` header and the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Hit,
    Miss,
    /// The cache is switched off (`BOOKSTORE_CACHE=off`).
    Bypass,
    /// The cache could not be used (Redis down): served from PostgreSQL.
    Unavailable,
}

#[derive(Clone)]
enum LocalEntry {
    Value(Bytes),
    /// A write numbered by the in-process invalidation sequence.
    Tombstone(u64),
}

enum Backend {
    Off,
    Local(moka::future::Cache<String, LocalEntry>),
    Redis {
        redis: Arc<RedisHandle>,
        pending: Mutex<HashSet<String>>,
    },
}

#[derive(Default)]
pub struct CacheCounters {
    pub hits: AtomicU64,
    /// Hits served by the in-process front (no Redis round trip).
    pub front_hits: AtomicU64,
    pub misses: AtomicU64,
    pub errors: AtomicU64,
}

/// The invalidation sequence numbers seen before a lookup (see [`Cache::fill`]): the shared one
/// (Redis, or the in-process cache), and the in-process front's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Snapshot(pub u64, pub u64);

pub struct Cache {
    /// Pages of lists by `<generation>:<query>` (see [`Cache::page_generation`]).
    pages: expiring::Expiring<(u64, PageKey), CachedPage>,
    prefix: String,
    /// In-process front of the Redis backend.
    front: Option<Arc<front::Front>>,
    /// In-process invalidation sequence (in-process backend).
    local_seq: AtomicU64,
    backend: Backend,
    pub flights: SingleFlight,
    pub counters: CacheCounters,
}

impl Cache {
    pub fn new(enabled: bool, redis: Option<Arc<RedisHandle>>, prefix: &str) -> Cache {
        let backend = match (enabled, redis) {
            (false, _) => Backend::Off,
            (true, None) => Backend::Local(
                moka::future::Cache::builder()
                    .max_capacity(50_000)
                    .time_to_live(VALUE_TTL)
                    .build(),
            ),
            (true, Some(redis)) => Backend::Redis {
                redis,
                pending: Mutex::new(HashSet::new()),
            },
        };
        let front = matches!(backend, Backend::Redis { .. })
            .then(|| Arc::new(front::Front::new(prefix, SCHEMA_VERSION, VALUE_TTL)));
        Cache {
            pages: expiring::Expiring::new(2_000, VALUE_TTL),
            prefix: prefix.to_owned(),
            front,
            local_seq: AtomicU64::new(0),
            backend,
            flights: SingleFlight::default(),
            counters: CacheCounters::default(),
        }
    }

    /// Starts the front's subscription to invalidations (Redis backend; needs a tokio runtime).
    pub fn start_background(&self) {
        let (Some(front), Backend::Redis { redis, .. }) = (self.front.clone(), &self.backend)
        else {
            return;
        };
        let url = redis.url().to_owned();
        tokio::spawn(async move {
            loop {
                match crate::redis_handle::connect(&url).await {
                    Ok(conn) => {
                        front.spawn(url, conn);
                        return;
                    }
                    Err(_) => tokio::time::sleep(std::time::Duration::from_secs(1)).await,
                }
            }
        });
    }

    /// The full key of `key` in this cache.
    pub fn key(&self, key: &CacheKey) -> String {
        key.render(&self.prefix)
    }

    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Off => "off",
            Backend::Local(_) => "memory",
            Backend::Redis { .. } => "redis",
        }
    }

    pub fn is_local(&self) -> bool {
        matches!(self.backend, Backend::Local(_))
    }

    /// "ok", "off", or "degraded" (Redis unreachable: requests go to PostgreSQL).
    pub fn health(&self) -> &'static str {
        match &self.backend {
            Backend::Off => "off",
            Backend::Local(_) => "ok",
            Backend::Redis { redis, .. } => {
                if redis.is_open() {
                    "degraded"
                } else {
                    "ok"
                }
            }
        }
    }

    /// Pings Redis (for `/readyz`), through the breaker.
    pub async fn ping(&self) -> bool {
        match &self.backend {
            Backend::Redis { .. } => self
                .redis(
                    |mut c| async move { redis::cmd("PING").query_async::<String>(&mut c).await },
                )
                .await
                .is_some(),
            _ => true,
        }
    }

    /// Counters and metrics of `keys` all answered by the front.
    fn count_front_hits(&self, keys: &[CacheKey]) {
        self.counters
            .front_hits
            .fetch_add(keys.len() as u64, Ordering::Relaxed);
        for k in keys {
            self.count(Outcome::Hit);
            crate::metrics::cache_event(k.kind(), "hit");
        }
    }

    fn count(&self, outcome: Outcome) {
        let c = match outcome {
            Outcome::Hit => &self.counters.hits,
            Outcome::Miss => &self.counters.misses,
            Outcome::Unavailable => &self.counters.errors,
            Outcome::Bypass => return,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// Runs one Redis operation through the process's Redis handle (its breaker and time-out);
    /// `None` when Redis cannot be used now. Invalidations that failed earlier are replayed first.
    async fn redis<T, F, Fut>(&self, op: F) -> Option<T>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let Backend::Redis { redis, pending } = &self.backend else {
            return None;
        };
        let seq_key = self.seq_key();
        redis
            .run_within(COMMAND_TIMEOUT * 2, |manager| async move {
                // Replay invalidations that could not be written while Redis was away.
                let replay: Vec<String> = pending
                    .lock()
                    .map(|mut p| p.drain().collect())
                    .unwrap_or_default();
                if !replay.is_empty() {
                    if let Err(e) =
                        redis_scripts::write_tombstones(manager.clone(), &seq_key, &replay).await
                    {
                        if let Ok(mut p) = pending.lock() {
                            p.extend(replay);
                        }
                        return Err(e);
                    }
                    tracing::info!(
                        keys = replay.len(),
                        "replayed cache invalidations after a Redis outage"
                    );
                }
                op(manager).await
            })
            .await
    }

    /// Looks up many keys at once (one MGET). Each slot is the cached bytes or `None`. The
    /// [`Snapshot`] is the invalidation sequence before the lookup: pass it to [`Cache::fill`].
    pub async fn get_many(&self, keys: &[CacheKey]) -> (Vec<Option<Bytes>>, Outcome, Snapshot) {
        if keys.is_empty() {
            return (Vec::new(), Outcome::Miss, Snapshot::default());
        }
        let front_seq = self.front.as_ref().map_or(0, |f| f.seq());
        let result = match &self.backend {
            Backend::Off => return (vec![None; keys.len()], Outcome::Bypass, Snapshot::default()),
            Backend::Local(cache) => {
                let snapshot = self.local_seq.load(Ordering::SeqCst);
                let mut out = Vec::with_capacity(keys.len());
                for k in keys {
                    out.push(match cache.get(&self.key(k)).await {
                        Some(LocalEntry::Value(b)) => Some(b),
                        _ => None,
                    });
                }
                Some((out, snapshot))
            }
            Backend::Redis { .. } => {
                let mut rendered: Vec<String> = keys.iter().map(|k| self.key(k)).collect();
                if let Some(front) = &self.front {
                    let from_front: Vec<Option<Bytes>> =
                        rendered.iter().map(|k| front.get(k)).collect();
                    if from_front.iter().all(Option::is_some) {
                        self.count_front_hits(keys);
                        return (from_front, Outcome::Hit, Snapshot(0, front_seq));
                    }
                }
                rendered.push(self.seq_key());
                let request = rendered.clone();
                self.redis(|mut c| async move {
                    redis::cmd("MGET")
                        .arg(&request)
                        .query_async::<Vec<Option<Vec<u8>>>>(&mut c)
                        .await
                })
                .await
                .map(|mut vals| {
                    if let Some(front) = &self.front {
                        for (k, v) in rendered.iter().zip(&vals) {
                            if let Some(v) = v.as_ref().filter(|b| !b.starts_with(TOMBSTONE)) {
                                front.fill(k.clone(), Bytes::copy_from_slice(v), front_seq);
                            }
                        }
                    }
                    let seq = vals
                        .pop()
                        .flatten()
                        .and_then(|b| {
                            std::str::from_utf8(&b)
                                .ok()
                                .and_then(|s| s.parse::<u64>().ok())
                        })
                        .unwrap_or(0);
                    let vals = vals
                        .into_iter()
                        .map(|v| v.filter(|b| !b.starts_with(TOMBSTONE)).map(Bytes::from))
                        .collect::<Vec<_>>();
                    (vals, seq)
                })
            }
        };
        match result {
            Some((vals, seq)) => {
                for (k, v) in keys.iter().zip(&vals) {
                    let outcome = if v.is_some() {
                        Outcome::Hit
                    } else {
                        Outcome::Miss
                    };
                    self.count(outcome);
                    crate::metrics::cache_event(k.kind(), if v.is_some() { "hit" } else { "miss" });
                }
                let outcome = if vals.iter().all(Option::is_some) {
                    Outcome::Hit
                } else {
                    Outcome::Miss
                };
                (vals, outcome, Snapshot(seq, front_seq))
            }
            None => {
                self.count(Outcome::Unavailable);
                for k in keys {
                    crate::metrics::cache_event(k.kind(), "error");
                }
                (
                    vec![None; keys.len()],
                    Outcome::Unavailable,
                    Snapshot::default(),
                )
            }
        }
    }

    pub async fn get(&self, key: &CacheKey) -> (Option<Bytes>, Outcome, Snapshot) {
        // The hot path (a front hit) without the vectors of `get_many`; same answer as it gives.
        if let (Backend::Redis { .. }, Some(front)) = (&self.backend, &self.front) {
            let front_seq = front.seq();
            if let Some(v) = front.get(&self.key(key)) {
                self.count_front_hits(std::slice::from_ref(key));
                return (Some(v), Outcome::Hit, Snapshot(0, front_seq));
            }
        }
        // Boxed: the Redis round trip's state stays out of every caller's future, which a front
        // hit would otherwise move around (memcpy) at its full size.
        let (mut v, o, s) = Box::pin(self.get_many(std::slice::from_ref(key))).await;
        (v.pop().flatten(), o, s)
    }

    fn seq_key(&self) -> String {
        format!("{}:{SCHEMA_VERSION}:invalidation-seq", self.prefix)
    }

    /// Stores values read from the database after `snapshot` was taken. An entry is only written
    /// where there is nothing, or a tombstone of a write that `snapshot` already covers: a reader
    /// that may have read a row before a later write committed never puts it back.
    pub async fn fill(&self, entries: Vec<(CacheKey, Bytes)>, snapshot: Snapshot) {
        if entries.is_empty() {
            return;
        }
        match &self.backend {
            Backend::Off => {}
            Backend::Local(cache) => {
                for (k, v) in entries {
                    let key = self.key(&k);
                    match cache.get(&key).await {
                        Some(LocalEntry::Value(_)) => {}
                        Some(LocalEntry::Tombstone(seq)) if seq > snapshot.0 => {}
                        _ => cache.insert(key, LocalEntry::Value(v)).await,
                    }
                }
            }
            Backend::Redis { .. } => {
                let script = redis::Script::new(redis_scripts::FILL);
                let mut invocation = script.prepare_invoke();
                invocation.arg(VALUE_TTL.as_millis() as u64).arg(snapshot.0);
                for (k, v) in &entries {
                    invocation.key(self.key(k)).arg(v.as_ref());
                }
                self.redis(|mut c| async move { invocation.invoke_async::<()>(&mut c).await })
                    .await;
                if let Some(front) = &self.front {
                    for (k, v) in entries {
                        front.fill(self.key(&k), v, snapshot.1);
                    }
                }
            }
        }
    }

    /// Invalidates after a commit: numbered tombstones, so no read that began before this point
    /// can put old data back (see [`Cache::fill`]).
    pub async fn invalidate(&self, keys: &[CacheKey]) {
        if keys.is_empty() {
            return;
        }
        let rendered: Vec<String> = keys.iter().map(|k| self.key(k)).collect();
        self.invalidate_rendered(rendered).await;
    }

    async fn invalidate_rendered(&self, rendered: Vec<String>) {
        for k in &rendered {
            self.flights.forget(k);
        }
        match &self.backend {
            Backend::Off => {}
            Backend::Local(cache) => {
                let seq = self.local_seq.fetch_add(1, Ordering::SeqCst) + 1;
                for k in rendered {
                    cache.insert(k, LocalEntry::Tombstone(seq)).await;
                }
            }
            Backend::Redis { pending, .. } => {
                if let Some(front) = &self.front {
                    front.invalidate(&rendered);
                }
                let seq_key = self.seq_key();
                let front = self.front.clone();
                let sent = self
                    .redis(|c| {
                        let keys = rendered.clone();
                        async move {
                            redis_scripts::write_tombstones(c.clone(), &seq_key, &keys).await?;
                            // Every replica drops the keys from its front before we answer.
                            match front {
                                Some(front) => front.broadcast(c, &keys).await,
                                None => Ok(()),
                            }
                        }
                    })
                    .await;
                if sent.is_none() {
                    if let Ok(mut p) = pending.lock() {
                        if p.len() + rendered.len() > MAX_PENDING {
                            tracing::error!("too many cache invalidations pending; entries expire with their TTL");
                        } else {
                            p.extend(rendered);
                        }
                    }
                }
            }
        }
    }

    /// Applies invalidations announced by another process (PostgreSQL NOTIFY) to the
    /// in-process cache.
    pub async fn forget_local(&self, rendered_keys: &[String]) {
        if self.is_local() {
            self.invalidate_rendered(rendered_keys.to_vec()).await;
        }
    }

    /// The generation under which pages of book lists may be cached now, or `None` when they must
    /// not be. Lists are invalidated by generation counters: every invalidation this process
    /// applies (its own writes, and every other replica's before that write is acknowledged)
    /// moves the generation on, so a page stored under an older one is never read again.
    /// With Redis the generation is the front's, usable only while the front is live; without
    /// Redis it is the in-process sequence.
    pub fn page_generation(&self) -> Option<u64> {
        match &self.backend {
            Backend::Off => None,
            Backend::Local(_) => Some(self.local_seq.load(Ordering::SeqCst)),
            Backend::Redis { .. } => self.front.as_ref().filter(|f| f.is_live()).map(|f| f.seq()),
        }
    }

    /// The page cached for `key` under `generation`.
    pub fn get_page(&self, key: &PageKey, generation: u64) -> Option<CachedPage> {
        // The map's key owns its page key; a lookup clones it (a few small fields).
        let hit = self.pages.get(&(generation, key.clone()));
        crate::metrics::cache_event("list_page", if hit.is_some() { "hit" } else { "miss" });
        hit
    }

    /// Stores a page read under `generation`, unless the generation moved on meanwhile.
    pub fn put_page(&self, key: PageKey, generation: u64, page: CachedPage) {
        if self.page_generation() == Some(generation) {
            let full = (generation, key);
            self.pages.insert(full.clone(), page);
            if self.page_generation() != Some(generation) {
                self.pages.remove(&full);
            }
        }
    }

    /// Empties the in-process cache (after the invalidation listener reconnects).
    pub fn clear_local(&self) {
        self.local_seq.fetch_add(1, Ordering::SeqCst);
        if let Backend::Local(cache) = &self.backend {
            cache.invalidate_all();
        }
    }

    /// Raw string get/set for persisted queries (no tombstones: they are immutable).
    pub async fn get_string(&self, key: &CacheKey) -> Option<String> {
        match &self.backend {
            Backend::Off => None,
            Backend::Local(cache) => match cache.get(&self.key(key)).await {
                Some(LocalEntry::Value(b)) => String::from_utf8(b.to_vec()).ok(),
                _ => None,
            },
            Backend::Redis { .. } => {
                let k = self.key(key);
                self.redis(|mut c| async move {
                    redis::cmd("GET")
                        .arg(k)
                        .query_async::<Option<String>>(&mut c)
                        .await
                })
                .await
                .flatten()
            }
        }
    }

    pub async fn set_string(&self, key: &CacheKey, value: String, ttl: Duration) {
        match &self.backend {
            Backend::Off => {}
            Backend::Local(cache) => {
                cache
                    .insert(self.key(key), LocalEntry::Value(Bytes::from(value)))
                    .await
            }
            Backend::Redis { .. } => {
                let k = self.key(key);
                self.redis(|mut c| async move {
                    redis::cmd("SET")
                        .arg(k)
                        .arg(value)
                        .arg("PX")
                        .arg(ttl.as_millis() as u64)
                        .query_async::<()>(&mut c)
                        .await
                })
                .await;
            }
        }
    }
}
