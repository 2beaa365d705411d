//! The shared cache against a real Redis: read-your-writes across two processes over REST and
//! GraphQL, indirect invalidation, stampede protection, HTTP caching headers, and Redis stopped,
//! hung (SIGSTOP) and restarted under a running server.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::graphql::gql;
use crate::helpers::{book_body, isbn, send, TestApp};
use crate::subscriptions::second_server;

fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "redis://127.0.0.1:6379".into())
}

/// A server on a fresh database using Redis at `url`, with its own key prefix so parallel tests
/// sharing one Redis never see each other's entries.
/// An app on `url`'s Redis with rate limiting on, as deployed (limits high enough for the tests'
/// bursts, so that the limiter's Redis calls are made on every request without refusing any).
pub async fn spawn_with_redis(url: String) -> TestApp {
    let prefix = format!("t{}", uuid::Uuid::new_v4().simple());
    TestApp::spawn_with(move |c| {
        c.redis_url = Some(url);
        c.rate_limit_enabled = true;
        c.rate_limits.ip =
            bookstore::config::RateQuota::new(100_000, Duration::from_secs(1), 100_000);
        c.rate_limits.user = c.rate_limits.ip;
        c.rate_limits.redis_prefix = format!("{prefix}:rl:");
        c.cache_prefix = prefix;
    })
    .await
}

/// A redis-server of this test's own (so it can be stopped without disturbing other tests).
struct OwnRedis {
    child: Child,
    port: u16,
}

impl OwnRedis {
    fn start(port: Option<u16>) -> OwnRedis {
        let port = port.unwrap_or_else(|| {
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        });
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server on PATH (scripts/services.sh installs it)");
        let r = OwnRedis { child, port };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return r;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("redis-server did not start on {port}");
    }
    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig}");
    }
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.signal_quietly("-CONT");
        self.kill();
    }
}

impl OwnRedis {
    fn signal_quietly(&self, sig: &str) {
        let _ = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status();
    }
}

async fn seed_book(app: &TestApp, n: u32) -> (String, i64) {
    let editor = app.token_or_create("editor").await;
    let author = app.create_author(&editor, &format!("Author of {n}")).await["id"]
        .as_i64()
        .unwrap();
    app.create_book(
        &editor,
        &book_body(&isbn(n), &format!("Book {n}"), &[author]),
    )
    .await;
    (editor, author)
}

impl TestApp {
    async fn token_or_create(&self, username: &str) -> String {
        if self
            .state
            .create_user_unchecked(
                username,
                None,
                crate::helpers::PASSWORD,
                bookstore::domain::Role::Admin,
            )
            .await
            .is_err()
        {
            // already there
        }
        self.token(username).await
    }
}

