//! Which server may answer a read: the position a read must see, and the record of writes'
//! positions that read-your-writes and cache fills rely on.
//!
//! After a write commits, its commit position goes (a) to the client as `X-Bookstore-Read-After`
//! (a client may send it back on later requests), (b) to the writer's record (token `sub`): in
//! Redis with a short TTL when Redis is configured, else in this process, and (c) to the newest
//! write position this process knows of, and with Redis to a shared `last write` key.
//!
//! The rules, per kind of read ([`Freshness`]):
//! - `Primary`: reads inside a write and everything that must be current (sign-in, tokens,
//!   users) always go to the primary.
//! - `Caller`: a read that fills no shared cache may go to a standby that has replayed the
//!   highest position the caller must see: the header's and the caller's own record.
//! - `Fill`: a read that will FILL the shared cache (a miss of a cached entity, a list page) may
//!   go to a standby only if it has also replayed the newest write position known: this
//!   process's own writes and, with Redis, the shared `last write` key, which every process
//!   raises after its COMMIT and *before* invalidating the cache. So any invalidation a filler
//!   could have observed belongs to a write at or below that key, and a standby at or past it
//!   holds that write: a fill after an invalidation never stores data from before the
//!   invalidating write. Without Redis (in-process caches told of other processes' writes by
//!   NOTIFY, which carries no position), filling reads go to the primary; with the cache off,
//!   every read is a `Caller` read.
//!
//! Nothing here waits beyond the Redis breaker: when Redis does not answer, a read that needed
//! its records goes to the primary.

use std::sync::Arc;
use std::time::Duration;

use crate::db::Lsn;
use crate::redis_handle::RedisHandle;

/// What a read must see; see the module documentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Freshness {
    Primary,
    Caller,
    Fill,
}

/// Raises each key to `ARGV[1]` (fixed-width hex, so string order is position order) unless it
/// is already higher, and sets its TTL (`ARGV[i + 1]` milliseconds for `KEYS[i]`).
const RAISE: &str = r#"
for i, key in ipairs(KEYS) do
  local current = redis.call('GET', key)
  if (not current) or current < ARGV[1] then
    redis.call('SET', key, ARGV[1], 'PX', ARGV[i + 1])
  else
    redis.call('PEXPIRE', key, ARGV[i + 1])
  end
end
return 1
"#;

/// The records of writes' positions.
pub struct WritePositions {
    redis: Option<Arc<RedisHandle>>,
    prefix: String,
    /// Without Redis: user id -> position of their newest write.
    local_users: moka::future::Cache<i64, u64>,
    user_ttl: Duration,
}

impl WritePositions {
    /// `user_ttl`: how long a writer's reads honour their newest write (comfortably longer than
    /// the largest lag a standby in rotation may have).
    pub fn new(redis: Option<Arc<RedisHandle>>, prefix: &str, user_ttl: Duration) -> Self {
        WritePositions {
            redis,
            prefix: format!("{prefix}:rw:"),
            local_users: moka::future::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(user_ttl)
                .build(),
            user_ttl,
        }
    }

    pub fn has_redis(&self) -> bool {
        self.redis.is_some()
    }

    fn shared_key(&self) -> String {
        format!("{}last", self.prefix)
    }

    fn user_key(&self, user: i64) -> String {
        format!("{}user:{user}", self.prefix)
    }

    /// Records a committed write of `user` at `lsn` (with Redis: the user's record and the
    /// shared `last write` key, one script call, bounded by the breaker). Returns whether the
    /// shared record is known to be up to date.
    pub async fn record(&self, user: Option<i64>, lsn: Lsn) -> bool {
        let Some(redis) = &self.redis else {
            if let Some(user) = user {
                let newest = self.local_users.get(&user).await.unwrap_or(0).max(lsn.0);
                self.local_users.insert(user, newest).await;
            }
            return true;
        };
        let mut keys = vec![self.shared_key()];
        let mut ttls = vec![86_400_000u64];
        if let Some(user) = user {
            keys.push(self.user_key(user));
            ttls.push(self.user_ttl.as_millis() as u64);
        }
        let value = lsn.to_sortable();
        redis
            .run(|mut c| async move {
                let script = redis::Script::new(RAISE);
                let mut invocation = script.prepare_invoke();
                for k in &keys {
                    invocation.key(k);
                }
                invocation.arg(&value);
                for t in &ttls {
                    invocation.arg(*t);
                }
                invocation.invoke_async::<i64>(&mut c).await
            })
            .await
            .is_some()
    }

    /// The position of `user`'s newest write (`Some(0)` for none) and, when `shared`, the shared
    /// `last write` position; `None` when Redis did not answer (then: read the primary).
    pub async fn lookup(&self, user: Option<i64>, shared: bool) -> Option<(Lsn, Lsn)> {
        let Some(redis) = &self.redis else {
            let mine = match user {
                Some(u) => self.local_users.get(&u).await.unwrap_or(0),
                None => 0,
            };
            return Some((Lsn(mine), Lsn(0)));
        };
        if user.is_none() && !shared {
            return Some((Lsn(0), Lsn(0)));
        }
        let keys = [
            user.map(|u| self.user_key(u))
                .unwrap_or_else(|| format!("{}none", self.prefix)),
            self.shared_key(),
        ];
        let found: Vec<Option<String>> = redis
            .run(|mut c| async move { redis::cmd("MGET").arg(&keys).query_async(&mut c).await })
            .await?;
        let at = |i: usize| {
            found
                .get(i)
                .cloned()
                .flatten()
                .and_then(|s| Lsn::from_sortable(&s))
                .unwrap_or_default()
        };
        Some((at(0), if shared { at(1) } else { Lsn(0) }))
    }
}

impl crate::app::App {
    /// The position a read must see; `None`: it must go to the primary.
    pub(crate) async fn read_position(
        &self,
        ctx: &crate::app::Ctx,
        freshness: Freshness,
    ) -> Option<Lsn> {
        let replicas = self.db.replicas();
        if freshness == Freshness::Primary || !replicas.any_up() {
            return None;
        }
        let freshness = if self.cache.backend_name() == "off" {
            Freshness::Caller
        } else {
            freshness
        };
        if freshness == Freshness::Fill && !self.positions.has_redis() {
            return None;
        }
        let user = ctx.actor.as_ref().map(|a| a.user_id);
        let (mine, shared) = self
            .positions
            .lookup(user, freshness == Freshness::Fill)
            .await?;
        let mut need = ctx.stats.read_after().max(mine);
        if freshness == Freshness::Fill {
            need = need.max(shared).max(replicas.newest_write());
        }
        Some(need)
    }
}
