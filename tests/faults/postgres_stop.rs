//! Scenario 1: PostgreSQL crashes (`pg_ctl stop -m immediate`) during a write+read mix and comes
//! back. Every acknowledged (2xx) write must be in the database afterwards and visible through REST
//! and GraphQL; while it is down the server answers 503 with `Retry-After` (or a cached 2xx for a
//! read); after the restart it answers 2xx again within 5 s; no read ever returns an older state
//! than one already acknowledged.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{json, Value};

use crate::support::*;

const WRITERS: u64 = 3;
const READERS: u64 = 3;
/// Per task: at most this many requests, one every `PAUSE` at most.
const MAX_REQUESTS_PER_TASK: u64 = 1500;
const PAUSE: Duration = Duration::from_millis(10);

const UP: u8 = 0;
const DOWN: u8 = 1;
const RESTARTED: u8 = 2;

#[derive(Default)]
struct Counters {
    writes_sent: AtomicU64,
    writes_acked: AtomicU64,
    reads_sent: AtomicU64,
    reads_ok: AtomicU64,
    status_503: AtomicU64,
    status_503_without_retry_after: AtomicU64,
    other_errors: AtomicU64,
    transport_errors: AtomicU64,
    stale_reads: AtomicU64,
    graphql_errors: AtomicU64,
}

struct Shared {
    server_base: String,
    token: String,
    author: i64,
    phase: AtomicU8,
    stop: AtomicBool,
    /// Acknowledged state per ISBN: (version, stock) of the last 2xx write.
    acked: Mutex<HashMap<String, (i64, i64)>>,
    c: Counters,
    /// Milliseconds after the restart of the first 2xx write / read sent after it.
    restarted_at: Mutex<Option<Instant>>,
    first_write_ok_after: Mutex<Option<Duration>>,
    first_read_ok_after: Mutex<Option<Duration>>,
    examples: Mutex<Vec<String>>,
}

impl Shared {
    fn note_failure(&self, what: &str, status: u16, headers: &reqwest::header::HeaderMap) {
        if status == 503 {
            self.c.status_503.fetch_add(1, SeqCst);
            if !headers.contains_key("retry-after") {
                self.c.status_503_without_retry_after.fetch_add(1, SeqCst);
            }
        } else {
            self.c.other_errors.fetch_add(1, SeqCst);
            let mut ex = self.examples.lock().unwrap();
            if ex.len() < 10 {
                ex.push(format!(
                    "{what} -> {status} (phase {})",
                    self.phase.load(SeqCst)
                ));
            }
        }
    }

    fn note_ok_after_restart(&self, started: Instant, write: bool) {
        let Some(restarted) = *self.restarted_at.lock().unwrap() else {
            return;
        };
        if started < restarted {
            return;
        }
        let slot = if write {
            &self.first_write_ok_after
        } else {
            &self.first_read_ok_after
        };
        let mut slot = slot.lock().unwrap();
        if slot.is_none() {
            *slot = Some(restarted.elapsed());
        }
    }
}

async fn writer(s: Arc<Shared>, client: reqwest::Client, w: u64) {
    let mut own: Vec<String> = Vec::new();
    for i in 0..MAX_REQUESTS_PER_TASK {
        if s.stop.load(SeqCst) {
            break;
        }
        let started = Instant::now();
        s.c.writes_sent.fetch_add(1, SeqCst);
        let stock = (w * 100_000 + i) as i64;
        // Two creates for one update: the acknowledged set keeps growing.
        let (isbn, req) = if own.is_empty() || i % 3 != 0 {
            let isbn = isbn(500_000 + w * 10_000 + i);
            let body = book_body(Some(&isbn), &format!("Fault {isbn}"), stock, &[s.author]);
            (
                isbn,
                client
                    .post(format!("{}/v1/book", s.server_base))
                    .bearer_auth(&s.token)
                    .json(&body),
            )
        } else {
            let isbn = own[(i as usize * 7) % own.len()].clone();
            let body = book_body(None, &format!("Fault {isbn}"), stock, &[s.author]);
            let req = client
                .put(format!("{}/v1/book/{isbn}", s.server_base))
                .bearer_auth(&s.token)
                .json(&body);
            (isbn, req)
        };
        match req.send().await {
            Ok(r) if r.status().is_success() => {
                let body: Value = r.json().await.unwrap_or(Value::Null);
                let version = body["version"].as_i64().unwrap_or(0);
                let mut acked = s.acked.lock().unwrap();
                let entry = acked.entry(isbn.clone()).or_insert((0, 0));
                if version > entry.0 {
                    *entry = (version, stock);
                }
                drop(acked);
                if !own.contains(&isbn) {
                    own.push(isbn);
                }
                s.c.writes_acked.fetch_add(1, SeqCst);
                s.note_ok_after_restart(started, true);
            }
            Ok(r) => s.note_failure("write", r.status().as_u16(), r.headers()),
            Err(_) => {
                s.c.transport_errors.fetch_add(1, SeqCst);
            }
        }
        tokio::time::sleep(PAUSE).await;
    }
}

