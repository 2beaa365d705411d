//! Scenario 4: one of the three replicas of scripts/cluster.sh (nginx in front, HTTPS) is killed
//! with SIGKILL under GET load. nginx retries idempotent requests on the survivors
//! (`proxy_next_upstream error timeout http_502`), so no GET may fail. The cluster runs on a
//! private PostgreSQL cluster and a private Redis, its own ports and state directory.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::*;

const BOOKS: u64 = 10;
const READERS: usize = 6;
const PAUSE: Duration = Duration::from_millis(5);
const MAX_REQUESTS_PER_TASK: usize = 3000;

/// When a GET was sent, and its status or why it failed.
type Outcome = (Instant, Result<u16, String>);

struct Cluster {
    dir: PathBuf,
    env: Vec<(String, String)>,
    https_port: u16,
}

impl Cluster {
    fn script(&self, command: &str) -> std::process::Output {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/cluster.sh");
        Command::new("bash")
            .arg(script)
            .arg(command)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .expect("running scripts/cluster.sh")
    }

    fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.https_port)
    }

    fn client(&self) -> reqwest::Client {
        let pem = std::fs::read(self.dir.join("ca.crt")).expect("the cluster's CA");
        reqwest::Client::builder()
            .use_rustls_tls()
            .add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("CA PEM"))
            .resolve(
                "localhost",
                SocketAddr::from(([127, 0, 0, 1], self.https_port)),
            )
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("client")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let out = self.script("down");
        if !out.status.success() {
            eprintln!("cluster down: {}", String::from_utf8_lossy(&out.stderr));
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replica_killed_behind_nginx() {
    let pg = start_pg();
    let redis = RedisServer::start();
    let unique = uuid::Uuid::new_v4().simple().to_string();
    let dir = std::env::temp_dir().join(format!("bookstore-faults-cluster-{unique}"));
    let api_ports: Vec<String> = (0..3).map(|_| free_port().to_string()).collect();
    let https_port = free_port();
    let env: Vec<(String, String)> = [
        ("CLUSTER_DIR", dir.display().to_string()),
        ("CLUSTER_API_PORTS", api_ports.join(" ")),
        ("CLUSTER_HTTPS_PORT", https_port.to_string()),
        ("CLUSTER_HTTP_PORT", free_port().to_string()),
        ("CLUSTER_SKIP_SERVICES", "1".into()),
        // No nginx limit_req nor per-replica rate limits: the load comes from one address.
        ("CLUSTER_LIMITS", "off".into()),
        ("BOOKSTORE_BIN", env!("CARGO_BIN_EXE_bookstore").into()),
        ("DATABASE_URL", pg.url("bookstore")),
        ("REDIS_URL", redis.url()),
        ("JWT_SECRET", JWT_SECRET.into()),
        ("BOOKSTORE_ADMIN_PASSWORD", ADMIN_PASSWORD.into()),
        ("RUST_LOG", "warn".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let cluster = Cluster {
        dir,
        env,
        https_port,
    };
    let out = tokio::task::block_in_place(|| cluster.script("up"));
    assert!(
        out.status.success(),
        "cluster up failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let c = cluster.client();
    let r = c
        .post(cluster.url("/v1/token"))
        .form(&[
            ("grant_type", "password"),
            ("username", "admin"),
            ("password", ADMIN_PASSWORD),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(r.status(), 200);
    let token = r.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = c
        .post(cluster.url("/v1/author"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"name": "Replica Author"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let author = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    for n in 0..BOOKS {
        let isbn = isbn(900_000 + n);
        let r = c
            .post(cluster.url("/v1/book"))
            .bearer_auth(&token)
            .json(&book_body(
                Some(&isbn),
                &format!("Replica {n}"),
                1,
                &[author],
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }

    let stop = Arc::new(AtomicBool::new(false));
    let outcomes: Arc<Mutex<Vec<Outcome>>> = Arc::default();
    let tasks: Vec<_> = (0..READERS)
        .map(|t| {
            let (c, stop, outcomes) = (c.clone(), stop.clone(), outcomes.clone());
            let base = cluster.url("");
            tokio::spawn(async move {
                for i in 0..MAX_REQUESTS_PER_TASK {
                    if stop.load(SeqCst) {
                        break;
                    }
                    let path = match i % 4 {
                        0 => "/v1/books?limit=5".to_owned(),
                        _ => format!("/v1/book/{}", isbn(900_000 + (i + t) as u64 % BOOKS)),
                    };
                    let at = Instant::now();
                    let r = match c.get(format!("{base}{path}")).send().await {
                        Ok(r) => {
                            let status = r.status().as_u16();
                            // Read the whole body: a reset mid-body is an error too.
                            match r.bytes().await {
                                Ok(_) => Ok(status),
                                Err(e) => Err(format!("body: {e}")),
                            }
                        }
                        Err(e) => Err(e.to_string()),
                    };
                    outcomes.lock().unwrap().push((at, r));
                    tokio::time::sleep(PAUSE).await;
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let pid: i32 = std::fs::read_to_string(cluster.dir.join("api2.pid"))
        .expect("api2.pid")
        .trim()
        .parse()
        .expect("a pid");
    let killed_at = Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("SIGKILL api2");
    tokio::time::sleep(Duration::from_secs(5)).await;
    stop.store(true, SeqCst);
    for t in tasks {
        t.await.expect("reader");
    }
    let outcomes = std::mem::take(&mut *outcomes.lock().unwrap());
    let after_kill = outcomes.iter().filter(|o| o.0 >= killed_at).count();
    let errors: Vec<String> = outcomes
        .iter()
        .filter_map(|(_, r)| match r {
            Ok(s) if (200..300).contains(s) => None,
            Ok(s) => Some(format!("status {s}")),
            Err(e) => Some(e.clone()),
        })
        .collect();
    report(
        "replica-kill",
        &[
            ("replicas", "3".into()),
            ("killed", "api2".into()),
            ("gets", outcomes.len().to_string()),
            ("gets_after_kill", after_kill.to_string()),
            ("get_errors", errors.len().to_string()),
        ],
    );
    assert!(after_kill > 0, "no GET after the kill");
    assert!(
        errors.is_empty(),
        "{} GETs failed, e.g. {:?}",
        errors.len(),
        &errors[..errors.len().min(5)]
    );
}
