//! Login throttling: attempts are recorded before the check, limits are per email+IP pair,
//! per email and per IP, and the client IP comes from X-Forwarded-For only behind a trusted proxy.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use countersign_service::throttle::{MAX_FAILURES_PER_EMAIL, MAX_FAILURES_PER_PAIR};
use countersign_service::Settings;
use serde_json::json;
use sqlx::PgPool;
use tower::ServiceExt;

use crate::support::{Auth, TestApp, ORIGIN, PASSWORD};

const LOGIN: &str = "/api/v1/auth/login";

fn guess(email: &str) -> serde_json::Value {
    json!({"email": email, "password": "wrong-password"})
}

/// Thirty failures from one address, spread over several accounts, do not lock another
/// account out from that address (they used to: 30 per IP locked out everyone behind it).
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn one_address_cannot_lock_out_other_accounts(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.signup("ada@example.com", "Acme").await;
    for i in 0..6 {
        for _ in 0..MAX_FAILURES_PER_PAIR {
            app.post(LOGIN, guess(&format!("user{i}@example.com")), &Auth::None).await;
        }
    }
    // Hammering one account from the address adds nothing once that pair is throttled.
    for _ in 0..20 {
        let reply = app.post(LOGIN, guess("user0@example.com"), &Auth::None).await;
        assert_eq!(reply.code(), "rate_limited");
    }
    app.login("ada@example.com", PASSWORD).await;
}

/// Concurrent wrong guesses cannot all pass the check before any is recorded: no more than the
/// limit are even tried, the rest are refused.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn concurrent_guesses_are_counted(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.signup("ada@example.com", "Acme").await;
    let mut attempts = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let router = app.router.clone();
        let request = Request::post(LOGIN)
            .header(header::ORIGIN, ORIGIN)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(guess("ada@example.com").to_string()))
            .expect("request");
        attempts.spawn(async move {
            router.oneshot(request).await.map(|r| r.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
        });
    }
    let statuses = attempts.join_all().await;
    let tried = statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
    let refused = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!(tried + refused, 20, "{statuses:?}");
    assert!(tried as i64 <= MAX_FAILURES_PER_PAIR, "{tried} guesses were checked");
    let recorded: i64 =
        sqlx::query_scalar("SELECT count(*) FROM login_failures").fetch_one(&app.pool).await.unwrap_or(-1);
    assert_eq!(recorded, tried as i64, "refused attempts are not kept");
}

/// Failures for one email from many addresses still throttle that email, from anywhere.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn one_email_from_many_addresses(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.signup("ada@example.com", "Acme").await;
    for i in 0..MAX_FAILURES_PER_EMAIL {
        let peer = format!("198.51.100.{}", i / MAX_FAILURES_PER_PAIR);
        let reply = app.send_from(&peer, Method::POST, LOGIN, guess("ada@example.com"), &[]).await;
        assert_eq!(reply.code(), "invalid_credentials", "{i}");
    }
    let reply = app
        .send_from("203.0.113.1", Method::POST, LOGIN, json!({"email": "ada@example.com", "password": PASSWORD}), &[])
        .await;
    assert_eq!((reply.status, reply.code()), (StatusCode::TOO_MANY_REQUESTS, "rate_limited"));
    let other = app.send_from("203.0.113.1", Method::POST, LOGIN, guess("bob@example.com"), &[]).await;
    assert_eq!(other.code(), "invalid_credentials", "other emails are not affected");
}

/// X-Forwarded-For is ignored from an untrusted peer (a client cannot pick its address) and
/// honoured from a configured trusted proxy, for audit rows and throttling alike.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn forwarded_for_only_from_trusted_proxies(pool: PgPool) {
    let app = TestApp::with_env(pool, Settings::default(), &[("COUNTERSIGN_TRUSTED_PROXIES", "10.0.0.0/8")]).await;
    app.signup("ada@example.com", "Acme").await;
    let forwarded = [("x-forwarded-for", "203.0.113.7")];
    app.send_from("198.51.100.9", Method::POST, LOGIN, guess("ada@example.com"), &forwarded).await;
    app.send_from("10.1.2.3", Method::POST, LOGIN, guess("ada@example.com"), &forwarded).await;
    let ips: Vec<String> =
        sqlx::query_scalar("SELECT ip FROM audit_log WHERE action = 'account.login_failed' ORDER BY id")
            .fetch_all(&app.pool)
            .await
            .unwrap_or_default();
    assert_eq!(ips, ["198.51.100.9", "203.0.113.7"]);
    // Throttling follows the forwarded client: the proxy's other clients are not affected.
    for _ in 1..MAX_FAILURES_PER_PAIR {
        app.send_from("10.1.2.3", Method::POST, LOGIN, guess("ada@example.com"), &forwarded).await;
    }
    let login = json!({"email": "ada@example.com", "password": PASSWORD});
    let throttled = app.send_from("10.1.2.3", Method::POST, LOGIN, login.clone(), &forwarded).await;
    assert_eq!(throttled.code(), "rate_limited");
    let other_client =
        app.send_from("10.1.2.3", Method::POST, LOGIN, login, &[("x-forwarded-for", "192.0.2.44")]).await;
    assert_eq!(other_client.status, StatusCode::OK, "{}", other_client.body);
}
