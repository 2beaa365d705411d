//! Scenario 7: clients that drop the connection mid-write. Over raw TCP (so the request is known to
//! be sent, completely or in part), POSTs of new books and PUTs that replace a book's title and
//! authors are cut off at once or after 0-20 ms. Afterwards no book may be half-written: every
//! book's title and its `book_authors` rows belong to the same write (the old state or the new).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::support::*;

const EXISTING: u64 = 40;
const ABORTED: u64 = 240;
const CONCURRENT: usize = 16;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connections_leave_no_half_written_book() {
    let pg = start_pg();
    let mut server = Server::start(
        &pg.url("bookstore"),
        &[("BOOKSTORE_RATE_LIMIT", "off".into())],
    )
    .await;
    let token = server.admin_token().await;
    let mut authors = Vec::new();
    for n in 0..6 {
        authors.push(
            server
                .create_author(&token, &format!("Dropped Author {n}"))
                .await,
        );
    }
    let old_set = authors[0..3].to_vec();
    let put_set = authors[3..5].to_vec();
    let post_set = vec![authors[5], authors[4], authors[3]];
    for n in 0..EXISTING {
        let isbn = isbn(620_000 + n);
        server
            .create_book(&token, &book_body(Some(&isbn), "old", 1, &old_set))
            .await;
    }

    let port = server.port;
    let token = Arc::new(token);
    let outcomes = futures::stream::iter(0..ABORTED)
        .map(|i| {
            let token = token.clone();
            let (put_set, post_set) = (put_set.clone(), post_set.clone());
            async move {
                let (method, path, body) = if i % 2 == 0 {
                    let isbn = isbn(620_000 + (i / 2) % EXISTING);
                    (
                        "PUT",
                        format!("/v1/book/{isbn}"),
                        book_body(None, "put", 2, &put_set).to_string(),
                    )
                } else {
                    let isbn = isbn(630_000 + i);
                    (
                        "POST",
                        "/v1/book".to_owned(),
                        book_body(Some(&isbn), "post", 3, &post_set).to_string(),
                    )
                };
                let head = format!(
                    "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
                     Authorization: Bearer {token}\r\nContent-Type: application/json\r\n\
                     Content-Length: {}\r\n\r\n",
                    body.len()
                );
                let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)).await else {
                    return false;
                };
                // One in four sends only half of the body; the rest all of it.
                let body = if i % 4 == 3 {
                    &body[..body.len() / 2]
                } else {
                    &body[..]
                };
                let sent = s.write_all(head.as_bytes()).await.is_ok()
                    && s.write_all(body.as_bytes()).await.is_ok();
                let wait = (i * 7919) % 21;
                if wait > 0 {
                    tokio::time::sleep(Duration::from_millis(wait)).await;
                }
                drop(s);
                sent
            }
        })
        .buffer_unordered(CONCURRENT)
        .collect::<Vec<bool>>()
        .await;
    let sent = outcomes.iter().filter(|s| **s).count();
    // Let the server finish (or roll back) whatever it was doing.
    let db = superuser(&pg).await;
    for _ in 0..100 {
        let busy: i64 = db
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE usename = 'bookstore' AND state <> 'idle'",
                &[],
            )
            .await
            .expect("pg_stat_activity")
            .get(0);
        if busy == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    let rows = db
        .query(
            "SELECT b.isbn, b.title, a.author_id FROM books b \
               LEFT JOIN book_authors a ON a.book_isbn = b.isbn ORDER BY b.isbn, a.position",
            &[],
        )
        .await
        .expect("books and their authors");
    let mut books: HashMap<String, (String, Vec<i64>)> = HashMap::new();
    for r in rows {
        let entry = books
            .entry(r.get(0))
            .or_insert_with(|| (r.get::<_, String>(1), Vec::new()));
        if let Some(a) = r.get::<_, Option<i64>>(2) {
            entry.1.push(a);
        }
    }
    let orphans: i64 = db
        .query_one(
            "SELECT count(*) FROM book_authors a WHERE NOT EXISTS (SELECT 1 FROM books b WHERE b.isbn = a.book_isbn)",
            &[],
        )
        .await
        .expect("orphans")
        .get(0);
    let mut half_written = Vec::new();
    let (mut puts_applied, mut posts_applied) = (0, 0);
    for (isbn, (title, ids)) in &books {
        let expected: &[i64] = match title.as_str() {
            "old" => &old_set,
            "put" => {
                puts_applied += 1;
                &put_set
            }
            "post" => {
                posts_applied += 1;
                &post_set
            }
            _ => &[],
        };
        if ids.as_slice() != expected {
            half_written.push(format!("{isbn} {title:?} {ids:?}"));
        }
    }
    let distinct: BTreeSet<&str> = books.values().map(|b| b.0.as_str()).collect();
    let alive = server.alive()
        && server
            .client
            .get(server.url("/v1/books?limit=1"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200);
    report(
        "dropped-connections",
        &[
            ("aborted_requests", ABORTED.to_string()),
            ("fully_sent", sent.to_string()),
            ("books", books.len().to_string()),
            ("puts_applied", puts_applied.to_string()),
            ("posts_applied", posts_applied.to_string()),
            ("half_written", half_written.len().to_string()),
            ("orphan_book_authors", orphans.to_string()),
            ("server_ok_after", alive.to_string()),
        ],
    );
    assert!(
        half_written.is_empty(),
        "half-written books: {half_written:?} ({distinct:?})"
    );
    assert_eq!(orphans, 0);
    assert!(
        alive,
        "the server does not answer afterwards:\n{}",
        server.output_tail()
    );
}
