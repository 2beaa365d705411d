//! Production logs of the real binary: one JSON object per line, request ids on request lines,
//! and never a password, token or secret.

use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::{json, Value};

use crate::helpers::PASSWORD;
use crate::process::{Options, ServerProcess, JWT_SECRET};

/// Does `v` (or anything inside it) hold the string `s`?
fn contains_str(v: &Value, s: &str) -> bool {
    match v {
        Value::String(x) => x == s,
        Value::Array(a) => a.iter().any(|x| contains_str(x, s)),
        Value::Object(o) => o.values().any(|x| contains_str(x, s)),
        _ => false,
    }
}

#[tokio::test]
async fn production_logs_are_json_with_request_ids_and_no_secrets() {
    let mut server = ServerProcess::start(Options {
        env: vec![
            ("BOOKSTORE_ENV".into(), "production".into()),
            ("RUST_LOG".into(), "info".into()),
        ],
        ..Options::default()
    })
    .await;
    let c = &server.client;
    // A password grant with a request id we can look for.
    let r = c
        .post(server.url("/v1/token"))
        .header("x-request-id", "trace-login-1")
        .form(&[
            ("grant_type", "password"),
            ("username", "admin"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let pair: Value = r.json().await.unwrap();
    let access = pair["access_token"].as_str().unwrap().to_owned();
    let refresh = pair["refresh_token"].as_str().unwrap().to_owned();
    // A failed login, a signed-in request, a refresh, a bad token and a GraphQL login.
    let wrong_password = "not the password, but secret too";
    let r = c
        .post(server.url("/v1/token"))
        .json(&json!({"grant_type": "password", "username": "admin", "password": wrong_password}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = c
        .get(server.url("/v1/user"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = c
        .post(server.url("/v1/token"))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = c
        .get(server.url("/v1/user"))
        .bearer_auth("eyJhbGciOiJIUzI1NiJ9.forged.token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = c
        .post(server.url("/graphql"))
        .json(&json!({
            "query": "mutation($p: String!) { login(username: \"admin\", password: $p) { accessToken } }",
            "variables": {"p": PASSWORD},
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let gql: Value = r.json().await.unwrap();
    let gql_access = gql["data"]["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();

    server.signal(Signal::SIGTERM);
    assert!(server.wait_exit(Duration::from_secs(15)).await.success());
    let lines = server.output();
    let text = lines.join("\n");

    // Every line is a JSON object (nothing unstructured in production).
    let records: Vec<Value> = lines
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str::<Value>(l)
                .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {l}"))
        })
        .collect();
    assert!(records.iter().all(Value::is_object));
    // Request lines carry the request id (the client's, when it sent one), status and latency.
    let login_line = records
        .iter()
        .find(|r| contains_str(r, "trace-login-1"))
        .unwrap_or_else(|| panic!("no log line with the request id:\n{text}"));
    assert_eq!(
        login_line["span"]["request_id"], "trace-login-1",
        "{login_line}"
    );
    let done: Vec<&Value> = records
        .iter()
        .filter(|r| r["fields"]["message"] == "request done")
        .collect();
    assert!(done.len() >= 6, "one line per request:\n{text}");
    for r in &done {
        let span = &r["span"];
        assert!(
            span["request_id"].as_str().is_some_and(|s| !s.is_empty()),
            "{r}"
        );
        assert!(span["status"].is_number(), "{r}");
        assert!(span["latency_ms"].is_number(), "{r}");
        assert_eq!(span["client_ip"], "127.0.0.1", "{r}");
    }
    // No secret of any kind, in any line.
    for secret in [
        PASSWORD,
        wrong_password,
        access.as_str(),
        refresh.as_str(),
        gql_access.as_str(),
        JWT_SECRET,
        "forged.token",
        "bookstore:bookstore",
    ] {
        assert!(
            !text.contains(secret),
            "a secret was logged: {secret}\n{text}"
        );
    }
}
