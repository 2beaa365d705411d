//! Operations on the whole cache namespace, for the CLI.

use super::SCHEMA_VERSION;

/// Drops every entry of `prefix` in Redis and tells every replica's front to start afresh: for
/// `seed --reset`, which replaces the catalogue behind the servers' backs.
pub async fn flush_shared(redis_url: &str, prefix: &str) -> anyhow::Result<usize> {
    let client = redis::Client::open(redis_url)?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let pattern = format!("{prefix}:{SCHEMA_VERSION}:*");
    let mut cursor: u64 = 0;
    let mut dropped = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut conn)
            .await?;
        if !keys.is_empty() {
            dropped += keys.len();
            redis::cmd("DEL")
                .arg(&keys)
                .query_async::<()>(&mut conn)
                .await?;
        }
        if next == 0 {
            break;
        }
        cursor = next;
    }
    redis::cmd("PUBLISH")
        .arg(format!("{prefix}:{SCHEMA_VERSION}:invalidations"))
        .arg("reset")
        .query_async::<u64>(&mut conn)
        .await?;
    Ok(dropped)
}
