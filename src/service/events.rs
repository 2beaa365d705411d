//! Book change events for subscriptions. The source is PostgreSQL itself: a trigger on `books`
//! sends `NOTIFY bookstore_book_changes` on commit, and every server process LISTENs, so a change
//! made through any door of any process reaches every subscriber exactly once.

use std::sync::Arc;
use std::time::Duration;

use crate::cache::Cache;

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures::StreamExt;
use serde::Deserialize;
use tokio::sync::broadcast;

pub const CHANNEL: &str = "bookstore_book_changes";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, async_graphql::Enum)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Created,
    Updated,
    Deleted,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct BookChangeEvent {
    pub kind: ChangeKind,
    pub isbn: String,
}

pub struct Events {
    tx: broadcast::Sender<BookChangeEvent>,
}

impl Default for Events {
    fn default() -> Self {
        Self::new()
    }
}

impl Events {
    pub fn new() -> Events {
        let (tx, _) = broadcast::channel(1024);
        Events { tx }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<BookChangeEvent> {
        self.tx.subscribe()
    }

    pub fn publish(&self, event: BookChangeEvent) {
        let _ = self.tx.send(event);
    }

    /// Listens for change notifications until the process ends, reconnecting with back-off.
    /// Cache invalidations from other processes (in-process cache mode) arrive on the same
    /// connection and are applied to `cache`.
    pub fn spawn_listener(&self, database_url: String, cache: Arc<Cache>) {
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let mut delay = Duration::from_millis(200);
            loop {
                match listen_once(&tx, &cache, &database_url).await {
                    Ok(()) => delay = Duration::from_millis(200),
                    Err(e) => {
                        tracing::warn!(error = %e, "change listener lost its connection; retrying")
                    }
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        });
    }
}

async fn listen_once(
    tx: &broadcast::Sender<BookChangeEvent>,
    cache: &Cache,
    url: &str,
) -> anyhow::Result<()> {
    let mut conn = AsyncPgConnection::establish(url).await?;
    diesel::sql_query(format!("LISTEN {CHANNEL}"))
        .execute(&mut conn)
        .await?;
    diesel::sql_query(format!("LISTEN {}", crate::repo::notify::CACHE_CHANNEL))
        .execute(&mut conn)
        .await?;
    // Invalidations may have been missed while not listening: start the local cache afresh.
    cache.clear_local();
    tracing::debug!("listening for book changes and cache invalidations");
    let mut stream = std::pin::pin!(conn.notifications_stream());
    while let Some(n) = stream.next().await {
        let n = n?;
        if n.channel == crate::repo::notify::CACHE_CHANNEL {
            if n.payload == "*" {
                cache.clear_local();
                continue;
            }
            let keys: Vec<String> = n.payload.split_whitespace().map(str::to_owned).collect();
            cache.forget_local(&keys).await;
            continue;
        }
        match serde_json::from_str::<BookChangeEvent>(&n.payload) {
            Ok(event) => {
                let _ = tx.send(event);
            }
            Err(e) => tracing::warn!(error = %e, "unreadable change notification"),
        }
    }
    Ok(())
}
