//! The two pages people use, `/graphiql` and `/docs`, in a real browser: headless Chromium driven
//! through chromedriver (Debian's `chromium` and `chromium-driver`, which `make test` installs; the
//! tests fail, never skip, when they are missing).
//!
//! Each test starts its own server ([`TestApp`]), its own chromedriver on a free port and its own
//! Chromium with a fresh profile, in which every host but 127.0.0.1 fails to resolve. Besides what
//! the page shows, each test checks that the page asked for nothing from any other origin, twice:
//! from the browser's own network log (chromedriver's performance log: every request and WebSocket
//! the page made) and from the page's `performance.getEntriesByType('resource')`.
//!
//! When a test fails (an error or a panic), a screenshot of the page is kept at
//! `target/browser-artifacts/<test>.png`, with the browser console (`<test>.console.log`) and
//! chromedriver's log (`<test>.chromedriver.log`) beside it.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Context, Result};
use fantoccini::elements::Element;
use fantoccini::key::Key;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use crate::helpers::{book_body, id_of, isbn, TestApp};

/// How long any one wait lasts (page load, rendering, a response): generous, since the machine
/// may be busy compiling and running other tests.
const WAIT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(200);

#[tokio::test]
async fn graphiql_runs_a_typed_query_offline() -> Result<()> {
    let app = TestApp::spawn().await;
    let token = app.editor_token().await;
    let author = app.create_author(&token, "Grace Browser").await;
    let title = "Offline GraphiQL Renders Results";
    app.create_book(&token, &book_body(&isbn(4201), title, &[id_of(&author)]))
        .await;

    let browser = Browser::start("graphiql_runs_a_typed_query_offline").await;
    graphiql_scenario(&app, browser.client(), title).await?;
    graphiql_schema_scenario(browser.client()).await?;
    only_this_origin(&app, &browser).await?;
    browser.close().await
}

#[tokio::test]
async fn swagger_ui_lists_operations_and_tries_get_books() -> Result<()> {
    let app = TestApp::spawn().await;
    let token = app.editor_token().await;
    let author = app.create_author(&token, "Swagger Reader").await;
    let title = "Swagger UI Tried It Out";
    app.create_book(&token, &book_body(&isbn(4202), title, &[id_of(&author)]))
        .await;

    let browser = Browser::start("swagger_ui_lists_operations_and_tries_get_books").await;
    docs_scenario(&app, browser.client(), title).await?;
    only_this_origin(&app, &browser).await?;
    browser.close().await
}

