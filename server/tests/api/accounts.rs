//! Signup, login, logout, sessions, throttling, CSRF.

use axum::http::{Method, StatusCode};
use countersign_service::Settings;
use serde_json::json;
use sqlx::PgPool;

use crate::support::{Auth, TestApp, PASSWORD};

/// Signup creates the account and an owned workspace, sets a hardened cookie, and is audited.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn signup_creates_account_workspace_and_session(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let reply = app
        .post(
            "/api/v1/auth/signup",
            json!({"email": "Ada@Example.com", "password": PASSWORD, "workspace_name": "Acme"}),
            &Auth::None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert_eq!(reply.body["account"]["email"], "ada@example.com");
    assert_eq!(reply.body["workspaces"][0]["name"], "Acme");
    assert_eq!(reply.body["workspaces"][0]["role"], "owner");
    assert!(reply.body["workspaces"][0]["app_id"].as_str().unwrap_or("").starts_with("app_"));
    let cookie = reply.headers["set-cookie"].to_str().unwrap_or("");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/"), "{cookie}");
    let session = crate::support::session_of(&reply);
    let list = app.get("/api/v1/workspaces", &session).await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.body.as_array().map(Vec::len), Some(1));
    assert_eq!(app.audit_count("account.signup").await, 1);
    assert_eq!(app.audit_count("workspace.created").await, 1);
    let hash: String =
        sqlx::query_scalar("SELECT password_hash FROM accounts").fetch_one(&app.pool).await.unwrap_or_default();
    assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
}

/// A second signup with the same email (any case) is a conflict and creates nothing.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn duplicate_signup_conflicts(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.signup("ada@example.com", "Acme").await;
    let reply = app
        .post(
            "/api/v1/auth/signup",
            json!({"email": "ADA@example.com", "password": PASSWORD, "workspace_name": "Other"}),
            &Auth::None,
        )
        .await;
    assert_eq!((reply.status, reply.code()), (StatusCode::CONFLICT, "conflict"));
    let workspaces: i64 = sqlx::query_scalar("SELECT count(*) FROM workspaces").fetch_one(&app.pool).await.unwrap_or(0);
    assert_eq!(workspaces, 1);
}

/// Weak passwords and bad emails are refused with `invalid_request`.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn signup_validates_input(pool: PgPool) {
    let app = TestApp::new(pool).await;
    for body in [
        json!({"email": "ada@example.com", "password": "short", "workspace_name": "Acme"}),
        json!({"email": "not-an-email", "password": PASSWORD, "workspace_name": "Acme"}),
        json!({"email": "ada@example.com", "password": PASSWORD, "workspace_name": "  "}),
    ] {
        let reply = app.post("/api/v1/auth/signup", body, &Auth::None).await;
        assert_eq!((reply.status, reply.code()), (StatusCode::BAD_REQUEST, "invalid_request"));
    }
    let accounts: i64 = sqlx::query_scalar("SELECT count(*) FROM accounts").fetch_one(&app.pool).await.unwrap_or(-1);
    assert_eq!(accounts, 0);
}

/// With signup turned off, signup answers `signup_disabled`.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn signup_can_be_disabled(pool: PgPool) {
    let app = TestApp::with_settings(pool, Settings { allow_signup: false, ..Settings::default() }).await;
    let reply = app
        .post(
            "/api/v1/auth/signup",
            json!({"email": "a@b.io", "password": PASSWORD, "workspace_name": "A"}),
            &Auth::None,
        )
        .await;
    assert_eq!((reply.status, reply.code()), (StatusCode::FORBIDDEN, "signup_disabled"));
}

/// A wrong password and an unknown email get the same status, code and message; both audited.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn login_failures_are_indistinguishable(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.signup("ada@example.com", "Acme").await;
    let wrong = app
        .post("/api/v1/auth/login", json!({"email": "ada@example.com", "password": "wrong-password"}), &Auth::None)
        .await;
    let unknown = app
        .post("/api/v1/auth/login", json!({"email": "bob@example.com", "password": "wrong-password"}), &Auth::None)
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.body, unknown.body);
    assert_eq!(wrong.status, unknown.status);
    assert_eq!(wrong.code(), "invalid_credentials");
    assert_eq!(app.audit_count("account.login_failed").await, 2);
    app.login("ada@example.com", PASSWORD).await;
    assert_eq!(app.audit_count("account.login").await, 1);
}

