//! Scenario 5: cache stampede. A book written straight into the database (so no cache holds it) is
//! asked for by 200 concurrent GETs at once: exactly one of them may read it from PostgreSQL.
//! Counted twice: the `x-sql-statements` header (development mode) of every response, and
//! pg_stat_statements on the private cluster (calls of statements reading `books_with_authors`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::join_all;

use crate::support::*;

const CONCURRENT: usize = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_stampede_reads_once() {
    let pg = start_pg();
    tokio::task::block_in_place(|| {
        pg.psql("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'");
        pg.stop();
        pg.restart();
        pg.psql_in(
            "bookstore",
            "CREATE EXTENSION IF NOT EXISTS pg_stat_statements",
        );
    });
    let redis = RedisServer::start();
    let server = Server::start(
        &pg.url("bookstore"),
        &[
            ("REDIS_URL", redis.url()),
            ("BOOKSTORE_CACHE", "on".into()),
            ("BOOKSTORE_RATE_LIMIT", "off".into()),
        ],
    )
    .await;
    let token = server.admin_token().await;
    let author = server.create_author(&token, "Stampede Author").await;
    let isbn = isbn(600_001);
    let db = superuser(&pg).await;
    db.batch_execute(&format!(
        "INSERT INTO books (isbn, title, category, year, price_cents, stock) \
           VALUES ('{isbn}', 'Stampede', 'fiction', 2001, 100, 1); \
         INSERT INTO book_authors (book_isbn, author_id, position) VALUES ('{isbn}', {author}, 1)"
    ))
    .await
    .expect("insert the book behind the server's back");
    db.batch_execute("SELECT pg_stat_statements_reset()")
        .await
        .expect("reset pg_stat_statements");

    let client = client(Duration::from_secs(20));
    let barrier = Arc::new(tokio::sync::Barrier::new(CONCURRENT));
    let started = Instant::now();
    let results = join_all((0..CONCURRENT).map(|_| {
        let (client, barrier) = (client.clone(), barrier.clone());
        let url = server.url(&format!("/v1/book/{isbn}"));
        tokio::spawn(async move {
            barrier.wait().await;
            match client.get(url).send().await {
                Ok(r) => {
                    let statements = r
                        .headers()
                        .get("x-sql-statements")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse::<u64>().ok());
                    (Some(r.status().as_u16()), statements)
                }
                Err(_) => (None, None),
            }
        })
    }))
    .await;
    let elapsed = started.elapsed();
    let results: Vec<(Option<u16>, Option<u64>)> =
        results.into_iter().map(|r| r.expect("task")).collect();
    let ok = results.iter().filter(|r| r.0 == Some(200)).count();
    let with_sql = results.iter().filter(|r| r.1.unwrap_or(0) > 0).count();
    let header_missing = results.iter().filter(|r| r.1.is_none()).count();
    let statements: u64 = results.iter().filter_map(|r| r.1).sum();
    let db_reads: i64 = db
        .query_one(
            "SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_statements \
              WHERE query ILIKE '%books_with_authors%' AND query NOT ILIKE '%pg_stat_statements%'",
            &[],
        )
        .await
        .expect("pg_stat_statements")
        .get(0);
    report(
        "cache-stampede",
        &[
            ("gets", CONCURRENT.to_string()),
            ("status_200", ok.to_string()),
            ("responses_that_ran_sql", with_sql.to_string()),
            ("sql_statements_total", statements.to_string()),
            ("db_reads", db_reads.to_string()),
            ("elapsed_ms", ms(elapsed)),
        ],
    );
    assert_eq!(ok, CONCURRENT, "not every GET was a 200: {results:?}");
    assert_eq!(
        header_missing, 0,
        "x-sql-statements missing (development mode?)"
    );
    assert_eq!(with_sql, 1, "requests that read PostgreSQL");
    assert_eq!(db_reads, 1, "reads of the book in pg_stat_statements");
}
