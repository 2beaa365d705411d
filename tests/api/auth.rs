//! The token endpoint (OAuth2 password and refresh grants) and bearer-token checks.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use bookstore::domain::Role;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{send, Resp, TestApp, PASSWORD};

async fn password_grant_form(app: &TestApp, username: &str, password: &str) -> Resp {
    send(app.req(Method::POST, "/v1/token").form(&[
        ("grant_type", "password"),
        ("username", username),
        ("password", password),
    ]))
    .await
}

async fn refresh_grant(app: &TestApp, refresh_token: &str) -> Resp {
    send(app.req(Method::POST, "/v1/token").form(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ]))
    .await
}

fn jwt_part(token: &str, i: usize) -> Value {
    let part = token.split('.').nth(i).expect("a JWT has three parts");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("JSON")
}

#[track_caller]
fn assert_token_pair(r: &Resp) {
    r.expect(200);
    assert_eq!(r.header("cache-control"), Some("no-store"), "{r:?}");
    let b = &r.body;
    assert_eq!(b["token_type"], "Bearer");
    assert_eq!(b["expires_in"], 900);
    assert!(b["refresh_token"].as_str().is_some_and(|t| t.len() >= 32));
    let access = b["access_token"].as_str().expect("access_token");
    assert_eq!(access.split('.').count(), 3, "a JWT: {access}");
    let keys: Vec<&String> = b.as_object().unwrap().keys().collect();
    assert_eq!(
        keys.len(),
        4,
        "exactly access_token, token_type, expires_in, refresh_token: {b}"
    );
}

#[tokio::test]
async fn password_grant_with_a_form_body() {
    let app = TestApp::spawn().await;
    let user = app.create_user("alice", Role::Editor).await;
    let r = password_grant_form(&app, "alice", PASSWORD).await;
    assert_token_pair(&r);
    let access = r.body["access_token"].as_str().unwrap();

    let header = jwt_part(access, 0);
    assert_eq!(header["alg"], "HS256");
    let claims = jwt_part(access, 1);
    assert_eq!(claims["sub"], user.id.to_string());
    assert_eq!(claims["role"], "editor");
    assert_eq!(claims["iss"], "bookstore");
    assert_eq!(claims["aud"], "bookstore-api");
    assert!(claims["jti"].as_str().is_some_and(|j| !j.is_empty()));
    let (iat, nbf, exp) = (
        claims["iat"].as_i64().unwrap(),
        claims["nbf"].as_i64().unwrap(),
        claims["exp"].as_i64().unwrap(),
    );
    assert!(nbf <= iat + 1 && exp - iat == 900, "{claims}");

    let me = app.get_auth("/v1/user", access).await;
    me.expect(200);
    assert_eq!(me.body["username"], "alice");
    assert_eq!(me.body["role"], "editor");

    // Every login gets its own jti.
    let again = password_grant_form(&app, "alice", PASSWORD).await;
    assert_token_pair(&again);
    let other = jwt_part(again.body["access_token"].as_str().unwrap(), 1);
    assert_ne!(other["jti"], claims["jti"]);
}

#[tokio::test]
async fn password_grant_with_a_json_body() {
    let app = TestApp::spawn().await;
    app.create_user("bob", Role::Admin).await;
    let r = send(app.req(Method::POST, "/v1/token").json(&json!({
        "grant_type": "password", "username": "bob", "password": PASSWORD,
    })))
    .await;
    assert_token_pair(&r);
    let claims = jwt_part(r.body["access_token"].as_str().unwrap(), 1);
    assert_eq!(claims["role"], "admin");
}

#[tokio::test]
async fn token_endpoint_rejects_bad_requests() {
    let app = TestApp::spawn().await;
    app.create_user("carol", Role::Editor).await;
    // No grant_type.
    let r = send(
        app.req(Method::POST, "/v1/token")
            .form(&[("username", "carol"), ("password", PASSWORD)]),
    )
    .await;
    r.problem(400);
    r.assert_names_param("grant_type");
    // An unsupported grant.
    let r = send(
        app.req(Method::POST, "/v1/token")
            .form(&[("grant_type", "client_credentials")]),
    )
    .await;
    r.problem(400);
    r.assert_names_param("grant_type");
    // Missing password.
    let r = send(
        app.req(Method::POST, "/v1/token")
            .form(&[("grant_type", "password"), ("username", "carol")]),
    )
    .await;
    r.problem(400);
    r.assert_names_param("password");
    // Neither a form nor JSON.
    let r = send(
        app.req(Method::POST, "/v1/token")
            .header("content-type", "text/plain")
            .body("grant_type=password"),
    )
    .await;
    r.problem(415);
    // None of these may come with a token.
    assert!(r.body.get("access_token").is_none());
}

