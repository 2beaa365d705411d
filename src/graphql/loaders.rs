//! DataLoaders, built per request (never shared between requests or users), each batch one call
//! into the service layer's batch reads.

use std::collections::HashMap;

use async_graphql::dataloader::{DataLoader, Loader};

use std::sync::Arc;

use super::context::gql_error;
use super::types::AuthorMap;
use crate::app::{AppState, Ctx};
use crate::domain::{Category, SortOrder};
use crate::model::{Author, Book, Page};
use crate::service::PageArgs;

pub struct BookLoader {
    app: AppState,
    ctx: Ctx,
}

impl Loader<String> for BookLoader {
    type Value = Book;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, Book>, Self::Error> {
        let books = self
            .app
            .books_by_isbns(&self.ctx, keys)
            .await
            .map_err(gql_error)?;
        Ok(books.into_iter().map(|b| (b.isbn.clone(), b)).collect())
    }
}

pub struct AuthorLoader {
    app: AppState,
    ctx: Ctx,
}

impl Loader<i64> for AuthorLoader {
    type Value = Author;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Author>, Self::Error> {
        let authors = self
            .app
            .authors_by_ids(&self.ctx, keys)
            .await
            .map_err(gql_error)?;
        Ok(authors.into_iter().map(|a| (a.id, a)).collect())
    }
}

/// One author's page of books, with the arguments of the `Author.books` field.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AuthorBooksKey {
    pub author_id: i64,
    pub first: i64,
    pub after: Option<String>,
    pub category: Option<Category>,
    pub order: SortOrder,
    /// Load the books' author lists (id and name) at all: only when `Book.authors` is selected.
    pub with_authors: bool,
    /// Also load the full records of the books' authors (one more statement for the batch).
    pub full_authors: bool,
}

pub struct AuthorBooksLoader {
    app: AppState,
    ctx: Ctx,
}

impl Loader<AuthorBooksKey> for AuthorBooksLoader {
    type Value = (Page<Book>, Option<AuthorMap>);
    type Error = async_graphql::Error;

    async fn load(
        &self,
        keys: &[AuthorBooksKey],
    ) -> Result<HashMap<AuthorBooksKey, Self::Value>, Self::Error> {
        // Keys that share arguments (the usual case: one field in one query) make one batch.
        type Args = (i64, Option<String>, Option<Category>, SortOrder, bool, bool);
        let mut groups: HashMap<Args, Vec<i64>> = HashMap::new();
        for k in keys {
            groups
                .entry((
                    k.first,
                    k.after.clone(),
                    k.category,
                    k.order,
                    k.with_authors,
                    k.full_authors,
                ))
                .or_default()
                .push(k.author_id);
        }
        let mut out = HashMap::with_capacity(keys.len());
        for ((first, after, category, order, with_authors, full_authors), ids) in groups {
            let page = PageArgs::graphql(Some(first), after.clone());
            let mut found = self
                .app
                .books_of_authors(
                    &self.ctx,
                    &ids,
                    category,
                    order,
                    &page,
                    with_authors || full_authors,
                )
                .await
                .map_err(gql_error)?;
            let authors = if full_authors {
                let mut author_ids: Vec<i64> = found
                    .values()
                    .flat_map(|p| p.items.iter().flat_map(|b| b.authors.iter().map(|a| a.id)))
                    .collect();
                author_ids.sort_unstable();
                author_ids.dedup();
                let list = self
                    .app
                    .authors_by_ids(&self.ctx, &author_ids)
                    .await
                    .map_err(gql_error)?;
                Some(Arc::new(
                    list.into_iter()
                        .map(|a| (a.id, a))
                        .collect::<HashMap<_, _>>(),
                ))
            } else {
                None
            };
            for id in ids {
                let books = found.remove(&id).unwrap_or(Page {
                    items: Vec::new(),
                    next_cursor: None,
                });
                let key = AuthorBooksKey {
                    author_id: id,
                    first,
                    after: after.clone(),
                    category,
                    order,
                    with_authors,
                    full_authors,
                };
                out.insert(key, (books, authors.clone()));
            }
        }
        Ok(out)
    }
}

/// The loaders of one request.
pub struct Loaders {
    pub books: DataLoader<BookLoader>,
    pub authors: DataLoader<AuthorLoader>,
    pub author_books: DataLoader<AuthorBooksLoader>,
}