/// Opens GraphiQL, types a query into its editor, runs it and reads the rendered result.
async fn graphiql_scenario(app: &TestApp, c: &Client, title: &str) -> Result<()> {
    const QUERY: &str = "{ books(first: 1) { nodes { title } } }";
    c.goto(&format!("{}/graphiql", app.base)).await?;

    // The editor is there and GraphiQL has put its default query in it.
    let editor = ".graphiql-query-editor .CodeMirror";
    wait_displayed(c, "the GraphiQL query editor", Locator::Css(editor)).await?;
    poll("GraphiQL's default query in the editor", || async {
        Ok(editor_value(c).await?.filter(|v| v.contains("books")))
    })
    .await?;

    // Type the query: focus the editor, select all, delete, type. CodeMirror closes brackets
    // itself, and typing a closing bracket in front of the one it added steps over it, so the
    // text comes out as typed.
    click_when_ready(
        c,
        "the query editor",
        Locator::Css(".graphiql-query-editor .CodeMirror-lines"),
    )
    .await?;
    let input = c
        .find(Locator::Css(".graphiql-query-editor .CodeMirror textarea"))
        .await
        .context("CodeMirror's input textarea")?;
    input.send_keys(&(Key::Control + "a")).await?;
    input
        .send_keys(&String::from(char::from(Key::Backspace)))
        .await?;
    input.send_keys(QUERY).await?;
    let typed = editor_value(c).await?.unwrap_or_default();
    if squash(&typed) != squash(QUERY) {
        // Typing went astray (e.g. an autocompletion popup took a key). Fall back on CodeMirror's
        // own API so that the rest of the page (running, rendering) is still tested, and say so.
        eprintln!("typing into GraphiQL gave {typed:?}; setting the query through CodeMirror");
        c.execute(
            "document.querySelector(arguments[0]).CodeMirror.setValue(arguments[1]);",
            vec![json!(editor), json!(QUERY)],
        )
        .await?;
    }
    ensure!(
        squash(&editor_value(c).await?.unwrap_or_default()) == squash(QUERY),
        "the query editor does not hold the query"
    );

    // GraphiQL works out the operation name from the text 100 ms after the last change (and
    // sends the old one until then): wait until it has parsed what was typed, as a person would.
    poll("GraphiQL to parse the typed query", || async {
        let parsed = c
            .execute(
                "var cm = document.querySelector(arguments[0]).CodeMirror, ast = cm.documentAST;\
                 return !!ast && cm.operationName == null\
                   && (!ast.loc || ast.loc.source.body === cm.getValue());",
                vec![json!(editor)],
            )
            .await?;
        Ok((parsed == json!(true)).then_some(()))
    })
    .await?;
    click_when_ready(
        c,
        "GraphiQL's run button",
        Locator::Css(".graphiql-execute-button"),
    )
    .await?;

    // The result pane renders the answer (a CodeMirror viewer inside .graphiql-response).
    let shown = poll("the book's title in GraphiQL's result pane", || async {
        let Some(pane) = find_displayed(c, Locator::Css(".graphiql-response")).await? else {
            return Ok(None);
        };
        let text = pane.text().await?;
        Ok(text.contains(title).then_some(text))
    })
    .await?;
    ensure!(
        shown.contains("\"data\"") && shown.contains("\"books\"") && !shown.contains("\"errors\""),
        "unexpected result in GraphiQL's result pane:\n{shown}"
    );
    Ok(())
}

/// GraphiQL's schema features, which need the introspection query to be answered: the docs
/// explorer lists the fields of `Query`, and typing in the editor offers a field name.
async fn graphiql_schema_scenario(c: &Client) -> Result<()> {
    // The docs explorer: open it, follow the root type `Query`, read its fields.
    click_when_ready(
        c,
        "the Documentation Explorer button",
        Locator::Css(".graphiql-sidebar button[aria-label='Show Documentation Explorer']"),
    )
    .await?;
    poll("the root type Query in the docs explorer", || async {
        for link in c
            .find_all(Locator::Css(
                ".graphiql-doc-explorer .graphiql-doc-explorer-type-name",
            ))
            .await?
        {
            if link.text().await? == "Query" && link.is_displayed().await? {
                link.click().await?;
                return Ok(Some(()));
            }
        }
        Ok(None)
    })
    .await?;
    let fields = poll("the fields of Query in the docs explorer", || async {
        let mut names = Vec::new();
        for f in c
            .find_all(Locator::Css(
                ".graphiql-doc-explorer .graphiql-doc-explorer-field-name",
            ))
            .await?
        {
            names.push(f.text().await?);
        }
        Ok(names.iter().any(|n| n == "books").then_some(names))
    })
    .await?;
    for wanted in [
        "book",
        "books",
        "author",
        "authors",
        "magazine",
        "magazines",
        "me",
    ] {
        ensure!(
            fields.iter().any(|f| f == wanted),
            "the docs explorer does not list Query.{wanted}: {fields:?}"
        );
    }

    // Autocompletion: in an empty editor, type `{ maga`; the hint list offers `magazines`.
    let editor = ".graphiql-query-editor .CodeMirror";
    c.execute(
        "document.querySelector(arguments[0]).CodeMirror.setValue('');",
        vec![json!(editor)],
    )
    .await?;
    click_when_ready(
        c,
        "the query editor",
        Locator::Css(".graphiql-query-editor .CodeMirror-lines"),
    )
    .await?;
    let input = c
        .find(Locator::Css(".graphiql-query-editor .CodeMirror textarea"))
        .await
        .context("CodeMirror's input textarea")?;
    input.send_keys("{ maga").await?;
    poll("an autocompletion hint for `maga`", || async {
        let mut texts = Vec::new();
        for h in c
            .find_all(Locator::Css(".CodeMirror-hints .CodeMirror-hint"))
            .await?
        {
            texts.push(h.text().await?);
        }
        Ok(texts.iter().any(|t| t.contains("magazines")).then_some(()))
    })
    .await?;
    Ok(())
}

