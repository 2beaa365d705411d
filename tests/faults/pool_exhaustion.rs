//! Scenario 3: pool exhaustion. With DATABASE_POOL_SIZE=2 and DATABASE_POOL_TIMEOUT_MS=500, a
//! superuser session holds `LOCK TABLE books` (ACCESS EXCLUSIVE) so that the first two requests
//! wait on the lock with both connections, and 30 more concurrent requests find the pool empty:
//! each of those must be a 503 with `Retry-After` within the pool time-out (plus scheduling
//! slack), and no request may hang. After the lock is released the server answers 200 again.

use std::time::{Duration, Instant};

use futures::future::join_all;

use crate::support::*;

const POOL_SIZE: usize = 2;
const POOL_TIMEOUT_MS: u64 = 500;
/// Slack over the pool time-out for a 503 on the shared 2-core machine.
const SLACK_MS: u64 = 1000;
const REQUESTS: usize = 32;
/// A request still unanswered after this long is a hang.
const HANG: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_exhaustion_is_a_quick_503() {
    let pg = start_pg();
    let server = Server::start(
        &pg.url("bookstore"),
        &[
            ("DATABASE_POOL_SIZE", POOL_SIZE.to_string()),
            ("DATABASE_POOL_TIMEOUT_MS", POOL_TIMEOUT_MS.to_string()),
            ("BOOKSTORE_CACHE", "off".into()),
            ("BOOKSTORE_RATE_LIMIT", "off".into()),
        ],
    )
    .await;
    let token = server.admin_token().await;
    let author = server.create_author(&token, "Pool Author").await;
    let isbn = isbn(800_001);
    server
        .create_book(&token, &book_body(Some(&isbn), "Pool Book", 1, &[author]))
        .await;

    let db = superuser(&pg).await;
    db.batch_execute("BEGIN; LOCK TABLE books IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("lock books");
    let client = client(HANG);

    // Two requests take both connections and wait on the lock...
    let blockers: Vec<_> = (0..POOL_SIZE)
        .map(|_| {
            let req = client.get(server.url(&format!("/v1/book/{isbn}")));
            tokio::spawn(async move {
                let t = Instant::now();
                let r = req.send().await;
                (t.elapsed(), r.map(|r| r.status().as_u16()).ok())
            })
        })
        .collect();
    // ...until PostgreSQL shows them waiting.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let waiting: i64 = db
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE usename = 'bookstore' AND wait_event_type = 'Lock'",
                &[],
            )
            .await
            .expect("pg_stat_activity")
            .get(0);
        if waiting as usize >= POOL_SIZE || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The rest, all at once, each asking for something different (so that no request can share
    // another's database read): REST books by ISBN, GraphQL books, REST searches of authors and
    // of books.
    let started = Instant::now();
    let requests: Vec<_> = (0..REQUESTS)
        .map(|i| {
            let other = crate::support::isbn(810_000 + i as u64);
            let (kind, req) = match i % 4 {
                0 => ("rest_book", client.get(server.url(&format!("/v1/book/{other}")))),
                1 => (
                    "graphql_book",
                    client.post(server.url("/graphql")).json(
                        &serde_json::json!({"query": format!("{{ book(isbn: \"{other}\") {{ title }} }}")}),
                    ),
                ),
                2 => ("rest_authors", client.get(server.url(&format!("/v1/authors?name=n{i}")))),
                _ => ("rest_books", client.get(server.url(&format!("/v1/books?q=t{i}")))),
            };
            async move {
                let t = Instant::now();
                let r = req.send().await;
                let latency = t.elapsed();
                match r {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        let retry_after = r.headers().contains_key("retry-after");
                        let body: serde_json::Value = r.json().await.unwrap_or_default();
                        // GraphQL answers 200 with an error (its `extensions.code`).
                        let code = body["errors"][0]["extensions"]["code"]
                            .as_str()
                            .map(str::to_owned);
                        Outcome { latency, status: Some(status), retry_after, code, kind }
                    }
                    Err(_) => Outcome { latency, status: None, retry_after: false, code: None, kind },
                }
            }
        })
        .collect();
    let results = join_all(requests).await;
    let all_answered = started.elapsed();

    db.batch_execute("ROLLBACK")
        .await
        .expect("release the lock");
    let blocked: Vec<(Duration, Option<u16>)> = join_all(blockers)
        .await
        .into_iter()
        .map(|r| r.expect("blocker task"))
        .collect();
    // Answers again once the lock is gone.
    let after = Instant::now();
    let mut recovered = None;
    while after.elapsed() < Duration::from_secs(5) {
        if let Ok(r) = client
            .get(server.url(&format!("/v1/book/{isbn}")))
            .send()
            .await
        {
            if r.status() == 200 {
                recovered = Some(after.elapsed());
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Refused: a REST 503 with Retry-After, or a GraphQL answer carrying an error.
    let refused = |o: &Outcome| match o.kind {
        "graphql_book" => o.status == Some(200) && o.code.is_some(),
        _ => o.status == Some(503),
    };
    let status_503 = results.iter().filter(|o| o.status == Some(503)).count();
    let graphql_errors: Vec<String> = results
        .iter()
        .filter(|o| o.kind == "graphql_book" && refused(o))
        .map(|o| o.code.clone().unwrap_or_default())
        .collect();
    let without_retry_after = results
        .iter()
        .filter(|o| o.status == Some(503) && !o.retry_after)
        .count();
    let hangs = results.iter().filter(|o| o.status.is_none()).count()
        + blocked.iter().filter(|b| b.1.is_none()).count();
    let max_refusal = results
        .iter()
        .filter(|o| refused(o))
        .map(|o| o.latency)
        .max()
        .unwrap_or_default();
    let limit = Duration::from_millis(POOL_TIMEOUT_MS + SLACK_MS);
    let late: Vec<String> = results
        .iter()
        .filter(|o| o.latency > limit)
        .map(|o| {
            format!(
                "{}:{}:{}ms",
                o.kind,
                o.status.unwrap_or(0),
                o.latency.as_millis()
            )
        })
        .collect();
    let others: Vec<String> = results
        .iter()
        .filter(|o| !refused(o))
        .map(|o| {
            format!(
                "{}:{}:{}ms",
                o.kind,
                o.status.unwrap_or(0),
                o.latency.as_millis()
            )
        })
        .collect();
    report(
        "pool-exhaustion",
        &[
            ("pool_size", POOL_SIZE.to_string()),
            ("pool_timeout_ms", POOL_TIMEOUT_MS.to_string()),
            ("requests", REQUESTS.to_string()),
            ("status_503", status_503.to_string()),
            (
                "status_503_without_retry_after",
                without_retry_after.to_string(),
            ),
            ("graphql_errors", graphql_errors.len().to_string()),
            (
                "graphql_codes",
                format!(
                    "{:?}",
                    graphql_errors
                        .iter()
                        .collect::<std::collections::BTreeSet<_>>()
                )
                .replace(' ', ""),
            ),
            ("not_refused", format!("{others:?}").replace(' ', "")),
            ("max_refusal_ms", ms(max_refusal)),
            ("late", format!("{late:?}").replace(' ', "")),
            ("all_answered_ms", ms(all_answered)),
            (
                "blocked",
                format!(
                    "{:?}",
                    blocked
                        .iter()
                        .map(|b| format!("{}:{}ms", b.1.unwrap_or(0), b.0.as_millis()))
                        .collect::<Vec<_>>()
                )
                .replace(' ', ""),
            ),
            ("hangs", hangs.to_string()),
            ("recovery_ms", recovered.map_or("never".into(), ms)),
        ],
    );
    assert_eq!(hangs, 0, "requests without an answer within {HANG:?}");
    assert!(
        others.is_empty(),
        "every request beyond the pool should be refused (REST 503, GraphQL error): {others:?}"
    );
    assert_eq!(without_retry_after, 0, "503 without Retry-After");
    assert!(
        late.is_empty(),
        "answers later than the pool time-out ({POOL_TIMEOUT_MS} ms) + {SLACK_MS} ms: {late:?}"
    );
    assert!(
        recovered.is_some(),
        "no 200 within 5 s of releasing the lock"
    );
}

struct Outcome {
    latency: Duration,
    status: Option<u16>,
    retry_after: bool,
    code: Option<String>,
    kind: &'static str,
}
