//! GraphQL: contract names, queries, mutations, error codes shared with REST, limits refused
//! before SQL, statement budgets of nested reads, APQ.

use bookstore::domain::Role;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{book_body, isbn, send, Resp, TestApp};

pub async fn gql(app: &TestApp, query: &str, variables: Value, token: Option<&str>) -> Resp {
    let mut rb = app
        .req(Method::POST, "/graphql")
        .json(&json!({"query": query, "variables": variables}));
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    send(rb).await
}

/// The `extensions.code` of the first error.
pub fn code(r: &Resp) -> &str {
    r.body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code in {}", r.text))
}

fn statements(r: &Resp) -> u64 {
    r.header("x-sql-statements")
        .and_then(|s| s.parse().ok())
        .expect("x-sql-statements header")
}

#[tokio::test]
async fn printed_sdl_matches_schema_graphql() {
    let checked_in =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql")).unwrap();
    assert_eq!(
        bookstore::graphql::sdl(),
        checked_in,
        "schema.graphql drifted from the code: run `bookstore print-schema > schema.graphql`"
    );
    for name in [
        "type Query",
        "type Mutation",
        "type Subscription",
        "bookChanged(isbn: String): BookChange!",
    ] {
        assert!(checked_in.contains(name), "{name}");
    }
}

