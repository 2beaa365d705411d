//! Users: creation by admins, the signed-in user's own account.

use bookstore::domain::Role;
use reqwest::Method;
use serde_json::json;

use crate::helpers::{TestApp, PASSWORD};

#[tokio::test]
async fn admin_creates_a_user_who_can_sign_in() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let r = app
        .post(
            "/v1/user",
            &admin,
            &json!({"username": "new.editor", "email": "New@Example.com", "password": "twelve chars!", "role": "editor"}),
        )
        .await;
    r.expect(201);
    assert!(r.header("location").is_some(), "201 carries Location");
    let mut keys: Vec<&str> = r
        .body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "created_at",
            "email",
            "id",
            "role",
            "updated_at",
            "username"
        ],
        "no password or hash ever leaves the server: {}",
        r.text
    );
    assert_eq!(r.body["username"], "new.editor");
    assert_eq!(r.body["role"], "editor");
    assert!(!r.text.contains("argon2"));

    let token = app.login("new.editor", "twelve chars!").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let me = app.get_auth("/v1/user", &token).await;
    me.expect(200);
    assert_eq!(me.body["id"], r.body["id"]);
    assert_eq!(me.body["email"], r.body["email"]);
    // The password is stored hashed with argon2id.
    let db = app.db().await;
    let row = db
        .query_one(
            "SELECT password_hash FROM users WHERE username = 'new.editor'",
            &[],
        )
        .await
        .unwrap();
    let hash: String = row.get(0);
    assert!(hash.starts_with("$argon2id$"), "{hash}");
}

#[tokio::test]
async fn duplicate_username_or_email_is_409() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let body = |u: &str, e: &str| json!({"username": u, "email": e, "password": PASSWORD, "role": "editor"});
    app.post("/v1/user", &admin, &body("kim", "kim@example.com"))
        .await
        .expect(201);
    let r = app
        .post("/v1/user", &admin, &body("kim", "other@example.com"))
        .await;
    r.problem(409);
    assert!(
        r.body["detail"].as_str().unwrap().contains("username"),
        "{}",
        r.text
    );
    // E-mail addresses are unique regardless of case.
    let r = app
        .post("/v1/user", &admin, &body("kim2", "KIM@example.com"))
        .await;
    r.problem(409);
    assert!(
        r.body["detail"].as_str().unwrap().contains("e-mail"),
        "{}",
        r.text
    );
    // Neither attempt created anything.
    let db = app.db().await;
    let n: i64 = db
        .query_one("SELECT count(*) FROM users", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 2);
}

#[tokio::test]
async fn user_validation_names_every_bad_field() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let r = app
        .post(
            "/v1/user",
            &admin,
            &json!({"username": "No Spaces", "email": "not-an-email", "password": "short", "role": "superuser"}),
        )
        .await;
    r.problem(422);
    let mut fields = r.error_fields();
    fields.sort();
    assert_eq!(fields, ["email", "password", "role", "username"]);
    // The submitted password is never echoed.
    assert!(!r.text.contains("short\""));

    let r = app.post("/v1/user", &admin, &json!({})).await;
    r.problem(422);
    let mut fields = r.error_fields();
    fields.sort();
    assert_eq!(fields, ["email", "password", "role", "username"]);

    // Clients may not set what the server owns.
    let r = app
        .post(
            "/v1/user",
            &admin,
            &json!({"username": "okname", "email": "ok@example.com", "password": PASSWORD, "role": "editor",
                    "id": 99, "password_hash": "$argon2id$x"}),
        )
        .await;
    r.problem(422);
    let mut fields = r.error_fields();
    fields.sort();
    assert_eq!(fields, ["id", "password_hash"]);

    // Boundaries: 3 and 32 characters, 12 and 128 character passwords.
    for (username, password, ok) in [
        ("abc", "x".repeat(12), true),
        (&"a".repeat(32) as &str, "y".repeat(128), true),
        ("ab", "z".repeat(12), false),
        (&"b".repeat(33), "z".repeat(12), false),
        ("okay", "w".repeat(11), false),
        ("okay2", "w".repeat(129), false),
    ] {
        let r = app
            .post(
                "/v1/user",
                &admin,
                &json!({"username": username, "email": format!("{username}@example.com"), "password": password, "role": "admin"}),
            )
            .await;
        r.expect(if ok { 201 } else { 422 });
    }
}

#[tokio::test]
async fn only_admins_create_users() {
    let app = TestApp::spawn().await;
    let editor = app.editor_token().await;
    let body = json!({"username": "sneaky", "email": "s@example.com", "password": PASSWORD, "role": "admin"});
    app.post("/v1/user", &editor, &body).await.problem(403);
    app.json(Method::POST, "/v1/user", None, &body)
        .await
        .problem(401);
    // Validation does not run before authorization: an anonymous bad body is still 401.
    app.json(Method::POST, "/v1/user", None, &json!({"x": 1}))
        .await
        .problem(401);
}

