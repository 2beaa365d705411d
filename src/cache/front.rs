//! The in-process front of the Redis cache: hot entities are served from memory without a Redis
//! round trip, and every replica is told of every invalidation before the write that caused it is
//! acknowledged.
//!
//! How a front stays correct:
//! - A write invalidates its own process's front directly, then publishes the keys on a Redis
//!   channel and waits (bounded) until every subscriber has acknowledged them; each replica drops
//!   the keys from its front *before* acknowledging. So once a write is acknowledged, no live
//!   replica's front holds the old entry.
//! - A replica only reads its front while its subscription is demonstrably current: it publishes
//!   a heartbeat to the same channel every 100 ms, and the front is live only while its own fresh
//!   heartbeat came back through the channel less than 500 ms ago (messages on one channel
//!   arrive in order, so every earlier invalidation was applied first). A replica that lost its
//!   subscription, was paused (SIGSTOP) or is behind reads through Redis instead, which is
//!   always correct, until it has caught up; on resubscribing it empties its front.
//! - Fills use the same sequence-number check as Redis: a value read before an invalidation is
//!   never stored after it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use redis::aio::ConnectionManager;

use super::expiring::{now_ms, Expiring};

const HEARTBEAT_EVERY: Duration = Duration::from_millis(100);
const LIVE_FOR: Duration = Duration::from_millis(500);
/// Longest a write waits for the other replicas' acknowledgements.
pub const ACK_WAIT: Duration = Duration::from_millis(250);

pub struct Front {
    entries: Expiring<String, Bytes>,
    /// Bumped by every invalidation applied here.
    seq: AtomicU64,
    live_until_ms: AtomicU64,
    /// Identifies this process's heartbeats.
    id: String,
    pub channel: String,
    ack_prefix: String,
}

impl Front {
    pub fn new(prefix: &str, version: &str, ttl: Duration) -> Front {
        Front {
            entries: Expiring::new(50_000, ttl),
            seq: AtomicU64::new(0),
            live_until_ms: AtomicU64::new(0),
            id: uuid::Uuid::new_v4().simple().to_string(),
            channel: format!("{prefix}:{version}:invalidations"),
            ack_prefix: format!("{prefix}:{version}:ack:"),
        }
    }

    pub fn is_live(&self) -> bool {
        self.is_live_at(now_ms())
    }

    fn is_live_at(&self, now_ms: u64) -> bool {
        now_ms < self.live_until_ms.load(Ordering::Acquire)
    }

    pub fn seq(&self) -> u64 {
        self.seq.load(Ordering::SeqCst)
    }

    /// The entry, if the front is live and holds it.
    pub fn get(&self, key: &str) -> Option<Bytes> {
        let now = now_ms();
        if !self.is_live_at(now) {
            return None;
        }
        self.entries.get_at(key, now)
    }

    /// Stores `value` unless an invalidation was applied since `seen_seq`.
    pub fn fill(&self, key: String, value: Bytes, seen_seq: u64) {
        let now = now_ms();
        if self.seq() != seen_seq || !self.is_live_at(now) {
            return;
        }
        self.entries.insert_at(key.clone(), value, now);
        // An invalidation may have slipped in between the check and the insert: it bumps the
        // sequence before removing keys, so seeing the same number here means we are after it
        // or it has not started.
        if self.seq() != seen_seq {
            self.entries.remove(&key);
        }
    }

    pub fn invalidate(&self, keys: &[String]) {
        self.seq.fetch_add(1, Ordering::SeqCst);
        for k in keys {
            self.entries.remove(k);
        }
    }

    fn reset(&self) {
        self.seq.fetch_add(1, Ordering::SeqCst);
        self.entries.clear();
    }

    pub fn ack_key(&self, message_id: &str) -> String {
        format!("{}{message_id}", self.ack_prefix)
    }

