//! No secret in clear at rest or in the logs: a scripted session through the real router (signup,
//! login, a personal access token, reveal, rotate, reveal, identify, signatures, the token debugger
//! and a test token, logout) runs with every `tracing` event at TRACE captured in memory; then
//! `pg_dump` of the test database and the captured log output are searched for every secret the
//! session saw — workspace secrets, session cookies, the access token, the JWTs, the legacy HMAC,
//! the password and the master key — in clear, hex and base64. The dump must hold the session's
//! data (app id, kids, user ids, the `verification_log` table) and the log must hold the session's
//! SQL, so the test cannot pass on an empty dump or a silent subscriber.
//!
//! Its own test binary, because it installs the process-wide tracing subscriber.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use countersign_server::{app, AppState, Config};
use countersign_service::{Clock, Service, Settings};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use sqlx::PgPool;
use tower::ServiceExt;
use tracing_subscriber::fmt::MakeWriter;

/// The dashboard's origin (the default public URL), sent like a browser would.
const ORIGIN: &str = "http://127.0.0.1:3000";
const EMAIL: &str = "leak-test@example.com";
const PASSWORD: &str = "leak-test-password-7f3a91c2";

/// Everything the subscriber writes, kept in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

/// Installs a TRACE-level fmt subscriber (and the `log` bridge) writing into memory, for the
/// whole process: the service's background tasks log from other tasks and threads too.
fn capture_logs() -> Captured {
    let captured = Captured::default();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(captured.clone())
        .try_init()
        .expect("the only tracing subscriber of this test binary");
    captured
}

/// A response: status, `Set-Cookie` and JSON body (`Null` when empty).
struct Reply {
    status: StatusCode,
    set_cookie: Option<String>,
    body: Value,
}

enum Auth<'a> {
    None,
    Cookie(&'a str),
    Bearer(&'a str),
}

async fn send(router: &Router, method: Method, path: &str, body: Option<Value>, auth: Auth<'_>, origin: &str) -> Reply {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::USER_AGENT, "no-secret-leaks-test")
        .header(header::ORIGIN, origin);
    request = match auth {
        Auth::None => request,
        Auth::Cookie(token) => request.header(header::COOKIE, format!("cs_session={token}")),
        Auth::Bearer(token) => request.header(header::AUTHORIZATION, format!("Bearer {token}")),
    };
    let body = match body {
        Some(value) => {
            request = request.header(header::CONTENT_TYPE, "application/json");
            Body::from(value.to_string())
        }
        None => Body::empty(),
    };
    let response = router.clone().oneshot(request.body(body).expect("request")).await.expect("infallible");
    let status = response.status();
    let set_cookie = response.headers().get(header::SET_COOKIE).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    let body = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).expect("JSON body") };
    Reply { status, set_cookie, body }
}

fn expect_status(reply: &Reply, status: StatusCode, what: &str) {
    assert_eq!(reply.status, status, "{what}: {}", reply.body);
}

fn session_cookie(reply: &Reply) -> String {
    let cookie = reply.set_cookie.as_deref().expect("set-cookie");
    let token = cookie.strip_prefix("cs_session=").and_then(|rest| rest.split(';').next()).expect("cs_session");
    assert!(!token.is_empty(), "{cookie}");
    token.to_owned()
}

fn text(value: &Value, what: &str) -> String {
    value.as_str().unwrap_or_else(|| panic!("{what} is not a string: {value}")).to_owned()
}

/// The secrets seen in the session, by name, in the forms a leak could take.
#[derive(Default)]
struct Secrets(Vec<(String, String)>);

impl Secrets {
    /// Records `value` in clear, as lowercase hex (how `pg_dump` prints bytea) and as base64.
    fn add(&mut self, name: &str, value: &str) {
        assert!(value.len() >= 16, "{name} is too short to search for without false positives");
        self.0.push((name.to_owned(), value.to_owned()));
        self.add_bytes(name, value.as_bytes());
    }

    fn add_bytes(&mut self, name: &str, bytes: &[u8]) {
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        self.0.push((format!("{name} (hex)"), hex));
        self.0.push((format!("{name} (base64)"), STANDARD.encode(bytes)));
        self.0.push((format!("{name} (base64url)"), URL_SAFE_NO_PAD.encode(bytes)));
    }

    /// A JWT: the whole token, and its signature segment alone.
    fn add_jwt(&mut self, name: &str, jwt: &str) {
        self.add(name, jwt);
        let signature = jwt.rsplit('.').next().expect("a signature segment");
        self.add(&format!("{name} signature"), signature);
    }