/// Removes the members that legitimately differ between two requests.
fn comparable(r: &Resp) -> Value {
    let mut b = r.body.clone();
    let o = b.as_object_mut().expect("problem object");
    o.remove("request_id");
    o.remove("instance");
    b
}

#[tokio::test]
async fn wrong_username_and_wrong_password_are_indistinguishable() {
    let app = TestApp::spawn().await;
    app.create_user("dave", Role::Editor).await;
    let wrong_password = password_grant_form(&app, "dave", "not the right password").await;
    let wrong_user = password_grant_form(&app, "nobody", PASSWORD).await;
    wrong_password.problem(401);
    wrong_user.problem(401);
    assert_eq!(comparable(&wrong_password), comparable(&wrong_user));
    assert_eq!(
        wrong_password.header("www-authenticate"),
        wrong_user.header("www-authenticate")
    );
    assert_eq!(
        wrong_password.header("cache-control"),
        wrong_user.header("cache-control")
    );
    // Same through JSON, and for an empty-looking but present username.
    let json_wrong = send(app.req(Method::POST, "/v1/token").json(&json!({
        "grant_type": "password", "username": "DAVE", "password": PASSWORD,
    })))
    .await;
    json_wrong.problem(401);
    assert_eq!(comparable(&json_wrong), comparable(&wrong_user));
    // The detail says nothing about which part was wrong.
    let detail = wrong_user.body["detail"].as_str().unwrap().to_lowercase();
    assert!(!detail.contains("not found") && !detail.contains("unknown user"));
}

#[tokio::test]
async fn refresh_rotates_the_pair_and_works_once() {
    let app = TestApp::spawn().await;
    app.create_user("erin", Role::Editor).await;
    let first = app.login("erin", PASSWORD).await;
    let r1 = first["refresh_token"].as_str().unwrap();

    let second = refresh_grant(&app, r1).await;
    assert_token_pair(&second);
    let r2 = second.body["refresh_token"].as_str().unwrap();
    assert_ne!(r1, r2, "the refresh token rotates");
    assert_ne!(first["access_token"], second.body["access_token"]);
    let me = app
        .get_auth("/v1/user", second.body["access_token"].as_str().unwrap())
        .await;
    me.expect(200);
    assert_eq!(me.body["username"], "erin");

    // JSON works for the refresh grant too, and the new token is good exactly once.
    let third = send(app.req(Method::POST, "/v1/token").json(&json!({
        "grant_type": "refresh_token", "refresh_token": r2,
    })))
    .await;
    assert_token_pair(&third);

    // An unknown refresh token is a 401 like a bad password.
    let unknown = refresh_grant(&app, "bm90LWEtcmVhbC10b2tlbi1hdC1hbGwtbm90LWV2ZW4tY2xvc2U").await;
    unknown.problem(401);
}

#[tokio::test]
async fn reusing_a_refresh_token_revokes_its_family() {
    let app = TestApp::spawn().await;
    app.create_user("frank", Role::Editor).await;
    let login = app.login("frank", PASSWORD).await;
    let r1 = login["refresh_token"].as_str().unwrap().to_owned();
    // A second, independent login (another device): a different family.
    let other_device = app.login("frank", PASSWORD).await;
    let o1 = other_device["refresh_token"].as_str().unwrap().to_owned();

    let rotated = refresh_grant(&app, &r1).await;
    assert_token_pair(&rotated);
    let r2 = rotated.body["refresh_token"].as_str().unwrap().to_owned();

    // The thief replays r1: refused, and the whole family dies, r2 included.
    refresh_grant(&app, &r1).await.problem(401);
    let r = refresh_grant(&app, &r2).await;
    r.problem(401);
    // The other family is untouched.
    assert_token_pair(&refresh_grant(&app, &o1).await);
}

