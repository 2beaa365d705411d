//! The PostgreSQL pool (size, wait time-out, `statement_timeout`), embedded migrations, and the
//! per-request statement counter.

pub mod replicas;
pub mod schema;
pub mod views;

use std::sync::{
    atomic::{AtomicU64, Ordering},
    Arc,
};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use diesel::connection::{Instrumentation, InstrumentationEvent};
use diesel_async::{
    async_connection_wrapper::AsyncConnectionWrapper,
    pooled_connection::{
        deadpool::{Object, Pool},
        AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
    },
    AsyncConnection, AsyncPgConnection,
};
use diesel_async::{AnsiTransactionManager, TransactionManager};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

pub use self::replicas::{Lsn, Replicas};
use futures::FutureExt;

use crate::error::{AppError, AppResult};

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

pub type PgPool = Pool<AsyncPgConnection>;
pub type PooledConn = Object<AsyncPgConnection>;

/// What one request cost the database: statements run and time spent waiting for connections.
#[derive(Debug, Default)]
pub struct QueryStats {
    statements: AtomicU64,
    pool_wait_micros: AtomicU64,
    /// The position the client asked to read at least (`X-Bookstore-Read-After`).
    read_after: AtomicU64,
    /// The commit position of this request's newest write (sent back as `X-Bookstore-Read-After`).
    wrote: AtomicU64,
}

impl QueryStats {
    pub fn statements(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }
    pub fn pool_wait(&self) -> Duration {
        Duration::from_micros(self.pool_wait_micros.load(Ordering::Relaxed))
    }
    pub fn set_read_after(&self, lsn: Lsn) {
        self.read_after.fetch_max(lsn.0, Ordering::Relaxed);
    }
    pub fn read_after(&self) -> Lsn {
        Lsn(self.read_after.load(Ordering::Relaxed))
    }
    pub fn set_wrote(&self, lsn: Lsn) {
        self.wrote.fetch_max(lsn.0, Ordering::Relaxed);
    }
    /// The commit position of this request's newest write, if it wrote (and replicas are on).
    pub fn wrote(&self) -> Option<Lsn> {
        match self.wrote.load(Ordering::Relaxed) {
            0 => None,
            n => Some(Lsn(n)),
        }
    }
}

/// Counts every statement a connection runs into the stats of the request that holds it.
struct CountStatements(Arc<QueryStats>);

