//! The test harness: an app on a fresh database, and a small request builder.

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use countersign_server::{app, AppState, Config};
use countersign_service::{Clock, Service, Settings};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use sqlx::PgPool;
use tower::ServiceExt;

/// The dashboard's origin in tests (the default public URL).
pub const ORIGIN: &str = "http://127.0.0.1:3000";
pub const PASSWORD: &str = "correct-horse-battery";

/// An app under test, with its service (for the clock and direct DB checks).
pub struct TestApp {
    pub router: Router,
    pub svc: Service,
    pub pool: PgPool,
    /// With `COUNTERSIGN_TEST_API_THROUGH_POOLER`, closes the pooler's server connections to
    /// the test's database at the end, so that it can be dropped.
    _pooler: Option<PoolerConnections>,
}

/// Terminates the server connections a pooler keeps to a database (when the test ends).
struct PoolerConnections(String);

impl Drop for PoolerConnections {
    fn drop(&mut self) {
        let Ok(base) = std::env::var("DATABASE_URL") else { return };
        let admin = format!("{}/postgres", base.rsplit_once('/').map(|(b, _)| b).unwrap_or(&base));
        let sql = format!(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '{}' AND pid <> pg_backend_pid()",
            self.0.replace('\'', "")
        );
        let _ = std::process::Command::new("psql")
            .args([admin.as_str(), "-qtAc", sql.as_str()])
            .stdout(std::process::Stdio::null())
            .status();
    }
}

/// With `COUNTERSIGN_TEST_API_THROUGH_POOLER=1` and `COUNTERSIGN_TEST_POOLER_URL` set, the
/// service under test reaches the test's database through that pooler in transaction mode
/// (`COUNTERSIGN_DB_POOLER=transaction`): the whole suite then checks that mode.
async fn service_pool(pool: &PgPool) -> (countersign_service::db::Db, Option<PoolerConnections>) {
    let through = std::env::var("COUNTERSIGN_TEST_API_THROUGH_POOLER").is_ok_and(|v| v == "1");
    let pooler = std::env::var("COUNTERSIGN_TEST_POOLER_URL").ok().filter(|v| !v.is_empty());
    let (true, Some(pooler)) = (through, pooler) else { return (pool.clone().into(), None) };
    let database: String = sqlx::query_scalar("SELECT current_database()").fetch_one(pool).await.expect("db name");
    // Only the per-test databases of DATABASE_URL's server sit behind that pooler (the restart
    // tests run their own cluster).
    if !database.starts_with("_sqlx_test") {
        return (pool.clone().into(), None);
    }
    let url = format!("{}/{database}", pooler.rsplit_once('/').map(|(b, _)| b).unwrap_or(&pooler));
    let pooler = countersign_service::db::Pooler::Transaction;
    let options: sqlx::postgres::PgConnectOptions = url.parse().expect("pooler url");
    let pooled = sqlx::postgres::PgPoolOptions::new()
        .max_connections(10)
        .test_before_acquire(false)
        .connect_with(pooler.connect_options(options))
        .await
        .expect("connect through the pooler");
    (countersign_service::db::Db::new(pooled, pooler), Some(PoolerConnections(database)))
}

/// How a request authenticates.
#[derive(Clone)]
pub enum Auth {
    None,
    Cookie(String),
    Bearer(String),
}

/// A response: status, headers and JSON body (`Null` when empty).
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    /// The `error.code` of an error body.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

impl TestApp {
    /// An app with default settings.
    pub async fn new(pool: PgPool) -> TestApp {
        Self::with_settings(pool, Settings::default()).await
    }

    /// An app with the given service settings.
    pub async fn with_settings(pool: PgPool, settings: Settings) -> TestApp {
        Self::with_env(pool, settings, &[]).await
    }