/// After five failures for one email, even the right password is throttled with Retry-After.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn login_is_throttled_per_account(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.signup("ada@example.com", "Acme").await;
    for _ in 0..5 {
        let reply = app
            .post("/api/v1/auth/login", json!({"email": "ada@example.com", "password": "wrong-password"}), &Auth::None)
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }
    let reply =
        app.post("/api/v1/auth/login", json!({"email": "ada@example.com", "password": PASSWORD}), &Auth::None).await;
    assert_eq!((reply.status, reply.code()), (StatusCode::TOO_MANY_REQUESTS, "rate_limited"));
    let wait: u64 = reply.headers["retry-after"].to_str().ok().and_then(|v| v.parse().ok()).unwrap_or(0);
    assert!((1..=900).contains(&wait), "{wait}");
    // The window slides: after it, the right password works again.
    app.svc.clock.advance(chrono::Duration::minutes(16));
    app.login("ada@example.com", PASSWORD).await;
}

/// Many failures from one IP over different emails are throttled too.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn login_is_throttled_per_ip(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.signup("ada@example.com", "Acme").await;
    for i in 0..countersign_service::throttle::MAX_FAILURES_PER_IP {
        app.post("/api/v1/auth/login", json!({"email": format!("guess{i}@example.com"), "password": "x"}), &Auth::None)
            .await;
    }
    let reply =
        app.post("/api/v1/auth/login", json!({"email": "ada@example.com", "password": PASSWORD}), &Auth::None).await;
    assert_eq!(reply.code(), "rate_limited");
}

/// Logout ends the session on the server, not only in the browser.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn logout_ends_the_session(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (session, _) = app.signup("ada@example.com", "Acme").await;
    let reply = app.send(Method::POST, "/api/v1/auth/logout", None, &session, &[]).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert!(reply.headers["set-cookie"].to_str().unwrap_or("").contains("Max-Age=0"));
    let after = app.get("/api/v1/workspaces", &session).await;
    assert_eq!((after.status, after.code()), (StatusCode::UNAUTHORIZED, "unauthorized"));
}

/// A session unused for longer than the idle timeout ends.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn idle_session_expires(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (session, _) = app.signup("ada@example.com", "Acme").await;
    app.svc.clock.advance(chrono::Duration::hours(11));
    assert_eq!(app.get("/api/v1/workspaces", &session).await.status, StatusCode::OK);
    app.svc.clock.advance(chrono::Duration::hours(11));
    assert_eq!(app.get("/api/v1/workspaces", &session).await.status, StatusCode::OK, "use extends the idle window");
    app.svc.clock.advance(chrono::Duration::hours(13));
    assert_eq!(app.get("/api/v1/workspaces", &session).await.status, StatusCode::UNAUTHORIZED);
}

/// A session in constant use still ends at its absolute expiry.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn session_has_absolute_expiry(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (session, _) = app.signup("ada@example.com", "Acme").await;
    for _ in 0..16 {
        app.svc.clock.advance(chrono::Duration::hours(10));
        assert_eq!(app.get("/api/v1/workspaces", &session).await.status, StatusCode::OK);
    }
    app.svc.clock.advance(chrono::Duration::hours(10));
    assert_eq!(app.get("/api/v1/workspaces", &session).await.status, StatusCode::UNAUTHORIZED);
}

