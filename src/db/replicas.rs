//! Read-only standbys (`DATABASE_REPLICA_URLS`): their pools, a monitor that polls how far each
//! has replayed, and the choice of a standby for one read.
//!
//! The monitor polls every [`POLL_INTERVAL`]: the primary's `pg_current_wal_lsn()` and each
//! standby's `pg_is_in_recovery()` and `pg_last_wal_replay_lsn()`, plus, on both, the cluster's
//! `system_identifier` and `current_database()`. A standby is in rotation (`up`) only when it
//! answers, is in recovery, belongs to the primary's cluster and database, and its lag is at
//! most `DATABASE_REPLICA_MAX_LAG_MS`. Lag is how long the primary's position has been ahead of
//! the standby's replay position: the monitor keeps the primary's recent positions with the time
//! each was first seen, and the lag is the age of the oldest position the standby has not
//! replayed (zero when it has replayed the newest). A standby that is down, lagging or refused
//! leaves rotation at the next poll and comes back at the first poll that finds it well again.
//!
//! Routing a read ([`Replicas::pick`]) never waits: it takes, round robin, a standby in rotation
//! whose last polled replay position is at or past the position the read must see; with none,
//! the read goes to the primary. A read that fails on a standby is retried on the primary (see
//! [`super::Db::read`]), so a standby that dies between two polls costs a retry, not an error.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::sql_types::{Bool, Nullable, Text};
use diesel::QueryableByName;

use super::{PgPool, QueryStats};

/// How often the monitor polls the primary and every standby.
pub const POLL_INTERVAL: Duration = Duration::from_millis(200);
/// Longest wait for one poll of one server.
const POLL_TIMEOUT: Duration = Duration::from_secs(1);

/// A WAL position (`pg_lsn`), comparable as a number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Lsn(pub u64);

impl Lsn {
    /// Parses PostgreSQL's text form, `16/B374D848`.
    pub fn parse(s: &str) -> Option<Lsn> {
        let (hi, lo) = s.trim().split_once('/')?;
        if hi.is_empty() || lo.is_empty() || hi.len() > 8 || lo.len() > 8 {
            return None;
        }
        let hi = u32::from_str_radix(hi, 16).ok()?;
        let lo = u32::from_str_radix(lo, 16).ok()?;
        Some(Lsn((u64::from(hi) << 32) | u64::from(lo)))
    }

    /// Fixed-width hex, so that positions compare as strings too (the Redis scripts rely on it).
    pub fn to_sortable(self) -> String {
        format!("{:016X}", self.0)
    }

    pub fn from_sortable(s: &str) -> Option<Lsn> {
        u64::from_str_radix(s, 16).ok().map(Lsn)
    }
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplicaStatus {
    /// Not polled successfully yet (out of rotation).
    Starting,
    /// In rotation.
    Up,
    /// Answers, but its replay is behind by more than the allowed lag (out of rotation).
    Lagging,
    /// Does not answer (out of rotation).
    Down,
    /// Not a standby of our primary: read-write, or another cluster or database (kept out).
    Refused,
}

impl ReplicaStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReplicaStatus::Starting => "starting",
            ReplicaStatus::Up => "up",
            ReplicaStatus::Lagging => "lagging",
            ReplicaStatus::Down => "down",
            ReplicaStatus::Refused => "refused",
        }
    }
}

/// What the monitor last learnt about one standby.
#[derive(Clone, Debug)]
pub struct ReplicaState {
    pub status: ReplicaStatus,
    pub replay_lsn: Lsn,
    pub lag: Option<Duration>,
    /// Why it is down or refused.
    pub detail: Option<String>,
}

pub struct Replica {
    /// The URL without its password, for logs and `/readyz`.
    pub name: String,
    pub(super) pool: PgPool,
    state: Mutex<ReplicaState>,
    /// Reads it answered.
    pub(super) served: AtomicU64,
}

impl Replica {
    pub fn state(&self) -> ReplicaState {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// How many reads it has answered (a failed read that ran again on the primary not counted).
    pub fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }

    pub fn pool_status(&self) -> deadpool::Status {
        self.pool.status()
    }

    fn set(&self, next: ReplicaState) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.status != next.status {
            match next.status {
                ReplicaStatus::Up => {
                    tracing::info!(replica = %self.name, replay_lsn = %next.replay_lsn, "read replica in rotation")
                }
                ReplicaStatus::Refused => {
                    tracing::error!(replica = %self.name, reason = next.detail.as_deref().unwrap_or(""), "read replica refused: kept out of rotation")
                }
                other => {
                    tracing::warn!(replica = %self.name, status = other.as_str(), lag_ms = next.lag.map(|l| l.as_millis() as u64), detail = next.detail.as_deref().unwrap_or(""), "read replica out of rotation")
                }
            }
        }
        *state = next;
    }

    /// A read just failed here: out of rotation until the next poll finds it well.
    pub(super) fn suspect(&self, why: String) {
        let mut state = self.state();
        if state.status == ReplicaStatus::Up {
            state.status = ReplicaStatus::Down;
            state.detail = Some(why);
            self.set(state);
        }
    }
}

