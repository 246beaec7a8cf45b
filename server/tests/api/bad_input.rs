//! Bad input gets the contract's JSON error, never a 500, and changes nothing.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use crate::support::{Auth, TestApp, ORIGIN};

fn post_raw(path: &str, body: impl Into<Body>, auth: &Auth) -> Request<Body> {
    let mut request =
        Request::post(path).header(header::CONTENT_TYPE, "application/json").header(header::ORIGIN, ORIGIN);
    if let Auth::Cookie(token) = auth {
        request = request.header(header::COOKIE, format!("cs_session={token}"));
    }
    request.body(body.into()).expect("request")
}

/// Malformed JSON, wrong types and missing fields are 400 `invalid_request`.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn malformed_bodies(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (session, workspace) = app.signup("ada@example.com", "Acme").await;
    let invitations = format!("/api/v1/workspaces/{workspace}/invitations");
    for (path, body) in [
        ("/api/v1/auth/login", "{not json"),
        ("/api/v1/auth/login", "[]"),
        ("/api/v1/auth/login", r#"{"email": 5, "password": "x"}"#),
        ("/api/v1/workspaces", r#"{"name": null}"#),
        ("/api/v1/workspaces", ""),
        (invitations.as_str(), r#"{"email": "x@y.io", "role": "superuser"}"#),
        (invitations.as_str(), r#"{"email": "x@y.io", "role": "Owner"}"#),
        (invitations.as_str(), r#"{"email": "x@y.io", "role": "admin", "password": "x"}"#),
        ("/api/v1/invitations/accept", r#"{"token": 5}"#),
        ("/api/v1/account/password", r#"{"current_password": "x"}"#),
    ] {
        let reply = app.raw(post_raw(path, body, &session)).await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::BAD_REQUEST, "invalid_request"),
            "{path} {body}: {}",
            reply.body
        );
        assert!(reply.body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM members").fetch_one(&app.pool).await.unwrap_or(-1);
    assert_eq!(count, 1);
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM invitations").fetch_one(&app.pool).await.unwrap_or(-1);
    assert_eq!(count, 0);
}

/// A body over 64 KiB is 413 `payload_too_large`.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn oversize_body(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (session, _) = app.signup("ada@example.com", "Acme").await;
    let huge = json!({"name": "x".repeat(70 * 1024)}).to_string();
    let reply = app.raw(post_raw("/api/v1/workspaces", huge, &session)).await;
    assert_eq!((reply.status, reply.code()), (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"));
}

/// Unknown ids, unparsable ids and unknown API paths are JSON 404s; wrong methods are JSON too.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn unknown_things(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (session, workspace) = app.signup("ada@example.com", "Acme").await;
    for path in ["/api/v1/workspaces/not-a-uuid/members".to_owned(), "/api/v1/nothing-here".to_owned()] {
        let reply = app.get(&path, &session).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(reply.code(), "not_found", "{path}");
    }
    for id in ["00000000-0000-4000-8000-000000000000", "not-a-uuid"] {
        let reply = app.delete(&format!("/api/v1/workspaces/{workspace}/members/{id}"), &session).await;
        assert_eq!((reply.status, reply.code()), (StatusCode::NOT_FOUND, "not_found"), "{id}");
    }
    let wrong_method = app.delete("/api/v1/workspaces", &session).await;
    assert_eq!((wrong_method.status, wrong_method.code()), (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"));
    let unauthenticated = app.get("/api/v1/workspaces", &Auth::None).await;
    assert_eq!((unauthenticated.status, unauthenticated.code()), (StatusCode::UNAUTHORIZED, "unauthorized"));
}