/// Opens Swagger UI, finds `GET /v1/books`, and runs it with "Try it out" / "Execute".
async fn docs_scenario(app: &TestApp, c: &Client, title: &str) -> Result<()> {
    c.goto(&format!("{}/docs/", app.base)).await?;

    // The operation list renders from /openapi.json.
    let count = poll("Swagger UI's operation list", || async {
        let n = c.find_all(Locator::Css(".opblock")).await?.len();
        Ok((n > 0).then_some(n))
    })
    .await?;
    ensure!(count >= 5, "Swagger UI lists only {count} operations");

    let op = "//div[contains(concat(' ', normalize-space(@class), ' '), ' opblock-get ')]\
              [.//*[contains(concat(' ', normalize-space(@class), ' '), ' opblock-summary-path ')]\
              [@data-path='/v1/books']]";
    let block = wait_displayed(c, "the GET /v1/books operation", Locator::XPath(op)).await?;
    let summary = block.find(Locator::Css(".opblock-summary")).await?;
    summary.click().await.context("expanding GET /v1/books")?;

    let try_out = format!("{op}//button[contains(@class, 'try-out__btn')]");
    click_when_ready(c, "the 'Try it out' button", Locator::XPath(&try_out)).await?;
    let execute = format!("{op}//button[contains(@class, 'execute')]");
    click_when_ready(c, "the 'Execute' button", Locator::XPath(&execute)).await?;

    // The live response (not the documented ones above it): its row, not its header row.
    let row = format!(
        "{op}//table[contains(@class, 'live-responses-table')]\
         //tr[contains(concat(' ', normalize-space(@class), ' '), ' response ')]"
    );
    let status = format!("{row}//td[contains(@class, 'response-col_status')]");
    let code = poll("the live response of GET /v1/books", || async {
        let Some(cell) = find_displayed(c, Locator::XPath(&status)).await? else {
            return Ok(None);
        };
        let text = cell.text().await?;
        Ok((!text.trim().is_empty()).then_some(text))
    })
    .await?;
    ensure!(
        code.trim() == "200",
        "GET /v1/books from Swagger UI answered {code:?}"
    );

    // The response body that Swagger UI shows is the live one: it has the seeded book.
    let body = format!("{row}//td[contains(@class, 'response-col_description')]");
    poll("the seeded book in Swagger UI's response body", || async {
        let Some(cell) = find_displayed(c, Locator::XPath(&body)).await? else {
            return Ok(None);
        };
        Ok(cell.text().await?.contains(title).then_some(()))
    })
    .await?;
    Ok(())
}

