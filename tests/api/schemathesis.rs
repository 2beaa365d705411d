//! Schemathesis (`--checks all`) against the served /openapi.json: the document describes what
//! the server does, for an editor and for an admin. The tool comes from `scripts/tools.sh
//! schemathesis` (a pinned version in a virtual environment under target/); the allowed
//! exceptions, each with its reason, are in tests/schemathesis.toml.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::helpers::{book_body, isbn, magazine_body, TestApp};

/// Examples per operation and phase: enough to reach every status an operation documents,
/// small enough that both runs stay within about two minutes on a shared two-core machine.
const MAX_EXAMPLES: &str = "5";

fn schemathesis() -> PathBuf {
    std::env::var_os("BOOKSTORE_SCHEMATHESIS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("target/schemathesis-venv/bin/schemathesis")
        })
}

async fn run(app: &TestApp, who: &str, token: &str) {
    let bin = schemathesis();
    assert!(
        bin.exists(),
        "{} not found: run `bash scripts/tools.sh schemathesis` (make test does)",
        bin.display()
    );
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let started = Instant::now();
    let out = tokio::process::Command::new(&bin)
        .current_dir(std::env::temp_dir())
        .args([
            "--config-file",
            manifest.join("tests/schemathesis.toml").to_str().unwrap(),
            "run",
            &app.url("/openapi.json"),
            "--checks",
            "all",
            "--max-examples",
            MAX_EXAMPLES,
            // One worker: Python 3.11 before 3.11.8 can fail parsing source in threads
            // (CPython gh-106905), which hypothesis does while generating.
            "--workers",
            "1",
            "--seed",
            "1",
            "--generation-deterministic",
            "--no-color",
            "--header",
            &format!("Authorization: Bearer {token}"),
        ])
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(300), out)
        .await
        .expect("schemathesis finished within 5 minutes")
        .expect("running schemathesis");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!(
        "schemathesis as {who}: {:?}, {}",
        started.elapsed(),
        stdout.lines().last().unwrap_or_default()
    );
    assert!(
        out.status.success(),
        "schemathesis as {who} found failures:\n{stdout}\n{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_nothing_for_editor_and_admin() {
    let app = TestApp::spawn().await;
    let editor = app.editor_token().await;
    let admin = app.admin_token().await;
    // Some data, so that reads of existing resources and conditional writes are reached too.
    let author = app.create_author(&editor, "Octavia").await;
    let id = author["id"].as_i64().unwrap();
    app.create_book(&editor, &book_body(&isbn(1), "Kindred", &[id]))
        .await;
    let r = app
        .post(
            "/v1/magazine",
            &editor,
            &magazine_body("Locus", "2049-3630"),
        )
        .await;
    r.expect(201);
    run(&app, "editor", &editor).await;
    run(&app, "admin", &admin).await;
}
