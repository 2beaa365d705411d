//! `src/db/schema.rs` must be what `diesel print-schema` makes of the migrated database.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::helpers::TestApp;

/// The diesel CLI: `$DIESEL_BIN`, else `diesel` on `PATH`, else `$CARGO_HOME/bin` or `~/.cargo/bin`.
fn diesel_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("DIESEL_BIN") {
        return PathBuf::from(p);
    }
    let mut candidates: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("diesel"))
                .collect()
        })
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("CARGO_HOME") {
        candidates.push(Path::new(&home).join("bin/diesel"));
    }
    if let Some(home) = std::env::var_os("HOME") {
        candidates.push(Path::new(&home).join(".cargo/bin/diesel"));
    }
    candidates
        .into_iter()
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "the `diesel` binary (diesel_cli) was not found on PATH, in $CARGO_HOME/bin or in \
             ~/.cargo/bin, and DIESEL_BIN is not set. This test needs it to compare \
             src/db/schema.rs with the migrations. Install it with\n    \
             cargo install diesel_cli --no-default-features --features postgres\n\
             (or run `make test`, which installs it)."
            )
        })
}

/// The first differing line of two texts, for a readable failure.
fn first_difference(a: &str, b: &str) -> String {
    for (n, (x, y)) in a.lines().zip(b.lines()).enumerate() {
        if x != y {
            return format!("line {}:\n  print-schema: {x}\n  schema.rs:    {y}", n + 1);
        }
    }
    format!(
        "one is a prefix of the other ({} vs {} lines)",
        a.lines().count(),
        b.lines().count()
    )
}

#[tokio::test]
async fn schema_rs_matches_migrations() {
    let diesel = diesel_binary();
    let app = TestApp::spawn().await;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let output = Command::new(&diesel)
        .current_dir(root)
        .arg("print-schema")
        .arg("--config-file")
        .arg(root.join("diesel.toml"))
        .arg("--database-url")
        .arg(&app.db_url)
        .env_remove("DATABASE_URL")
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", diesel.display()));
    assert!(
        output.status.success(),
        "diesel print-schema failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let printed = String::from_utf8(output.stdout).expect("UTF-8 output");
    assert!(
        printed.contains("diesel::table!"),
        "unexpected print-schema output: {printed}"
    );
    let checked_in = std::fs::read_to_string(root.join("src/db/schema.rs")).expect("schema.rs");
    assert!(
        printed == checked_in,
        "src/db/schema.rs is out of date with migrations/; regenerate it with \
         `diesel print-schema > src/db/schema.rs` against a migrated database.\n{}",
        first_difference(&printed, &checked_in)
    );
}

#[tokio::test]
async fn migrations_revert_cleanly_and_reapply_to_the_same_schema() {
    let diesel = diesel_binary();
    let app = TestApp::spawn().await;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let run = |args: &[&str]| {
        let output = Command::new(&diesel)
            .current_dir(root)
            .args(args)
            .arg("--config-file")
            .arg(root.join("diesel.toml"))
            .arg("--database-url")
            .arg(&app.db_url)
            .env_remove("DATABASE_URL")
            .output()
            .unwrap_or_else(|e| panic!("running {}: {e}", diesel.display()));
        assert!(
            output.status.success(),
            "diesel {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    let before = run(&["print-schema"]);
    // Revert every migration, newest first, the way diesel does (down.sql, then forget it);
    // `diesel migration revert` itself would rewrite src/db/schema.rs, so it is not used here.
    let db = app.db().await;
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root.join("migrations"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("down.sql").is_file())
        .collect();
    dirs.sort();
    for dir in dirs.iter().rev() {
        let down = std::fs::read_to_string(dir.join("down.sql")).unwrap();
        db.batch_execute(&down)
            .await
            .unwrap_or_else(|e| panic!("{}/down.sql: {e}", dir.display()));
        let version: String = dir
            .file_name()
            .unwrap()
            .to_string_lossy()
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '-')
            .filter(char::is_ascii_digit)
            .collect();
        let n = db
            .execute(
                "DELETE FROM __diesel_schema_migrations WHERE version = $1",
                &[&version],
            )
            .await
            .unwrap();
        assert_eq!(n, 1, "migration {version} was recorded as applied");
    }
    let left: Vec<String> = db
        .query(
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = 'public' AND c.relname NOT LIKE '\\_\\_diesel\\_schema\\_migrations%'",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(left.is_empty(), "down.sql left these behind: {left:?}");
    let functions: i64 = db
        .query_one(
            "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
             WHERE n.nspname = 'public' AND p.proname IN ('isbn13_is_valid', 'issn_is_valid', 'notify_book_change')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(functions, 0, "down.sql left functions behind");
    bookstore::db::run_migrations(&app.db_url)
        .await
        .expect("re-applying the migrations");
    assert_eq!(run(&["print-schema"]), before);
}