#[tokio::test]
async fn writes_through_one_process_are_read_at_once_through_another() {
    let a = spawn_with_redis(redis_url()).await;
    let (editor, author) = seed_book(&a, 1).await;
    // Process B: same database, same Redis, same prefix.
    let (b, _) = second_server(&a).await;
    let http = reqwest::Client::new();
    let get = |url: String| {
        let http = http.clone();
        async move { send(http.get(url)).await }
    };
    let path = format!("/v1/book/{}", isbn(1));
    // Warm the shared cache through B, twice: miss then hit.
    assert_eq!(
        get(format!("{b}{path}")).await.header("cache-status"),
        Some("bookstore; fwd=miss")
    );
    let hit = get(format!("{b}{path}")).await;
    assert_eq!(hit.header("cache-status"), Some("bookstore; hit"));
    assert_eq!(hit.header("x-sql-statements"), Some("0"));

    // Rename the author through A (REST): B's next read shows the new name.
    a.patch(
        &format!("/v1/author/{author}/name"),
        &editor,
        &json!({"name": "Renamed Once"}),
    )
    .await
    .expect(200);
    let r = get(format!("{b}{path}")).await;
    assert_eq!(r.body["authors"][0]["name"], "Renamed Once", "{}", r.text);
    // And through A over GraphQL: B over GraphQL sees it too.
    let q = format!(
        "{{ book(isbn: \"{}\") {{ title authors {{ name bookCount }} }} }}",
        isbn(1)
    );
    let via_b = send(http.post(format!("{b}/graphql")).json(&json!({"query": q}))).await;
    assert_eq!(via_b.body["data"]["book"]["authors"][0]["bookCount"], 1);
    let m = gql(
        &a,
        &format!(
            "mutation {{ renameAuthor(id: \"{author}\", name: \"Renamed Twice\") {{ name }} }}"
        ),
        json!({}),
        Some(&editor),
    )
    .await;
    assert_eq!(
        m.body["data"]["renameAuthor"]["name"], "Renamed Twice",
        "{}",
        m.text
    );
    let via_b = send(http.post(format!("{b}/graphql")).json(&json!({"query": q}))).await;
    assert_eq!(
        via_b.body["data"]["book"]["authors"][0]["name"], "Renamed Twice",
        "{}",
        via_b.text
    );

    // A book update through B is seen through A; the author's book_count follows a new book.
    let author_path = format!("/v1/author/{author}");
    assert_eq!(a.get(&author_path).await.body["book_count"], 1);
    let mut body = book_body(&isbn(1), "Book 1, revised", &[author]);
    body.as_object_mut().unwrap().remove("isbn");
    let put = send(
        http.put(format!("{b}{path}"))
            .bearer_auth(&editor)
            .json(&body),
    )
    .await;
    put.expect(200);
    assert_eq!(a.get(&path).await.body["title"], "Book 1, revised");
    a.create_book(&editor, &book_body(&isbn(2), "Book 2", &[author]))
        .await;
    assert_eq!(get(format!("{b}{author_path}")).await.body["book_count"], 2);
    // Deleting the author's last books changes book_count again (indirect invalidation).
    let admin = a.token_or_create("boss").await;
    a.delete(&format!("/v1/book/{}", isbn(2)), &admin)
        .await
        .expect(204);
    a.delete(&path, &admin).await.expect(204);
    assert_eq!(get(format!("{b}{author_path}")).await.body["book_count"], 0);
    assert_eq!(get(format!("{b}{path}")).await.status, 404);
}

