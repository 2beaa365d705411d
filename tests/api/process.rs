//! The real `bookstore` binary as a child process, against its own test database: for what only
//! a process shows (signals, exit codes, TLS termination, log output).

#![allow(dead_code)]

use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::helpers::{create_test_database, drop_test_database, server_url, url_for_db, PASSWORD};

/// A 48-byte JWT secret for the child (production refuses shorter ones).
pub const JWT_SECRET: &str = "process-test-secret-0123456789-abcdefghijklmnopq";

/// A free loopback port (bound and released; good enough for tests).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

pub struct ServerProcess {
    pub child: Child,
    pub port: u16,
    /// `http://127.0.0.1:<port>` (or `https://localhost:<port>` with TLS)
    pub base: String,
    pub client: reqwest::Client,
    pub db_name: String,
    pub db_url: String,
    /// Every line the process wrote to stdout and stderr so far.
    output: Arc<Mutex<Vec<String>>>,
}

pub struct Options {
    /// Extra environment (the child gets only DATABASE_URL, BOOKSTORE_ADDR, JWT_SECRET, the
    /// start-up admin `admin` with [`PASSWORD`], BOOKSTORE_MIGRATE=off, and these).
    pub env: Vec<(String, String)>,
    /// `https://localhost:<port>` instead of `http://127.0.0.1:<port>`.
    pub tls: bool,
    pub client: reqwest::Client,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            env: Vec::new(),
            tls: false,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
        }
    }
}

impl ServerProcess {
    pub async fn start(options: Options) -> ServerProcess {
        Self::start_on(free_port(), options).await
    }

    pub async fn start_on(port: u16, options: Options) -> ServerProcess {
        let db_name = create_test_database().await;
        let db_url = url_for_db(&server_url(), &db_name);
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_bookstore"));
        cmd.env_clear()
            .env("DATABASE_URL", &db_url)
            .env("BOOKSTORE_ADDR", format!("127.0.0.1:{port}"))
            .env("JWT_SECRET", JWT_SECRET)
            .env("BOOKSTORE_ADMIN_USERNAME", "admin")
            .env("BOOKSTORE_ADMIN_PASSWORD", PASSWORD)
            .env("BOOKSTORE_MIGRATE", "off")
            .env("BOOKSTORE_RATE_LIMIT", "off")
            .envs(options.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("starting the bookstore binary");
        let output = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        for reader in [
            Box::new(stdout) as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
            Box::new(stderr),
        ] {
            let output = output.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(reader).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    output.lock().unwrap().push(line);
                }
            });
        }
        let base = if options.tls {
            format!("https://localhost:{port}")
        } else {
            format!("http://127.0.0.1:{port}")
        };
        let mut server = ServerProcess {
            child,
            port,
            base,
            client: options.client,
            db_name,
            db_url,
            output,
        };
        server.wait_until_up().await;
        server
    }

    async fn wait_until_up(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "the server exited early with {status}:\n{}",
                    self.output().join("\n")
                );
            }
            let up = self
                .client
                .get(self.url("/healthz"))
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200);
            if up {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not come up:\n{}",
                self.output().join("\n")
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn output(&self) -> Vec<String> {
        self.output.lock().unwrap().clone()
    }

    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        let pid = self.child.id().expect("the process is running") as i32;
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal).expect("kill");
    }

    /// Waits for the process to exit (bounded) and returns its status.
    pub async fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        match tokio::time::timeout(within, self.child.wait()).await {
            Ok(status) => status.expect("wait"),
            Err(_) => panic!(
                "the server did not exit within {within:?}:\n{}",
                self.output().join("\n")
            ),
        }
    }

    /// An access token of the start-up admin.
    pub async fn admin_token(&self) -> String {
        let r = self
            .client
            .post(self.url("/v1/token"))
            .form(&[
                ("grant_type", "password"),
                ("username", "admin"),
                ("password", PASSWORD),
            ])
            .send()
            .await
            .expect("token request");
        assert_eq!(r.status(), 200);
        let body: serde_json::Value = r.json().await.expect("token JSON");
        body["access_token"].as_str().expect("token").to_owned()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        drop_test_database(std::mem::take(&mut self.db_name));
    }
}
