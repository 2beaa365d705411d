//! NOTIFY messages to the other server processes.

use diesel::sql_types::Text;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

pub const CACHE_CHANNEL: &str = "bookstore_cache";

/// Tells every process (delivered at commit) which cache keys the transaction made stale.
pub async fn cache_invalidated(
    conn: &mut AsyncPgConnection,
    keys: &[String],
) -> diesel::QueryResult<()> {
    diesel::sql_query("SELECT pg_notify($1, $2)")
        .bind::<Text, _>(CACHE_CHANNEL)
        .bind::<Text, _>(keys.join(" "))
        .execute(conn)
        .await
        .map(|_| ())
}

/// Tells every process to drop its whole in-process cache (after the catalogue was replaced).
pub async fn cache_reset(conn: &mut AsyncPgConnection) -> diesel::QueryResult<()> {
    cache_invalidated(conn, &["*".to_owned()]).await
}
