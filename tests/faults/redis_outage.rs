//! Scenario 2: Redis killed (SIGKILL) and Redis hung (SIGSTOP) under read load, with rate limiting
//! ON (the default; its quotas raised so that the load itself is not limited, but every request
//! still consults the limiter) and the cache on, both using the same private Redis. Reads must stay
//! 100 % 2xx, and after the first second of the fault no request may wait on Redis (at most one
//! request per breaker window does): p95 latency under 50 ms.

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::*;

const BOOKS: u64 = 20;
const READERS: u64 = 4;
const PAUSE: Duration = Duration::from_millis(5);
const MAX_REQUESTS_PER_TASK: u64 = 4000;
const P95_LIMIT_MS: f64 = 50.0;

#[derive(Clone, Copy, PartialEq)]
enum Fault {
    Kill,
    Hang,
}

struct Sample {
    /// When the request was sent.
    at: Instant,
    latency: Duration,
    /// 2xx
    ok: bool,
    what: String,
}

async fn reader(
    base: String,
    client: reqwest::Client,
    stop: Arc<AtomicBool>,
    samples: Arc<Mutex<Vec<Sample>>>,
    r: u64,
) {
    for i in 0..MAX_REQUESTS_PER_TASK {
        if stop.load(SeqCst) {
            break;
        }
        let isbn = isbn(700_000 + (i * 7 + r) % BOOKS);
        let (what, req) = match i % 5 {
            0 => (
                "GET /v1/books",
                client.get(format!("{base}/v1/books?limit=5")),
            ),
            1 => (
                "POST /graphql",
                client.post(format!("{base}/graphql")).json(
                    &json!({"query": format!("{{ book(isbn: \"{isbn}\") {{ title stock }} }}")}),
                ),
            ),
            _ => (
                "GET /v1/book/{isbn}",
                client.get(format!("{base}/v1/book/{isbn}")),
            ),
        };
        let at = Instant::now();
        let result = req.send().await;
        let (ok, what) = match result {
            Ok(r) => {
                let status = r.status();
                let body = r.text().await.unwrap_or_default();
                let graphql_error = what == "POST /graphql" && body.contains("\"errors\"");
                (
                    status.is_success() && !graphql_error,
                    format!("{what} -> {status}"),
                )
            }
            Err(e) => (false, format!("{what} -> {e}")),
        };
        samples.lock().unwrap().push(Sample {
            at,
            latency: at.elapsed(),
            ok,
            what,
        });
        tokio::time::sleep(PAUSE).await;
    }
}

async fn redis_fault(fault: Fault) {
    let name = match fault {
        Fault::Kill => "redis-kill",
        Fault::Hang => "redis-hang",
    };
    let pg = start_pg();
    let mut redis = RedisServer::start();
    let quota = "100000/s,100000".to_owned();
    let server = Server::start(
        &pg.url("bookstore"),
        &[
            ("REDIS_URL", redis.url()),
            ("BOOKSTORE_RATE_LIMIT", "on".into()),
            ("BOOKSTORE_RATE_LIMIT_IP", quota.clone()),
            ("BOOKSTORE_RATE_LIMIT_USER", quota),
            ("BOOKSTORE_CACHE", "on".into()),
        ],
    )
    .await;
    let token = server.admin_token().await;
    let author = server.create_author(&token, "Redis Fault Author").await;
    for n in 0..BOOKS {
        let isbn = isbn(700_000 + n);
        server
            .create_book(
                &token,
                &book_body(Some(&isbn), &format!("Redis {n}"), 3, &[author]),
            )
            .await;
    }

    let client = client(Duration::from_secs(10));
    let stop = Arc::new(AtomicBool::new(false));
    let samples = Arc::new(Mutex::new(Vec::new()));
    let tasks: Vec<_> = (0..READERS)
        .map(|r| {
            tokio::spawn(reader(
                server.base.clone(),
                client.clone(),
                stop.clone(),
                samples.clone(),
                r,
            ))
        })
        .collect();
    // Warm (cache filled, limiter state in Redis), then the fault for 6 s.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let fault_at = Instant::now();
    match fault {
        Fault::Kill => redis.kill(),
        Fault::Hang => redis.hang(),
    }
    tokio::time::sleep(Duration::from_secs(6)).await;
    let fault_end = Instant::now();
    if fault == Fault::Hang {
        redis.resume();
    }
    // And after it (Redis back for the hang, still gone for the kill).
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, SeqCst);
    for t in tasks {
        t.await.expect("reader");
    }
    let samples = std::mem::take(&mut *samples.lock().unwrap());
    let before: Vec<&Sample> = samples.iter().filter(|s| s.at < fault_at).collect();
    let during: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.at >= fault_at && s.at < fault_end)
        .collect();
    let settled: Vec<Duration> = during
        .iter()
        .filter(|s| s.at >= fault_at + Duration::from_secs(1))
        .map(|s| s.latency)
        .collect();
    let first_second: Vec<Duration> = during
        .iter()
        .filter(|s| s.at < fault_at + Duration::from_secs(1))
        .map(|s| s.latency)
        .collect();
    let failed: Vec<&Sample> = samples.iter().filter(|s| !s.ok).collect();
    let failed_during = during.iter().filter(|s| !s.ok).count();
    let slow_settled = settled
        .iter()
        .filter(|l| **l > Duration::from_millis(200))
        .count();
    let baseline: Vec<Duration> = before.iter().map(|s| s.latency).collect();
    let p95 = percentile_ms(&settled, 95.0);
    report(
        name,
        &[
            ("reads", samples.len().to_string()),
            ("reads_during_fault", during.len().to_string()),
            ("non_2xx", failed.len().to_string()),
            ("non_2xx_during_fault", failed_during.to_string()),
            ("p95_before_ms", percentile_ms(&baseline, 95.0).to_string()),
            (
                "max_first_second_ms",
                percentile_ms(&first_second, 100.0).to_string(),
            ),
            ("p50_ms", percentile_ms(&settled, 50.0).to_string()),
            ("p95_ms", p95.to_string()),
            ("p99_ms", percentile_ms(&settled, 99.0).to_string()),
            ("max_ms", percentile_ms(&settled, 100.0).to_string()),
            ("over_200ms", slow_settled.to_string()),
        ],
    );
    let examples: Vec<&str> = failed.iter().take(5).map(|s| s.what.as_str()).collect();
    assert!(
        failed.is_empty(),
        "{name}: {} reads were not 2xx, e.g. {examples:?}\n{}",
        failed.len(),
        server.output_tail()
    );
    assert!(!settled.is_empty(), "{name}: no reads during the fault");
    assert!(
        p95 < P95_LIMIT_MS,
        "{name}: p95 {p95} ms after the first second of the fault (requests waiting on Redis)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_under_read_load() {
    redis_fault(Fault::Kill).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_hung_under_read_load() {
    redis_fault(Fault::Hang).await;
}