/// A cookie-authenticated change from another origin, or without any origin header, is refused.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn cross_site_requests_are_refused(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (session, _) = app.signup("ada@example.com", "Acme").await;
    let body = Some(json!({"name": "Evil"}));
    let foreign = app
        .send(Method::POST, "/api/v1/workspaces", body.clone(), &session, &[("origin", "https://evil.example")])
        .await;
    assert_eq!((foreign.status, foreign.code()), (StatusCode::FORBIDDEN, "csrf_failed"));
    let cross_site = app
        .send(
            Method::POST,
            "/api/v1/workspaces",
            body.clone(),
            &session,
            &[("origin", ""), ("sec-fetch-site", "cross-site")],
        )
        .await;
    assert_eq!(cross_site.code(), "csrf_failed");
    let login = app
        .send(
            Method::POST,
            "/api/v1/auth/login",
            Some(json!({"email": "ada@example.com", "password": PASSWORD})),
            &Auth::None,
            &[("origin", "https://evil.example")],
        )
        .await;
    assert_eq!(login.code(), "csrf_failed", "login CSRF is refused too");
    let list = app.get("/api/v1/workspaces", &session).await;
    assert_eq!(list.body.as_array().map(Vec::len), Some(1), "nothing was created");
    let same = app.send(Method::POST, "/api/v1/workspaces", body, &session, &[]).await;
    assert_eq!(same.status, StatusCode::CREATED);
}

/// Health and readiness answer.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn health_and_readiness(pool: PgPool) {
    let app = TestApp::new(pool).await;
    assert_eq!(app.get("/healthz", &Auth::None).await.body["status"], "ok");
    assert_eq!(app.get("/readyz", &Auth::None).await.body["status"], "ready");
}

/// Every response carries the security headers.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn security_headers_are_set(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let reply = app.get("/healthz", &Auth::None).await;
    for name in ["x-content-type-options", "x-frame-options", "content-security-policy", "referrer-policy"] {
        assert!(reply.headers.contains_key(name), "{name}");
    }
}

/// A cross-site request carrying the session cookie is refused even with an `Authorization`
/// header: a bogus token, or a valid token of another account, does not lift the check for the
/// handlers that act on the cookie (logout, server functions).
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn bearer_header_beside_the_cookie_does_not_skip_csrf(pool: PgPool) {
    use leptos::server_fn::ServerFn;
    let app = TestApp::new(pool).await;
    let (session, _) = app.signup("ada@example.com", "Acme").await;
    let (mallory, _) = app.signup("mallory@example.com", "Evil Corp").await;
    let token = app.post("/api/v1/tokens", json!({"name": "own"}), &mallory).await.body["token"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    let Auth::Cookie(cookie) = &session else { panic!("signup returns a session cookie") };
    for bearer in ["cs_pat_bogus".to_owned(), token] {
        let authorization = format!("Bearer {bearer}");
        let evil = [("origin", "https://evil.example"), ("authorization", authorization.as_str())];
        let logout = app.send(Method::POST, "/api/v1/auth/logout", None, &session, &evil).await;
        assert_eq!((logout.status, logout.code()), (StatusCode::FORBIDDEN, "csrf_failed"), "{bearer}");
        let request = axum::http::Request::post(countersign_app::api::CreateWorkspace::PATH)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("origin", "https://evil.example")
            .header("authorization", &authorization)
            .header("cookie", format!("cs_session={cookie}"))
            .body(axum::body::Body::from("name=Evil"))
            .expect("request");
        let server_fn = app.raw(request).await;
        assert_eq!(server_fn.status, StatusCode::FORBIDDEN, "{bearer}: {}", server_fn.body);
    }
    let list = app.get("/api/v1/workspaces", &session).await;
    assert_eq!(list.status, StatusCode::OK, "still signed in");
    assert_eq!(list.body.as_array().map(Vec::len), Some(1), "nothing was created");
}

/// A bogus bearer token does not make a cross-site login pass (login CSRF).
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn bogus_bearer_does_not_skip_csrf(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.signup("ada@example.com", "Acme").await;
    let evil = [("origin", "https://evil.example"), ("authorization", "Bearer cs_pat_bogus")];
    let login = app
        .send(
            Method::POST,
            "/api/v1/auth/login",
            Some(json!({"email": "ada@example.com", "password": PASSWORD})),
            &Auth::None,
            &evil,
        )
        .await;
    assert_eq!((login.status, login.code()), (StatusCode::FORBIDDEN, "csrf_failed"));
    assert!(!login.headers.contains_key("set-cookie"));
}
