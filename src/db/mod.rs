//! The PostgreSQL pool (size, wait time-out, `statement_timeout`), embedded migrations, and the
//! per-request statement counter.

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
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
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
}

impl QueryStats {
    pub fn statements(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }
    pub fn pool_wait(&self) -> Duration {
        Duration::from_micros(self.pool_wait_micros.load(Ordering::Relaxed))
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

/// The database handle shared by the whole process.
#[derive(Clone)]
pub struct Db {
    pool: PgPool,
}

impl Db {
    /// Builds the pool. Connections are made lazily; each gets `statement_timeout` on connect.
    pub fn new(
        url: &str,
        size: usize,
        wait_timeout: Duration,
        statement_timeout: Duration,
    ) -> anyhow::Result<Db> {
        let timeout_ms = statement_timeout.as_millis();
        let mut config = ManagerConfig::<AsyncPgConnection>::default();
        config.recycling_method = RecyclingMethod::Fast;
        config.custom_setup = Box::new(move |url| {
            async move {
                let mut conn = AsyncPgConnection::establish(url).await?;
                diesel_async::RunQueryDsl::execute(
                    diesel::sql_query(format!("SET statement_timeout = {timeout_ms}")),
                    &mut conn,
                )
                .await
                .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))?;
                Ok(conn)
            }
            .boxed()
        });
        let manager =
            AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(url, config);
        let pool = Pool::builder(manager)
            .max_size(size)
            .wait_timeout(Some(wait_timeout))
            .create_timeout(Some(wait_timeout))
            .recycle_timeout(Some(wait_timeout))
            .runtime(deadpool::Runtime::Tokio1)
            .build()
            .context("building the database pool")?;
        Ok(Db { pool })
    }

    /// A pooled connection whose statements count into `stats`. A saturated or unreachable
    /// database is a 503, never a hang (the wait is bounded by the pool's wait time-out).
    pub async fn conn(&self, stats: &Arc<QueryStats>) -> AppResult<PooledConn> {
        let started = Instant::now();
        let result = self.pool.get().await;
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

    /// `SELECT 1` with a short bound, for `/readyz`.
    pub async fn ping(&self) -> bool {
        let stats = Arc::new(QueryStats::default());
        let probe = async {
            let mut conn = self.conn(&stats).await.ok()?;
            diesel_async::RunQueryDsl::execute(diesel::sql_query("SELECT 1"), &mut *conn)
                .await
                .ok()
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
