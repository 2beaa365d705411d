//! Scenario 6: lost-update race. 20 concurrent conditional PUTs of one book with the same
//! `If-Match` (the ETag of one GET): exactly one 200, the other 19 are 412, and the stored book
//! is the winner's.

use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use serde_json::Value;

use crate::support::*;

const CONCURRENT: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conditional_puts_race() {
    let pg = start_pg();
    let server = Server::start(
        &pg.url("bookstore"),
        &[("BOOKSTORE_RATE_LIMIT", "off".into())],
    )
    .await;
    let token = server.admin_token().await;
    let author = server.create_author(&token, "Race Author").await;
    let isbn = isbn(610_001);
    server
        .create_book(&token, &book_body(Some(&isbn), "Race", 0, &[author]))
        .await;
    let r = server
        .client
        .get(server.url(&format!("/v1/book/{isbn}")))
        .send()
        .await
        .expect("GET");
    let etag = r
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .expect("an ETag")
        .to_owned();

    let client = client(Duration::from_secs(20));
    let barrier = Arc::new(tokio::sync::Barrier::new(CONCURRENT));
    let results: Vec<(Option<u16>, i64)> = join_all((0..CONCURRENT).map(|i| {
        let (client, barrier, etag, token) =
            (client.clone(), barrier.clone(), etag.clone(), token.clone());
        let url = server.url(&format!("/v1/book/{isbn}"));
        let body = book_body(None, &format!("Race winner {i}"), 100 + i as i64, &[author]);
        tokio::spawn(async move {
            barrier.wait().await;
            let r = client
                .put(url)
                .bearer_auth(token)
                .header("if-match", etag)
                .json(&body)
                .send()
                .await;
            (r.ok().map(|r| r.status().as_u16()), 100 + i as i64)
        })
    }))
    .await
    .into_iter()
    .map(|r| r.expect("task"))
    .collect();
    let ok: Vec<i64> = results
        .iter()
        .filter(|r| r.0 == Some(200))
        .map(|r| r.1)
        .collect();
    let precondition_failed = results.iter().filter(|r| r.0 == Some(412)).count();
    let other: Vec<Option<u16>> = results
        .iter()
        .filter(|r| r.0 != Some(200) && r.0 != Some(412))
        .map(|r| r.0)
        .collect();
    let stored: Value = server
        .client
        .get(server.url(&format!("/v1/book/{isbn}")))
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON");
    let winner_stored = ok.len() == 1 && stored["stock"].as_i64() == Some(ok[0]);
    report(
        "lost-update",
        &[
            ("puts", CONCURRENT.to_string()),
            ("status_200", ok.len().to_string()),
            ("status_412", precondition_failed.to_string()),
            ("other", format!("{other:?}").replace(' ', "")),
            ("version_after", stored["version"].to_string()),
            ("winner_stored", winner_stored.to_string()),
        ],
    );
    assert_eq!(ok.len(), 1, "exactly one PUT wins: {results:?}");
    assert_eq!(
        precondition_failed,
        CONCURRENT - 1,
        "the others are 412: {results:?}"
    );
    assert!(
        winner_stored,
        "the stored book is not the winner's: {stored}"
    );
    assert_eq!(
        stored["version"].as_i64(),
        Some(2),
        "one update only: {stored}"
    );
}
