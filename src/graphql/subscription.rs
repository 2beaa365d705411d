//! The `Subscription` root: book changes from any door of any server process.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_graphql::{Context, Subscription};
use futures::{Stream, StreamExt};
use tokio_stream::wrappers::{errors::BroadcastStreamRecvError, BroadcastStream};

use super::context::{app, GqlResult};
use super::types::{Book, BookChange};
use crate::error::AppError;
use crate::service::books::isbn_param;

/// Most subscriptions one WebSocket connection may hold at once.
pub const MAX_SUBSCRIPTIONS_PER_CONNECTION: usize = 16;

/// Live subscriptions of one WebSocket connection.
#[derive(Default, Clone)]
pub struct SubscriptionCount(pub Arc<AtomicUsize>);

/// Releases its slot when the subscription's stream is dropped.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

pub struct SubscriptionRoot;

#[Subscription(name = "Subscription")]
impl SubscriptionRoot {
    /// Emits when a book is created, updated or deleted (all books, or the one `isbn` names).
    async fn book_changed(
        &self,
        ctx: &Context<'_>,
        isbn: Option<String>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<BookChange>>> {
        let wanted = isbn
            .map(|i| isbn_param(&i, "isbn").map(|i| i.into_string()))
            .transpose()
            .gql()?;
        let slot = match ctx.data_opt::<SubscriptionCount>() {
            Some(count) => {
                if count.0.fetch_add(1, Ordering::SeqCst) >= MAX_SUBSCRIPTIONS_PER_CONNECTION {
                    count.0.fetch_sub(1, Ordering::SeqCst);
                    return Err(AppError::RateLimited { retry_after_secs: 1 }).gql().map_err(|mut e| {
                        e.message = format!("at most {MAX_SUBSCRIPTIONS_PER_CONNECTION} subscriptions per connection");
                        e
                    });
                }
                Some(Slot(count.0.clone()))
            }
            None => None,
        };
        let events = BroadcastStream::new(app(ctx).events.subscribe());
        Ok(events.filter_map(move |event| {
            let _slot = &slot;
            let event = match event {
                Ok(event) => match &wanted {
                    Some(isbn) if *isbn != event.isbn => None,
                    _ => Some(Ok(BookChange {
                        kind: event.kind.into(),
                        isbn: event.isbn.clone(),
                        book: event.book.clone().map(Book::from),
                    })),
                },
                Err(BroadcastStreamRecvError::Lagged(missed)) => {
                    // The subscriber read too slowly and the process's buffer moved on: say so
                    // instead of skipping changes silently.
                    tracing::warn!(missed, "a subscriber fell behind; ending its subscription");
                    Some(Err(async_graphql::Error::new(format!(
                        "the subscriber fell behind and missed {missed} changes; subscribe again"
                    ))))
                }
            };
            std::future::ready(event)
        }))
    }
}