#[tokio::test]
async fn get_user_is_the_signed_in_user() {
    let app = TestApp::spawn().await;
    let user = app.create_user("lena", Role::Editor).await;
    let token = app.token("lena").await;
    let r = app.get_auth("/v1/user", &token).await;
    r.expect(200);
    assert_eq!(r.body["id"], user.id);
    assert_eq!(r.body["username"], "lena");
    assert_eq!(r.body["email"], "lena@localhost.localdomain");
    assert_eq!(r.body["role"], "editor");
    assert!(r.body.get("password_hash").is_none());
    // created_at/updated_at are RFC 3339 UTC.
    let created = r.body["created_at"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(created).is_ok() && created.ends_with('Z'),
        "{created}"
    );
    app.get("/v1/user").await.problem(401);
    // No password in URLs: the old "check a user" form does not exist.
    let r = app
        .get(&format!("/v1/user?username=lena&password={PASSWORD}"))
        .await;
    r.problem(401);
}

#[tokio::test]
async fn update_own_email() {
    let app = TestApp::spawn().await;
    app.create_user("mia", Role::Editor).await;
    app.create_user("noah", Role::Editor).await;
    let token = app.token("mia").await;
    let before = app.get_auth("/v1/user", &token).await.body;
    let r = app
        .put("/v1/user", &token, &json!({"email": "mia@example.org"}))
        .await;
    r.expect(200);
    assert_eq!(r.body["email"], "mia@example.org");
    assert_ne!(r.body["updated_at"], before["updated_at"]);
    // The token still works after an e-mail change.
    let me = app.get_auth("/v1/user", &token).await;
    me.expect(200);
    assert_eq!(me.body["email"], "mia@example.org");
    // Someone else's address (any case) is a conflict.
    let r = app
        .put(
            "/v1/user",
            &token,
            &json!({"email": "NOAH@localhost.localdomain"}),
        )
        .await;
    r.problem(409);
    // Keeping one's own address is fine.
    app.put("/v1/user", &token, &json!({"email": "MIA@example.org"}))
        .await
        .expect(200);
}

#[tokio::test]
async fn update_own_password_rules() {
    let app = TestApp::spawn().await;
    app.create_user("olga", Role::Editor).await;
    let token = app.token("olga").await;
    // A new password needs the current one...
    let r = app
        .put(
            "/v1/user",
            &token,
            &json!({"password": "a brand new password"}),
        )
        .await;
    r.problem(422);
    assert_eq!(r.error_fields(), ["current_password"]);
    // ...and the right one.
    let r = app
        .put(
            "/v1/user",
            &token,
            &json!({"password": "a brand new password", "current_password": "wrong wrong wrong"}),
        )
        .await;
    r.problem(422);
    assert_eq!(r.error_fields(), ["current_password"]);
    // Too short.
    let r = app
        .put(
            "/v1/user",
            &token,
            &json!({"password": "short", "current_password": PASSWORD}),
        )
        .await;
    r.problem(422);
    assert_eq!(r.error_fields(), ["password"]);
    // Nothing to change, or something not changeable here.
    app.put("/v1/user", &token, &json!({})).await.problem(422);
    let r = app.put("/v1/user", &token, &json!({"role": "admin"})).await;
    r.problem(422);
    assert!(r.error_fields().contains(&"role".to_owned()));
    // None of that changed anything: the old password and token still work.
    app.get_auth("/v1/user", &token).await.expect(200);
    app.login("olga", PASSWORD).await;
    // Anonymous.
    app.json(
        Method::PUT,
        "/v1/user",
        None,
        &json!({"email": "x@example.com"}),
    )
    .await
    .problem(401);
}

#[tokio::test]
async fn delete_own_account() {
    let app = TestApp::spawn().await;
    app.create_user("paul", Role::Admin).await;
    app.create_user("quinn", Role::Editor).await;
    let token = app.token("paul").await;
    let r = app.delete("/v1/user", &token).await;
    r.expect(204);
    assert!(r.text.is_empty());
    let db = app.db().await;
    let names: Vec<String> = db
        .query("SELECT username FROM users ORDER BY username", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(names, ["quinn"]);
    let refresh: i64 = db
        .query_one("SELECT count(*) FROM refresh_tokens", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(refresh, 0, "the account's refresh tokens go with it");
    send_anonymous_delete(&app).await;
}

async fn send_anonymous_delete(app: &TestApp) {
    let r = crate::helpers::send(app.req(Method::DELETE, "/v1/user")).await;
    r.problem(401);
}