#[tokio::test]
async fn nested_reads_run_a_fixed_number_of_statements() {
    // Cache off: every read reaches PostgreSQL, so this counts the loaders' SQL, not cache luck.
    let app = TestApp::spawn_with(|c| c.cache_enabled = false).await;
    bookstore::seed::Dataset {
        authors: 60,
        books: 900,
        magazines: 0,
    }
    .load(&app.db_url, false)
    .await
    .unwrap();
    let q = "query($n: Int!) { authors(first: $n) { nodes { id name bookCount books(first: 10) { nodes { isbn year authors { name } } } } } }";
    let small = gql(&app, q, json!({"n": 5}), None).await;
    small.expect(200);
    let large = gql(&app, q, json!({"n": 50}), None).await;
    large.expect(200);
    assert!(large.body["errors"].is_null(), "{}", large.text);
    let nodes = large.body["data"]["authors"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 50);
    // Author 1 writes books 1, 61, 121, ... (plus co-authored ones), ordered by (year, isbn).
    let first = &nodes[0];
    assert_eq!(first["name"], "Author 1");
    let books = first["books"]["nodes"].as_array().unwrap();
    assert_eq!(books.len(), 10);
    let keys: Vec<(i64, String)> = books
        .iter()
        .map(|b| {
            (
                b["year"].as_i64().unwrap(),
                b["isbn"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "books ordered by year, then isbn");
    assert!(books.iter().all(|b| b["authors"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["name"] == "Author 1")));
    // The same small, fixed number of statements for 5 and for 50 authors.
    let (s5, s50) = (statements(&small), statements(&large));
    assert_eq!(
        s5, s50,
        "statements must not grow with the number of authors ({s5} vs {s50})"
    );
    assert!(s50 <= 6, "{s50} statements for one nested request");
    // Asking for more than id/name of the nested authors goes through the author loader: one
    // more batched statement, still independent of the number of items.
    let q2 = "query($n: Int!) { authors(first: $n) { nodes { books(first: 10) { nodes { authors { name bookCount bio } } } } } }";
    let s5 = statements(gql(&app, q2, json!({"n": 5}), None).await.expect(200));
    let s50 = statements(gql(&app, q2, json!({"n": 50}), None).await.expect(200));
    assert_eq!(s5, s50, "loader batches must not split ({s5} vs {s50})");
}

#[tokio::test]
async fn queries_read_the_catalogue() {
    let app = TestApp::spawn().await;
    let editor = app.editor_token().await;
    let author = app.create_author(&editor, "Octavia Butler").await;
    let aid = author["id"].as_i64().unwrap();
    for n in 1..=3 {
        app.create_book(
            &editor,
            &book_body(&isbn(n), &format!("Parable {n}"), &[aid]),
        )
        .await;
    }
    let r = gql(&app, r#"{ book(isbn: "978-0-00-000001-9") { isbn title category priceCents authors { id name bookCount } version createdAt } }"#, json!({}), None).await;
    r.expect(200);
    let b = &r.body["data"]["book"];
    assert_eq!(b["isbn"], isbn(1));
    assert_eq!(b["category"], "FICTION");
    assert_eq!(b["authors"][0]["id"], aid.to_string());
    assert_eq!(b["authors"][0]["bookCount"], 3);
    let missing = gql(
        &app,
        r#"{ book(isbn: "9780000000422") { title } }"#,
        json!({}),
        None,
    )
    .await;
    assert!(
        missing.body["data"]["book"].is_null() && missing.body["errors"].is_null(),
        "{}",
        missing.text
    );
    let bad = gql(&app, r#"{ book(isbn: "123") { title } }"#, json!({}), None).await;
    assert_eq!(code(&bad), "BAD_USER_INPUT");

    // Relay pagination, ordering and filters.
    let page1 = gql(&app, "{ books(first: 2, orderBy: {field: TITLE, direction: DESC}) { edges { cursor node { title } } nodes { title } pageInfo { hasNextPage endCursor } } }", json!({}), None).await;
    let conn = &page1.body["data"]["books"];
    assert_eq!(conn["nodes"][0]["title"], "Parable 3");
    assert_eq!(conn["edges"][1]["node"]["title"], "Parable 2");
    assert_eq!(conn["pageInfo"]["hasNextPage"], true);
    let after = conn["pageInfo"]["endCursor"].as_str().unwrap();
    let page2 = gql(&app, "query($a: String) { books(first: 2, after: $a, orderBy: {field: TITLE, direction: DESC}) { nodes { title } pageInfo { hasNextPage } } }", json!({"a": after}), None).await;
    assert_eq!(
        page2.body["data"]["books"]["nodes"],
        json!([{"title": "Parable 1"}])
    );
    assert_eq!(
        page2.body["data"]["books"]["pageInfo"]["hasNextPage"],
        false
    );
    let wrong_cursor = gql(
        &app,
        "query($a: String) { books(first: 2, after: $a) { nodes { title } } }",
        json!({"a": after}),
        None,
    )
    .await;
    assert_eq!(
        code(&wrong_cursor),
        "BAD_USER_INPUT",
        "a TITLE cursor is not an ISBN cursor"
    );
    let filtered = gql(&app, r#"query($id: ID) { books(filter: {authorId: $id, titleContains: "ble 2", category: FICTION}) { nodes { title } } }"#, json!({"id": aid.to_string()}), None).await;
    assert_eq!(
        filtered.body["data"]["books"]["nodes"],
        json!([{"title": "Parable 2"}])
    );
    let too_many = gql(
        &app,
        "{ books(first: 101) { nodes { isbn } } }",
        json!({}),
        None,
    )
    .await;
    assert_eq!(code(&too_many), "BAD_USER_INPUT");

    let authors = gql(&app, r#"{ authors(nameContains: "OCTAVIA") { nodes { id name books(first: 2, order: DESC) { nodes { title } pageInfo { hasNextPage } } } } }"#, json!({}), None).await;
    let a = &authors.body["data"]["authors"]["nodes"][0];
    assert_eq!(a["name"], "Octavia Butler");
    assert_eq!(a["books"]["nodes"].as_array().unwrap().len(), 2);
    assert_eq!(a["books"]["pageInfo"]["hasNextPage"], true);
    let one = gql(
        &app,
        "query($id: ID!) { author(id: $id) { name bornYear bio } }",
        json!({"id": aid.to_string()}),
        None,
    )
    .await;
    assert_eq!(one.body["data"]["author"]["name"], "Octavia Butler");
    let none = gql(
        &app,
        r#"{ author(id: "999999") { name } magazine(id: "999") { title } }"#,
        json!({}),
        None,
    )
    .await;
    assert!(
        none.body["data"]["author"].is_null() && none.body["data"]["magazine"].is_null(),
        "{}",
        none.text
    );

    // `me`: null without a token, the user with one.
    let anon = gql(&app, "{ me { username } }", json!({}), None).await;
    assert!(anon.body["data"]["me"].is_null() && anon.body["errors"].is_null());
    let me = gql(&app, "{ me { username role } }", json!({}), Some(&editor)).await;
    assert_eq!(
        me.body["data"]["me"],
        json!({"username": "editor", "role": "EDITOR"})
    );
    // A bad token is an error, never silently anonymous.
    let bad_token = gql(&app, "{ me { username } }", json!({}), Some("not-a-jwt")).await;
    assert_eq!(code(&bad_token), "UNAUTHENTICATED");
    let public = "{ books(first: 1) { nodes { isbn } } }";
    let bad_token = gql(&app, public, json!({}), Some("not-a-jwt")).await;
    assert_eq!(code(&bad_token), "UNAUTHENTICATED", "{}", bad_token.text);
    assert!(bad_token.body["data"].is_null(), "{}", bad_token.text);
}

#[tokio::test]
async fn mutations_share_rules_and_codes_with_rest() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let editor = app.editor_token().await;

    let login = gql(
        &app,
        r#"mutation { login(username: "editor", password: "wrong password!") { accessToken } }"#,
        json!({}),
        None,
    )
    .await;
    assert_eq!(code(&login), "UNAUTHENTICATED");
    let login = gql(&app, "mutation($p: String!) { login(username: \"editor\", password: $p) { accessToken tokenType expiresIn refreshToken } }", json!({"p": crate::helpers::PASSWORD}), None).await;
    assert_eq!(login.body["data"]["login"]["tokenType"], "Bearer");
    assert_eq!(login.body["data"]["login"]["expiresIn"], 900);
    let gql_token = login.body["data"]["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();

    let author = gql(&app, r#"mutation { createAuthor(input: {name: "Ted Chiang", bornYear: 1967}) { id name bornYear } }"#, json!({}), Some(&gql_token)).await;
    let aid = author.body["data"]["createAuthor"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let create = "mutation($in: CreateBookInput!) { createBook(input: $in) { isbn title version authors { name } } }";
    let input = json!({"isbn": "0-306-40615-2", "title": "Stories", "category": "FICTION", "year": 2002, "priceCents": 1500, "stock": 3, "authorIds": [aid]});
    let anon = gql(&app, create, json!({"in": input}), None).await;
    assert_eq!(code(&anon), "UNAUTHENTICATED");
    let created = gql(&app, create, json!({"in": input}), Some(&editor)).await;
    assert_eq!(
        created.body["data"]["createBook"]["isbn"], "9780306406157",
        "{}",
        created.text
    );
    let dup = gql(&app, create, json!({"in": input}), Some(&editor)).await;
    assert_eq!(code(&dup), "CONFLICT");

    // The same invalid input over both doors: 422 naming the fields / BAD_USER_INPUT with fields.
    let bad = json!({"isbn": "9780306406158", "title": "  ", "category": "FICTION", "year": 1200, "priceCents": -1, "stock": 3, "authorIds": ["424242"]});
    let g = gql(&app, create, json!({"in": bad}), Some(&editor)).await;
    assert_eq!(code(&g), "BAD_USER_INPUT");
    let mut gfields: Vec<String> = g.body["errors"][0]["extensions"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap().to_owned())
        .collect();
    gfields.sort();
    assert_eq!(gfields, ["isbn", "priceCents", "title", "year"]);
    let rest = app
        .post("/v1/book", &editor, &json!({"isbn": "9780306406158", "title": "  ", "category": "fiction", "year": 1200, "price_cents": -1, "stock": 3, "author_ids": [1]}))
        .await;
    rest.problem(422);
    let mut rfields = rest.error_fields();
    rfields.sort();
    assert_eq!(rfields, ["isbn", "price_cents", "title", "year"]);
    let unknown_author = gql(&app, create, json!({"in": {"isbn": "9780000000019", "title": "X", "category": "FICTION", "year": 2000, "priceCents": 1, "stock": 1, "authorIds": ["424242"]}}), Some(&editor)).await;
    assert_eq!(
        unknown_author.body["errors"][0]["extensions"]["fields"][0]["field"],
        "authorIds"
    );

    // Partial update, and a stale expectedVersion is CONFLICT (REST: 412).
    let upd = "mutation($v: Int) { updateBook(isbn: \"9780306406157\", input: {stock: 9}, expectedVersion: $v) { stock title version } }";
    let ok = gql(&app, upd, json!({"v": 1}), Some(&editor)).await;
    assert_eq!(
        ok.body["data"]["updateBook"],
        json!({"stock": 9, "title": "Stories", "version": 2}),
        "{}",
        ok.text
    );
    let stale = gql(&app, upd, json!({"v": 1}), Some(&editor)).await;
    assert_eq!(code(&stale), "CONFLICT");
    let missing = gql(
        &app,
        "mutation { updateBook(isbn: \"9780000000019\", input: {stock: 1}) { stock } }",
        json!({}),
        Some(&editor),
    )
    .await;
    assert_eq!(code(&missing), "NOT_FOUND");

    let rename = gql(&app, "mutation($id: ID!) { renameAuthor(id: $id, name: \"Ted C.\", expectedVersion: 1) { name version } }", json!({"id": aid}), Some(&editor)).await;
    assert_eq!(
        rename.body["data"]["renameAuthor"],
        json!({"name": "Ted C.", "version": 2})
    );
    let book = gql(
        &app,
        "{ book(isbn: \"9780306406157\") { authors { name } } }",
        json!({}),
        None,
    )
    .await;
    assert_eq!(
        book.body["data"]["book"]["authors"][0]["name"], "Ted C.",
        "renames reach the books"
    );

    // Roles: editors may not delete; admins may.
    let del = "mutation { deleteBook(isbn: \"9780306406157\") }";
    assert_eq!(
        code(&gql(&app, del, json!({}), Some(&editor)).await),
        "FORBIDDEN"
    );
    let author_del = gql(
        &app,
        "mutation($id: ID!) { deleteAuthor(id: $id) }",
        json!({"id": aid}),
        Some(&admin),
    )
    .await;
    assert_eq!(code(&author_del), "CONFLICT", "the author still has books");
    assert_eq!(
        gql(&app, del, json!({}), Some(&admin)).await.body["data"]["deleteBook"],
        true
    );
    assert_eq!(app.get("/v1/book/9780306406157").await.status, 404);

    let mag =
        "mutation($in: CreateMagazineInput!) { createMagazine(input: $in) { id issn frequency } }";
    let m_in = json!({"title": "Nature", "issn": "0028-0836", "publisher": "NPG", "category": "SCIENCE", "frequency": "WEEKLY", "year": 1869, "priceCents": 1000});
    let m = gql(&app, mag, json!({"in": m_in}), Some(&editor)).await;
    assert_eq!(
        m.body["data"]["createMagazine"]["frequency"], "WEEKLY",
        "{}",
        m.text
    );
    assert_eq!(
        code(&gql(&app, mag, json!({"in": m_in}), Some(&editor)).await),
        "CONFLICT"
    );
    let mid = m.body["data"]["createMagazine"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let um = gql(&app, "mutation($id: ID!) { updateMagazine(id: $id, input: {priceCents: 1200}, expectedVersion: 1) { priceCents title version } }", json!({"id": mid}), Some(&editor)).await;
    assert_eq!(
        um.body["data"]["updateMagazine"],
        json!({"priceCents": 1200, "title": "Nature", "version": 2})
    );
    let q = gql(
        &app,
        "{ magazines(category: SCIENCE) { nodes { title } } }",
        json!({}),
        None,
    )
    .await;
    assert_eq!(
        q.body["data"]["magazines"]["nodes"],
        json!([{"title": "Nature"}])
    );
    assert_eq!(
        gql(
            &app,
            "mutation($id: ID!) { deleteMagazine(id: $id) }",
            json!({"id": mid}),
            Some(&admin)
        )
        .await
        .body["data"]["deleteMagazine"],
        true
    );

    let user = "mutation($in: CreateUserInput!) { createUser(input: $in) { username role } }";
    let u_in = json!({"username": "newbie", "email": "newbie@example.com", "password": "long enough password", "role": "EDITOR"});
    assert_eq!(
        code(&gql(&app, user, json!({"in": u_in}), Some(&editor)).await),
        "FORBIDDEN"
    );
    let u = gql(&app, user, json!({"in": u_in}), Some(&admin)).await;
    assert_eq!(
        u.body["data"]["createUser"],
        json!({"username": "newbie", "role": "EDITOR"})
    );
    assert_eq!(
        code(&gql(&app, user, json!({"in": u_in}), Some(&admin)).await),
        "CONFLICT"
    );
}

#[tokio::test]
async fn limits_are_refused_before_any_sql() {
    let app = TestApp::spawn().await;
    let deep = "{ authors { nodes { books { nodes { authors { books { nodes { authors { books { nodes { authors { name } } } } } } } } } } } }";
    let r = gql(&app, deep, json!({}), None).await;
    assert_eq!(code(&r), "BAD_USER_INPUT", "{}", r.text);
    assert_eq!(statements(&r), 0, "refused before SQL");
    let complex = "{ authors(first: 100) { nodes { books(first: 100) { nodes { authors { books(first: 100) { nodes { isbn } } } } } } } }";
    let r = gql(&app, complex, json!({}), None).await;
    assert!(r.text.to_lowercase().contains("complex"), "{}", r.text);
    assert_eq!(statements(&r), 0);
    let aliases: String = (0..31)
        .map(|i| format!("a{i}: me {{ username }} "))
        .collect();
    let r = gql(&app, &format!("{{ {aliases} }}"), json!({}), None).await;
    assert_eq!(code(&r), "BAD_USER_INPUT");
    assert!(r.text.contains("aliases"), "{}", r.text);
    assert_eq!(statements(&r), 0);
    // With a token the caller is authenticated only once the document passed every limit: a
    // refused query runs no SQL either way.
    let editor = app.editor_token().await;
    for query in [deep.to_owned(), format!("{{ {aliases} }}")] {
        let r = gql(&app, &query, json!({}), Some(&editor)).await;
        assert_eq!(code(&r), "BAD_USER_INPUT", "{}", r.text);
        assert_eq!(
            statements(&r),
            0,
            "refused before SQL with a token: {}",
            r.text
        );
    }
    // The same aliases inside a fragment are counted too.
    let fragment = format!("query {{ ...f }} fragment f on Query {{ {aliases} }}");
    let r = gql(&app, &fragment, json!({}), None).await;
    assert!(r.text.contains("aliases"), "{}", r.text);
    assert_eq!(statements(&r), 0);
    // No batched requests.
    let batch = send(
        app.req(Method::POST, "/graphql")
            .json(&json!([{"query": "{ me { id } }"}, {"query": "{ me { id } }"}])),
    )
    .await;
    assert_eq!(batch.status, 400);
    assert_eq!(code(&batch), "BAD_USER_INPUT");
    // Body limit applies to /graphql too.
    let huge = format!(
        "{{\"query\": \"{{ me {{ id }} }}\", \"variables\": {{\"x\": \"{}\"}}}}",
        "a".repeat(1_100_000)
    );
    let r = send(
        app.req(Method::POST, "/graphql")
            .header("content-type", "application/json")
            .body(huge),
    )
    .await;
    assert_eq!(r.status, 413, "{}", &r.text[..r.text.len().min(300)]);
    // Queries over GET work; mutations over GET do not.
    let r = app
        .get(
            "/graphql?query=%7B%20books(first%3A%201)%20%7B%20nodes%20%7B%20isbn%20%7D%20%7D%20%7D",
        )
        .await;
    r.expect(200);
    assert!(r.body["data"]["books"].is_object(), "{}", r.text);
    let r = app
        .get("/graphql?query=mutation%20%7B%20deleteBook(isbn%3A%20%229780000000019%22)%20%7D")
        .await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("POST"));
    // Malformed GraphQL gets a code too.
    assert_eq!(
        code(&gql(&app, "{ books(", json!({}), None).await),
        "BAD_USER_INPUT"
    );
}

#[tokio::test]
async fn introspection_and_suggestions_are_off_in_production() {
    let dev = TestApp::spawn().await;
    let q = "{ __schema { queryType { name } } }";
    assert_eq!(
        gql(&dev, q, json!({}), None).await.body["data"]["__schema"]["queryType"]["name"],
        "Query"
    );
    let prod = TestApp::spawn_with(|c| {
        c.env = bookstore::config::Environment::Production;
        c.graphql_introspection = false;
    })
    .await;
    let r = gql(&prod, q, json!({}), None).await;
    assert_eq!(
        code(&r),
        "INTROSPECTION_DISABLED",
        "introspection must be off: {}",
        r.text
    );
    assert!(r.body.get("data").is_none(), "{}", r.text);
    let typo = gql(&prod, "{ boks { nodes { isbn } } }", json!({}), None).await;
    assert!(
        !typo.text.contains("Did you mean"),
        "no field suggestions in production: {}",
        typo.text
    );
    let typo_dev = gql(&dev, "{ boks { nodes { isbn } } }", json!({}), None).await;
    assert!(typo_dev.text.contains("Did you mean"), "{}", typo_dev.text);
}

#[tokio::test]
async fn automatic_persisted_queries() {
    let app = TestApp::spawn().await;
    let query = "{ books(first: 1) { nodes { isbn } } }";
    let hash = {
        use sha2::Digest;
        format!("{:x}", sha2::Sha256::digest(query.as_bytes()))
    };
    let ext = json!({"persistedQuery": {"version": 1, "sha256Hash": hash}});
    let only_hash = send(
        app.req(Method::POST, "/graphql")
            .json(&json!({"extensions": ext})),
    )
    .await;
    assert_eq!(code(&only_hash), "PERSISTED_QUERY_NOT_FOUND");
    let full = send(
        app.req(Method::POST, "/graphql")
            .json(&json!({"query": query, "extensions": ext})),
    )
    .await;
    assert!(full.body["data"]["books"].is_object(), "{}", full.text);
    let again = send(
        app.req(Method::POST, "/graphql")
            .json(&json!({"extensions": ext})),
    )
    .await;
    assert!(again.body["data"]["books"].is_object(), "{}", again.text);
    let wrong = send(
        app.req(Method::POST, "/graphql")
            .json(&json!({"query": "{ me { id } }", "extensions": ext})),
    )
    .await;
    assert_eq!(code(&wrong), "BAD_USER_INPUT");
    let _ = Role::Admin;
}
