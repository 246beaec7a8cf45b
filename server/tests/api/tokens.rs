//! Personal access tokens: shown once, stored hashed, usable as bearer, revocable.

use axum::http::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use crate::support::{Auth, TestApp};

/// A token drives the API without a cookie or Origin, until it is revoked.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn token_lifecycle(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (session, _) = app.signup("ada@example.com", "Acme").await;
    let created = app.post("/api/v1/tokens", json!({"name": "incident script"}), &session).await;
    assert_eq!(created.status, StatusCode::CREATED);
    let token = created.body["token"].as_str().unwrap_or("").to_owned();
    assert!(token.starts_with("cs_pat_") && token.len() > 40);
    let id = created.body["id"].as_str().unwrap_or("").to_owned();

    let stored: Vec<u8> = sqlx::query_scalar("SELECT token_hash FROM personal_access_tokens")
        .fetch_one(&app.pool)
        .await
        .unwrap_or_default();
    assert_eq!(stored.len(), 32, "only a SHA-256 is stored");
    assert!(!String::from_utf8_lossy(&stored).contains(&token));

    let bearer = Auth::Bearer(token.clone());
    let no_origin = [("origin", "")];
    let list = app.send(Method::GET, "/api/v1/tokens", None, &bearer, &[]).await;
    assert_eq!(list.body[0]["name"], "incident script");
    assert!(list.body[0].get("token").is_none(), "the token is never listed");
    let made =
        app.send(Method::POST, "/api/v1/workspaces", Some(json!({"name": "Scripted"})), &bearer, &no_origin).await;
    assert_eq!(made.status, StatusCode::CREATED, "bearer requests need no Origin");

    let revoked = app.delete(&format!("/api/v1/tokens/{id}"), &session).await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    let after = app.get("/api/v1/workspaces", &bearer).await;
    assert_eq!((after.status, after.code()), (StatusCode::UNAUTHORIZED, "unauthorized"));
    assert_eq!(app.audit_count("token.revoked").await, 1);
}

/// Another account's token cannot be revoked (404), and unknown tokens are refused.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn tokens_are_private_to_their_account(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (ada, _) = app.signup("ada@example.com", "Acme").await;
    let (bob, _) = app.signup("bob@example.com", "Bobco").await;
    let created = app.post("/api/v1/tokens", json!({"name": "ci"}), &ada).await;
    let id = created.body["id"].as_str().unwrap_or("").to_owned();
    let reply = app.delete(&format!("/api/v1/tokens/{id}"), &bob).await;
    assert_eq!((reply.status, reply.code()), (StatusCode::NOT_FOUND, "not_found"));
    let forged = app.get("/api/v1/workspaces", &Auth::Bearer("cs_pat_forged".into())).await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
}
