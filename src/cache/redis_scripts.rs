//! The Lua scripts the Redis backend runs (each one atomic step in Redis), and their callers.

use redis::aio::ConnectionManager;

use super::TOMBSTONE_TTL;
use crate::redis_handle::COMMAND_TIMEOUT;

/// Takes the next invalidation number and leaves a tombstone numbered with it in every entry.
pub const INVALIDATE: &str = include_str!("scripts/invalidate.lua");
/// Writes entries only where there is nothing, or a tombstone the reader's snapshot covers.
pub const FILL: &str = include_str!("scripts/fill.lua");

pub async fn write_tombstones(
    mut c: ConnectionManager,
    seq_key: &str,
    keys: &[String],
) -> redis::RedisResult<()> {
    let script = redis::Script::new(INVALIDATE);
    let mut invocation = script.prepare_invoke();
    invocation
        .key(seq_key)
        .arg(TOMBSTONE_TTL.as_millis() as u64);
    for k in keys {
        invocation.key(k);
    }
    match tokio::time::timeout(COMMAND_TIMEOUT, invocation.invoke_async::<u64>(&mut c)).await {
        Ok(r) => r.map(|_| ()),
        Err(_) => Err(redis::RedisError::from((
            redis::ErrorKind::IoError,
            "tombstones timed out",
        ))),
    }
}