/// Signs `claims` with the app's secret (or `secret`) and `alg`.
fn forge(app: &TestApp, alg: Algorithm, claims: &Value, secret: Option<&[u8]>) -> String {
    let key = EncodingKey::from_secret(secret.unwrap_or(&app.state.config.jwt_secret));
    jsonwebtoken::encode(&Header::new(alg), claims, &key).expect("encode")
}

fn claims_for(user_id: i64, role: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "sub": user_id.to_string(), "role": role, "iat": now, "nbf": now, "exp": now + 600,
        "iss": "bookstore", "aud": "bookstore-api", "jti": uuid::Uuid::new_v4().to_string(), "sep": 1,
    })
}

#[track_caller]
fn assert_invalid_token(r: &Resp, what: &str) {
    assert_eq!(r.status.as_u16(), 401, "{what}: {r:?}");
    crate::helpers::assert_problem_shape(r);
    let www = r.header("www-authenticate").unwrap_or_default();
    assert!(
        www.starts_with("Bearer") && www.contains("error=\"invalid_token\""),
        "{what}: WWW-Authenticate {www:?}"
    );
}

#[tokio::test]
async fn access_tokens_are_checked_strictly() {
    let app = TestApp::spawn().await;
    let user = app.create_user("grace", Role::Admin).await;
    let good = claims_for(user.id, "admin");

    // Control: a well-formed token signed with the server's key works.
    let ok = forge(&app, Algorithm::HS256, &good, None);
    app.get_auth("/v1/user", &ok).await.expect(200);

    let now = chrono::Utc::now().timestamp();
    let mut cases: Vec<(&str, String)> = Vec::new();

    let mut expired = good.clone();
    expired["iat"] = json!(now - 7200);
    expired["nbf"] = json!(now - 7200);
    expired["exp"] = json!(now - 3600);
    cases.push(("expired", forge(&app, Algorithm::HS256, &expired, None)));

    let mut early = good.clone();
    early["nbf"] = json!(now + 3600);
    early["exp"] = json!(now + 7200);
    cases.push(("not yet valid", forge(&app, Algorithm::HS256, &early, None)));

    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&good).unwrap());
    cases.push(("alg none", format!("{header}.{body}.")));
    // alg none with the genuine signature appended still may not pass.
    let genuine_sig = ok.rsplit('.').next().unwrap();
    cases.push((
        "alg none + signature",
        format!("{header}.{body}.{genuine_sig}"),
    ));

    cases.push((
        "HS512 (algorithm switching)",
        forge(&app, Algorithm::HS512, &good, None),
    ));
    cases.push((
        "wrong secret",
        forge(&app, Algorithm::HS256, &good, Some(&[7u8; 48])),
    ));

    let mut iss = good.clone();
    iss["iss"] = json!("someone-else");
    cases.push(("wrong iss", forge(&app, Algorithm::HS256, &iss, None)));
    let mut aud = good.clone();
    aud["aud"] = json!("another-api");
    cases.push(("wrong aud", forge(&app, Algorithm::HS256, &aud, None)));

    for claim in ["jti", "exp", "iss", "aud", "sub"] {
        let mut missing = good.clone();
        missing.as_object_mut().unwrap().remove(claim);
        let name: &'static str = Box::leak(format!("missing {claim}").into_boxed_str());
        cases.push((name, forge(&app, Algorithm::HS256, &missing, None)));
    }

    let mut ghost = good.clone();
    ghost["sub"] = json!((user.id + 1000).to_string());
    cases.push(("unknown user", forge(&app, Algorithm::HS256, &ghost, None)));

    // Tampering with the payload breaks the signature.
    let mut parts: Vec<String> = ok.split('.').map(str::to_owned).collect();
    let mut longer = good.clone();
    longer["exp"] = json!(now + 86_400);
    parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&longer).unwrap());
    cases.push(("tampered payload", parts.join(".")));
    cases.push(("garbage", "not-a-jwt".to_owned()));

    for (what, token) in &cases {
        let r = app.get_auth("/v1/user", token).await;
        assert_invalid_token(&r, what);
        // A bad token is never silently anonymous, even where no token is needed.
        let r = app.get_auth("/v1/books", token).await;
        assert_invalid_token(&r, what);
    }
}

