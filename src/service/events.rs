//! Book change events for subscriptions. The source is PostgreSQL itself: a deferred trigger on
//! `books` sends `NOTIFY bookstore_book_changes` at commit with the book as that change left it,
//! and every server process LISTENs, so a change made through any door of any process reaches
//! every subscriber exactly once, in commit order, with its own state (never a state read later).
//! One listener per process decodes each event once and shares it (`Arc`) with every subscriber.

use std::sync::Arc;
use std::time::Duration;

use crate::cache::Cache;
use crate::model::Book;

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures::StreamExt;
use serde::Deserialize;
use tokio::sync::broadcast;

pub const CHANNEL: &str = "bookstore_book_changes";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Created,
    Updated,
    Deleted,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct BookChangeEvent {
    pub kind: ChangeKind,
    pub isbn: String,
    /// The book's version after the change (before it, for a delete).
    #[serde(default)]
    pub version: Option<i32>,
    /// The book as the change left it; `None` after a delete.
    #[serde(default)]
    pub book: Option<Book>,
    /// The book did not fit the notification; the listener reads it (once per process).
    #[serde(default)]
    pub truncated: bool,
}

/// Events shared by every subscriber of the process.
pub type SharedEvent = Arc<BookChangeEvent>;

/// Events buffered per subscriber before it counts as lagging.
const CHANNEL_CAPACITY: usize = 4096;

pub struct Events {
    tx: broadcast::Sender<SharedEvent>,
}

impl Default for Events {
    fn default() -> Self {
        Self::new()
    }
}

impl Events {
    pub fn new() -> Events {
        let (tx, _) = broadcast::channel(CHANNEL_CAPACITY);
        Events { tx }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<SharedEvent> {
        self.tx.subscribe()
    }

    pub fn publish(&self, event: BookChangeEvent) {
        let _ = self.tx.send(Arc::new(event));
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
    tx: &broadcast::Sender<SharedEvent>,
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
            Ok(mut event) => {
                if event.truncated && event.kind != ChangeKind::Deleted {
                    event.book = read_book(url, &event.isbn).await;
                }
                let _ = tx.send(Arc::new(event));
            }
            Err(e) => tracing::warn!(error = %e, "unreadable change notification"),
        }
    }
    Ok(())
}

/// A book whose state did not fit its notification (a rare, very long title or author list),
/// read from the primary on a connection of its own.
async fn read_book(url: &str, isbn: &str) -> Option<Book> {
    let mut conn = AsyncPgConnection::establish(url).await.ok()?;
    match crate::repo::books::by_isbn(&mut conn, isbn).await {
        Ok(book) => book,
        Err(e) => {
            tracing::warn!(error = %e, isbn, "could not read a changed book for its event");
            None
        }
    }
}