#[tokio::test]
async fn http_caching_headers_and_conditional_requests() {
    let app = spawn_with_redis(redis_url()).await;
    seed_book(&app, 3).await;
    let path = format!("/v1/book/{}", isbn(3));
    let r = app.get(&path).await;
    assert_eq!(r.header("etag"), Some("\"1\""));
    assert_eq!(r.header("cache-control"), Some("public, no-cache"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    let not_modified = send(
        app.req(reqwest::Method::GET, &path)
            .header("if-none-match", "\"1\""),
    )
    .await;
    assert_eq!(not_modified.status, 304);
    assert_eq!(not_modified.header("etag"), Some("\"1\""));
    assert_eq!(not_modified.header("cache-status"), Some("bookstore; hit"));
    // Hot entries are served by the in-process front once its subscription is live.
    let deadline = Instant::now() + Duration::from_secs(5);
    while app.get("/readyz").await.body["cache"]["front_hits"]
        .as_u64()
        .unwrap()
        == 0
    {
        assert!(
            Instant::now() < deadline,
            "the front cache never served a hit"
        );
        app.get(&path).await.expect(200);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ready = app.get("/readyz").await;
    assert_eq!(ready.body["cache"]["backend"], "redis", "{}", ready.text);
    assert_eq!(ready.body["redis"]["status"], "ok");
    assert!(ready.body["cache"]["hits"].as_u64().unwrap() >= 1);
}

#[tokio::test]
async fn concurrent_misses_of_one_key_make_one_database_read() {
    let app = spawn_with_redis(redis_url()).await;
    seed_book(&app, 4).await;
    let path = format!("/v1/book/{}", isbn(4));
    let mut tasks = Vec::new();
    for _ in 0..24 {
        let rb = app.req(reqwest::Method::GET, &path);
        tasks.push(tokio::spawn(async move { send(rb).await }));
    }
    let mut statements = 0u64;
    for t in tasks {
        let r = t.await.unwrap();
        r.expect(200);
        statements += r
            .header("x-sql-statements")
            .unwrap()
            .parse::<u64>()
            .unwrap();
    }
    // One read of a book is one statement (the row with its authors).
    assert_eq!(
        statements, 1,
        "24 concurrent cold reads must share one database read"
    );
}

#[tokio::test]
async fn cache_off_sends_every_read_to_postgresql() {
    let app = TestApp::spawn_with(|c| c.cache_enabled = false).await;
    seed_book(&app, 5).await;
    for _ in 0..3 {
        let r = app.get(&format!("/v1/book/{}", isbn(5))).await;
        assert_eq!(r.header("cache-status"), Some("bookstore; fwd=bypass"));
        assert_eq!(r.header("x-sql-statements"), Some("1"));
    }
    assert_eq!(app.get("/readyz").await.body["cache"]["backend"], "off");
}

#[tokio::test]
async fn without_redis_the_in_process_cache_serves_and_other_processes_are_told() {
    let a = TestApp::spawn().await; // no REDIS_URL: in-process cache
    a.state
        .events
        .spawn_listener(a.db_url.clone(), a.state.cache.clone());
    let (editor, author) = seed_book(&a, 6).await;
    let (b, _) = second_server(&a).await;
    let path = format!("/v1/book/{}", isbn(6));
    let http = reqwest::Client::new();
    send(http.get(format!("{b}{path}"))).await.expect(200);
    assert_eq!(
        send(http.get(format!("{b}{path}")))
            .await
            .header("cache-status"),
        Some("bookstore; hit")
    );
    a.patch(
        &format!("/v1/author/{author}/name"),
        &editor,
        &json!({"name": "Told Everyone"}),
    )
    .await
    .expect(200);
    // The invalidation reaches B through PostgreSQL NOTIFY, delivered at commit.
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let r = send(http.get(format!("{b}{path}"))).await;
        if r.body["authors"][0]["name"] == "Told Everyone" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "process B kept a stale entry: {}",
            r.text
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(a.get("/readyz").await.body["cache"]["backend"], "memory");
}

#[tokio::test]
async fn redis_stopped_or_hung_never_fails_or_stalls_requests() {
    let mut redis = OwnRedis::start(None);
    let app = spawn_with_redis(redis.url()).await;
    let (editor, author) = seed_book(&app, 9).await;
    let path = format!("/v1/book/{}", isbn(9));
    app.get(&path).await.expect(200);
    assert_eq!(
        app.get(&path).await.header("cache-status"),
        Some("bookstore; hit")
    );

    // Hung Redis (SIGSTOP): requests are served from PostgreSQL; only the first waits for the
    // command time-out, then the breaker sends the rest straight to PostgreSQL.
    redis.signal("-STOP");
    let started = Instant::now();
    for _ in 0..20 {
        let r = app.get(&path).await;
        r.expect(200);
        assert_eq!(r.body["title"], "Book 9");
    }
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "20 reads took {took:?} with Redis hung"
    );
    assert_eq!(app.get("/readyz").await.body["cache"]["status"], "degraded");
    // A write while Redis hangs: its invalidation is kept and replayed when Redis is back.
    app.patch(
        &format!("/v1/author/{author}/name"),
        &editor,
        &json!({"name": "Written During Outage"}),
    )
    .await
    .expect(200);
    assert_eq!(
        app.get(&path).await.body["authors"][0]["name"],
        "Written During Outage"
    );
    redis.signal("-CONT");
    tokio::time::sleep(Duration::from_millis(2_500)).await; // past the breaker's cool-down
    let mut resumed = false;
    for _ in 0..20 {
        let r = app.get(&path).await;
        assert_eq!(
            r.body["authors"][0]["name"], "Written During Outage",
            "stale after Redis came back: {}",
            r.text
        );
        if r.header("cache-status") == Some("bookstore; hit") {
            resumed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(resumed, "caching resumes once Redis answers again");

    // Redis killed: still served; restarted on the same port: caching resumes.
    let port = redis.port;
    redis.kill();
    for _ in 0..10 {
        app.get(&path).await.expect(200);
    }
    let _redis = OwnRedis::start(Some(port));
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let mut hit = false;
    for _ in 0..30 {
        if app.get(&path).await.header("cache-status") == Some("bookstore; hit") {
            hit = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(hit, "caching resumes after Redis restarts");
    assert_eq!(app.get("/readyz").await.body["cache"]["status"], "ok");
}

#[tokio::test]
async fn cached_list_pages_never_outlive_a_write_on_any_replica() {
    let a = spawn_with_redis(redis_url()).await;
    let (editor, author) = seed_book(&a, 20).await;
    let (b, _) = second_server(&a).await;
    let http = reqwest::Client::new();
    let list = format!("{b}/v1/books?author_id={author}");
    let gql_q = json!({"query": format!("{{ author(id: \"{author}\") {{ books {{ nodes {{ title }} }} }} }}")});
    // Let both fronts become live, then read the list (and the GraphQL page) a few times on B.
    tokio::time::sleep(Duration::from_millis(600)).await;
    for _ in 0..3 {
        assert_eq!(
            send(http.get(&list)).await.body["items"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        let g = send(http.post(format!("{b}/graphql")).json(&gql_q)).await;
        assert_eq!(
            g.body["data"]["author"]["books"]["nodes"]
                .as_array()
                .unwrap()
                .len(),
            1,
            "{}",
            g.text
        );
    }
    // A write through A: B's very next reads include the new book.
    a.create_book(&editor, &book_body(&isbn(21), "Book 21", &[author]))
        .await;
    let r = send(http.get(&list)).await;
    assert_eq!(
        r.body["items"].as_array().unwrap().len(),
        2,
        "stale list page on B: {}",
        r.text
    );
    let g = send(http.post(format!("{b}/graphql")).json(&gql_q)).await;
    assert_eq!(
        g.body["data"]["author"]["books"]["nodes"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "{}",
        g.text
    );
    // A rename shows in B's cached list pages too.
    a.patch(
        &format!("/v1/author/{author}/name"),
        &editor,
        &json!({"name": "New Name"}),
    )
    .await
    .expect(200);
    let r = send(http.get(&list)).await;
    assert!(
        r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|b| b["authors"][0]["name"] == "New Name"),
        "{}",
        r.text
    );
}

#[tokio::test]
async fn reseeding_the_catalogue_empties_every_cache() {
    // With Redis (and the in-process front) ...
    let a = spawn_with_redis(redis_url()).await;
    let set = |books| bookstore::seed::Dataset {
        authors: 3,
        books,
        magazines: 0,
    };
    set(10).load(&a.db_url, false).await.unwrap();
    let path = format!("/v1/book/{}", isbn(10));
    a.get(&path).await.expect(200);
    assert_eq!(
        a.get(&path).await.header("cache-status"),
        Some("bookstore; hit")
    );
    set(5).load(&a.db_url, true).await.unwrap();
    bookstore::cache::flush_shared(&redis_url(), &a.state.config.cache_prefix)
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(3);
    while a.get(&path).await.status != 404 {
        assert!(
            Instant::now() < deadline,
            "a replaced catalogue is still served from the cache"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // ... and without Redis (the reseed's NOTIFY empties in-process caches).
    let b = TestApp::spawn().await;
    b.state
        .events
        .spawn_listener(b.db_url.clone(), b.state.cache.clone());
    tokio::time::sleep(Duration::from_millis(200)).await;
    set(10).load(&b.db_url, false).await.unwrap();
    b.get(&path).await.expect(200);
    assert_eq!(
        b.get(&path).await.header("cache-status"),
        Some("bookstore; hit")
    );
    set(5).load(&b.db_url, true).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(3);
    while b.get(&path).await.status != 404 {
        assert!(
            Instant::now() < deadline,
            "a replaced catalogue is still served from the in-process cache"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