    /// An app with the given service settings and server environment variables.
    pub async fn with_env(pool: PgPool, mut settings: Settings, env: &[(&str, &str)]) -> TestApp {
        settings.spool_dir = std::env::temp_dir().join(format!("countersign-spool-{}", uuid::Uuid::new_v4()));
        let config = Config::from_lookup(|name| env.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string()))
            .expect("config");
        let (db, pooler) = service_pool(&pool).await;
        if pooler.is_some() {
            settings.direct_database_url = Some(
                sqlx::query_scalar::<_, String>("SELECT current_database()")
                    .fetch_one(&pool)
                    .await
                    .map(|db| {
                        let base = std::env::var("DATABASE_URL").unwrap_or_default();
                        format!("{}/{db}", base.rsplit_once('/').map(|(b, _)| b).unwrap_or(&base))
                    })
                    .expect("direct url"),
            );
        }
        let svc = Service::new(db, Clock::system(), settings, config.keyring()).expect("service");
        let leptos_options = leptos::config::LeptosOptions::builder().output_name("countersign").build();
        let state = AppState::new(leptos_options, svc.clone(), config);
        TestApp { router: app(state), svc, pool, _pooler: pooler }
    }

    /// Sends a request with the dashboard's `Origin` (as a browser would) unless `headers`
    /// says otherwise.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        auth: &Auth,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(path);
        if !headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("user-agent")) {
            request = request.header(header::USER_AGENT, "integration-test");
        }
        if !headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("origin")) {
            request = request.header(header::ORIGIN, ORIGIN);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
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
        self.raw(request.body(body).expect("request")).await
    }

    /// Sends a request as if over a TCP connection from `peer`.
    pub async fn send_from(
        &self,
        peer: &str,
        method: Method,
        path: &str,
        body: Value,
        headers: &[(&str, &str)],
    ) -> Reply {
        let peer: std::net::SocketAddr = format!("{peer}:40000").parse().expect("peer address");
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::ORIGIN, ORIGIN)
            .header(header::CONTENT_TYPE, "application/json")
            .extension(axum::extract::ConnectInfo(peer));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.raw(request.body(Body::from(body.to_string())).expect("request")).await
    }

    /// Sends a prepared request.
    pub async fn raw(&self, request: Request<Body>) -> Reply {
        let response = self.router.clone().oneshot(request).await.expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.expect("body").to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        Reply { status, headers, body }
    }

    pub async fn get(&self, path: &str, auth: &Auth) -> Reply {
        self.send(Method::GET, path, None, auth, &[]).await
    }

    pub async fn post(&self, path: &str, body: Value, auth: &Auth) -> Reply {
        self.send(Method::POST, path, Some(body), auth, &[]).await
    }

    pub async fn put(&self, path: &str, body: Value, auth: &Auth) -> Reply {
        self.send(Method::PUT, path, Some(body), auth, &[]).await
    }

    pub async fn delete(&self, path: &str, auth: &Auth) -> Reply {
        self.send(Method::DELETE, path, None, auth, &[]).await
    }

    /// Signs up `email` with a first workspace; returns the session cookie and workspace id.
    pub async fn signup(&self, email: &str, workspace: &str) -> (Auth, String) {
        let reply = self
            .post(
                "/api/v1/auth/signup",
                json!({"email": email, "password": PASSWORD, "workspace_name": workspace}),
                &Auth::None,
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        let workspace_id = reply.body["workspaces"][0]["id"].as_str().expect("workspace id").to_owned();
        (session_of(&reply), workspace_id)
    }

    /// Signs in; returns the session cookie.
    pub async fn login(&self, email: &str, password: &str) -> Auth {
        let reply = self.post("/api/v1/auth/login", json!({"email": email, "password": password}), &Auth::None).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        session_of(&reply)
    }

    /// Invites `email` to a workspace with `role`; returns the invitation's token.
    pub async fn invite(&self, workspace: &str, by: &Auth, email: Option<&str>, role: &str) -> String {
        let reply = self
            .post(&format!("/api/v1/workspaces/{workspace}/invitations"), json!({"email": email, "role": role}), by)
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body["token"].as_str().expect("token").to_owned()
    }

    /// Invites `email` and accepts as a new account with [`PASSWORD`]; returns its session.
    pub async fn join(&self, workspace: &str, by: &Auth, email: &str, role: &str) -> Auth {
        let token = self.invite(workspace, by, Some(email), role).await;
        let reply =
            self.post("/api/v1/invitations/accept", json!({"token": token, "password": PASSWORD}), &Auth::None).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        session_of(&reply)
    }

    /// Waits (20 s at most) until every acknowledged attempt's row is in Postgres and nothing
    /// is left in the spool.
    pub async fn wait_until_stored(&self, acknowledged: &[uuid::Uuid]) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM verification_log WHERE id = ANY($1)")
                .bind(acknowledged)
                .fetch_one(&self.pool)
                .await
                .unwrap_or(0);
            if stored == acknowledged.len() as i64 && self.svc.spooled_attempts().await == 0 {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "only {stored} of {} acknowledged rows reached Postgres",
                acknowledged.len()
            );
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }

    /// Number of audit rows with this action.
    pub async fn audit_count(&self, action: &str) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = $1")
            .bind(action)
            .fetch_one(&self.pool)
            .await
            .expect("count")
    }
}