/// Every standby, the primary's recent positions, and the newest write position this process
/// knows of.
pub struct Replicas {
    pub list: Vec<Replica>,
    next: AtomicUsize,
    max_lag: Duration,
    /// The newest commit position of a write this process made or heard of.
    newest_write: AtomicU64,
    /// The primary's position at the last poll.
    primary_lsn: AtomicU64,
    /// The primary's positions with the time each was first seen, oldest first.
    history: Mutex<VecDeque<(Instant, Lsn)>>,
}

#[derive(QueryableByName)]
struct Identity {
    #[diesel(sql_type = Nullable<Text>)]
    lsn: Option<String>,
    #[diesel(sql_type = Bool)]
    recovery: bool,
    #[diesel(sql_type = Text)]
    sysid: String,
    #[diesel(sql_type = Text)]
    db: String,
}

const PRIMARY_POLL: &str = "SELECT pg_current_wal_lsn()::text AS lsn, pg_is_in_recovery() AS recovery, \
     (SELECT system_identifier FROM pg_control_system())::text AS sysid, current_database()::text AS db";
const REPLICA_POLL: &str = "SELECT pg_last_wal_replay_lsn()::text AS lsn, pg_is_in_recovery() AS recovery, \
     (SELECT system_identifier FROM pg_control_system())::text AS sysid, current_database()::text AS db";

