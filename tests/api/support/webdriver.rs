//! The WebDriver harness of the browser tests (tests/api/browser.rs): chromedriver and headless
//! Chromium (Debian's packages, which `make test` installs) on free ports with fresh profiles,
//! waits that poll with a deadline, and the artifacts kept when a test fails (a screenshot, the
//! browser console and chromedriver's log under `target/browser-artifacts/`).

#![allow(dead_code)]

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Context, Result};
use fantoccini::elements::Element;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

/// How long any one wait lasts (page load, rendering, a response): generous, since the machine
/// may be busy compiling and running other tests.
pub const WAIT: Duration = Duration::from_secs(30);
pub const POLL: Duration = Duration::from_millis(200);

// ---------------------------------------------------------------------------------------------
// Waiting and finding.

/// Calls `attempt` until it gives `Some`, for at most [`WAIT`]. Errors count as "not yet" (pages
/// re-render, elements go stale); the last one is reported on time-out.
pub async fn poll<T, F, Fut>(what: &str, mut attempt: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    let deadline = Instant::now() + WAIT;
    let mut last_error = None;
    loop {
        match attempt().await {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => {}
            Err(e) => last_error = Some(e),
        }
        if Instant::now() >= deadline {
            let last = last_error.map(|e| format!(" (last error: {e:#})"));
            bail!(
                "timed out after {WAIT:?} waiting for {what}{}",
                last.unwrap_or_default()
            );
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The first element that matches and is displayed, if any.
pub async fn find_displayed(c: &Client, at: Locator<'_>) -> Result<Option<Element>> {
    for e in c.find_all(at).await? {
        if e.is_displayed().await? {
            return Ok(Some(e));
        }
    }
    Ok(None)
}

pub async fn wait_displayed(c: &Client, what: &str, at: Locator<'_>) -> Result<Element> {
    poll(what, || find_displayed(c, at)).await
}

/// Clicks the element once it is displayed; a click that fails (covered, stale) is tried again.
pub async fn click_when_ready(c: &Client, what: &str, at: Locator<'_>) -> Result<()> {
    poll(what, || async {
        match find_displayed(c, at).await? {
            Some(e) => e.click().await.map(Some).map_err(Into::into),
            None => Ok(None),
        }
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// The browser.

/// Chromium's flags: headless, as root, and quiet (no background traffic to any host), with every
/// host name but 127.0.0.1 mapped to "not found".
pub fn chromium_args(profile: &Path) -> Vec<String> {
    let mut args: Vec<String> = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--no-proxy-server",
        "--window-size=1366,1000",
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    ]
    .map(String::from)
    .into();
    args.push(format!("--user-data-dir={}", profile.display()));
    args
}

/// A program the browser tests need; they fail (never skip) without it.
pub fn required_program(env: &str, default: &str) -> PathBuf {
    let path = std::env::var_os(env).map_or_else(|| PathBuf::from(default), PathBuf::from);
    assert!(
        path.is_file(),
        "the browser tests need {} (not found; set {env} to use another path). Debian's packages \
         `chromium` and `chromium-driver` provide it: `make test` installs them \
         (scripts/tools.sh chromium), or run `apt-get install chromium chromium-driver`.",
        path.display()
    );
    path
}

pub fn artifacts_dir() -> PathBuf {
    // CARGO_TARGET_TMPDIR is <target>/tmp: keep the artifacts beside it, in <target>.
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).join("browser-artifacts")
}

/// A chromedriver process (and the Chromium it starts), with its scratch folder. Dropping it
/// kills both and removes the folder.
pub struct Driver {
    child: Child,
    url: String,
    scratch: PathBuf,
}

impl Driver {
    /// Starts chromedriver on a free port and waits until it is ready.
    pub async fn start(name: &str) -> Driver {
        let chromedriver = required_program("BOOKSTORE_CHROMEDRIVER", "/usr/bin/chromedriver");
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let scratch = std::env::temp_dir().join(format!(
            "bookstore-browser-{name}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&scratch).expect("creating the browser's scratch folder");
        let mut last = String::new();
        // A free port can be taken between finding it and chromedriver binding it: try again.
        for _ in 0..3 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("finding a free port")
                .port();
            let child = {
                use std::os::unix::process::CommandExt;
                Command::new(&chromedriver)
                    .arg(format!("--port={port}"))
                    .arg(format!(
                        "--log-path={}",
                        scratch.join("chromedriver.log").display()
                    ))
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    // Its own process group, so that dropping the driver ends Chromium too.
                    .process_group(0)
                    .spawn()
                    .unwrap_or_else(|e| panic!("starting {}: {e}", chromedriver.display()))
            };
            let mut driver = Driver {
                child,
                url: format!("http://127.0.0.1:{port}"),
                scratch: scratch.clone(),
            };
            match driver.wait_ready().await {
                Ok(()) => return driver,
                Err(e) => last = format!("{e:#}"),
            }
            driver.kill();
        }
        panic!("chromedriver did not start: {last}");
    }

    pub async fn wait_ready(&mut self) -> Result<()> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()?;
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("chromedriver exited with {status}");
            }
            if let Ok(r) = http.get(format!("{}/status", self.url)).send().await {
                if let Ok(v) = r.json::<Value>().await {
                    if v["value"]["ready"] == json!(true) {
                        return Ok(());
                    }
                }
            }
            ensure!(
                Instant::now() < deadline,
                "chromedriver at {} not ready after {WAIT:?}",
                self.url
            );
            tokio::time::sleep(POLL).await;
        }
    }

    pub fn kill(&mut self) {
        use nix::sys::signal::{killpg, Signal};
        use nix::unistd::Pid;
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Chromium's helpers may have left the group: end whatever still runs with this test's
        // own profile folder on its command line (and only that).
        let marker = format!("--user-data-dir={}", self.profile().display());
        if let Ok(procs) = std::fs::read_dir("/proc") {
            for p in procs.flatten() {
                let Ok(pid) = p.file_name().to_string_lossy().parse::<i32>() else {
                    continue;
                };
                let Ok(cmdline) = std::fs::read(p.path().join("cmdline")) else {
                    continue;
                };
                if cmdline
                    .split(|b| *b == 0)
                    .any(|arg| arg == marker.as_bytes())
                {
                    let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
                }
            }
        }
    }

    pub fn profile(&self) -> PathBuf {
        self.scratch.join("profile")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.scratch);
    }
}

/// A WebDriver session in a fresh headless Chromium. Unless [`Browser::close`] ran (the test got
/// to its end), dropping it keeps a screenshot, the console and chromedriver's log as artifacts.
pub struct Browser {
    client: Option<Client>,
    session: String,
    name: &'static str,
    // Dropped last: ends chromedriver and Chromium.
    driver: Driver,
}

impl Browser {
    pub async fn start(name: &'static str) -> Browser {
        let chromium = required_program("BOOKSTORE_CHROMIUM", "/usr/bin/chromium");
        let dir = artifacts_dir();
        for ext in ["png", "console.log", "chromedriver.log"] {
            let _ = std::fs::remove_file(dir.join(format!("{name}.{ext}")));
        }
        let driver = Driver::start(name).await;
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": chromium_args(&driver.profile()),
            },
            // The performance log carries the page's network events (see network_requests).
            "goog:loggingPrefs": { "performance": "ALL", "browser": "ALL" },
        });
        let Value::Object(caps) = caps else {
            unreachable!()
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let session = tokio::time::timeout(
            Duration::from_secs(60),
            ClientBuilder::new(connector)
                .capabilities(caps)
                .connect(&driver.url),
        )
        .await;
        let client = match session {
            Ok(Ok(client)) => client,
            Ok(Err(e)) => panic!("{name}: starting Chromium through chromedriver failed: {e}"),
            Err(_) => panic!("{name}: Chromium did not start within 60 s"),
        };
        let session = client
            .session_id()
            .await
            .ok()
            .flatten()
            .expect("the WebDriver session id");
        Browser {
            client: Some(client),
            session,
            name,
            driver,
        }
    }

    pub fn client(&self) -> &Client {
        self.client.as_ref().expect("the browser is open")
    }

    /// Every URL the page requested or opened a WebSocket to since the last call.
    pub async fn network_requests(&self) -> Result<Vec<String>> {
        let entries = self
            .client()
            .issue_cmd(GetLog("performance"))
            .await
            .context("reading chromedriver's performance log")?;
        let entries = entries
            .as_array()
            .ok_or_else(|| anyhow!("performance log is not a list: {entries}"))?;
        let mut urls = Vec::new();
        for entry in entries {
            let message: Value = serde_json::from_str(entry["message"].as_str().unwrap_or("{}"))?;
            let event = &message["message"];
            let url = match event["method"].as_str() {
                Some("Network.requestWillBeSent") => &event["params"]["request"]["url"],
                Some("Network.webSocketCreated") => &event["params"]["url"],
                _ => continue,
            };
            if let Some(url) = url.as_str() {
                urls.push(url.to_owned());
            }
        }
        Ok(urls)
    }

    /// The test got to its end: close the session (Chromium quits) and keep no artifacts.
    pub async fn close(mut self) -> Result<()> {
        let client = self.client.take().expect("the browser is open");
        client
            .close()
            .await
            .context("closing the WebDriver session")
    }

    /// Keeps a screenshot, the browser console and chromedriver's log in target/browser-artifacts.
    /// Runs from `drop` (also while a panic unwinds), so it talks to chromedriver from a thread of
    /// its own with a runtime of its own.
    pub fn keep_artifacts(&self) {
        let dir = artifacts_dir();
        let (url, session, name) = (self.driver.url.clone(), self.session.clone(), self.name);
        let log = self.driver.scratch.join("chromedriver.log");
        let saved = std::thread::spawn(move || -> Result<PathBuf> {
            std::fs::create_dir_all(&dir)?;
            let _ = std::fs::copy(&log, dir.join(format!("{name}.chromedriver.log")));
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async {
                let http = reqwest::Client::builder()
                    .timeout(Duration::from_secs(20))
                    .build()?;
                let console: Value = http
                    .post(format!("{url}/session/{session}/se/log"))
                    .json(&json!({"type": "browser"}))
                    .send()
                    .await?
                    .json()
                    .await?;
                let _ = std::fs::write(
                    dir.join(format!("{name}.console.log")),
                    serde_json::to_string_pretty(&console["value"])?,
                );
                let shot: Value = http
                    .get(format!("{url}/session/{session}/screenshot"))
                    .send()
                    .await?
                    .json()
                    .await?;
                let png = shot["value"]
                    .as_str()
                    .ok_or_else(|| anyhow!("no screenshot in {shot}"))?;
                use base64::Engine as _;
                let png = base64::engine::general_purpose::STANDARD.decode(png)?;
                let path = dir.join(format!("{name}.png"));
                std::fs::write(&path, png)?;
                Ok(path)
            })
        })
        .join();
        match saved {
            Ok(Ok(path)) => eprintln!("{name}: screenshot of the page kept at {}", path.display()),
            Ok(Err(e)) => eprintln!("{name}: could not keep a screenshot: {e:#}"),
            Err(_) => eprintln!("{name}: could not keep a screenshot (the thread panicked)"),
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if self.client.is_some() {
            self.keep_artifacts();
        }
    }
}

/// chromedriver's `POST /session/{id}/se/log`: the log entries of one type, drained.
#[derive(Debug)]
pub struct GetLog(pub &'static str);

impl WebDriverCompatibleCommand for GetLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!("session/{}/se/log", session_id.unwrap_or("")))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({ "type": self.0 }).to_string()),
        )
    }
}
