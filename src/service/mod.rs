//! The service layer: the rules both doors share. Authorization, validation, transactions and
//! change events live here; REST handlers and GraphQL resolvers only translate.

pub mod auth;
pub mod authors;
pub mod books;
pub mod cached;
pub mod cursor;
pub mod events;
pub mod freshness;
pub mod input;
pub mod magazines;
pub mod users;

use diesel_async::{AsyncConnection, AsyncPgConnection};
use futures::future::BoxFuture;

use crate::app::{Actor, App, Ctx};
use crate::cache::CacheKey;
use crate::domain::Role;
use crate::error::{AppError, AppResult, AuthFailure};

use std::sync::Arc;

pub const MAX_PAGE: i64 = 100;
pub const DEFAULT_PAGE: i64 = 20;

/// An id from a path, a query parameter or a GraphQL `ID` (the REST integer id written as text):
/// a positive integer, else a 400 / `BAD_USER_INPUT` naming `param`. The one id rule of both doors.
pub fn id_param(raw: &str, param: &str) -> AppResult<i64> {
    raw.trim()
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| AppError::bad_param(param, format!("{param} must be a positive integer id")))
}

/// `first`/`limit` as a cost estimate reads it before validation: the page size a list field will
/// return at most (the default when absent, capped at [`MAX_PAGE`]). GraphQL's complexity
/// attributes call this, so the estimate and the rule cannot drift apart.
pub fn page_size_estimate(requested: Option<i32>) -> usize {
    requested.map_or(DEFAULT_PAGE, i64::from).clamp(0, MAX_PAGE) as usize
}

/// Page size and continuation as a door received them, with the names it used for them.
#[derive(Debug, Clone)]
pub struct PageArgs {
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    pub limit_name: &'static str,
    pub cursor_name: &'static str,
}

impl PageArgs {
    pub fn rest(limit: Option<i64>, cursor: Option<String>) -> Self {
        PageArgs {
            limit,
            cursor,
            limit_name: "limit",
            cursor_name: "cursor",
        }
    }
    pub fn graphql(first: Option<i64>, after: Option<String>) -> Self {
        PageArgs {
            limit: first,
            cursor: after,
            limit_name: "first",
            cursor_name: "after",
        }
    }
    /// The name of a parameter as this request's door calls it: `rest` for REST, `graphql` for
    /// GraphQL (e.g. `q` / `titleContains`), for error messages that name what the client sent.
    pub fn param_name(&self, rest: &'static str, graphql: &'static str) -> &'static str {
        if self.limit_name == "first" {
            graphql
        } else {
            rest
        }
    }

    pub fn limit(&self) -> AppResult<i64> {
        match self.limit {
            None => Ok(DEFAULT_PAGE),
            Some(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
            Some(_) => Err(AppError::bad_param(
                self.limit_name,
                format!("{} must be between 1 and {MAX_PAGE}", self.limit_name),
            )),
        }
    }
}

/// The longest text search (`q`, `name`, `titleContains`, `nameContains`), in characters.
pub const MAX_SEARCH: usize = 200;

/// Checks a text search: at most [`MAX_SEARCH`] characters and no NUL (which no stored text
/// holds, and PostgreSQL refuses in a query); a 400 naming `param` otherwise.
pub fn check_search(param: &str, text: &str, what: &str) -> AppResult<()> {
    if text.chars().count() > MAX_SEARCH {
        return Err(AppError::bad_param(
            param,
            format!("the {what} search is limited to {MAX_SEARCH} characters"),
        ));
    }
    if !crate::domain::validate::is_sql_text(text) {
        return Err(AppError::bad_param(
            param,
            format!("{param} must not contain NUL characters"),
        ));
    }
    Ok(())
}

/// The signed-in caller, or 401.
pub fn signed_in(ctx: &Ctx) -> AppResult<&Actor> {
    ctx.actor
        .as_ref()
        .ok_or(AppError::Unauthenticated(AuthFailure::MissingToken))
}