impl Replicas {
    pub(super) fn new(pools: Vec<(String, PgPool)>, max_lag: Duration) -> Replicas {
        Replicas {
            list: pools
                .into_iter()
                .map(|(name, pool)| Replica {
                    name,
                    pool,
                    state: Mutex::new(ReplicaState {
                        status: ReplicaStatus::Starting,
                        replay_lsn: Lsn(0),
                        lag: None,
                        detail: None,
                    }),
                    served: AtomicU64::new(0),
                })
                .collect(),
            next: AtomicUsize::new(0),
            max_lag,
            newest_write: AtomicU64::new(0),
            primary_lsn: AtomicU64::new(0),
            history: Mutex::new(VecDeque::new()),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Whether any standby is in rotation now (if none, a read need not work out its position).
    pub fn any_up(&self) -> bool {
        self.list
            .iter()
            .any(|r| r.state().status == ReplicaStatus::Up)
    }

    pub fn newest_write(&self) -> Lsn {
        Lsn(self.newest_write.load(Ordering::Acquire))
    }

    /// Records a write's commit position (ours, or one another process told us of).
    pub fn saw_write(&self, lsn: Lsn) {
        self.newest_write.fetch_max(lsn.0, Ordering::AcqRel);
    }

    pub fn primary_lsn(&self) -> Lsn {
        Lsn(self.primary_lsn.load(Ordering::Acquire))
    }

    /// A standby in rotation that has replayed at least `need`, round robin; `None`: use the
    /// primary.
    pub fn pick(&self, need: Lsn) -> Option<(usize, &Replica)> {
        let n = self.list.len();
        if n == 0 {
            return None;
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        (0..n)
            .map(|i| (start + i) % n)
            .map(|i| (i, &self.list[i]))
            .find(|(_, r)| {
                let s = r.state();
                s.status == ReplicaStatus::Up && s.replay_lsn >= need
            })
    }

    /// The lag of a standby that has replayed `replay`, from the primary's recent positions.
    fn lag_of(&self, replay: Lsn, now: Instant) -> Duration {
        let history = self.history.lock().unwrap_or_else(|p| p.into_inner());
        match history.iter().find(|(_, lsn)| *lsn > replay) {
            Some((since, _)) => now.saturating_duration_since(*since),
            None => Duration::ZERO,
        }
    }

    fn record_primary(&self, lsn: Lsn, now: Instant) {
        self.primary_lsn.fetch_max(lsn.0, Ordering::AcqRel);
        let mut history = self.history.lock().unwrap_or_else(|p| p.into_inner());
        if history.back().is_none_or(|(_, last)| lsn > *last) {
            history.push_back((now, lsn));
        }
        // Enough to tell any lag up to a few minutes; older entries only matter to standbys that
        // are far out of rotation anyway.
        while history.len() > 2048
            || history
                .front()
                .is_some_and(|(t, _)| now.saturating_duration_since(*t) > Duration::from_secs(300))
        {
            history.pop_front();
        }
    }

    /// Polls forever (until the process ends); started once by [`super::Db::start_monitor`].
    pub(super) async fn monitor(self: Arc<Self>, db: super::Db) {
        let mut tick = tokio::time::interval(POLL_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            self.poll_once(&db).await;
        }
    }

    pub(super) async fn poll_once(&self, db: &super::Db) {
        let stats = Arc::new(QueryStats::default());
        // The primary first: a standby's position read after it can only be newer, so a standby
        // that is current is never judged behind.
        let primary =
            tokio::time::timeout(POLL_TIMEOUT, db.identity(&db.pool, &stats, PRIMARY_POLL))
                .await
                .ok()
                .and_then(Result::ok);
        let now = Instant::now();
        if let Some(p) = &primary {
            if let Some(lsn) = p.lsn.as_deref().and_then(Lsn::parse) {
                self.record_primary(lsn, now);
            }
        }
        // Concurrently (one standby hanging must not delay the others), on tasks that own what
        // they use.
        let polls: Vec<_> = self
            .list
            .iter()
            .map(|r| {
                let (pool, db, stats) = (r.pool.clone(), db.clone(), stats.clone());
                tokio::spawn(async move {
                    tokio::time::timeout(POLL_TIMEOUT, db.identity(&pool, &stats, REPLICA_POLL))
                        .await
                })
            })
            .collect();
        for (replica, answer) in self.list.iter().zip(futures::future::join_all(polls).await) {
            let Ok(answer) = answer else { continue };
            let previous = replica.state();
            let next = match answer {
                Err(_) => ReplicaState {
                    status: ReplicaStatus::Down,
                    detail: Some("poll timed out".into()),
                    lag: None,
                    ..previous
                },
                Ok(Err(e)) => ReplicaState {
                    status: ReplicaStatus::Down,
                    detail: Some(e.to_string()),
                    lag: None,
                    ..previous
                },
                Ok(Ok(found)) => self.judge(&found, primary.as_ref(), now, previous),
            };
            replica.set(next);
        }
    }

    fn judge(
        &self,
        found: &Identity,
        primary: Option<&Identity>,
        now: Instant,
        previous: ReplicaState,
    ) -> ReplicaState {
        let refused = |why: String| ReplicaState {
            status: ReplicaStatus::Refused,
            detail: Some(why),
            lag: None,
            ..previous.clone()
        };
        if !found.recovery {
            return refused("not in recovery: a read-write server is not a standby".into());
        }
        let Some(primary) = primary else {
            // Without the primary nothing can be checked or measured: keep what we knew, but
            // not a refusal nor a rotation it has not earned.
            return match previous.status {
                ReplicaStatus::Up | ReplicaStatus::Lagging => previous,
                _ => ReplicaState {
                    status: ReplicaStatus::Starting,
                    detail: Some("the primary is not answering".into()),
                    ..previous
                },
            };
        };
        if found.sysid != primary.sysid {
            return refused(format!(
                "system_identifier {} differs from the primary's {}",
                found.sysid, primary.sysid
            ));
        }
        if found.db != primary.db {
            return refused(format!(
                "database {:?} differs from the primary's {:?}",
                found.db, primary.db
            ));
        }
        let Some(replay) = found.lsn.as_deref().and_then(Lsn::parse) else {
            return ReplicaState {
                status: ReplicaStatus::Down,
                detail: Some("no replay position yet".into()),
                lag: None,
                ..previous
            };
        };
        let lag = self.lag_of(replay, now);
        ReplicaState {
            status: if lag <= self.max_lag {
                ReplicaStatus::Up
            } else {
                ReplicaStatus::Lagging
            },
            replay_lsn: replay,
            lag: Some(lag),
            detail: None,
        }
    }
}

impl super::Db {
    async fn identity(
        &self,
        pool: &PgPool,
        stats: &Arc<QueryStats>,
        sql: &'static str,
    ) -> crate::error::AppResult<Identity> {
        let mut rc = self.open(pool, stats, None).await?;
        let found =
            diesel_async::RunQueryDsl::get_result::<Identity>(diesel::sql_query(sql), rc.conn())
                .await
                .map_err(crate::error::AppError::from);
        self.close(rc, found).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsn_round_trips() {
        let l = Lsn::parse("16/B374D848").unwrap();
        assert_eq!(l.0, (0x16 << 32) | 0xB374D848);
        assert_eq!(l.to_string(), "16/B374D848");
        assert_eq!(Lsn::from_sortable(&l.to_sortable()), Some(l));
        assert!(Lsn::parse("0/0").unwrap() < Lsn::parse("0/1").unwrap());
        assert!(Lsn::parse("1/0").unwrap() > Lsn::parse("0/FFFFFFFF").unwrap());
        assert_eq!(Lsn::parse("nope"), None);
        assert_eq!(Lsn::parse("/1"), None);
        assert!(Lsn(5).to_sortable() < Lsn(0x10).to_sortable());
    }

    #[test]
    fn lag_is_the_age_of_the_oldest_unreplayed_position() {
        let r = Replicas::new(Vec::new(), Duration::from_secs(1));
        let t0 = Instant::now();
        r.record_primary(Lsn(10), t0);
        r.record_primary(Lsn(20), t0 + Duration::from_secs(2));
        r.record_primary(Lsn(20), t0 + Duration::from_secs(3));
        let now = t0 + Duration::from_secs(5);
        assert_eq!(r.lag_of(Lsn(20), now), Duration::ZERO);
        assert_eq!(r.lag_of(Lsn(15), now), Duration::from_secs(3));
        assert_eq!(r.lag_of(Lsn(5), now), Duration::from_secs(5));
    }
}