impl Instrumentation for CountStatements {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if let InstrumentationEvent::StartQuery { .. } = event {
            self.0.statements.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A connection for one read (see [`Db::read_conn`]).
pub struct ReadConn {
    conn: PooledConn,
    /// The standby it belongs to (index in [`Replicas::list`]); `None`: the primary.
    replica: Option<usize>,
    in_transaction: bool,
}

impl ReadConn {
    pub fn conn(&mut self) -> &mut AsyncPgConnection {
        &mut self.conn
    }
}

/// Runs one read: `read!(db, stats, need, |c| body)`, where `body` is an `AppResult` expression
/// over `c: &mut AsyncPgConnection` (it may use `?` and `.await`). It runs on a standby that has
/// replayed `need` when there is one, else on the primary; when it fails on a standby it runs
/// again on the primary, so it may run twice (reads are idempotent). A macro rather than a
/// function taking a closure, so that each read stays a concrete, `Send` future.
macro_rules! read {
    ($db:expr, $stats:expr, $need:expr, |$c:ident| $body:expr) => {{
        let db: &$crate::db::Db = &$db;
        let need: Option<$crate::db::Lsn> = $need;
        let mut primary_only = false;
        loop {
            let mut rc = db.read_conn($stats, need, primary_only).await?;
            let result = async {
                let $c: &mut diesel_async::AsyncPgConnection = rc.conn();
                $body
            }
            .await;
            match db.finish_read(rc, result).await {
                Some(out) => break out,
                None => primary_only = true,
            }
        }
    }};
}
pub(crate) use read;

/// The database handle shared by the whole process: the primary's pool and the standbys'.
#[derive(Clone)]
pub struct Db {
    pool: PgPool,
    replicas: Arc<Replicas>,
    /// `DATABASE_STATEMENT_CACHE`; off: no prepared-statement cache and reads in transactions.
    statement_cache: bool,
}

/// One pool: connections are made lazily; each gets `statement_timeout` on connect and, with
/// `statement_cache` off, no prepared-statement cache.
fn build_pool(
    url: &str,
    size: usize,
    wait_timeout: Duration,
    statement_timeout: Duration,
    statement_cache: bool,
) -> anyhow::Result<PgPool> {
    let timeout_ms = statement_timeout.as_millis();
    let mut config = ManagerConfig::<AsyncPgConnection>::default();
    config.recycling_method = RecyclingMethod::Fast;
    config.custom_setup = Box::new(move |url| {
        async move {
            let mut conn = if statement_cache {
                AsyncPgConnection::establish(url).await?
            } else {
                establish_for_pgbouncer(url).await?
            };
            // A simple-protocol statement: PgBouncer in transaction mode keeps it on one server
            // connection (and `SET` there applies to whichever server connection runs it, which
            // is why the timeout is also the servers' own default in the rehearsal).
            diesel_async::SimpleAsyncConnection::batch_execute(
                &mut conn,
                &format!("SET statement_timeout = {timeout_ms}"),
            )
            .await
            .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))?;
            Ok(conn)
        }
        .boxed()
    });
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(url, config);
    Pool::builder(manager)
        .max_size(size)
        .wait_timeout(Some(wait_timeout))
        .create_timeout(Some(wait_timeout))
        .recycle_timeout(Some(wait_timeout))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .context("building the database pool")
}

/// A connection for PgBouncer in transaction mode: no prepared-statement cache, and
/// diesel-async's own set-up (`SET TIME ZONE`, `SET CLIENT_ENCODING`, sent as prepared statements
/// whose prepare and execute are separate round trips) run inside BEGIN ... COMMIT, so that
/// PgBouncer keeps each on one server connection. (Session settings then reach only one server
/// connection: set `timezone` and `statement_timeout` on the server or role as well.)
async fn establish_for_pgbouncer(url: &str) -> diesel::ConnectionResult<AsyncPgConnection> {
    let bad = |e: tokio_postgres::Error| diesel::ConnectionError::BadConnection(e.to_string());
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .map_err(bad)?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "a database connection ended");
        }
    });
    client.batch_execute("BEGIN").await.map_err(bad)?;
    let mut conn = AsyncPgConnection::try_from(client).await?;
    conn.set_prepared_statement_cache_size(diesel::connection::CacheSize::Disabled);
    diesel_async::SimpleAsyncConnection::batch_execute(&mut conn, "COMMIT")
        .await
        .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))?;
    Ok(conn)
}

impl Db {
    /// The primary's pool only, statement cache on. Connections are made lazily.
    pub fn new(
        url: &str,
        size: usize,
        wait_timeout: Duration,
        statement_timeout: Duration,
    ) -> anyhow::Result<Db> {
        Ok(Db {
            pool: build_pool(url, size, wait_timeout, statement_timeout, true)?,
            replicas: Arc::new(Replicas::new(Vec::new(), Duration::from_secs(1))),
            statement_cache: true,
        })
    }

    /// The pools of `config`: the primary and every standby of `DATABASE_REPLICA_URLS` (same
    /// size and time-outs each). Nothing connects here, so an unreachable standby is only out of
    /// rotation once the monitor runs ([`Db::start_monitor`]).
    pub fn from_config(config: &crate::config::Config) -> anyhow::Result<Db> {
        let pool = |url: &str| {
            build_pool(
                url,
                config.pool_size,
                config.pool_timeout,
                config.statement_timeout,
                config.statement_cache,
            )
        };
        let mut replicas = Vec::new();
        for url in crate::config::replica_urls(&config.replica_urls)? {
            replicas.push((crate::config::redact_url(&url), pool(&url)?));
        }
        Ok(Db {
            pool: pool(&config.database_url)?,
            replicas: Arc::new(Replicas::new(replicas, config.replica_max_lag)),
            statement_cache: config.statement_cache,
        })
    }