/// The session cookie a reply set.
pub fn session_of(reply: &Reply) -> Auth {
    let cookie = reply.headers.get(header::SET_COOKIE).and_then(|v| v.to_str().ok()).expect("set-cookie");
    let token = cookie.strip_prefix("cs_session=").and_then(|rest| rest.split(';').next()).expect("cs_session");
    Auth::Cookie(token.to_owned())
}

/// A workspace ready for identify: its id, app id and primary key's kid and secret.
pub struct Workspace {
    pub id: String,
    pub app_id: String,
    pub kid: String,
    pub secret: String,
    pub owner: Auth,
}

impl TestApp {
    /// Signs up an owner and returns the workspace with its revealed primary secret.
    pub async fn workspace(&self, email: &str) -> Workspace {
        let (owner, id) = self.signup(email, "Acme").await;
        let list = self.get("/api/v1/workspaces", &owner).await;
        let app_id = list.body[0]["app_id"].as_str().expect("app_id").to_owned();
        let keys = self.get(&format!("/api/v1/workspaces/{id}/keys"), &owner).await;
        let kid = keys.body[0]["kid"].as_str().expect("kid").to_owned();
        let secret = self.get(&format!("/api/v1/workspaces/{id}/keys/{kid}/secret"), &owner).await.body["secret"]
            .as_str()
            .expect("secret")
            .to_owned();
        Workspace { id, app_id, kid, secret, owner }
    }

    /// Changes some security settings of a workspace (merged into the current ones).
    pub async fn set_security(&self, ws: &Workspace, changes: Value) {
        let path = format!("/api/v1/workspaces/{}/security", ws.id);
        let mut current = self.get(&path, &ws.owner).await.body;
        if let (Some(current), Some(changes)) = (current.as_object_mut(), changes.as_object()) {
            for (k, v) in changes {
                current.insert(k.clone(), v.clone());
            }
        }
        let reply = self.put(&path, current, &ws.owner).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }

    /// Calls identify with a body; no cookie, the widget's origin.
    pub async fn identify(&self, body: Value) -> Reply {
        self.send(Method::POST, "/api/v1/identify", Some(body), &Auth::None, &[("origin", "https://app.example.com")])
            .await
    }

    /// The verification log row with this id, if committed.
    pub async fn log_row(&self, log_id: &Value) -> Option<(String, Option<String>, Option<String>)> {
        let id: uuid::Uuid = log_id.as_str()?.parse().ok()?;
        sqlx::query_as("SELECT outcome, reason, user_id FROM verification_log WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .ok()?
    }
}

/// An HS256 token signed with `secret` under `kid`, with `claims`.
pub fn jwt(secret: &str, kid: &str, claims: Value) -> String {
    let claims = claims.as_object().cloned().unwrap_or_default();
    countersign_core::sign_jwt(secret.as_bytes(), kid, &claims)
}

/// The current Unix time.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}
