//! Magazines: create, read, list and filter, replace, delete.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{id_of, magazine_body, send, TestApp};

// Valid ISSNs (check characters computed by hand from the mod-11 rule).
const ISSN_A: &str = "2049-3630";
const ISSN_B: &str = "0317-8471";
const ISSN_X: &str = "1000-002X";

#[tokio::test]
async fn create_and_read_a_magazine() {
    let app = TestApp::spawn().await;
    let editor = app.editor_token().await;
    let r = app
        .post(
            "/v1/magazine",
            &editor,
            &magazine_body(" Nature Weekly ", ISSN_A),
        )
        .await;
    r.expect(201);
    let id = id_of(&r.body);
    assert_eq!(
        r.header("location"),
        Some(format!("/v1/magazine/{id}").as_str())
    );
    assert_eq!(r.header("etag"), Some("\"1\""));
    let m = &r.body;
    assert_eq!(m["title"], "Nature Weekly");
    assert_eq!(m["issn"], ISSN_A);
    assert_eq!(m["publisher"], "Acme Press");
    assert_eq!(m["category"], "science");
    assert_eq!(m["frequency"], "monthly");
    assert_eq!(m["year"], 2010);
    assert_eq!(m["price_cents"], 650);
    assert_eq!(m["version"], 1);
    let mut keys: Vec<&str> = m.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "category",
            "created_at",
            "frequency",
            "id",
            "issn",
            "price_cents",
            "publisher",
            "title",
            "updated_at",
            "version",
            "year"
        ]
    );
    let got = app.get(&format!("/v1/magazine/{id}")).await;
    got.expect(200);
    assert_eq!(&got.body, m);
    // A lowercase x check character is accepted and stored upper-case.
    let r = app
        .post(
            "/v1/magazine",
            &editor,
            &magazine_body("X Files", &ISSN_X.to_lowercase()),
        )
        .await;
    r.expect(201);
    assert_eq!(r.body["issn"], ISSN_X);
}

#[tokio::test]
async fn magazine_validation() {
    let app = TestApp::spawn().await;
    let editor = app.editor_token().await;
    let r = app
        .post(
            "/v1/magazine",
            &editor,
            &json!({"title": "", "issn": "2049-3631", "publisher": "", "category": "comics",
                    "frequency": "daily", "year": 3000, "price_cents": -5, "id": 3}),
        )
        .await;
    r.problem(422);
    let mut fields = r.error_fields();
    fields.sort();
    assert_eq!(
        fields,
        [
            "category",
            "frequency",
            "id",
            "issn",
            "price_cents",
            "publisher",
            "title",
            "year"
        ]
    );
    let r = app.post("/v1/magazine", &editor, &json!({})).await;
    r.problem(422);
    assert_eq!(r.error_fields().len(), 7);

    for (issn, ok) in [
        (ISSN_B, true),
        ("20493630", false),
        ("2049-363", false),
        ("2049-36300", false),
        ("X049-3630", false),
        ("2049-3631", false),
        ("1000-0060", false),
    ] {
        let r = app
            .post("/v1/magazine", &editor, &magazine_body("T", issn))
            .await;
        if ok {
            r.expect(201);
        } else {
            r.problem(422);
            assert_eq!(r.error_fields(), ["issn"], "{issn}");
        }
    }
    for frequency in ["weekly", "biweekly", "monthly", "quarterly", "yearly"] {
        let mut body = magazine_body("F", ISSN_A);
        body["frequency"] = json!(frequency);
        let r = app.post("/v1/magazine", &editor, &body).await;
        // Only the first can take the ISSN; the rest are conflicts, not validation errors.
        assert!(
            matches!(r.status.as_u16(), 201 | 409),
            "{frequency}: {}",
            r.text
        );
    }
}

