//! The `bookstore` binary's configuration refusals and CLI subcommands.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::helpers::TestApp;

fn bookstore() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_bookstore"));
    for var in [
        "JWT_SECRET",
        "REDIS_URL",
        "BOOKSTORE_ENV",
        "BOOKSTORE_ADMIN_USERNAME",
        "BOOKSTORE_ADMIN_PASSWORD",
    ] {
        c.env_remove(var);
    }
    c.env(
        "BOOKSTORE_ADDR",
        format!("127.0.0.1:{}", crate::process::free_port()),
    );
    c
}

#[tokio::test]
async fn production_refuses_a_missing_or_short_jwt_secret() {
    let app = TestApp::spawn().await;
    for secret in [None, Some("too-short-secret")] {
        let mut cmd = bookstore();
        cmd.args(["serve"])
            .env("DATABASE_URL", &app.db_url)
            .env("BOOKSTORE_ENV", "production");
        if let Some(s) = secret {
            cmd.env("JWT_SECRET", s);
        }
        let out = cmd.output().unwrap();
        assert!(
            !out.status.success(),
            "production must not start with JWT_SECRET={secret:?}"
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("JWT_SECRET"),
            "the refusal names the variable: {err}"
        );
        assert!(
            !secret.is_some_and(|s| err.contains(s)),
            "the secret itself is never printed"
        );
    }
    let out = bookstore()
        .args(["serve"])
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("DATABASE_URL"));
}

#[tokio::test]
async fn create_user_reads_the_password_from_stdin_and_validates_like_the_api() {
    let app = TestApp::spawn().await;
    let mut child = bookstore()
        .args([
            "create-user",
            "--username",
            "chief",
            "--email",
            "chief@example.com",
            "--role",
            "admin",
            "--password-stdin",
        ])
        .env("DATABASE_URL", &app.db_url)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"a long enough admin password\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = app.login("chief", "a long enough admin password").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let me = app.get_auth("/v1/user", &token).await;
    assert_eq!(me.body["role"], "admin");

    let out = bookstore()
        .args([
            "create-user",
            "--username",
            "X",
            "--email",
            "nope",
            "--role",
            "editor",
        ])
        .env("DATABASE_URL", &app.db_url)
        .env("BOOKSTORE_USER_PASSWORD", "short")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("username") && err.contains("email") && err.contains("password"),
        "{err}"
    );
}

#[test]
fn print_schema_and_openapi() {
    let out = bookstore().arg("print-schema").output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql")).unwrap()
    );
    let out = bookstore().arg("print-openapi").output().unwrap();
    assert!(out.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(doc["paths"]["/v1/book/{isbn}"]["get"].is_object());
}