    /// Each secret found in `haystack`: its name and the text around it, the secret masked.
    fn found_in(&self, haystack: &str) -> Vec<String> {
        let lower = haystack.to_lowercase();
        self.0
            .iter()
            .filter_map(|(name, value)| {
                let searched = if name.ends_with("(hex)") { &lower } else { haystack };
                let at = searched.find(value.as_str())?;
                let mut start = at.saturating_sub(80);
                while !searched.is_char_boundary(start) {
                    start -= 1;
                }
                let mut end = (at + value.len() + 80).min(searched.len());
                while !searched.is_char_boundary(end) {
                    end += 1;
                }
                Some(format!("{name}: …{}…", searched[start..end].replace(value.as_str(), "<SECRET>")))
            })
            .collect()
    }
}

/// `pg_dump` on PATH, else the newest under /usr/lib/postgresql/*/bin.
fn pg_dump() -> PathBuf {
    if let Some(path) = std::env::var_os("PATH") {
        if let Some(found) = std::env::split_paths(&path).map(|dir| dir.join("pg_dump")).find(|p| p.is_file()) {
            return found;
        }
    }
    let mut candidates: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let path = entry.path().join("bin/pg_dump");
            path.is_file().then_some((version, path))
        })
        .collect();
    candidates.sort();
    candidates
        .pop()
        .map(|(_, path)| path)
        .expect("pg_dump is on PATH or under /usr/lib/postgresql/*/bin (install postgresql-client)")
}

/// `DATABASE_URL` with its database replaced by `database` (host, port, user, password and
/// query parameters kept), for `pg_dump --dbname`.
fn url_for_database(database_url: &str, database: &str) -> String {
    let (base, query) = match database_url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (database_url, None),
    };
    let authority = base.find("://").map_or(0, |i| i + 3);
    let path = base[authority..].find('/').map_or(base.len(), |i| authority + i);
    let query = query.map(|q| format!("?{q}")).unwrap_or_default();
    format!("{}/{database}{query}", &base[..path])
}

