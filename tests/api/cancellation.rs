//! A write whose client gives up (disconnects) mid-request must never return a pooled connection
//! to the pool in the middle of a transaction (diesel-async issues 96 and 198): the write either
//! happens completely or not at all, no session is left `idle in transaction`, and a small pool
//! keeps serving afterwards.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{book_body, id_of, isbn, TestApp};

/// Sessions of the test database (other than the observer's own) in a given state.
async fn sessions(observer: &tokio_postgres::Client, db: &str, condition: &str) -> i64 {
    observer
        .query_one(
            &format!(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE datname = $1 AND pid <> pg_backend_pid() AND backend_type = 'client backend' \
                 AND {condition}"
            ),
            &[&db],
        )
        .await
        .unwrap()
        .get(0)
}

/// Waits until `condition` holds for `want` sessions (or gives up and returns the last count).
async fn wait_for(
    observer: &tokio_postgres::Client,
    db: &str,
    condition: &str,
    want: impl Fn(i64) -> bool,
    within: Duration,
) -> i64 {
    let deadline = Instant::now() + within;
    loop {
        let n = sessions(observer, db, condition).await;
        if want(n) || Instant::now() > deadline {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Title, version and author ids of a book, straight from the database (no cache).
async fn stored_book(db: &tokio_postgres::Client, isbn: &str) -> (String, i32, Vec<i64>) {
    let row = db
        .query_one("SELECT title, version FROM books WHERE isbn = $1", &[&isbn])
        .await
        .unwrap();
    let authors = db
        .query(
            "SELECT author_id FROM book_authors WHERE book_isbn = $1 ORDER BY position",
            &[&isbn],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    (row.get(0), row.get(1), authors)
}

fn replacement(title: &str, authors: &[i64]) -> Value {
    let mut body = book_body("unused", title, authors);
    body.as_object_mut().unwrap().remove("isbn");
    body["stock"] = json!(42);
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_cancelled_by_a_client_disconnect_never_leaves_a_connection_mid_transaction() {
    let app = TestApp::spawn_with(|c| {
        c.pool_size = 2;
        c.pool_timeout = Duration::from_secs(3);
    })
    .await;
    let editor = app.editor_token().await;
    let a = id_of(&app.create_author(&editor, "Before").await);
    let b = id_of(&app.create_author(&editor, "After").await);
    for n in 1..=3 {
        app.create_book(
            &editor,
            &book_body(&isbn(n), &format!("Original {n}"), &[a]),
        )
        .await;
    }
    let observer = app.db().await;
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(400))
        .build()
        .unwrap();

    for n in 1..=3u32 {
        let isbn = isbn(n);
        let before = stored_book(&observer, &isbn).await;
        assert_eq!(before, (format!("Original {n}"), 1, vec![a]));

        // Another session holds the book's row lock, so the server's write has to wait for it.
        let mut locker = app.db().await;
        let tx = locker.transaction().await.unwrap();
        tx.query_one(
            "SELECT version FROM books WHERE isbn = $1 FOR UPDATE",
            &[&isbn],
        )
        .await
        .unwrap();

        // The client gives up while the server is waiting inside its transaction.
        let title = format!("Replaced {n}");
        let sent = impatient
            .put(app.url(&format!("/v1/book/{isbn}")))
            .bearer_auth(&editor)
            .json(&replacement(&title, &[b, a]))
            .send()
            .await;
        let err = sent.expect_err("the client times out while the row is locked");
        assert!(err.is_timeout(), "{err}");
        // The scenario really happened: a server session is blocked on our lock.
        let waiting = wait_for(
            &observer,
            &app.db_name,
            "wait_event_type = 'Lock'",
            |n| n >= 1,
            Duration::from_secs(5),
        )
        .await;
        assert!(
            waiting >= 1,
            "the server's write was not waiting for the row lock"
        );
        // Let the server notice the disconnect before the lock goes away.
        tokio::time::sleep(Duration::from_millis(200)).await;
        tx.rollback().await.unwrap();
        drop(locker);

        // The server's sessions settle: nothing waits, nothing runs, nothing is mid-transaction.
        let busy = wait_for(
            &observer,
            &app.db_name,
            "(state <> 'idle' OR wait_event_type = 'Lock')",
            |n| n == 0,
            Duration::from_secs(10),
        )
        .await;
        let stuck = sessions(
            &observer,
            &app.db_name,
            "state IN ('idle in transaction', 'idle in transaction (aborted)')",
        )
        .await;
        assert_eq!(stuck, 0, "a pooled connection was left idle in transaction");
        assert_eq!(busy, 0, "server sessions did not settle");

        // All or nothing.
        let after = stored_book(&observer, &isbn).await;
        let replaced = (title.clone(), 2, vec![b, a]);
        assert!(
            after == before || after == replaced,
            "a half-applied write: {after:?} (before {before:?})"
        );
        // The API agrees with the database.
        let got = app.get(&format!("/v1/book/{isbn}")).await;
        got.expect(200);
        assert_eq!(got.body["title"], after.0.as_str());
        assert_eq!(got.body["version"], after.1);
    }

    // The two pooled connections keep serving many requests, including writes to the same rows.
    let started = Instant::now();
    for round in 0..10 {
        let requests = (1..=3u32).map(|n| {
            let app = &app;
            let editor = &editor;
            async move {
                let path = format!("/v1/book/{}", isbn(n));
                let w = app
                    .put(
                        &path,
                        editor,
                        &replacement(&format!("Round {round}"), &[a, b]),
                    )
                    .await;
                w.expect(200);
                let r = app.get(&path).await;
                r.expect(200);
                assert_eq!(r.body["title"], format!("Round {round}"));
                app.get("/v1/books?limit=5").await.expect(200);
            }
        });
        futures::future::join_all(requests).await;
    }
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "90 requests took {:?}",
        started.elapsed()
    );
    let stuck = sessions(
        &observer,
        &app.db_name,
        "state IN ('idle in transaction', 'idle in transaction (aborted)')",
    )
    .await;
    assert_eq!(stuck, 0);
    let total: i64 = sessions(&observer, &app.db_name, "true").await;
    assert!(total <= 3, "pool of 2 (+ the locker) but {total} sessions");
}
