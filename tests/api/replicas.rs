//! Reads from streaming standbys (`DATABASE_REPLICA_URLS`) and the statement cache off behind
//! PgBouncer (`DATABASE_STATEMENT_CACHE=off`), against private clusters: a primary, a hot standby
//! made with `pg_basebackup -R`, a private Redis, and Debian's PgBouncer in transaction mode.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::Method;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::private_services::{PgBouncer, PgCluster, RedisServer};
use bookstore::db::replicas::ReplicaStatus;

const READ_AFTER: &str = "x-bookstore-read-after";

/// Waits (bounded) until the app's first standby has `status`.
async fn wait_for_status(app: &TestApp, status: ReplicaStatus, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let s = app.state.db.replicas().list[0].state();
        if s.status == status {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the standby did not become {status:?} within {within:?}: {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn with_replica(
    standby: String,
    redis: Option<String>,
    prefix: String,
    max_lag: Duration,
) -> impl FnOnce(&mut bookstore::config::Config) {
    move |c| {
        c.replica_urls = vec![standby];
        c.replica_max_lag = max_lag;
        c.redis_url = redis;
        c.cache_prefix = prefix;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_your_writes_across_two_apps_while_the_standby_replay_is_paused() {
    let pg = PgCluster::start();
    let standby = PgCluster::standby_of(&pg);
    let redis = RedisServer::start();
    let prefix = format!("t{}", uuid::Uuid::new_v4().simple());
    // A large allowed lag: the paused standby stays in rotation, only behind.
    let lag = Duration::from_secs(120);
    let a = TestApp::spawn_on(
        pg.url("bookstore"),
        with_replica(
            standby.url("bookstore"),
            Some(redis.url()),
            prefix.clone(),
            lag,
        ),
    )
    .await;
    // Same signing key: a token from A works on B, as between replicas of one deployment.
    let secret = a.state.config.jwt_secret.clone();
    let configure = with_replica(standby.url("bookstore"), Some(redis.url()), prefix, lag);
    let b = TestApp::spawn_on(pg.url("bookstore"), move |c| {
        configure(c);
        c.jwt_secret = secret;
    })
    .await;
    let editor = a.editor_token().await;
    // Something the standby has, then the standby in rotation in both processes.
    a.post(
        "/v1/magazine",
        &editor,
        &magazine_body("Before The Pause", "0317-8471"),
    )
    .await
    .expect(201);
    wait_for_status(&a, ReplicaStatus::Up, Duration::from_secs(15)).await;
    wait_for_status(&b, ReplicaStatus::Up, Duration::from_secs(15)).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while standby.psql_in("bookstore", "SELECT count(*) FROM magazines") != "1" {
        assert!(Instant::now() < deadline, "the standby never replayed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // An author both processes have cached (through Redis) before the pause.
    let old = a
        .post("/v1/author", &editor, &json!({"name": "Old Name"}))
        .await;
    old.expect(201);
    let old_id = id_of(&old.body);
    let deadline = Instant::now() + Duration::from_secs(10);
    while standby.psql_in(
        "bookstore",
        &format!("SELECT count(*) FROM authors WHERE id = {old_id}"),
    ) != "1"
    {
        assert!(Instant::now() < deadline, "the standby never replayed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    b.state.db.poll_replicas().await;
    b.get(&format!("/v1/author/{old_id}")).await.expect(200);
    a.get(&format!("/v1/author/{old_id}")).await.expect(200);

    standby.pause_replay();
    // The cached author changes while the standby cannot replay it: the invalidation empties the
    // cache, and the next fill (an anonymous reader in the other process, no header) must not
    // store the standby's old row.
    a.patch(
        &format!("/v1/author/{old_id}"),
        &editor,
        &json!({"name": "New Name"}),
    )
    .await
    .expect(200);
    a.state.db.poll_replicas().await;
    b.state.db.poll_replicas().await;
    for _ in 0..2 {
        let r = b.get(&format!("/v1/author/{old_id}")).await;
        r.expect(200);
        assert_eq!(r.body["name"], "New Name", "a stale fill: {}", r.body);
    }
    assert_eq!(
        standby.psql_in(
            "bookstore",
            &format!("SELECT name FROM authors WHERE id = {old_id}")
        ),
        "Old Name",
        "the standby really is behind"
    );
    // A write through A: its answer carries the commit position.
    let created = a
        .post(
            "/v1/magazine",
            &editor,
            &magazine_body("After The Pause", "0028-0836"),
        )
        .await;
    created.expect(201);
    let position = created
        .header(READ_AFTER)
        .expect("a write answers with its position")
        .to_owned();
    let id = id_of(&created.body);
    let author = a
        .post("/v1/author", &editor, &json!({"name": "Fresh Author"}))
        .await;
    author.expect(201);
    let author_id = id_of(&author.body);
    // The standby really is behind: it has not replayed either write.
    assert_eq!(
        standby.psql_in("bookstore", "SELECT count(*) FROM magazines"),
        "1"
    );
    a.state.db.poll_replicas().await;
    b.state.db.poll_replicas().await;
    assert_eq!(
        b.state.db.replicas().list[0].state().status,
        ReplicaStatus::Up,
        "behind, but within the allowed lag: still in rotation"
    );

    // The writer, through the other process: sees the write (their record in Redis).
    let r = b.get_auth(&format!("/v1/magazine/{id}"), &editor).await;
    r.expect(200);
    let r = b.get_auth("/v1/magazines?limit=100", &editor).await;
    r.expect(200);
    assert_eq!(r.body["items"].as_array().unwrap().len(), 2, "{:?}", r.body);
    // Anyone who sends the position back sees it too.
    let r = send(
        b.req(Method::GET, "/v1/magazines?limit=100")
            .header(READ_AFTER, &position),
    )
    .await;
    r.expect(200);
    assert_eq!(r.body["items"].as_array().unwrap().len(), 2);
    // A cache fill after the write's invalidation never reads the stale standby: an anonymous
    // reader of the new author (a cache miss that fills the shared cache) gets it.
    b.get(&format!("/v1/author/{author_id}")).await.expect(200);
    // An anonymous reader without the position, of an uncached list, may be served by the
    // standby: it is, and it is behind (this is what the rules above protect the others from).
    let served_before = b.state.db.replicas().list[0].served();
    let r = b.get("/v1/magazines?limit=100").await;
    r.expect(200);
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    assert!(b.state.db.replicas().list[0].served() > served_before);

    // Replay resumes: the standby catches up and serves the writer again.
    standby.resume_replay();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        b.state.db.poll_replicas().await;
        let s = b.state.db.replicas().list[0].state();
        if s.status == ReplicaStatus::Up
            && s.replay_lsn >= bookstore::db::Lsn::parse(&position).unwrap()
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the standby never caught up: {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let served_before = b.state.db.replicas().list[0].served();
    let r = send(
        b.req(Method::GET, "/v1/magazines?limit=100")
            .header(READ_AFTER, &position),
    )
    .await;
    r.expect(200);
    assert_eq!(r.body["items"].as_array().unwrap().len(), 2);
    assert!(b.state.db.replicas().list[0].served() > served_before);
    let ready = b.get("/readyz").await;
    ready.expect(200);
    let replica = &ready.body["postgres"]["replicas"][0];
    assert_eq!(replica["status"], "up", "{}", ready.body);
    assert!(replica["lag_ms"].is_u64() && replica["pool"]["size"].is_u64());
}

/// `tasks` readers hammering `paths` until `stop`; returns (requests, failures with their
/// statuses).
async fn load(
    app: &TestApp,
    paths: Vec<String>,
    tasks: usize,
    run_for: Duration,
) -> (u64, Vec<String>) {
    let ok = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(std::sync::Mutex::new(Vec::new()));
    let until = Instant::now() + run_for;
    let mut handles = Vec::new();
    for t in 0..tasks {
        let (client, base, paths) = (app.client.clone(), app.base.clone(), paths.clone());
        let (ok, failures) = (ok.clone(), failures.clone());
        handles.push(tokio::spawn(async move {
            let mut i = t;
            while Instant::now() < until {
                let path = &paths[i % paths.len()];
                i += 1;
                match client.get(format!("{base}{path}")).send().await {
                    Ok(r) if r.status().is_success() => {
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(r) => {
                        let status = r.status();
                        let body = r.text().await.unwrap_or_default();
                        failures
                            .lock()
                            .unwrap()
                            .push(format!("{path}: {status} {body}"));
                    }
                    Err(e) => failures.lock().unwrap().push(format!("{path}: {e}")),
                }
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let failures = failures.lock().unwrap().clone();
    (ok.load(Ordering::Relaxed), failures)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_stopped_mid_load_costs_no_errors_and_rejoins_when_back() {
    let pg = PgCluster::start();
    let standby = PgCluster::standby_of(&pg);
    let app = TestApp::spawn_on(
        pg.url("bookstore"),
        with_replica(
            standby.url("bookstore"),
            None,
            "bs".into(),
            Duration::from_secs(1),
        ),
    )
    .await;
    let editor = app.editor_token().await;
    app.post(
        "/v1/magazine",
        &editor,
        &magazine_body("Loaded", "0317-8471"),
    )
    .await
    .expect(201);
    wait_for_status(&app, ReplicaStatus::Up, Duration::from_secs(15)).await;
    // Magazine lists are uncached reads that a standby in rotation serves.
    let paths = vec![
        "/v1/magazines?limit=5".to_owned(),
        "/v1/magazines?limit=50".to_owned(),
    ];
    let loader = {
        let app_paths = paths.clone();
        let app = &app;
        async move { load(app, app_paths, 4, Duration::from_secs(6)).await }
    };
    let chaos = async {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let served = app.state.db.replicas().list[0].served();
        assert!(served > 0, "the standby served nothing before it stopped");
        tokio::task::block_in_place(|| standby.stop_immediate());
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_ne!(
            app.state.db.replicas().list[0].state().status,
            ReplicaStatus::Up,
            "a stopped standby leaves rotation"
        );
    };
    let ((ok, failures), ()) = tokio::join!(loader, chaos);
    assert!(
        failures.is_empty(),
        "{} failures: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert!(ok > 50, "only {ok} reads");
    let ready = app.get("/readyz").await;
    ready.expect(200);
    assert_ne!(ready.body["postgres"]["replicas"][0]["status"], "up");

    tokio::task::block_in_place(|| standby.restart());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let ready = app.get("/readyz").await;
        if ready.body["postgres"]["replicas"][0]["status"] == "up" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the standby never came back: {}",
            ready.body
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let served = app.state.db.replicas().list[0].served();
    let (_, failures) = load(&app, paths, 2, Duration::from_secs(1)).await;
    assert!(failures.is_empty(), "{failures:?}");
    assert!(
        app.state.db.replicas().list[0].served() > served,
        "back in rotation, it serves"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_is_not_a_standby_is_refused() {
    let pg = PgCluster::start();
    let other = PgCluster::start();
    // A read-write server, and a standby of another cluster, are both kept out.
    let app = TestApp::spawn_on(
        pg.url("bookstore"),
        with_replica(
            other.url("bookstore"),
            None,
            "bs".into(),
            Duration::from_secs(1),
        ),
    )
    .await;
    wait_for_status(&app, ReplicaStatus::Refused, Duration::from_secs(10)).await;
    let other_standby = PgCluster::standby_of(&other);
    let app2 = TestApp::spawn_unmigrated(
        pg.url("bookstore"),
        with_replica(
            other_standby.url("bookstore"),
            None,
            "bs".into(),
            Duration::from_secs(1),
        ),
    )
    .await;
    wait_for_status(&app2, ReplicaStatus::Refused, Duration::from_secs(10)).await;
    let detail = app2.state.db.replicas().list[0].state().detail.unwrap();
    assert!(detail.contains("system_identifier"), "{detail}");
    // An unreachable standby at start-up is only out of rotation; the app serves.
    let app3 = TestApp::spawn_unmigrated(
        pg.url("bookstore"),
        with_replica(
            format!(
                "postgres://bookstore:bookstore@127.0.0.1:{}/bookstore",
                crate::private_services::free_port()
            ),
            None,
            "bs".into(),
            Duration::from_secs(1),
        ),
    )
    .await;
    wait_for_status(&app3, ReplicaStatus::Down, Duration::from_secs(10)).await;
    app3.get("/v1/magazines").await.expect(200);
    app3.get("/readyz").await.expect(200);
}

#[test]
fn a_malformed_replica_url_is_a_start_up_error() {
    for bad in ["not a url", "http://127.0.0.1/db", "postgres://"] {
        let e = bookstore::config::replica_urls(&[bad.to_owned()]).unwrap_err();
        assert!(e.to_string().contains("DATABASE_REPLICA_URLS"), "{e}");
    }
    assert!(bookstore::config::replica_urls(&["postgres://u:p@h:5433/db".to_owned()]).is_ok());
}

/// Seconds of load through PgBouncer (`BOOKSTORE_PGBOUNCER_LOAD_SECS`, default 12; the rehearsal
/// script runs a 60 s one).
fn pgbouncer_load_time() -> Duration {
    Duration::from_secs(
        std::env::var("BOOKSTORE_PGBOUNCER_LOAD_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(12),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_through_pgbouncer_in_transaction_mode_with_the_statement_cache_off_has_no_errors() {
    if PgBouncer::program().is_none() {
        eprintln!("skipped: PgBouncer is not installed (apt-get install pgbouncer)");
        return;
    }
    if std::env::var_os("BOOKSTORE_TEST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("warn,bookstore=debug")
            .try_init();
    }
    let pg = PgCluster::start();
    bookstore::db::run_migrations(&pg.url("bookstore"))
        .await
        .expect("migrating directly (the migration lock needs a session)");
    // Two server connections shared by up to 16 client connections.
    let bouncer = PgBouncer::start(&pg, 2).expect("pgbouncer");
    let app = TestApp::spawn_unmigrated(bouncer.url(), |c| {
        c.statement_cache = false;
        c.pool_size = 16;
    })
    .await;
    let editor = app.editor_token().await;
    let author = app.create_author(&editor, "Bounced").await;
    let author_id = id_of(&author);
    for n in 0..10 {
        app.create_book(
            &editor,
            &book_body(&isbn(500 + n), &format!("Bounced {n}"), &[author_id]),
        )
        .await;
    }
    let paths = vec![
        "/v1/books?limit=5".to_owned(),
        format!("/v1/author/{author_id}"),
        format!("/v1/author/{author_id}/book"),
        format!("/v1/book/{}", isbn(503)),
        "/v1/authors?limit=10".to_owned(),
        "/v1/magazines".to_owned(),
        "/readyz".to_owned(),
    ];
    // Writes alongside the reads, through the same PgBouncer (each write also moves the cache
    // generation, so list reads keep reaching the database).
    let writer = async {
        let mut n = 0u32;
        let mut failures = Vec::new();
        let until = Instant::now() + pgbouncer_load_time();
        while Instant::now() < until {
            let r = app
                .patch(
                    &format!("/v1/author/{author_id}"),
                    &editor,
                    &json!({"bio": format!("rev {n}")}),
                )
                .await;
            if r.status != 200 {
                failures.push(format!("patch: {} {}", r.status, r.body));
            }
            n += 1;
        }
        (n, failures)
    };
    let graphql = async {
        let mut failures = Vec::new();
        let until = Instant::now() + pgbouncer_load_time();
        while Instant::now() < until {
            let r = app
                .json(
                    Method::POST,
                    "/graphql",
                    None,
                    &json!({"query": "{ books(first: 5) { edges { node { isbn authors { name } } } } }"}),
                )
                .await;
            if r.status != 200 || r.body.get("errors").is_some() {
                failures.push(format!("graphql: {} {}", r.status, r.body));
            }
        }
        failures
    };
    let ((reads, read_failures), (writes, write_failures), gql_failures) =
        tokio::join!(load(&app, paths, 6, pgbouncer_load_time()), writer, graphql);
    let all: Vec<String> = read_failures
        .into_iter()
        .chain(write_failures)
        .chain(gql_failures)
        .collect();
    assert!(
        all.is_empty(),
        "{} errors, first: {:?}",
        all.len(),
        &all[..all.len().min(5)]
    );
    assert!(reads > 100 && writes > 10, "reads {reads}, writes {writes}");
    let r: Value = app.get("/readyz").await.body;
    assert_eq!(r["postgres"]["statement_cache"], false);
}

/// `scripts/rehearsal.sh` on private ports and directory, taken down on drop.
struct Rehearsal {
    env: Vec<(String, String)>,
    dir: std::path::PathBuf,
    https_port: u16,
    standby_port: u16,
}

impl Rehearsal {
    fn script(&self, command: &str) -> std::process::Output {
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/rehearsal.sh");
        std::process::Command::new("bash")
            .arg(script)
            .arg(command)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .expect("running scripts/rehearsal.sh")
    }
}

impl Drop for Rehearsal {
    fn drop(&mut self) {
        let out = self.script("down");
        if !out.status.success() {
            eprintln!("rehearsal down: {}", String::from_utf8_lossy(&out.stderr));
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The whole rehearsal (`scripts/rehearsal.sh up`): a writer's reads through nginx, spread over
/// three API processes, see their write while the standby's replay is paused; the standby serves
/// again once resumed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rehearsal_read_your_writes_through_nginx_while_the_standby_is_paused() {
    if PgBouncer::program().is_none()
        || std::process::Command::new("nginx")
            .arg("-v")
            .output()
            .is_err()
    {
        eprintln!("skipped: needs pgbouncer and nginx");
        return;
    }
    let free = crate::private_services::free_port;
    let unique = uuid::Uuid::new_v4().simple().to_string();
    let dir = std::env::temp_dir().join(format!("bookstore-rehearsal-test-{unique}"));
    let (https_port, standby_port) = (free(), free());
    let env: Vec<(String, String)> = [
        ("REHEARSAL_DIR", dir.display().to_string()),
        ("REHEARSAL_PRIMARY_PORT", free().to_string()),
        ("REHEARSAL_STANDBY_PORT", standby_port.to_string()),
        ("REHEARSAL_PGBOUNCER_PORT", free().to_string()),
        ("REHEARSAL_REDIS_PORT", free().to_string()),
        (
            "REHEARSAL_API_PORTS",
            format!("{} {} {}", free(), free(), free()),
        ),
        ("REHEARSAL_HTTPS_PORT", https_port.to_string()),
        ("REHEARSAL_HTTP_PORT", free().to_string()),
        ("BOOKSTORE_BIN", env!("CARGO_BIN_EXE_bookstore").into()),
        ("BOOKSTORE_ADMIN_PASSWORD", PASSWORD.into()),
        // A lag allowance that keeps the paused standby in rotation during the test.
        ("DATABASE_REPLICA_MAX_LAG_MS", "120000".into()),
        ("BOOKSTORE_RATE_LIMIT", "off".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let rehearsal = Rehearsal {
        env,
        dir,
        https_port,
        standby_port,
    };
    let out = tokio::task::block_in_place(|| rehearsal.script("up"));
    assert!(
        out.status.success(),
        "rehearsal up failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let base = format!("https://127.0.0.1:{}", rehearsal.https_port);
    let token = client
        .post(format!("{base}/v1/token"))
        .form(&[
            ("grant_type", "password"),
            ("username", "admin"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["access_token"]
        .as_str()
        .expect("a token")
        .to_owned();
    let standby = |sql: &str| {
        let out = std::process::Command::new("/usr/lib/postgresql/15/bin/psql")
            .args([
                "-XqtA",
                "-h",
                "127.0.0.1",
                "-p",
                &rehearsal.standby_port.to_string(),
                "-U",
                "postgres",
                "-d",
                "bookstore",
                "-c",
                sql,
            ])
            .output()
            .expect("psql");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    assert_eq!(standby("SELECT pg_is_in_recovery()"), "t");
    rehearsal.script("pause-replay");
    let created = client
        .post(format!("{base}/v1/author"))
        .bearer_auth(&token)
        .json(&json!({"name": "Written While Paused"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let position = created
        .headers()
        .get(READ_AFTER)
        .expect("the write's position")
        .to_str()
        .unwrap()
        .to_owned();
    let id = created.json::<Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap();
    assert_eq!(
        standby(&format!("SELECT count(*) FROM authors WHERE id = {id}")),
        "0"
    );
    // Several reads: nginx spreads them over the three API processes.
    for _ in 0..9 {
        let r = client
            .get(format!("{base}/v1/author/{id}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let r = client
            .get(format!("{base}/v1/authors?limit=100"))
            .header(READ_AFTER, &position)
            .send()
            .await
            .unwrap();
        let body: Value = r.json().await.unwrap();
        assert!(
            body["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["id"] == id),
            "{body}"
        );
    }
    rehearsal.script("resume-replay");
    let deadline = Instant::now() + Duration::from_secs(10);
    while standby(&format!("SELECT count(*) FROM authors WHERE id = {id}")) != "1" {
        assert!(Instant::now() < deadline, "the standby never replayed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let status = tokio::task::block_in_place(|| rehearsal.script("status"));
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(status.status.success(), "{text}");
    assert!(text.contains("\"in_rotation\":true"), "{text}");
}