/// The page loaded nothing from any other origin than the server under test: neither in the
/// browser's network log (every request and WebSocket of the page, whether it succeeded or not)
/// nor in the page's resource timing entries, and it logged no error (no load refused by its
/// Content-Security-Policy, no script error) in the console.
async fn only_this_origin(app: &TestApp, browser: &Browser) -> Result<()> {
    let base = format!("{}/", app.base);
    let ws_base = base.replacen("http://", "ws://", 1);
    // Only URLs that go over the network count: Chromium's own pages (chrome://, e.g. the blank
    // tab a session starts on), data: and blob: URLs never leave the browser.
    let ours = |url: &str| {
        let network = ["http:", "https:", "ws:", "wss:", "ftp:"]
            .iter()
            .any(|s| url.to_ascii_lowercase().starts_with(s));
        !network || url.starts_with(&base) || url.starts_with(&ws_base)
    };

    let requested = browser.network_requests().await?;
    ensure!(
        requested.iter().any(|u| u.starts_with(&base)),
        "the browser's network log shows no request to {base}: {requested:?}"
    );
    let foreign: Vec<&String> = requested.iter().filter(|u| !ours(u)).collect();
    ensure!(
        foreign.is_empty(),
        "the page asked for URLs outside {base}: {foreign:?}"
    );

    // Nor did it log an error: a load refused by the page's Content-Security-Policy (which never
    // reaches the network) shows up here, as do script errors.
    let console = browser.client().issue_cmd(GetLog("browser")).await?;
    let errors: Vec<&Value> = console
        .as_array()
        .map(|entries| entries.iter().filter(|e| e["level"] == "SEVERE").collect())
        .unwrap_or_default();
    ensure!(errors.is_empty(), "the page logged errors: {errors:#?}");

    let loaded = browser
        .client()
        .execute(
            "return [location.href].concat(\
               performance.getEntriesByType('resource').map(function (e) { return e.name; }));",
            vec![],
        )
        .await?;
    let loaded: Vec<String> = serde_json::from_value(loaded)?;
    let foreign: Vec<&String> = loaded.iter().filter(|u| !ours(u)).collect();
    ensure!(
        foreign.is_empty(),
        "the page loaded resources outside {base}: {foreign:?}"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Waiting and finding.

/// Calls `attempt` until it gives `Some`, for at most [`WAIT`]. Errors count as "not yet" (pages
/// re-render, elements go stale); the last one is reported on time-out.
async fn poll<T, F, Fut>(what: &str, mut attempt: F) -> Result<T>
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
async fn find_displayed(c: &Client, at: Locator<'_>) -> Result<Option<Element>> {
    for e in c.find_all(at).await? {
        if e.is_displayed().await? {
            return Ok(Some(e));
        }
    }
    Ok(None)
}

async fn wait_displayed(c: &Client, what: &str, at: Locator<'_>) -> Result<Element> {
    poll(what, || find_displayed(c, at)).await
}

/// Clicks the element once it is displayed; a click that fails (covered, stale) is tried again.
async fn click_when_ready(c: &Client, what: &str, at: Locator<'_>) -> Result<()> {
    poll(what, || async {
        match find_displayed(c, at).await? {
            Some(e) => e.click().await.map(Some).map_err(Into::into),
            None => Ok(None),
        }
    })
    .await
}

/// The text of GraphiQL's query editor, through CodeMirror (None until it exists).
async fn editor_value(c: &Client) -> Result<Option<String>> {
    let v = c
        .execute(
            "var e = document.querySelector('.graphiql-query-editor .CodeMirror');\
             return e && e.CodeMirror ? e.CodeMirror.getValue() : null;",
            vec![],
        )
        .await?;
    Ok(v.as_str().map(str::to_owned))
}

fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

// ---------------------------------------------------------------------------------------------
// The browser.

/// Chromium's flags: headless, as root, and quiet (no background traffic to any host), with every
/// host name but 127.0.0.1 mapped to "not found".
fn chromium_args(profile: &Path) -> Vec<String> {
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
fn required_program(env: &str, default: &str) -> PathBuf {
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

fn artifacts_dir() -> PathBuf {
    // CARGO_TARGET_TMPDIR is <target>/tmp: keep the artifacts beside it, in <target>.
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).join("browser-artifacts")
}

/// A chromedriver process (and the Chromium it starts), with its scratch folder. Dropping it
/// kills both and removes the folder.
struct Driver {
    child: Child,
    url: String,
    scratch: PathBuf,
}

impl Driver {
    /// Starts chromedriver on a free port and waits until it is ready.
    async fn start(name: &str) -> Driver {
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

    async fn wait_ready(&mut self) -> Result<()> {
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

    fn kill(&mut self) {
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

    fn profile(&self) -> PathBuf {
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
struct Browser {
    client: Option<Client>,
    session: String,
    name: &'static str,
    // Dropped last: ends chromedriver and Chromium.
    driver: Driver,
}

impl Browser {
    async fn start(name: &'static str) -> Browser {
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

    fn client(&self) -> &Client {
        self.client.as_ref().expect("the browser is open")
    }

    /// Every URL the page requested or opened a WebSocket to since the last call.
    async fn network_requests(&self) -> Result<Vec<String>> {
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
    async fn close(mut self) -> Result<()> {
        let client = self.client.take().expect("the browser is open");
        client
            .close()
            .await
            .context("closing the WebDriver session")
    }

    /// Keeps a screenshot, the browser console and chromedriver's log in target/browser-artifacts.
    /// Runs from `drop` (also while a panic unwinds), so it talks to chromedriver from a thread of
    /// its own with a runtime of its own.
    fn keep_artifacts(&self) {
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
struct GetLog(&'static str);

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