#[tokio::test]
async fn duplicate_issn_is_409() {
    let app = TestApp::spawn().await;
    let editor = app.editor_token().await;
    app.post("/v1/magazine", &editor, &magazine_body("One", ISSN_A))
        .await
        .expect(201);
    let r = app
        .post("/v1/magazine", &editor, &magazine_body("Two", ISSN_A))
        .await;
    r.problem(409);
    assert!(
        r.body["detail"].as_str().unwrap().contains("ISSN"),
        "{}",
        r.text
    );
    let r = app.get("/v1/magazines").await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn magazine_ids_and_roles() {
    let app = TestApp::spawn().await;
    let editor = app.editor_token().await;
    let admin = app.admin_token().await;
    let id = id_of(
        &app.post("/v1/magazine", &editor, &magazine_body("M", ISSN_A))
            .await
            .body,
    );
    app.get("/v1/magazine/777").await.problem(404);
    for bad in ["abc", "0", "-3"] {
        let r = app.get(&format!("/v1/magazine/{bad}")).await;
        r.problem(400);
        r.assert_names_param("id");
    }
    let path = format!("/v1/magazine/{id}");
    app.json(
        Method::POST,
        "/v1/magazine",
        None,
        &magazine_body("N", ISSN_B),
    )
    .await
    .problem(401);
    app.json(Method::PUT, &path, None, &magazine_body("N", ISSN_A))
        .await
        .problem(401);
    send(app.req(Method::DELETE, &path)).await.problem(401);
    app.delete(&path, &editor).await.problem(403);
    app.get(&path).await.expect(200);
    let r = app.delete(&path, &admin).await;
    r.expect(204);
    assert!(r.text.is_empty());
    app.get(&path).await.problem(404);
    app.delete(&path, &admin).await.problem(404);
    app.put(&path, &admin, &magazine_body("N", ISSN_A))
        .await
        .problem(404);
}

#[tokio::test]
async fn replace_a_magazine() {
    let app = TestApp::spawn().await;
    let editor = app.editor_token().await;
    let first = app
        .post("/v1/magazine", &editor, &magazine_body("First", ISSN_A))
        .await
        .body;
    let second = app
        .post("/v1/magazine", &editor, &magazine_body("Second", ISSN_B))
        .await
        .body;
    let path = format!("/v1/magazine/{}", id_of(&first));
    let replacement = json!({
        "title": "First, Renamed", "issn": ISSN_X, "publisher": "Other House", "category": "history",
        "frequency": "quarterly", "year": 1999, "price_cents": 0,
    });
    let r = app.put(&path, &editor, &replacement).await;
    r.expect(200);
    assert_eq!(r.header("etag"), Some("\"2\""));
    for (k, v) in replacement.as_object().unwrap() {
        assert_eq!(&r.body[k], v, "{k}");
    }
    assert_eq!(r.body["id"], first["id"]);
    assert_eq!(r.body["version"], 2);
    assert_eq!(r.body["created_at"], first["created_at"]);
    let got = app.get(&path).await;
    assert_eq!(got.body, r.body);
    // Taking another magazine's ISSN is a conflict.
    let mut clash = replacement.clone();
    clash["issn"] = second["issn"].clone();
    app.put(&path, &editor, &clash).await.problem(409);
    // A partial body is not a replacement.
    let r = app.put(&path, &editor, &json!({"title": "Only"})).await;
    r.problem(422);
    assert_eq!(r.error_fields().len(), 6);
    let mut with_id = replacement.clone();
    with_id["id"] = json!(99);
    let r = app.put(&path, &editor, &with_id).await;
    r.problem(422);
    assert_eq!(r.error_fields(), ["id"]);
    assert_eq!(
        app.get(&path).await.body,
        got.body,
        "refused PUTs change nothing"
    );
}

fn ids(page: &Value) -> Vec<i64> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(id_of)
        .collect()
}

#[tokio::test]
async fn list_and_filter_magazines() {
    let app = TestApp::spawn().await;
    let editor = app.editor_token().await;
    // Valid ISSNs from the data set's numbering: 1000-001C .. (computed by the seed helper).
    let issns: Vec<String> = (1..=7)
        .map(|i| bookstore::domain::Issn::from_number(1_000_000 + i).into_string())
        .collect();
    let rows = [
        ("science", "weekly", 2000),
        ("history", "monthly", 2000),
        ("science", "monthly", 2001),
        ("fiction", "yearly", 2002),
        ("science", "weekly", 2002),
        ("history", "biweekly", 2003),
        ("science", "quarterly", 2000),
    ];
    let mut made = Vec::new();
    for (i, (category, frequency, year)) in rows.iter().enumerate() {
        let mut body = magazine_body(&format!("Mag {i}"), &issns[i]);
        body["category"] = json!(category);
        body["frequency"] = json!(frequency);
        body["year"] = json!(year);
        let r = app.post("/v1/magazine", &editor, &body).await;
        r.expect(201);
        made.push(id_of(&r.body));
    }
    let pick = |idx: &[usize]| idx.iter().map(|&i| made[i]).collect::<Vec<_>>();
    for (q, want) in [
        ("", pick(&[0, 1, 2, 3, 4, 5, 6])),
        ("category=science", pick(&[0, 2, 4, 6])),
        ("frequency=monthly", pick(&[1, 2])),
        ("year=2000", pick(&[0, 1, 6])),
        ("category=science&frequency=weekly&year=2002", pick(&[4])),
        ("year=1800", vec![]),
    ] {
        let r = app.get(&format!("/v1/magazines?{q}")).await;
        r.expect(200);
        assert_eq!(ids(&r.body), want, "{q}");
    }
    // Pages of three.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = match &cursor {
            Some(c) => format!("/v1/magazines?limit=3&category=science&cursor={c}"),
            None => "/v1/magazines?limit=3&category=science".to_owned(),
        };
        let r = app.get(&q).await;
        r.expect(200);
        seen.extend(ids(&r.body));
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, pick(&[0, 2, 4, 6]));
    for (q, param) in [
        ("frequency=daily", "frequency"),
        ("category=comics", "category"),
        ("year=x", "year"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("cursor=%%%", "cursor"),
    ] {
        let r = app.get(&format!("/v1/magazines?{q}")).await;
        r.problem(400);
        r.assert_names_param(param);
    }
}