/// The caller if their role is one of `roles`; 401 when anonymous, 403 otherwise.
pub fn require_role<'a>(ctx: &'a Ctx, roles: &[Role]) -> AppResult<&'a Actor> {
    let actor = signed_in(ctx)?;
    if roles.contains(&actor.role) {
        Ok(actor)
    } else {
        Err(AppError::Forbidden)
    }
}

pub const EDITORS: &[Role] = &[Role::Admin, Role::Editor];
pub const ADMINS: &[Role] = &[Role::Admin];

/// A version check: `expected` (from `If-Match` or `expectedVersion`) against the locked row.
pub fn check_version(expected: Option<i32>, current: i32) -> AppResult<()> {
    match expected {
        Some(v) if v != current => Err(AppError::VersionMismatch { current }),
        _ => Ok(()),
    }
}

impl App {
    /// Runs `work` in one transaction on its own task. A client that disconnects drops the request
    /// future, but not this task: the transaction always ends (commit or rollback) before its
    /// connection returns to the pool, so no pooled connection is ever left mid-transaction.
    pub async fn write<R, F>(&self, ctx: &Ctx, work: F) -> AppResult<R>
    where
        R: Send + 'static,
        F: for<'c> FnOnce(&'c mut AsyncPgConnection) -> BoxFuture<'c, AppResult<R>>
            + Send
            + 'static,
    {
        self.write_invalidating(ctx, move |c| {
            Box::pin(async move { Ok((work(c).await?, Vec::new())) })
        })
        .await
    }

    /// Like [`App::write`], for writes that change cached entities: `work` also returns the cache
    /// keys it made stale, which are invalidated after the commit and before the answer, on the
    /// same task (so a client disconnect cannot skip the invalidation).
    pub async fn write_invalidating<R, F>(&self, ctx: &Ctx, work: F) -> AppResult<R>
    where
        R: Send + 'static,
        F: for<'c> FnOnce(
                &'c mut AsyncPgConnection,
            ) -> BoxFuture<'c, AppResult<(R, Vec<CacheKey>)>>
            + Send
            + 'static,
    {
        let db = self.db.clone();
        let stats = ctx.stats.clone();
        let cache = self.cache.clone();
        let tell_other_processes = cache.is_local();
        let cache_for_keys = cache.clone();
        let positions = self.positions.clone();
        let writer = ctx.actor.as_ref().map(|a| a.user_id);
        let task = tokio::spawn(async move {
            let mut conn = db.conn(&stats).await?;
            // The keys of a transaction whose work is done and whose COMMIT is under way: if the
            // COMMIT then fails, its outcome is unknown to us (see below).
            let committing: Arc<std::sync::Mutex<Option<Vec<CacheKey>>>> = Arc::default();
            let slot = committing.clone();
            let outcome = conn
                .transaction::<_, AppError, _>(async move |c| {
                    let (result, keys) = work(c).await?;
                    if tell_other_processes && !keys.is_empty() {
                        let rendered: Vec<String> =
                            keys.iter().map(|k| cache_for_keys.key(k)).collect();
                        crate::repo::notify::cache_invalidated(c, &rendered).await?;
                    }
                    *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(keys.clone());
                    Ok((result, keys))
                })
                .await;
            match outcome {
                Ok((result, keys)) => {
                    if !db.replicas().is_empty() {
                        record_commit_position(&db, &mut conn, &stats, &positions, writer).await;
                    }
                    cache.invalidate(&keys).await;
                    Ok(result)
                }
                Err(e) => {
                    let pending = committing.lock().unwrap_or_else(|p| p.into_inner()).take();
                    match pending {
                        Some(keys) if !e.is_definite_rollback() => {
                            // The COMMIT was sent but its answer was lost (the connection broke,
                            // the backend was terminated while waiting for a synchronous standby,
                            // the server crashed): PostgreSQL may hold the write. Forget what it
                            // may have made stale, here and in the other processes, and tell the
                            // client to read again before retrying.
                            tracing::warn!(error = ?e, "the outcome of a commit is unknown; invalidating its keys");
                            if !db.replicas().is_empty() {
                                // If it committed, its position is at most the primary's now:
                                // record that (bounded), so that reads and fills after the
                                // invalidation below do not go to a standby behind it.
                                let record = async {
                                    if let Ok(mut fresh) = db.conn(&stats).await {
                                        record_commit_position(
                                            &db, &mut fresh, &stats, &positions, writer,
                                        )
                                        .await;
                                    }
                                };
                                if tokio::time::timeout(std::time::Duration::from_secs(2), record)
                                    .await
                                    .is_err()
                                {
                                    tracing::warn!("could not record the position of a write whose outcome is unknown");
                                }
                            }
                            cache.invalidate(&keys).await;
                            if tell_other_processes && !keys.is_empty() {
                                let rendered: Vec<String> =
                                    keys.iter().map(|k| cache.key(k)).collect();
                                notify_outside_transaction(&db, &stats, rendered).await;
                            }
                            Err(AppError::OutcomeUnknown)
                        }
                        _ => Err(e),
                    }
                }
            }
        });
        task.await.map_err(AppError::internal)?
    }
}