    /// Starts the standbys' monitor (nothing to do without standbys). Needs a Tokio runtime.
    pub fn start_monitor(&self) {
        if !self.replicas.is_empty() && tokio::runtime::Handle::try_current().is_ok() {
            tokio::spawn(Arc::clone(&self.replicas).monitor(self.clone()));
        }
    }

    /// Polls every standby once now (tests use it instead of waiting for the monitor).
    pub async fn poll_replicas(&self) {
        self.replicas.poll_once(self).await;
    }

    pub fn replicas(&self) -> &Replicas {
        &self.replicas
    }

    pub fn statement_cache(&self) -> bool {
        self.statement_cache
    }

    /// A pooled connection whose statements count into `stats`. A saturated or unreachable
    /// database is a 503, never a hang (the wait is bounded by the pool's wait time-out).
    pub async fn conn(&self, stats: &Arc<QueryStats>) -> AppResult<PooledConn> {
        Self::conn_of(&self.pool, stats).await
    }

    async fn conn_of(pool: &PgPool, stats: &Arc<QueryStats>) -> AppResult<PooledConn> {
        let started = Instant::now();
        let result = pool.get().await;
        stats
            .pool_wait_micros
            .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        let mut conn = result.map_err(AppError::from)?;
        conn.set_instrumentation(CountStatements(Arc::clone(stats)));
        Ok(conn)
    }

    pub fn status(&self) -> deadpool::Status {
        self.pool.status()
    }

    /// A connection for a read that must see `need` (`None`: the primary's): a standby in
    /// rotation that has replayed it, else the primary (also when `primary_only`, the retry of
    /// a read that failed on a standby). Use it through [`read!`](crate::db::read), which ends
    /// the read with [`Db::finish_read`] and runs it again on the primary when a standby failed
    /// it, so clients never see a standby's failure.
    pub async fn read_conn(
        &self,
        stats: &Arc<QueryStats>,
        need: Option<Lsn>,
        primary_only: bool,
    ) -> AppResult<ReadConn> {
        if !primary_only {
            if let Some((i, replica)) = need.and_then(|n| self.replicas.pick(n)) {
                match self.open(&replica.pool, stats, Some(i)).await {
                    Ok(rc) => return Ok(rc),
                    Err(e) => {
                        tracing::warn!(replica = %replica.name, error = %e, "no connection to a replica; reading the primary");
                        crate::metrics::db_read("replica_failed");
                        replica.suspect(e.to_string());
                    }
                }
            }
        }
        self.open(&self.pool, stats, None).await
    }

    /// Ends a read begun with [`Db::read_conn`]: `None` when it failed on a standby and must run
    /// again on the primary (the standby leaves rotation until the monitor finds it well).
    pub async fn finish_read<R>(&self, rc: ReadConn, result: AppResult<R>) -> Option<AppResult<R>> {
        let replica = rc.replica;
        let out = self.close(rc, result).await;
        match (replica, out) {
            (Some(i), Err(e)) => {
                let r = &self.replicas.list[i];
                tracing::warn!(replica = %r.name, error = %e, "a read failed on a replica; retrying it on the primary");
                crate::metrics::db_read("replica_failed");
                r.suspect(e.to_string());
                None
            }
            (Some(i), out) => {
                self.replicas.list[i].served.fetch_add(1, Ordering::Relaxed);
                crate::metrics::db_read("replica");
                Some(out)
            }
            (None, out) => {
                crate::metrics::db_read("primary");
                Some(out)
            }
        }
    }

