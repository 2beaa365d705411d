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

use anyhow::{ensure, Context, Result};
use fantoccini::key::Key;
use fantoccini::{Client, Locator};
use serde_json::{json, Value};

use crate::helpers::{book_body, id_of, isbn, TestApp};

use crate::support::webdriver::*;

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