/// How loaders run their batches: on the request's own task (HTTP), or as tokio tasks
/// (WebSocket connections, whose loaders outlive any one request).
pub type Spawner = Arc<dyn Fn(futures::future::BoxFuture<'static, ()>) + Send + Sync>;

/// A spawner that queues the batches for [`run_with_local_batches`], which polls them on the
/// same task as the query. A batch then only starts once every resolver of the current level
/// has registered its keys (the executor has nothing left to do), so the number of batches, and
/// of SQL statements, does not depend on thread timing.
pub fn local_spawner() -> (Spawner, BatchQueue) {
    let (tx, rx) = futures::channel::mpsc::unbounded();
    (Arc::new(move |fut| drop(tx.unbounded_send(fut))), rx)
}

/// Drives `work` and the batches queued by a [`local_spawner`] together on one task. A batch is
/// only polled (and so only starts its collection delay) when `work` is idle: it returned
/// `Pending` without asking to be polled again at once. Executors that yield half-way through a
/// long list (`FuturesUnordered` does, to be fair to other tasks) therefore still register every
/// key of a level before the level's batch is loaded.
pub async fn run_with_local_batches<F: std::future::Future>(
    work: F,
    batches: BatchQueue,
) -> F::Output {
    Drive {
        work: Box::pin(work),
        batches,
        running: futures::stream::FuturesUnordered::new(),
        flag: Arc::default(),
    }
    .await
}

pub type BatchQueue =
    futures::channel::mpsc::UnboundedReceiver<futures::future::BoxFuture<'static, ()>>;

#[derive(Default)]
struct SelfWake {
    woken: std::sync::atomic::AtomicBool,
    outer: futures::task::AtomicWaker,
}

impl futures::task::ArcWake for SelfWake {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        arc_self
            .woken
            .store(true, std::sync::atomic::Ordering::SeqCst);
        arc_self.outer.wake();
    }
}

struct Drive<F: std::future::Future> {
    work: std::pin::Pin<Box<F>>,
    batches: BatchQueue,
    running: futures::stream::FuturesUnordered<futures::future::BoxFuture<'static, ()>>,
    flag: Arc<SelfWake>,
}

impl<F: std::future::Future> std::future::Future for Drive<F> {
    type Output = F::Output;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        use futures::StreamExt;
        use std::sync::atomic::Ordering;
        use std::task::Poll;
        let this = &mut *self;
        this.flag.outer.register(cx.waker());
        let waker = futures::task::waker(this.flag.clone());
        loop {
            this.flag.woken.store(false, Ordering::SeqCst);
            if let Poll::Ready(out) = this
                .work
                .as_mut()
                .poll(&mut std::task::Context::from_waker(&waker))
            {
                return Poll::Ready(out);
            }
            while let Poll::Ready(Some(batch)) = this.batches.poll_next_unpin(cx) {
                this.running.push(batch);
            }
            if this.flag.woken.load(Ordering::SeqCst) {
                continue; // not idle: more resolvers to poll first
            }
            match this.running.poll_next_unpin(cx) {
                Poll::Ready(Some(())) => continue,
                _ => return Poll::Pending,
            }
        }
    }
}

impl Loaders {
    /// `delay` is how long a batch collects keys once started: zero with [`local_spawner`] (a
    /// batch starts only when the query is idle), a millisecond for spawned tasks.
    pub fn new(app: &AppState, ctx: &Ctx, spawner: Spawner, delay: std::time::Duration) -> Loaders {
        // Loaders only read, so they need the request's statistics but not its caller.
        let read_ctx = Ctx {
            actor: None,
            stats: ctx.stats.clone(),
        };
        let (s1, s2, s3) = (spawner.clone(), spawner.clone(), spawner);
        Loaders {
            books: DataLoader::new(
                BookLoader {
                    app: app.clone(),
                    ctx: read_ctx.clone(),
                },
                move |f| s1(f),
            )
            .delay(delay),
            authors: DataLoader::new(
                AuthorLoader {
                    app: app.clone(),
                    ctx: read_ctx.clone(),
                },
                move |f| s2(f),
            )
            .delay(delay),
            author_books: DataLoader::new(
                AuthorBooksLoader {
                    app: app.clone(),
                    ctx: read_ctx,
                },
                move |f| s3(f),
            )
            .delay(delay),
        }
    }
}