    /// A connection of `pool`; with the statement cache off, inside BEGIN so that every round
    /// trip of the read stays on one server connection behind PgBouncer in transaction mode. A
    /// dropped read leaves that transaction open, and the pool then discards the connection
    /// instead of reusing it (diesel's transaction manager reports it broken).
    async fn open(
        &self,
        pool: &PgPool,
        stats: &Arc<QueryStats>,
        replica: Option<usize>,
    ) -> AppResult<ReadConn> {
        let mut conn = Self::conn_of(pool, stats).await?;
        if !self.statement_cache {
            AnsiTransactionManager::begin_transaction(&mut *conn).await?;
        }
        Ok(ReadConn {
            conn,
            replica,
            in_transaction: !self.statement_cache,
        })
    }

    /// COMMIT after a success, ROLLBACK after a failure (when in a transaction).
    async fn close<R>(&self, mut rc: ReadConn, result: AppResult<R>) -> AppResult<R> {
        if !rc.in_transaction {
            return result;
        }
        match result {
            Ok(v) => {
                AnsiTransactionManager::commit_transaction(&mut *rc.conn).await?;
                Ok(v)
            }
            Err(e) => {
                let _ = AnsiTransactionManager::rollback_transaction(&mut *rc.conn).await;
                Err(e)
            }
        }
    }

    /// The primary's WAL position now, on `conn` (used right after a COMMIT; see
    /// `App::write_invalidating` for why after and not before).
    pub async fn current_lsn(&self, conn: &mut AsyncPgConnection) -> AppResult<Lsn> {
        #[derive(diesel::QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::Text)]
            lsn: String,
        }
        if !self.statement_cache {
            AnsiTransactionManager::begin_transaction(conn).await?;
        }
        let row = diesel_async::RunQueryDsl::get_result::<Row>(
            diesel::sql_query("SELECT pg_current_wal_lsn()::text AS lsn"),
            conn,
        )
        .await
        .map_err(AppError::from);
        if !self.statement_cache {
            if row.is_ok() {
                AnsiTransactionManager::commit_transaction(conn).await?;
            } else {
                let _ = AnsiTransactionManager::rollback_transaction(conn).await;
            }
        }
        let row = row?;
        Lsn::parse(&row.lsn)
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("bad pg_lsn {:?}", row.lsn)))
    }

    /// `SELECT 1` with a short bound, for `/readyz`.
    pub async fn ping(&self) -> bool {
        let stats = Arc::new(QueryStats::default());
        let probe = async {
            let mut rc = self.open(&self.pool, &stats, None).await.ok()?;
            let result =
                diesel_async::RunQueryDsl::execute(diesel::sql_query("SELECT 1"), rc.conn())
                    .await
                    .map_err(AppError::from);
            self.close(rc, result).await.ok()
        };
        matches!(
            tokio::time::timeout(Duration::from_secs(2), probe).await,
            Ok(Some(_))
        )
    }
}

/// Runs pending migrations, serialised across processes by an advisory lock.
pub async fn run_migrations(url: &str) -> anyhow::Result<Vec<String>> {
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<String>> {
        use diesel::RunQueryDsl as _;
        let mut conn: AsyncConnectionWrapper<AsyncPgConnection> =
            diesel::Connection::establish(&url)
                .with_context(|| format!("connecting to {}", crate::config::redact_url(&url)))?;
        diesel::sql_query("SELECT pg_advisory_lock(727274001)").execute(&mut conn)?;
        let applied = conn
            .run_pending_migrations(MIGRATIONS)
            .map(|v| v.iter().map(|m| m.to_string()).collect())
            .map_err(|e| anyhow::anyhow!("migration failed: {e}"));
        diesel::sql_query("SELECT pg_advisory_unlock(727274001)").execute(&mut conn)?;
        applied
    })
    .await?
}