/// A plain-SQL dump (schema and data) of the test database.
async fn dump(pool: &PgPool) -> String {
    let database: String =
        sqlx::query_scalar("SELECT current_database()").fetch_one(pool).await.expect("current_database");
    let url = url_for_database(&std::env::var("DATABASE_URL").expect("DATABASE_URL"), &database);
    let output = Command::new(pg_dump())
        .args(["--no-owner", "--no-privileges", "--dbname", &url])
        .output()
        .expect("run pg_dump");
    assert!(output.status.success(), "pg_dump failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("the dump is UTF-8")
}

/// Every file's content under `dir` (the spool), lossily as text.
fn files_under(dir: &Path) -> String {
    let mut all = String::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            all.push_str(&files_under(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            all.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
    all
}

#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn no_secret_in_the_database_dump_or_the_logs(pool: PgPool) {
    let logs = capture_logs();
    let mut secrets = Secrets::default();

    // The app, built like server/tests/api/support.rs, with a random master key of its own.
    let master_key: Vec<u8> = [uuid::Uuid::new_v4(), uuid::Uuid::new_v4()].iter().flat_map(|u| *u.as_bytes()).collect();
    let master_b64 = STANDARD.encode(&master_key);
    secrets.add("master key", &master_b64);
    secrets.add_bytes("master key bytes", &master_key);
    let config =
        Config::from_lookup(|name| (name == "COUNTERSIGN_MASTER_KEY").then(|| master_b64.clone())).expect("config");
    let spool_dir = std::env::temp_dir().join(format!("countersign-spool-{}", uuid::Uuid::new_v4()));
    // Webhooks may target loopback: the endpoint below is local.
    let settings = Settings { spool_dir: spool_dir.clone(), webhooks_allow_private: true, ..Settings::default() };
    let svc = Service::new(pool.clone(), Clock::system(), settings, config.keyring()).expect("service");
    let leptos_options = leptos::config::LeptosOptions::builder().output_name("countersign").build();
    let router = app(AppState::new(leptos_options, svc, config));
    let r = &router;
    secrets.add("password", PASSWORD);

    // Signup, then a second sign-in.
    let reply = send(
        r,
        Method::POST,
        "/api/v1/auth/signup",
        Some(json!({"email": EMAIL, "password": PASSWORD, "workspace_name": "Leak Test"})),
        Auth::None,
        ORIGIN,
    )
    .await;
    expect_status(&reply, StatusCode::CREATED, "signup");
    let signup_cookie = session_cookie(&reply);
    secrets.add("signup session cookie", &signup_cookie);
    let workspace_id = text(&reply.body["workspaces"][0]["id"], "workspace id");
    let app_id = text(&reply.body["workspaces"][0]["app_id"], "app_id");
    let reply = send(
        r,
        Method::POST,
        "/api/v1/auth/login",
        Some(json!({"email": EMAIL, "password": PASSWORD})),
        Auth::None,
        ORIGIN,
    )
    .await;
    expect_status(&reply, StatusCode::OK, "login");
    let cookie = session_cookie(&reply);
    secrets.add("login session cookie", &cookie);

    // A personal access token; the rest of the management calls use it.
    let reply =
        send(r, Method::POST, "/api/v1/tokens", Some(json!({"name": "leak test"})), Auth::Cookie(&cookie), ORIGIN)
            .await;
    expect_status(&reply, StatusCode::CREATED, "create token");
    let pat = text(&reply.body["token"], "token");
    assert!(pat.starts_with("cs_pat_"), "{pat}");
    secrets.add("personal access token", &pat);

    // Reveal the primary secret, rotate (with grace), reveal the new one.
    let keys =
        send(r, Method::GET, &format!("/api/v1/workspaces/{workspace_id}/keys"), None, Auth::Bearer(&pat), ORIGIN)
            .await;
    expect_status(&keys, StatusCode::OK, "list keys");
    let first_kid = text(&keys.body[0]["kid"], "kid");
    let reveal = send(
        r,
        Method::GET,
        &format!("/api/v1/workspaces/{workspace_id}/keys/{first_kid}/secret"),
        None,
        Auth::Bearer(&pat),
        ORIGIN,
    )
    .await;
    expect_status(&reveal, StatusCode::OK, "reveal");
    let first_secret = text(&reveal.body["secret"], "secret");
    secrets.add("first workspace secret", &first_secret);
    let rotated = send(
        r,
        Method::POST,
        &format!("/api/v1/workspaces/{workspace_id}/keys/rotate"),
        Some(json!({"grace_seconds": 3600})),
        Auth::Bearer(&pat),
        ORIGIN,
    )
    .await;
    expect_status(&rotated, StatusCode::OK, "rotate");
    let kid = text(&rotated.body["kid"], "new kid");
    let rotated_secret = text(&rotated.body["secret"], "rotated secret");
    secrets.add("rotated workspace secret", &rotated_secret);
    let reveal = send(
        r,
        Method::GET,
        &format!("/api/v1/workspaces/{workspace_id}/keys/{kid}/secret"),
        None,
        Auth::Cookie(&cookie),
        ORIGIN,
    )
    .await;
    expect_status(&reveal, StatusCode::OK, "reveal the new primary");
    let secret = text(&reveal.body["secret"], "secret");
    assert_eq!(secret, rotated_secret, "reveal and rotate agree");

    // Identify: a JWT of the new primary, one of the rotating key, one with a wrong secret.
    let now = chrono::Utc::now().timestamp();
    let claims =
        |user: &str| json!({"user_id": user, "iat": now, "exp": now + 600}).as_object().cloned().expect("claims");
    let jwt = countersign_core::sign_jwt(secret.as_bytes(), &kid, &claims("leak-user-1"));
    secrets.add_jwt("identify JWT", &jwt);
    let old_jwt = countersign_core::sign_jwt(first_secret.as_bytes(), &first_kid, &claims("leak-user-2"));
    secrets.add_jwt("identify JWT under the rotating key", &old_jwt);
    let wrong_secret = format!("cs_sk_{}", URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes()));
    secrets.add("wrong secret", &wrong_secret);
    let forged_jwt = countersign_core::sign_jwt(wrong_secret.as_bytes(), &kid, &claims("leak-user-3"));
    secrets.add_jwt("forged JWT", &forged_jwt);
    for (token, status) in [(&jwt, StatusCode::OK), (&old_jwt, StatusCode::OK), (&forged_jwt, StatusCode::UNAUTHORIZED)]
    {
        let body = json!({"app_id": app_id, "platform": "web", "user_jwt": token});
        let reply = send(r, Method::POST, "/api/v1/identify", Some(body), Auth::None, "https://app.example.com").await;
        expect_status(&reply, status, "identify");
        assert!(reply.body["log_id"].is_string(), "{}", reply.body);
    }

    // The token debugger sees the token too (and writes no log row).
    let reply = send(
        r,
        Method::POST,
        &format!("/api/v1/workspaces/{workspace_id}/debug"),
        Some(json!({"platform": "web", "user_jwt": jwt})),
        Auth::Bearer(&pat),
        ORIGIN,
    )
    .await;
    expect_status(&reply, StatusCode::OK, "debug");
    // A test token from the debugger: audited, but neither it nor its hash is kept anywhere.
    let made = send(
        r,
        Method::POST,
        &format!("/api/v1/workspaces/{workspace_id}/debug/token"),
        Some(json!({"user_id": "leak-user-5"})),
        Auth::Cookie(&cookie),
        ORIGIN,
    )
    .await;
    expect_status(&made, StatusCode::OK, "debug test token");
    secrets.add_jwt("debugger test token", &text(&made.body["user_jwt"], "user_jwt"));
    secrets.add("debugger test hash", &text(&made.body["user_hash"], "user_hash"));

    // Signatures: the secret as bearer; then a wrong bearer.
    let body = json!({"app_id": app_id, "user_id": "leak-user-4", "expires_in": 600});
    let reply = send(
        r,
        Method::POST,
        "/api/v1/signatures",
        Some(body.clone()),
        Auth::Bearer(&secret),
        "https://backend.example",
    )
    .await;
    expect_status(&reply, StatusCode::OK, "signatures");
    secrets.add_jwt("signed userJWT", &text(&reply.body["signatures"]["userJWT"], "userJWT"));
    secrets.add("signed userHMAC", &text(&reply.body["signatures"]["userHMAC"], "userHMAC"));
    let reply =
        send(r, Method::POST, "/api/v1/signatures", Some(body), Auth::Bearer(&wrong_secret), "https://backend.example")
            .await;
    expect_status(&reply, StatusCode::UNAUTHORIZED, "signatures with a wrong secret");

    // A webhook endpoint: its signing secret is shown once, then stored only sealed; a key
    // revocation queues a signed event for it.
    let reply = send(
        r,
        Method::POST,
        &format!("/api/v1/workspaces/{workspace_id}/webhooks"),
        Some(json!({"url": "http://127.0.0.1:9/hooks", "events": ["key.revoked"]})),
        Auth::Cookie(&cookie),
        ORIGIN,
    )
    .await;
    expect_status(&reply, StatusCode::CREATED, "add a webhook endpoint");
    let whsec = text(&reply.body["secret"], "webhook secret");
    secrets.add("webhook signing secret", &whsec);
    secrets.add_bytes(
        "webhook signing secret bytes",
        &STANDARD.decode(whsec.trim_start_matches("whsec_")).expect("base64 secret"),
    );
    let reply = send(
        r,
        Method::POST,
        &format!("/api/v1/workspaces/{workspace_id}/keys/{first_kid}/revoke"),
        Some(json!({})),
        Auth::Cookie(&cookie),
        ORIGIN,
    )
    .await;
    expect_status(&reply, StatusCode::OK, "revoke the first key");

    // Log out both sessions.
    for session in [&signup_cookie, &cookie] {
        let reply = send(r, Method::POST, "/api/v1/auth/logout", None, Auth::Cookie(session), ORIGIN).await;
        expect_status(&reply, StatusCode::NO_CONTENT, "logout");
    }

    // The database at rest.
    let dump = dump(&pool).await;
    for expected in [
        app_id.as_str(),
        first_kid.as_str(),
        kid.as_str(),
        EMAIL,
        "leak-user-1",
        "leak-user-2",
        "leak-user-3",
        "CREATE TABLE public.verification_log",
        "CREATE TABLE public.workspace_keys",
        "key.revealed",
        "key.rotated",
        "key.test_token_signed",
        "webhook.created",
        "msg_",
    ] {
        assert!(dump.contains(expected), "the dump lacks {expected:?}: it does not hold the session's data");
    }
    let leaked = secrets.found_in(&dump);
    assert!(leaked.is_empty(), "secrets in clear in the database dump:\n{}", leaked.join("\n"));

    // The log output, at TRACE, of everything the process did.
    let log = logs.text();
    for expected in ["workspace_keys", "verification_log", "personal_access_tokens"] {
        assert!(
            log.contains(expected),
            "the captured log lacks {expected:?} ({} bytes): is the subscriber capturing?",
            log.len()
        );
    }
    let leaked = secrets.found_in(&log);
    assert!(leaked.is_empty(), "secrets in clear in the log output:\n{}", leaked.join("\n"));

    // The spool (empty while Postgres is up, but never a place for a secret either).
    let spooled = files_under(&spool_dir);
    let leaked = secrets.found_in(&spooled);
    assert!(leaked.is_empty(), "secrets in clear in the spool:\n{}", leaked.join("\n"));
    let _ = std::fs::remove_dir_all(&spool_dir);
}