#[tokio::test]
async fn unauthenticated_vs_forbidden() {
    let app = TestApp::spawn().await;
    let editor = app.editor_token().await;
    let admin = app.admin_token().await;
    let author = app.create_author(&admin, "Someone").await;
    let id = author["id"].as_i64().unwrap();

    // No token: 401 with a bare Bearer challenge (no error attribute).
    let r = app
        .json(Method::POST, "/v1/author", None, &json!({"name": "X"}))
        .await;
    r.problem(401);
    let www = r.header("www-authenticate").expect("WWW-Authenticate");
    assert!(www.starts_with("Bearer"), "{www}");
    assert!(!www.contains("error="), "no token sent, so no error: {www}");
    let r = app.get("/v1/user").await;
    r.problem(401);
    assert!(!r.header("www-authenticate").unwrap().contains("error="));

    // A token that does not work: 401 invalid_token.
    let r = app
        .post("/v1/author", "abc.def.ghi", &json!({"name": "X"}))
        .await;
    assert_invalid_token(&r, "garbage bearer");
    // Another scheme, or an empty bearer, is an invalid token, not anonymous.
    for value in ["Basic YWxpY2U6c2VjcmV0", "Bearer", "Bearer    "] {
        let r = send(
            app.req(Method::POST, "/v1/author")
                .header("authorization", value)
                .json(&json!({"name": "X"})),
        )
        .await;
        assert_invalid_token(&r, value);
    }

    // A valid token without the role: 403, no challenge.
    let r = app.delete(&format!("/v1/author/{id}"), &editor).await;
    r.problem(403);
    assert!(r.header("www-authenticate").is_none());
    let r = app
        .post(
            "/v1/user",
            &editor,
            &json!({"username": "zed", "email": "z@example.com", "password": PASSWORD, "role": "editor"}),
        )
        .await;
    r.problem(403);
    // Nothing happened.
    app.get(&format!("/v1/author/{id}")).await.expect(200);
    // The admin may.
    app.delete(&format!("/v1/author/{id}"), &admin)
        .await
        .expect(204);
}

#[tokio::test]
async fn tokens_die_after_a_password_change() {
    let app = TestApp::spawn().await;
    app.create_user("heidi", Role::Editor).await;
    let pair = app.login("heidi", PASSWORD).await;
    let access = pair["access_token"].as_str().unwrap();
    let refresh = pair["refresh_token"].as_str().unwrap();
    let new_password = "an entirely new passphrase";

    let r = app
        .put(
            "/v1/user",
            access,
            &json!({"password": new_password, "current_password": PASSWORD}),
        )
        .await;
    r.expect(200);
    assert!(r.body.get("password").is_none() && r.body.get("password_hash").is_none());

    assert_invalid_token(&app.get_auth("/v1/user", access).await, "old access token");
    refresh_grant(&app, refresh).await.problem(401);
    password_grant_form(&app, "heidi", PASSWORD)
        .await
        .problem(401);
    let fresh = app.login("heidi", new_password).await;
    app.get_auth("/v1/user", fresh["access_token"].as_str().unwrap())
        .await
        .expect(200);
}

#[tokio::test]
async fn tokens_die_with_the_account() {
    let app = TestApp::spawn().await;
    app.create_user("ivan", Role::Editor).await;
    let pair = app.login("ivan", PASSWORD).await;
    let access = pair["access_token"].as_str().unwrap();
    let refresh = pair["refresh_token"].as_str().unwrap();

    app.delete("/v1/user", access).await.expect(204);

    assert_invalid_token(&app.get_auth("/v1/user", access).await, "deleted user");
    assert_invalid_token(
        &app.delete("/v1/user", access).await,
        "deleting a deleted user",
    );
    refresh_grant(&app, refresh).await.problem(401);
    password_grant_form(&app, "ivan", PASSWORD)
        .await
        .problem(401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_uses_of_one_refresh_token_let_exactly_one_through() {
    let app = TestApp::spawn().await;
    app.create_user("judy", Role::Editor).await;
    let pair = app.login("judy", PASSWORD).await;
    let refresh = pair["refresh_token"].as_str().unwrap().to_owned();
    let attempts = (0..6).map(|_| refresh_grant(&app, &refresh));
    let results = futures::future::join_all(attempts).await;
    let ok = results.iter().filter(|r| r.status == 200).count();
    assert_eq!(ok, 1, "{results:?}");
    for r in results.iter().filter(|r| r.status != 200) {
        r.problem(401);
    }
}