/// Whether a read of `isbn` answering (version, stock) is older than the acknowledged state.
fn is_stale(seen: (i64, i64), acked: (i64, i64)) -> bool {
    seen.0 < acked.0 || (seen.0 == acked.0 && seen.1 != acked.1)
}

async fn reader(s: Arc<Shared>, client: reqwest::Client, r: u64) {
    for i in 0..MAX_REQUESTS_PER_TASK {
        if s.stop.load(SeqCst) {
            break;
        }
        let pick = {
            let acked = s.acked.lock().unwrap();
            if acked.is_empty() {
                None
            } else {
                let n = ((i * 31 + r * 17) as usize) % acked.len();
                acked.iter().nth(n).map(|(k, v)| (k.clone(), *v))
            }
        };
        let Some((isbn, acked_state)) = pick else {
            tokio::time::sleep(PAUSE).await;
            continue;
        };
        let started = Instant::now();
        s.c.reads_sent.fetch_add(1, SeqCst);
        let graphql = i % 4 == 3;
        let req = if graphql {
            client.post(format!("{}/graphql", s.server_base)).json(
                &json!({"query": format!("{{ book(isbn: \"{isbn}\") {{ version stock }} }}")}),
            )
        } else {
            client.get(format!("{}/v1/book/{isbn}", s.server_base))
        };
        match req.send().await {
            Ok(resp) if resp.status().is_success() => {
                let body: Value = resp.json().await.unwrap_or(Value::Null);
                let (book, errors) = if graphql {
                    (body["data"]["book"].clone(), body.get("errors").cloned())
                } else {
                    (body.clone(), None)
                };
                if let Some(errors) = errors {
                    // GraphQL answers 200 with an error (e.g. while the database is down): a
                    // failed read, not a stale one; before the stop it is a failure.
                    s.c.graphql_errors.fetch_add(1, SeqCst);
                    if s.phase.load(SeqCst) == UP {
                        s.note_failure(
                            &format!("graphql read: {errors}"),
                            200,
                            &Default::default(),
                        );
                    }
                } else if book.is_null() {
                    s.c.stale_reads.fetch_add(1, SeqCst);
                } else {
                    let seen = (
                        book["version"].as_i64().unwrap_or(0),
                        book["stock"].as_i64().unwrap_or(-1),
                    );
                    if is_stale(seen, acked_state) {
                        s.c.stale_reads.fetch_add(1, SeqCst);
                    } else {
                        s.c.reads_ok.fetch_add(1, SeqCst);
                        s.note_ok_after_restart(started, false);
                    }
                }
            }
            Ok(resp) if resp.status() == 404 => {
                s.c.stale_reads.fetch_add(1, SeqCst);
            }
            Ok(resp) => s.note_failure("read", resp.status().as_u16(), resp.headers()),
            Err(_) => {
                s.c.transport_errors.fetch_add(1, SeqCst);
            }
        }
        tokio::time::sleep(PAUSE).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_mid_load() {
    let pg = start_pg();
    let redis = RedisServer::start();
    let server = Server::start(
        &pg.url("bookstore"),
        &[
            ("REDIS_URL", redis.url()),
            ("BOOKSTORE_RATE_LIMIT", "off".into()),
        ],
    )
    .await;
    let token = server.admin_token().await;
    let author = server.create_author(&token, "Fault Author").await;
    let s = Arc::new(Shared {
        server_base: server.base.clone(),
        token,
        author,
        phase: AtomicU8::new(UP),
        stop: AtomicBool::new(false),
        acked: Mutex::new(HashMap::new()),
        c: Counters::default(),
        restarted_at: Mutex::new(None),
        first_write_ok_after: Mutex::new(None),
        first_read_ok_after: Mutex::new(None),
        examples: Mutex::new(Vec::new()),
    });
    let client = client(Duration::from_secs(10));
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        tasks.push(tokio::spawn(writer(s.clone(), client.clone(), w)));
    }
    for r in 0..READERS {
        tasks.push(tokio::spawn(reader(s.clone(), client.clone(), r)));
    }

    tokio::time::sleep(Duration::from_millis(2500)).await;
    let acked_before = s.c.writes_acked.load(SeqCst);
    // DOWN from the moment the stop begins (requests in flight then may fail).
    s.phase.store(DOWN, SeqCst);
    tokio::task::block_in_place(|| pg.stop_immediate());
    let down_at = Instant::now();
    let ok_before_down = s.c.writes_acked.load(SeqCst) + s.c.reads_ok.load(SeqCst);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let status_503_while_down = s.c.status_503.load(SeqCst);
    tokio::task::block_in_place(|| pg.restart());
    let down_for = down_at.elapsed();
    *s.restarted_at.lock().unwrap() = Some(Instant::now());
    s.phase.store(RESTARTED, SeqCst);
    tokio::time::sleep(Duration::from_secs(6)).await;
    s.stop.store(true, SeqCst);
    for t in tasks {
        t.await.expect("load task");
    }
    let _ = ok_before_down;

    // Every acknowledged write: in the database, and visible through both doors.
    let acked: Vec<(String, (i64, i64))> = s
        .acked
        .lock()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    let db = superuser(&pg).await;
    let rows = db
        .query(
            "SELECT isbn, version::bigint, stock::bigint FROM books",
            &[],
        )
        .await
        .expect("read back the books");
    let in_db: HashMap<String, (i64, i64)> = rows
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2))))
        .collect();
    let lost = acked
        .iter()
        .filter(|(isbn, state)| in_db.get(isbn).is_none_or(|seen| is_stale(*seen, *state)))
        .count();
    let final_stale = futures::stream::iter(acked.iter().cloned())
        .map(|(isbn, state)| {
            let client = client.clone();
            let base = server.base.clone();
            async move {
                let rest = client
                    .get(format!("{base}/v1/book/{isbn}"))
                    .send()
                    .await
                    .ok()
                    .filter(|r| r.status() == 200);
                let rest_seen = match rest {
                    Some(r) => r.json::<Value>().await.ok(),
                    None => None,
                };
                let gql = client
                    .post(format!("{base}/graphql"))
                    .json(&json!({"query": format!("{{ book(isbn: \"{isbn}\") {{ version stock }} }}")}))
                    .send()
                    .await
                    .ok();
                let gql_seen = match gql {
                    Some(r) => r.json::<Value>().await.ok().map(|b| b["data"]["book"].clone()),
                    None => None,
                };
                let bad = |b: Option<Value>| match b {
                    Some(b) if !b.is_null() => is_stale(
                        (
                            b["version"].as_i64().unwrap_or(0),
                            b["stock"].as_i64().unwrap_or(-1),
                        ),
                        state,
                    ),
                    _ => true,
                };
                u64::from(bad(rest_seen)) + u64::from(bad(gql_seen))
            }
        })
        .buffer_unordered(8)
        .fold(0u64, |a, b| async move { a + b })
        .await;

    let recovery = match (
        *s.first_write_ok_after.lock().unwrap(),
        *s.first_read_ok_after.lock().unwrap(),
    ) {
        (Some(w), Some(r)) => Some(w.max(r)),
        _ => None,
    };
    let c = &s.c;
    report(
        "postgres-stop",
        &[
            ("writes_sent", c.writes_sent.load(SeqCst).to_string()),
            ("writes_acked", c.writes_acked.load(SeqCst).to_string()),
            ("acked_before_stop", acked_before.to_string()),
            ("books_acked", acked.len().to_string()),
            ("lost", lost.to_string()),
            ("reads_sent", c.reads_sent.load(SeqCst).to_string()),
            ("reads_ok", c.reads_ok.load(SeqCst).to_string()),
            ("status_503", c.status_503.load(SeqCst).to_string()),
            ("status_503_while_down", status_503_while_down.to_string()),
            (
                "status_503_without_retry_after",
                c.status_503_without_retry_after.load(SeqCst).to_string(),
            ),
            ("graphql_errors", c.graphql_errors.load(SeqCst).to_string()),
            ("other_errors", c.other_errors.load(SeqCst).to_string()),
            (
                "transport_errors",
                c.transport_errors.load(SeqCst).to_string(),
            ),
            ("down_ms", ms(down_for)),
            ("recovery_ms", recovery.map_or("never".into(), ms)),
            ("stale_reads", c.stale_reads.load(SeqCst).to_string()),
            ("stale_after", final_stale.to_string()),
        ],
    );
    let examples = s.examples.lock().unwrap().clone();
    assert!(
        acked_before > 0,
        "no write was acknowledged before the stop"
    );
    assert_eq!(lost, 0, "acknowledged writes lost");
    assert!(
        status_503_while_down > 0,
        "no 503 while PostgreSQL was down"
    );
    assert_eq!(
        c.status_503_without_retry_after.load(SeqCst),
        0,
        "503 without Retry-After"
    );
    assert_eq!(
        c.other_errors.load(SeqCst),
        0,
        "failures other than 503: {examples:?}\n{}",
        server.output_tail()
    );
    assert_eq!(
        c.transport_errors.load(SeqCst),
        0,
        "requests without an answer"
    );
    let recovery = recovery.expect("no 2xx write and read after the restart");
    assert!(
        recovery < Duration::from_secs(5),
        "2xx again only after {recovery:?}"
    );
    assert_eq!(c.stale_reads.load(SeqCst), 0, "stale reads during the load");
    assert_eq!(
        final_stale, 0,
        "acknowledged writes not visible (REST or GraphQL) afterwards"
    );
}