/// After a COMMIT, with standbys configured: the commit's position, for read-your-writes and for
/// safe cache fills (see [`freshness`]). Recorded before the cache is invalidated, so that a
/// reader who sees the invalidation also finds a position at or past this write.
///
/// Taken with `pg_current_wal_lsn()` on the same connection right after COMMIT returned, not with
/// `pg_current_wal_insert_lsn()` inside the transaction: a position read before COMMIT lies
/// before the commit record, and a standby that has replayed up to it may not show the write;
/// any position read after COMMIT returned is at or past the commit record. (Behind PgBouncer the
/// statement may run on another server connection; the position is the cluster's, so that is
/// equally sound.) It costs one more statement per write, only when standbys are configured.
async fn record_commit_position(
    db: &crate::db::Db,
    conn: &mut AsyncPgConnection,
    stats: &Arc<crate::db::QueryStats>,
    positions: &freshness::WritePositions,
    writer: Option<i64>,
) {
    match db.current_lsn(conn).await {
        Ok(lsn) => {
            db.replicas().saw_write(lsn);
            stats.set_wrote(lsn);
            if !positions.record(writer, lsn).await {
                tracing::warn!(lsn = %lsn, "could not record a write's position in Redis; other processes may fill their caches from the primary only after they learn of it");
            }
        }
        Err(e) => {
            // The write is committed; only its position is unknown. The best lower bound known
            // is the primary's last polled position; the client gets no header, so its next
            // reads may briefly miss this write on a standby (logged, rare: the connection
            // broke right after COMMIT).
            tracing::warn!(error = %e, "could not read the commit position of a write");
            db.replicas().saw_write(db.replicas().primary_lsn());
        }
    }
}

/// Tells the other processes (through a fresh connection, outside any transaction) that `keys`
/// may be stale. Best effort: when PostgreSQL is down this fails, and the other processes' change
/// listeners lose their connections too, which makes them drop their whole in-process cache.
async fn notify_outside_transaction(
    db: &crate::db::Db,
    stats: &Arc<crate::db::QueryStats>,
    keys: Vec<String>,
) {
    // Through `read!` for its transaction handling (one statement, but behind PgBouncer with the
    // statement cache off it must still run inside BEGIN ... COMMIT); always on the primary.
    let sent = async {
        let keys = &keys;
        let send = async {
            crate::db::read!(db, stats, None, |c| Ok(
                crate::repo::notify::cache_invalidated(c, keys).await?
            ))
        };
        let result: AppResult<()> = send.await;
        result.ok()
    };
    if tokio::time::timeout(std::time::Duration::from_secs(2), sent)
        .await
        .ok()
        .flatten()
        .is_none()
    {
        tracing::warn!("could not tell the other processes about an unknown commit outcome");
    }
}
