//! Browser security headers: the CSP nonce of a page, HSTS over https, nothing cached that
//! could show a secret.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use countersign_service::Settings;
use leptos::server_fn::ServerFn;
use sqlx::PgPool;

use crate::support::{Auth, Reply, TestApp, ORIGIN};

fn header<'r>(reply: &'r Reply, name: &str) -> &'r str {
    reply.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// The nonce a page's `script-src` names.
fn script_nonce(csp: &str) -> Option<&str> {
    let script_src = csp.split(';').map(str::trim).find(|d| d.starts_with("script-src "))?;
    script_src.split(' ').find_map(|s| s.strip_prefix("'nonce-")?.strip_suffix('\''))
}

/// A page's policy allows no inline script but those carrying its fresh nonce, and every
/// script of the page carries it.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn page_scripts_carry_the_policy_nonce(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let page = app.get("/login", &Auth::None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(header(&page, "content-type").starts_with("text/html"));
    let csp = header(&page, "content-security-policy");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert!(csp.contains("style-src 'self';"), "{csp}");
    let nonce = script_nonce(csp).unwrap_or_else(|| panic!("no nonce in {csp}"));
    assert!(nonce.len() >= 22, "at least 128 bits: {nonce}");
    let html = page.body.as_str().unwrap_or("");
    let scripts: Vec<&str> = html.split("<script").skip(1).map(|tag| tag.split('>').next().unwrap_or("")).collect();
    assert!(!scripts.is_empty(), "the hydration script is on the page");
    for tag in scripts {
        assert!(tag.contains(&format!("nonce=\"{nonce}\"")), "<script{tag}> lacks the nonce {nonce}");
    }
    let again = app.get("/login", &Auth::None).await;
    assert_ne!(script_nonce(header(&again, "content-security-policy")), Some(nonce), "a fresh nonce per response");
}

/// API answers, server function answers and pages are never stored; none allows inline script.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn answers_that_can_hold_secrets_are_not_stored(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (session, _) = app.signup("ada@example.com", "Acme").await;
    let Auth::Cookie(cookie) = &session else { panic!("signup returns a session cookie") };
    let server_fn = Request::post(countersign_app::api::Whoami::PATH)
        .header("origin", ORIGIN)
        .header("cookie", format!("cs_session={cookie}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::empty())
        .expect("request");
    let server_fn = app.raw(server_fn).await;
    assert_eq!(server_fn.status, StatusCode::OK, "{}", server_fn.body);
    assert_eq!(server_fn.body["account"]["email"], "ada@example.com");
    let api = app.get("/api/v1/workspaces", &session).await;
    let page = app.get("/", &session).await;
    let identify = app.send(Method::POST, "/api/v1/identify", Some(serde_json::json!({})), &Auth::None, &[]).await;
    for (what, reply) in [("server fn", &server_fn), ("api", &api), ("page", &page), ("identify", &identify)] {
        assert_eq!(header(reply, "cache-control"), "no-store", "{what}");
        let csp = header(reply, "content-security-policy");
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{what}: {csp}");
    }
}

/// HSTS is sent when the dashboard is served over https, on the data plane too, and never
/// over plain http (where browsers ignore it and a development setup would be locked out).
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn hsts_only_over_https(pool: PgPool) {
    let plain = TestApp::new(pool.clone()).await;
    assert!(!plain.get("/healthz", &Auth::None).await.headers.contains_key("strict-transport-security"));
    let https =
        TestApp::with_env(pool, Settings::default(), &[("COUNTERSIGN_PUBLIC_URL", "https://cs.example.com")]).await;
    let health = https.get("/healthz", &Auth::None).await;
    let identify = https.send(Method::POST, "/api/v1/identify", Some(serde_json::json!({})), &Auth::None, &[]).await;
    for reply in [&health, &identify] {
        assert_eq!(header(reply, "strict-transport-security"), "max-age=63072000; includeSubDomains");
    }
}
