//! Where you are signed in, and password changes (which end every other session).

use axum::http::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use crate::support::{session_of, Auth, TestApp, PASSWORD};

const NEW_PASSWORD: &str = "a-brand-new-passphrase";

/// Signs in with a user agent; returns the session.
async fn login_as(app: &TestApp, agent: &str) -> Auth {
    let body = Some(json!({"email": "ada@example.com", "password": PASSWORD}));
    let reply = app.send(Method::POST, "/api/v1/auth/login", body, &Auth::None, &[("user-agent", agent)]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    session_of(&reply)
}

/// The list shows each session once with "this device" marked; one can be signed out, another
/// account's session is 404, and "everywhere else" keeps only the current one.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn list_and_end_sessions(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (first, _) = app.signup("ada@example.com", "Acme").await;
    let laptop = login_as(&app, "Laptop").await;
    let phone = login_as(&app, "Phone").await;
    let list = app.get("/api/v1/account/sessions", &laptop).await;
    assert_eq!(list.status, StatusCode::OK);
    let sessions = list.body.as_array().cloned().unwrap_or_default();
    assert_eq!(sessions.len(), 3);
    let current: Vec<_> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["user_agent"], "Laptop");
    assert!(!list.body.to_string().contains("id_hash"));
    let phone_id = sessions
        .iter()
        .find(|s| s["user_agent"] == "Phone")
        .map(|s| s["id"].as_str().unwrap_or("").to_owned())
        .unwrap_or_default();

    let (bob, _) = app.signup("bob@example.com", "Bobco").await;
    let foreign = app.delete(&format!("/api/v1/account/sessions/{phone_id}"), &bob).await;
    assert_eq!((foreign.status, foreign.code()), (StatusCode::NOT_FOUND, "not_found"));
    assert_eq!(app.get("/api/v1/workspaces", &phone).await.status, StatusCode::OK, "bob ended nothing");

    assert_eq!(
        app.delete(&format!("/api/v1/account/sessions/{phone_id}"), &laptop).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.get("/api/v1/workspaces", &phone).await.code(), "unauthorized");
    assert_eq!(app.delete(&format!("/api/v1/account/sessions/{phone_id}"), &laptop).await.code(), "not_found");

    let others = app.delete("/api/v1/account/sessions", &laptop).await;
    assert_eq!((others.status, others.body["ended"].as_u64()), (StatusCode::OK, Some(1)));
    assert_eq!(app.get("/api/v1/workspaces", &first).await.code(), "unauthorized");
    assert_eq!(app.get("/api/v1/account/sessions", &laptop).await.body.as_array().map(Vec::len), Some(1));
    assert_eq!(app.get("/api/v1/workspaces", &bob).await.status, StatusCode::OK, "other accounts keep theirs");
    assert_eq!(app.audit_count("session.ended").await, 1);
    assert_eq!(app.audit_count("session.ended_others").await, 1);
}

/// A password change needs the current password, ends every other session (not this one), and
/// the old password stops working.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn password_change_ends_other_sessions(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (here, _) = app.signup("ada@example.com", "Acme").await;
    let elsewhere = app.login("ada@example.com", PASSWORD).await;
    let path = "/api/v1/account/password";
    let wrong =
        app.post(path, json!({"current_password": "not-my-password", "new_password": NEW_PASSWORD}), &here).await;
    assert_eq!((wrong.status, wrong.code()), (StatusCode::UNAUTHORIZED, "invalid_credentials"));
    let weak = app.post(path, json!({"current_password": PASSWORD, "new_password": "short"}), &here).await;
    assert_eq!((weak.status, weak.code()), (StatusCode::BAD_REQUEST, "invalid_request"));
    assert_eq!(app.get("/api/v1/workspaces", &elsewhere).await.status, StatusCode::OK, "refused changes end nothing");

    let changed = app.post(path, json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}), &here).await;
    assert_eq!((changed.status, changed.body["ended"].as_u64()), (StatusCode::OK, Some(1)), "{}", changed.body);
    assert_eq!(app.get("/api/v1/workspaces", &here).await.status, StatusCode::OK, "this session stays");
    assert_eq!(app.get("/api/v1/workspaces", &elsewhere).await.code(), "unauthorized");
    let old =
        app.post("/api/v1/auth/login", json!({"email": "ada@example.com", "password": PASSWORD}), &Auth::None).await;
    assert_eq!(old.code(), "invalid_credentials");
    app.login("ada@example.com", NEW_PASSWORD).await;
    assert_eq!(app.audit_count("account.password_changed").await, 1);
    let unauthenticated =
        app.post(path, json!({"current_password": NEW_PASSWORD, "new_password": PASSWORD}), &Auth::None).await;
    assert_eq!(unauthenticated.code(), "unauthorized");
}

/// Guessing the current password through a password change is throttled like sign-in.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn password_change_is_throttled(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (here, _) = app.signup("ada@example.com", "Acme").await;
    for _ in 0..countersign_service::throttle::MAX_FAILURES_PER_PAIR {
        let reply = app
            .post(
                "/api/v1/account/password",
                json!({"current_password": "guess-guess", "new_password": NEW_PASSWORD}),
                &here,
            )
            .await;
        assert_eq!(reply.code(), "invalid_credentials");
    }
    let reply = app
        .post("/api/v1/account/password", json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}), &here)
        .await;
    assert_eq!((reply.status, reply.code()), (StatusCode::TOO_MANY_REQUESTS, "rate_limited"));
}
