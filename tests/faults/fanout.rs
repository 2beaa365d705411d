//! Scenario 9: subscription fan-out. 1000 WebSocket subscribers to `bookChanged` (wsfan, from
//! ../shared/bench/tools/wsfan, built by scripts/faults.sh; `WSFAN_BIN` says where), 20 events at
//! 2/s, each a full `PUT /v1/book/{isbn}` with its own stock: every event delivered to every
//! subscriber once, in order, with its own state (wsfan exits 0). The server's open-file limit
//! is the test process's, raised by scripts/faults.sh (`ulimit -n`).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use crate::support::*;

const SUBSCRIBERS: u32 = 1000;
const EVENTS: u32 = 20;
const RATE: u32 = 2;

fn wsfan_bin() -> PathBuf {
    std::env::var_os("WSFAN_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/wsfan/release/wsfan")
        })
}

fn open_file_limit() -> u64 {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3).map(str::to_owned))
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscription_fan_out() {
    let wsfan = wsfan_bin();
    assert!(
        wsfan.exists(),
        "{} is missing: build it with `cargo build --release --manifest-path ../shared/bench/tools/wsfan/Cargo.toml --target-dir target/wsfan` (scripts/faults.sh does)",
        wsfan.display()
    );
    let nofile = open_file_limit();
    assert!(
        nofile >= u64::from(SUBSCRIBERS) + 256,
        "open-file limit {nofile} is too low for {SUBSCRIBERS} subscribers: run through scripts/faults.sh (it raises `ulimit -n`)"
    );
    let pg = start_pg();
    let server = Server::start(
        &pg.url("bookstore"),
        &[
            // 1000 sockets from one address: the per-IP limit is not what this scenario measures.
            ("BOOKSTORE_RATE_LIMIT", "off".into()),
            ("RUST_LOG", "error".into()),
        ],
    )
    .await;
    let token = server.admin_token().await;
    let author = server.create_author(&token, "Fan-out Author").await;
    let isbn = isbn(650_001);
    server
        .create_book(&token, &book_body(Some(&isbn), "Fan-out", 1000, &[author]))
        .await;
    let template = format!(
        r#"{{"title":"Fan-out","category":"fiction","year":2001,"price_cents":1999,"stock":{{stock}},"author_ids":[{author}]}}"#
    );
    let args: Vec<String> = vec![
        "--url".into(),
        format!("ws://127.0.0.1:{}/graphql/ws", server.port),
        "--auth".into(),
        format!("Bearer {token}"),
        "-n".into(),
        SUBSCRIBERS.to_string(),
        "-e".into(),
        EVENTS.to_string(),
        "--rate".into(),
        RATE.to_string(),
        "--query".into(),
        "subscription { bookChanged { isbn book { stock version } } }".into(),
        "--isbn".into(),
        isbn.clone(),
        "--trigger-url".into(),
        format!("http://127.0.0.1:{}/v1/book/{{isbn}}", server.port),
        "--trigger-method".into(),
        "PUT".into(),
        "--trigger-header".into(),
        format!("Authorization: Bearer {token}"),
        "--trigger-body-template".into(),
        template,
        "--server-pid".into(),
        server.pid().to_string(),
    ];
    let run = tokio::process::Command::new(&wsfan)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(180), run)
        .await
        .expect("wsfan finished within 180 s")
        .expect("running wsfan");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let result = stdout
        .lines()
        .find(|l| l.starts_with("WSFANRESULT"))
        .unwrap_or("");
    let fields: Vec<(String, String)> = result
        .split('\t')
        .skip(1)
        .filter_map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
        })
        .collect();
    let get = |k: &str| {
        fields
            .iter()
            .find(|(key, _)| key == k)
            .map_or("?".to_owned(), |(_, v)| v.clone())
    };
    let mut figures: Vec<(&str, String)> = vec![
        ("subscribers", SUBSCRIBERS.to_string()),
        ("events", EVENTS.to_string()),
        (
            "wsfan_exit",
            out.status.code().map_or("signal".into(), |c| c.to_string()),
        ),
    ];
    for k in [
        "delivered",
        "expected",
        "missing",
        "dupes",
        "out_of_order",
        "errors",
        "unmatched",
        "acked",
        "ready",
        "p50_ms",
        "p99_ms",
        "max_ms",
        "deliveries_per_s",
        "connect_s",
        "kib_per_sub",
        "peak_kib",
    ] {
        figures.push((k, get(k)));
    }
    report("subscription-fanout", &figures);
    println!("  {result}");
    assert!(
        !result.is_empty(),
        "wsfan printed no WSFANRESULT line:\n{stdout}\n{stderr}"
    );
    assert_eq!(get("missing"), "0", "missing deliveries\n{stderr}");
    assert_eq!(get("dupes"), "0", "duplicate deliveries");
    assert_eq!(get("out_of_order"), "0", "deliveries out of order");
    assert_eq!(get("errors"), "0", "wsfan errors\n{stderr}");
    assert!(
        out.status.success(),
        "wsfan exited with {}:\n{stderr}",
        out.status
    );
}