    /// Publishes `keys` and waits until every subscriber acknowledged them (or [`ACK_WAIT`]).
    pub async fn broadcast(
        &self,
        mut conn: ConnectionManager,
        keys: &[String],
    ) -> redis::RedisResult<()> {
        let message_id = uuid::Uuid::new_v4().simple().to_string();
        let payload = format!("inv {message_id} {}", keys.join(" "));
        let receivers: u64 = redis::cmd("PUBLISH")
            .arg(&self.channel)
            .arg(payload)
            .query_async(&mut conn)
            .await?;
        if receivers == 0 {
            return Ok(());
        }
        let ack_key = self.ack_key(&message_id);
        let deadline = tokio::time::Instant::now() + ACK_WAIT;
        loop {
            let acks: Option<u64> = redis::cmd("GET")
                .arg(&ack_key)
                .query_async(&mut conn)
                .await?;
            if acks.unwrap_or(0) >= receivers {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                tracing::warn!(
                    receivers,
                    acks = acks.unwrap_or(0),
                    "not every replica acknowledged an invalidation in time"
                );
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Subscribes (reconnecting forever) and applies invalidations; publishes heartbeats.
    pub fn spawn(self: &Arc<Self>, url: String, conn: ConnectionManager) {
        let front = self.clone();
        let beat_conn = conn.clone();
        tokio::spawn(async move {
            let mut conn = beat_conn;
            let mut tick = tokio::time::interval(HEARTBEAT_EVERY);
            loop {
                tick.tick().await;
                let beat = format!("hb {} {}", front.id, now_ms());
                let _ = tokio::time::timeout(
                    HEARTBEAT_EVERY,
                    redis::cmd("PUBLISH")
                        .arg(&front.channel)
                        .arg(beat)
                        .query_async::<u64>(&mut conn),
                )
                .await;
            }
        });
        let front = self.clone();
        tokio::spawn(async move {
            loop {
                if let Err(e) = front.subscribe_once(&url, conn.clone()).await {
                    tracing::debug!(error = %e, "cache invalidation subscription lost");
                }
                front.live_until_ms.store(0, Ordering::Release);
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        });
    }

    async fn subscribe_once(
        &self,
        url: &str,
        mut conn: ConnectionManager,
    ) -> redis::RedisResult<()> {
        let client = redis::Client::open(url)?;
        let mut pubsub = tokio::time::timeout(Duration::from_secs(1), client.get_async_pubsub())
            .await
            .map_err(|_| {
                redis::RedisError::from((redis::ErrorKind::IoError, "pubsub connect timed out"))
            })??;
        pubsub.subscribe(&self.channel).await?;
        // Messages may have been missed while not subscribed.
        self.reset();
        let mut stream = pubsub.into_on_message();
        loop {
            // No message at all for a while (not even our own heartbeats): the link is dead.
            let msg = match tokio::time::timeout(LIVE_FOR * 2, stream.next()).await {
                Ok(Some(m)) => m,
                Ok(None) => return Ok(()),
                Err(_) => return Ok(()),
            };
            let payload: String = msg.get_payload().unwrap_or_default();
            let mut parts = payload.split(' ');
            match parts.next() {
                Some("hb") if parts.next() == Some(self.id.as_str()) => {
                    let sent: u64 = parts.next().and_then(|t| t.parse().ok()).unwrap_or(0);
                    let now = now_ms();
                    if now.saturating_sub(sent) < LIVE_FOR.as_millis() as u64 / 2 {
                        self.live_until_ms
                            .store(now + LIVE_FOR.as_millis() as u64, Ordering::Release);
                    }
                }
                Some("reset") => self.reset(),
                Some("inv") => {
                    let Some(message_id) = parts.next() else {
                        continue;
                    };
                    let keys: Vec<String> = parts.map(str::to_owned).collect();
                    self.invalidate(&keys);
                    let ack = self.ack_key(message_id);
                    let mut pipe = redis::pipe();
                    pipe.cmd("INCR")
                        .arg(&ack)
                        .ignore()
                        .cmd("PEXPIRE")
                        .arg(&ack)
                        .arg(10_000)
                        .ignore();
                    let _ = tokio::time::timeout(ACK_WAIT, pipe.query_async::<()>(&mut conn)).await;
                }
                _ => {}
            }
        }
    }
}
