//! Two server processes on one database: a key rotation takes effect on both within a second,
//! directly and through PgBouncer in transaction mode (`COUNTERSIGN_TEST_POOLER_URL`, which
//! scripts/test sets), even while the configuration listener's connection keeps being cut.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use countersign_service::crypto::{Keyring, MasterKey};
use countersign_service::{Actor, Clock, RequestMeta, Service, Settings};
use serde_json::{json, Value};
use sqlx::PgPool;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Kills the process when the test ends, whatever happens.
struct Server(Child, u16);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or(0)
}

async fn start(database_url: &str) -> Server {
    start_with(&[("DATABASE_URL", database_url.to_owned())]).await
}

/// A server on `direct`'s database through the test pooler (transaction mode), with `direct`
/// as its direct URL (migrations, LISTEN).
async fn start_pooled(pooler: &str, direct: &str) -> Server {
    start_with(&[
        ("DATABASE_URL", pooler.to_owned()),
        ("COUNTERSIGN_DB_POOLER", "transaction".to_owned()),
        ("COUNTERSIGN_DIRECT_DATABASE_URL", direct.to_owned()),
    ])
    .await
}

/// The test pooler's URL for the database of `direct`, or `None` (with a note) when no pooler
/// was provided.
fn pooler_url(direct: &str, test: &str) -> Option<String> {
    let Some(base) = std::env::var("COUNTERSIGN_TEST_POOLER_URL").ok().filter(|v| !v.is_empty()) else {
        println!("{test}: skipped, COUNTERSIGN_TEST_POOLER_URL is not set (scripts/test sets it)");
        return None;
    };
    let database = direct.rsplit_once('/').map(|(_, d)| d)?;
    Some(format!("{}/{database}", base.rsplit_once('/').map(|(b, _)| b).unwrap_or(&base)))
}

/// Closes the pooler's server connections to the test's database when the test ends (passed
/// or not), so that sqlx can drop the database: PgBouncer keeps idle ones open otherwise.
struct PoolerConnections(String);

impl Drop for PoolerConnections {
    fn drop(&mut self) {
        let Ok(base) = std::env::var("DATABASE_URL") else { return };
        let admin = format!("{}/postgres", base.rsplit_once('/').map(|(b, _)| b).unwrap_or(&base));
        let sql = format!(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '{}' AND pid <> pg_backend_pid()",
            self.0.replace('\'', "")
        );
        let _ = Command::new("psql").args([admin.as_str(), "-qtAc", sql.as_str()]).stdout(Stdio::null()).status();
    }
}

async fn start_with(env: &[(&str, String)]) -> Server {
    let port = free_port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_countersign-server"));
    for (name, value) in env {
        command.env(name, value);
    }
    let child = command
        .arg("serve")
        .env("COUNTERSIGN_ADDR", format!("127.0.0.1:{port}"))
        .env("COUNTERSIGN_LOG", "warn")
        .env("COUNTERSIGN_SPOOL_DIR", std::env::temp_dir().join(format!("countersign-spool-{port}")))
        .stdout(Stdio::null())
        .spawn()
        .expect("server starts");
    let server = Server(child, port);
    let deadline = Instant::now() + Duration::from_secs(30);
    while post(port, "/healthz", "").await.is_none() {
        assert!(Instant::now() < deadline, "server on port {port} did not come up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server
}

/// A minimal HTTP/1.1 exchange (`headers` end each line with CRLF); returns status and JSON body.
async fn exchange(port: u16, method: &str, path: &str, headers: &str, body: &str) -> Option<(u16, Value)> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.ok()?;
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.ok()?;
    let text = String::from_utf8_lossy(&raw);
    let status = text.split(' ').nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    Some((status, serde_json::from_str(body).unwrap_or(Value::Null)))
}

/// A JSON POST (a GET when the body is empty).
async fn post(port: u16, path: &str, body: &str) -> Option<(u16, Value)> {
    let method = if body.is_empty() { "GET" } else { "POST" };
    exchange(port, method, path, "Content-Type: application/json\r\n", body).await
}

/// A GET with a personal access token.
async fn get_as(port: u16, path: &str, token: &str) -> Option<(u16, Value)> {
    exchange(port, "GET", path, &format!("Authorization: Bearer {token}\r\n"), "").await
}

/// The URL of the test's own database (sqlx::test makes one per test).
async fn database_url(pool: &PgPool) -> String {
    let database: String = sqlx::query_scalar("SELECT current_database()").fetch_one(pool).await.expect("db name");
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    format!("{}/{database}", base.rsplit_once('/').map(|(b, _)| b).unwrap_or(&base))
}

/// An owner with a workspace, made through the service, and a valid identify body for it.
struct Provisioned {
    admin: Service,
    owner: Actor,
    workspace: countersign_proto::WorkspaceSummary,
    body: String,
}

async fn provision(pool: PgPool) -> Provisioned {
    let dev_key = countersign_server::config::parse_key(countersign_server::config::DEV_MASTER_KEY).expect("dev key");
    let spool_dir = std::env::temp_dir().join(format!("countersign-spool-{}", uuid::Uuid::new_v4()));
    let settings = Settings { spool_dir, ..Settings::default() };
    let admin =
        Service::new(pool, Clock::system(), settings, Keyring::single(MasterKey::new(dev_key))).expect("service");
    let session = admin
        .signup("owner@example.com", "correct-horse-battery", "Acme", &RequestMeta::default())
        .await
        .expect("signup");
    let owner =
        Actor { account_id: session.account.id, email: session.account.email.clone(), meta: RequestMeta::default() };
    let workspace = admin.list_workspaces(&owner).await.expect("workspaces").remove(0);
    let kid = admin.list_keys(&owner, workspace.id).await.expect("keys")[0].kid.clone();
    let secret = admin.reveal_secret(&owner, workspace.id, &kid).await.expect("secret").secret;
    let claims = json!({"user_id": "u-1"}).as_object().cloned().unwrap_or_default();
    let body = json!({"app_id": workspace.app_id, "platform": "web", "user_jwt": countersign_core::sign_jwt(secret.as_bytes(), &kid, &claims)}).to_string();
    Provisioned { admin, owner, workspace, body }
}

/// Both processes verify a token; after a rotation with no grace, both refuse it within 1 s.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn rotation_reaches_both_processes_within_a_second(pool: PgPool) {
    let url = database_url(&pool).await;
    let (a, b) = (start(&url).await, start(&url).await);

    let Provisioned { admin, owner, workspace, body } = provision(pool).await;

    for server in [&a, &b] {
        let (status, reply) = post(server.1, "/api/v1/identify", &body).await.expect("identify");
        assert_eq!((status, reply["verified"].clone()), (200, json!(true)), "{reply}");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    admin.rotate_key(&owner, workspace.id, Some(0)).await.expect("rotate");
    let took = refused_by_all(&[&a, &b], &body, Instant::now()).await;
    println!("both processes converged in {took:?}");
}

/// Waits until every server refuses `body` with `revoked_key`; fails if one still accepts it a
/// second after `changed`. Returns how long it took.
async fn refused_by_all(servers: &[&Server], body: &str, changed: Instant) -> Duration {
    for server in servers {
        loop {
            let (status, reply) = post(server.1, "/api/v1/identify", body).await.expect("identify");
            if status == 401 {
                assert_eq!(reply["error"]["code"], "revoked_key");
                break;
            }
            assert!(
                changed.elapsed() < Duration::from_secs(1),
                "process on port {} still accepts the revoked key after {:?}",
                server.1,
                changed.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    changed.elapsed()
}

/// `n` identify calls spread over `servers` by 16 concurrent clients; every one must verify
/// (concurrent transactions make the pooler hand out its server connections in turn).
async fn identify_many(servers: &[&Server], body: &str, n: usize) {
    let ports: Vec<u16> = servers.iter().map(|s| s.1).collect();
    let clients: Vec<_> = (0..16)
        .map(|client| {
            let (ports, body) = (ports.clone(), body.to_owned());
            tokio::spawn(async move {
                for i in (client..n).step_by(16) {
                    let port = ports[i % ports.len()];
                    let (status, reply) = post(port, "/api/v1/identify", &body).await.expect("identify");
                    assert_eq!((status, reply["verified"].clone()), (200, json!(true)), "{reply}");
                }
            })
        })
        .collect();
    for client in clients {
        client.await.expect("client");
    }
}

/// Two processes behind PgBouncer in transaction mode: they start (migrations and LISTEN on the
/// direct URL), verify under concurrency, say so on /readyz, and a rotation with no grace
/// reaches both within a second.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn rotation_through_a_transaction_pooler_reaches_both_within_a_second(pool: PgPool) {
    let url = database_url(&pool).await;
    let Some(pooled) = pooler_url(&url, "rotation_through_a_transaction_pooler") else { return };
    let _closing = PoolerConnections(url.rsplit_once('/').map(|(_, d)| d.to_owned()).unwrap_or_default());
    let (a, b) = (start_pooled(&pooled, &url).await, start_pooled(&pooled, &url).await);
    let Provisioned { admin, owner, workspace, body } = provision(pool.clone()).await;

    identify_many(&[&a, &b], &body, 400).await;
    for server in [&a, &b] {
        let (status, ready) = post(server.1, "/readyz", "").await.expect("readyz");
        assert_eq!(status, 200, "{ready}");
        assert_eq!(
            (ready["db_pooler"].as_str(), ready["config_changes"].as_str()),
            (Some("transaction"), Some("listen"))
        );
    }
    // Every acknowledged attempt was committed through the pooler.
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM verification_log").fetch_one(&pool).await.expect("count");
    assert!(stored >= 400, "{stored} log rows for 400 acknowledged attempts");

    admin.rotate_key(&owner, workspace.id, Some(0)).await.expect("rotate");
    let took = refused_by_all(&[&a, &b], &body, Instant::now()).await;
    println!("through the pooler, both processes converged in {took:?}");
}

/// The configuration listener's connection is cut again and again (pg_terminate_backend in a
/// loop): the instances poll meanwhile, and a revocation still reaches both within a second.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn revocation_converges_while_the_listener_is_cut(pool: PgPool) {
    let url = database_url(&pool).await;
    let _closing = PoolerConnections(url.rsplit_once('/').map(|(_, d)| d.to_owned()).unwrap_or_default());
    let (a, b) = match pooler_url(&url, "revocation_converges_while_the_listener_is_cut (through the pooler)") {
        Some(pooled) => (start_pooled(&pooled, &url).await, start_pooled(&pooled, &url).await),
        None => (start(&url).await, start(&url).await),
    };
    let Provisioned { admin, owner, workspace, body } = provision(pool.clone()).await;
    identify_many(&[&a, &b], &body, 32).await;

    let polls_before = metric(&raw_get(a.1, "/metrics").await, "countersign_config_polls_total");
    let cutting = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let cutter = tokio::spawn({
        let (pool, cutting) = (pool.clone(), cutting.clone());
        async move {
            let mut cut = 0i64;
            while cutting.load(std::sync::atomic::Ordering::Relaxed) {
                cut += sqlx::query_scalar::<_, i64>(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                      WHERE datname = current_database() AND pid <> pg_backend_pid() AND query ILIKE 'LISTEN%'",
                )
                .fetch_one(&pool)
                .await
                .unwrap_or(0);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            cut
        }
    });
    // Let the cuts take hold: each instance now polls most of the time.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let polls = metric(&raw_get(a.1, "/metrics").await, "countersign_config_polls_total");
    assert!(polls > polls_before, "no polling while the listener was cut ({polls_before} then {polls} polls)");

    let kid = admin.list_keys(&owner, workspace.id).await.expect("keys")[0].kid.clone();
    admin.revoke_key(&owner, workspace.id, &kid).await.expect("revoke");
    let took = refused_by_all(&[&a, &b], &body, Instant::now()).await;
    cutting.store(false, std::sync::atomic::Ordering::Relaxed);
    let cut = cutter.await.expect("cutter");
    assert!(cut > 2, "the listener's connection was cut only {cut} times");
    println!("listener cut {cut} times; both processes refused the revoked key within {took:?}");
}

/// The sum of a metric's samples (every label set) in a `/metrics` text.
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|line| line.strip_prefix(name).is_some_and(|rest| rest.starts_with([' ', '{'])))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// The raw answer to a GET.
async fn raw_get(port: u16, path: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read");
    String::from_utf8_lossy(&raw).into_owned()
}

/// Resident memory of a process, from /proc.
fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
    kib.unwrap_or(0) * 1024
}

/// A flood of distinct app ids (60 KiB random ones, and short ones shaped like real ids)
/// leaves the server's memory within a fixed bound, and a real app keeps answering.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn app_id_flood_keeps_memory_bounded(pool: PgPool) {
    let url = database_url(&pool).await;
    let server = start(&url).await;
    let port = server.1;
    let before = rss_bytes(server.0.id());

    let senders: Vec<_> = (0..8u64)
        .map(|client| {
            tokio::spawn(async move {
                for i in 0..1_000u64 {
                    let app_id = if i % 3 == 0 {
                        format!("app_{client:08x}{i:016x}")
                    } else {
                        format!("{client}-{i}-{}", "x".repeat(60 * 1024))
                    };
                    let body = json!({"app_id": app_id, "platform": "web", "user_jwt": "a.b.c"}).to_string();
                    let (status, reply) = post(port, "/api/v1/identify", &body).await.expect("identify");
                    assert_eq!((status, reply["error"]["code"].as_str()), (404, Some("unknown_app")));
                }
            })
        })
        .collect();
    for sender in senders {
        sender.await.expect("flood client");
    }
    let after = rss_bytes(server.0.id());
    let grown = after.saturating_sub(before);
    println!("resident memory {before} -> {after} bytes (+{grown})");
    assert!(grown < 64 * 1024 * 1024, "the flood grew the server by {grown} bytes");

    let Provisioned { body, .. } = provision(pool).await;
    let (status, reply) = post(port, "/api/v1/identify", &body).await.expect("identify");
    assert_eq!((status, reply["verified"].clone()), (200, json!(true)), "{reply}");
}

/// Reads what the server sends on `stream` until it closes the connection (or a minute passes).
async fn read_until_closed(stream: &mut (impl tokio::io::AsyncRead + Unpin)) -> (Duration, String) {
    let started = Instant::now();
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(60), stream.read_to_end(&mut raw)).await;
    (started.elapsed(), String::from_utf8_lossy(&raw).into_owned())
}

/// Slow clients are cut off: headers that never finish, a body that stops arriving, and a body
/// that trickles in a byte at a time end the connection after the listener's limits instead of
/// holding it open.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn slow_clients_are_cut_off(pool: PgPool) {
    let url = database_url(&pool).await;
    let server = start(&url).await;

    let mut slow_headers = tokio::net::TcpStream::connect(("127.0.0.1", server.1)).await.expect("connect");
    slow_headers.write_all(b"POST /api/v1/identify HTTP/1.1\r\nHost: 127.0.0.1\r\n").await.expect("write");
    let mut slow_body = tokio::net::TcpStream::connect(("127.0.0.1", server.1)).await.expect("connect");
    slow_body
        .write_all(b"POST /api/v1/identify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"app_id\":")
        .await
        .expect("write");

    // A byte every 2 s: never idle for long, but 100 bytes would take over three minutes.
    let trickle = tokio::net::TcpStream::connect(("127.0.0.1", server.1)).await.expect("connect");
    let (mut trickle_in, mut trickle_out) = trickle.into_split();
    trickle_out
        .write_all(b"POST /api/v1/identify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n")
        .await
        .expect("write");
    let trickler = tokio::spawn(async move {
        while trickle_out.write_all(b" ").await.is_ok() {
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    });

    use countersign_server::listen::{BODY_DEADLINE, BODY_IDLE_TIMEOUT, HEADER_TIMEOUT};
    let slack = Duration::from_secs(5);
    let ((header_wait, _), (body_wait, body_answer), (trickle_wait, trickle_answer)) = tokio::join!(
        read_until_closed(&mut slow_headers),
        read_until_closed(&mut slow_body),
        read_until_closed(&mut trickle_in)
    );
    trickler.abort();
    assert!(header_wait < HEADER_TIMEOUT + slack, "a client that never finished its headers was kept {header_wait:?}");
    assert!(body_wait < BODY_IDLE_TIMEOUT + slack, "a client that stopped sending its body was kept {body_wait:?}");
    assert!(trickle_wait < BODY_DEADLINE + slack, "a client trickling its body was kept {trickle_wait:?}");
    for answer in [body_answer, trickle_answer] {
        assert!(answer.is_empty() || answer.contains("\"error\""), "a JSON error, if any: {answer}");
    }

    let (status, _) = post(server.1, "/healthz", "").await.expect("healthz");
    assert_eq!(status, 200, "the server still serves");
}

/// At `COUNTERSIGN_MAX_CONNECTIONS`, a new client waits in the accept queue until a connection
/// closes, then is served; `/metrics` counts the open connections.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn connections_beyond_the_limit_wait_their_turn(pool: PgPool) {
    let url = database_url(&pool).await;
    let server = start_with(&[("DATABASE_URL", url), ("COUNTERSIGN_MAX_CONNECTIONS", "2".to_owned())]).await;
    let idle_one = tokio::net::TcpStream::connect(("127.0.0.1", server.1)).await.expect("connect");
    let _idle_two = tokio::net::TcpStream::connect(("127.0.0.1", server.1)).await.expect("connect");
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut third = tokio::net::TcpStream::connect(("127.0.0.1", server.1)).await.expect("the kernel queues it");
    third.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").await.expect("write");
    let mut first_byte = [0u8; 1];
    let early = tokio::time::timeout(Duration::from_millis(1500), third.read(&mut first_byte)).await;
    assert!(early.is_err(), "a third connection was served beyond a limit of two");

    drop(idle_one);
    let (waited, answer) = read_until_closed(&mut third).await;
    assert!(waited < Duration::from_secs(5), "the queued client waited {waited:?} after a slot freed");
    assert!(answer.starts_with("HTTP/1.1 200"), "the queued client was served: {answer}");

    let open = metric(&raw_get(server.1, "/metrics").await, "countersign_http_connections_open");
    assert!((1.0..=2.0).contains(&open), "{open} connections counted open (an idle one and this one)");
}

/// SIGTERM under load: the server stops taking connections, finishes the requests under way and
/// exits 0, and every identify it acknowledged with a `log_id` has its row.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn sigterm_under_load_loses_no_acknowledged_row(pool: PgPool) {
    let url = database_url(&pool).await;
    let Provisioned { body, .. } = provision(pool.clone()).await;
    let mut server = start(&url).await;
    let port = server.1;
    let clients: Vec<_> = (0..16)
        .map(|_| {
            let body = body.clone();
            tokio::spawn(async move {
                let mut acknowledged = Vec::new();
                // Until the server refuses connections: each request opens its own.
                while let Some((status, reply)) = post(port, "/api/v1/identify", &body).await {
                    if let (200, Some(id)) = (status, reply["log_id"].as_str()) {
                        acknowledged.push(id.parse::<uuid::Uuid>().expect("log_id is a uuid"));
                    }
                }
                acknowledged
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let killed = Command::new("kill").args(["-TERM", &server.0.id().to_string()]).status().expect("kill runs");
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = server.0.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "the server did not stop within 30 s of SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "exit status after SIGTERM: {status}");
    let mut acknowledged = Vec::new();
    for client in clients {
        acknowledged.extend(client.await.expect("client"));
    }
    assert!(acknowledged.len() > 100, "only {} identify calls answered before SIGTERM", acknowledged.len());
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM verification_log WHERE id = ANY($1)")
        .bind(&acknowledged)
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(stored, acknowledged.len() as i64, "acknowledged rows missing after SIGTERM");
    println!("{} acknowledged identify calls, all stored", acknowledged.len());
}

/// `--help` lists the commands and settings; an unknown command or a bad setting stops with one
/// line naming it and exit status 2.
#[test]
fn help_and_bad_configuration() {
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_countersign-server"));
        command.args(args).env_remove("COUNTERSIGN_LOG");
        for (name, value) in env {
            command.env(name, value);
        }
        command.output().expect("runs")
    };
    let help = run(&["--help"], &[]);
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(help.status.success());
    for needle in [
        "serve",
        "migrate",
        "seed-demo",
        "rekey",
        "DATABASE_URL",
        "COUNTERSIGN_LOG_FORMAT",
        "COUNTERSIGN_DB_POOLER",
        "COUNTERSIGN_DIRECT_DATABASE_URL",
    ] {
        assert!(text.contains(needle), "--help does not mention {needle}");
    }
    let unknown = run(&["launch"], &[]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("unknown command \"launch\""));
    for (name, value) in [
        ("COUNTERSIGN_ADDR", "nowhere"),
        ("COUNTERSIGN_LOG_FORMAT", "xml"),
        ("COUNTERSIGN_MASTER_KEY", "short"),
        ("COUNTERSIGN_DB_POOLER", "statement"),
    ] {
        let bad = run(&["migrate"], &[(name, value)]);
        let stderr = String::from_utf8_lossy(&bad.stderr);
        assert_eq!(bad.status.code(), Some(2), "{name}={value}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{name}={value}: {stderr}");
        assert!(stderr.contains(name), "{name}={value}: {stderr}");
    }
}

/// `COUNTERSIGN_LOG_FORMAT=json`: every line on standard error is one JSON object, and a
/// request's line carries its request id.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn json_logs_carry_the_request_id(pool: PgPool) {
    let url = database_url(&pool).await;
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_countersign-server"))
        .arg("serve")
        .env("DATABASE_URL", &url)
        .env("COUNTERSIGN_ADDR", format!("127.0.0.1:{port}"))
        .env("COUNTERSIGN_LOG", "info")
        .env("COUNTERSIGN_LOG_FORMAT", "json")
        .env("COUNTERSIGN_SPOOL_DIR", std::env::temp_dir().join(format!("countersign-spool-{port}")))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("server starts");
    let mut server = Server(child, port);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut stream = match tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            Ok(stream) => stream,
            Err(_) => {
                assert!(Instant::now() < deadline, "server did not come up");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let request =
            "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Request-Id: json-log-check\r\nConnection: close\r\n\r\n";
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply).await.expect("read");
        assert!(String::from_utf8_lossy(&reply).to_ascii_lowercase().contains("x-request-id: json-log-check"));
        break;
    }
    Command::new("kill").args(["-TERM", &server.0.id().to_string()]).status().expect("kill runs");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut server.0.stderr.take().expect("stderr"), &mut stderr).expect("stderr");
    let lines: Vec<Value> = stderr
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not a JSON line: {line}")))
        .collect();
    assert!(
        lines.iter().any(|line| line["span"]["request_id"] == "json-log-check" && line["fields"]["status"] == 200),
        "no line for the request: {stderr}"
    );
}

/// A throw-away Postgres cluster (initdb, pg_ctl; as the `postgres` user when run as root),
/// with its own PgBouncer in transaction mode in front for the restart test.
struct PooledCluster {
    bin: std::path::PathBuf,
    dir: std::path::PathBuf,
    port: u16,
    bouncer_port: u16,
}

impl PooledCluster {
    fn start(with_pooler: bool) -> PooledCluster {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .into_iter()
            .flatten()
            .flatten()
            .map(|entry| entry.path().join("bin"))
            .filter(|bin| bin.join("initdb").exists())
            .max()
            .expect("PostgreSQL server binaries under /usr/lib/postgresql/*/bin");
        let dir = std::env::temp_dir().join(format!("countersign-pooled-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(dir.join("data")).expect("cluster dir");
        let cluster = PooledCluster { bin, dir, port: free_port(), bouncer_port: free_port() };
        if is_root() {
            run(Command::new("chown").args(["-R", "postgres"]).arg(&cluster.dir));
        }
        run(cluster.as_postgres(&cluster.bin.join("initdb")).arg("-D").arg(cluster.dir.join("data")).args([
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
        ]));
        cluster.ctl("start");
        if !with_pooler {
            return cluster;
        }
        let ini = cluster.dir.join("pgbouncer.ini");
        std::fs::write(cluster.dir.join("userlist.txt"), "\"postgres\" \"\"\n").expect("userlist");
        std::fs::write(
            &ini,
            format!(
                "[databases]\n* = host=127.0.0.1 port={}\n\n[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {}\n\
                 unix_socket_dir =\nauth_type = trust\nauth_file = {dir}/userlist.txt\npool_mode = transaction\n\
                 default_pool_size = 20\nmax_client_conn = 500\nserver_reset_query =\nserver_login_retry = 1\n\
                 ignore_startup_parameters = extra_float_digits,options\nlogfile = {dir}/pgbouncer.log\n\
                 pidfile = {dir}/pgbouncer.pid\n",
                cluster.port,
                cluster.bouncer_port,
                dir = cluster.dir.display()
            ),
        )
        .expect("pgbouncer.ini");
        if is_root() {
            run(Command::new("chown").args(["-R", "postgres"]).arg(&cluster.dir));
        }
        let bouncer = ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .unwrap_or("pgbouncer");
        run(cluster.as_postgres(std::path::Path::new(bouncer)).arg("-d").arg(&ini));
        cluster
    }

    fn direct_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn pooler_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.bouncer_port)
    }

    /// `pg_ctl <action>`; `restart` uses fast shutdown (aborts open transactions, closes every
    /// connection).
    fn ctl(&self, action: &str) {
        let data = self.dir.join("data");
        let options = format!("-p {} -k {} -c listen_addresses=127.0.0.1", self.port, data.display());
        run(self
            .as_postgres(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(data.join("server.log"))
            .args(["-w", "-m", "fast", "-o", &options, action]));
    }

    fn as_postgres(&self, program: &std::path::Path) -> Command {
        if is_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        }
    }
}

impl Drop for PooledCluster {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(self.dir.join("pgbouncer.pid")) {
            let _ = Command::new("kill").arg(pid.trim()).status();
        }
        let data = self.dir.join("data");
        let _ =
            self.as_postgres(&self.bin.join("pg_ctl")).arg("-D").arg(&data).args(["-m", "immediate", "stop"]).output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0\n")).unwrap_or(false)
}

fn run(command: &mut Command) {
    let output = command.output().unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(output.status.success(), "{command:?} failed: {}", String::from_utf8_lossy(&output.stderr));
}

/// Two processes behind PgBouncer in transaction mode while Postgres restarts under load:
/// every identify they acknowledged is in Postgres afterwards, and a revocation made after the
/// restart still reaches both within a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restart_behind_the_pooler_loses_no_acknowledged_row() {
    if pooler_url("postgres://x/y", "postgres_restart_behind_the_pooler_loses_no_acknowledged_row").is_none() {
        return;
    }
    let cluster = PooledCluster::start(true);
    let direct = cluster.direct_url();
    let (a, b) =
        (start_pooled(&cluster.pooler_url(), &direct).await, start_pooled(&cluster.pooler_url(), &direct).await);
    let pool = sqlx::postgres::PgPoolOptions::new().max_connections(4).connect(&direct).await.expect("connect");
    let Provisioned { admin, owner, workspace, body } = provision(pool.clone()).await;

    let ports = [a.1, b.1];
    let load_until = Instant::now() + Duration::from_secs(4);
    let clients: Vec<_> = (0..8)
        .map(|client| {
            let body = body.clone();
            tokio::spawn(async move {
                let (mut acknowledged, mut refused) = (Vec::new(), 0);
                let mut i = client;
                while Instant::now() < load_until {
                    i += 1;
                    let (status, reply) = post(ports[i % 2], "/api/v1/identify", &body).await.expect("identify");
                    match status {
                        200 => acknowledged
                            .push(reply["log_id"].as_str().unwrap_or("").parse::<uuid::Uuid>().expect("log_id")),
                        _ => {
                            // Refused attempts carry no promise; they must say so.
                            assert_eq!(reply["error"]["code"], "unavailable", "{reply}");
                            refused += 1;
                        }
                    }
                }
                (acknowledged, refused)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let cluster = tokio::task::spawn_blocking(move || {
        cluster.ctl("restart");
        cluster
    })
    .await
    .expect("restart");
    assert!(Instant::now() < load_until, "the restart finished while the load still ran");
    let (mut acknowledged, mut refused) = (Vec::new(), 0);
    for client in clients {
        let (ids, no) = client.await.expect("client");
        acknowledged.extend(ids);
        refused += no;
    }
    assert!(acknowledged.len() > 100, "the load was real: {} acknowledged", acknowledged.len());

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM verification_log WHERE id = ANY($1)")
            .bind(&acknowledged)
            .fetch_one(&pool)
            .await
            .unwrap_or(0);
        if stored == acknowledged.len() as i64 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{stored} of {} acknowledged rows stored 30 s after the restart",
            acknowledged.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!("{} acknowledged through the pooler across a restart ({refused} refused), all stored", acknowledged.len());

    let kid = admin.list_keys(&owner, workspace.id).await.expect("keys")[0].kid.clone();
    admin.revoke_key(&owner, workspace.id, &kid).await.expect("revoke");
    let took = refused_by_all(&[&a, &b], &body, Instant::now()).await;
    println!("after the restart, both processes refused the revoked key within {took:?}");
    drop((a, b));
    drop(cluster);
}

/// A primary and its streaming replica (`pg_basebackup -R`), each a throw-away cluster.
struct Replicated {
    primary: PooledCluster,
    replica_data: std::path::PathBuf,
    replica_port: u16,
}

impl Replicated {
    fn start() -> Replicated {
        let primary = PooledCluster::start(false);
        let replica_data = primary.dir.join("replica");
        let replica_port = free_port();
        run(primary
            .as_postgres(&primary.bin.join("pg_basebackup"))
            .args(["-h", "127.0.0.1", "-p", &primary.port.to_string(), "-U", "postgres", "-X", "stream", "-R", "-D"])
            .arg(&replica_data));
        let options = format!("-p {replica_port} -k {} -c listen_addresses=127.0.0.1", replica_data.display());
        run(primary
            .as_postgres(&primary.bin.join("pg_ctl"))
            .arg("-D")
            .arg(&replica_data)
            .arg("-l")
            .arg(replica_data.join("server.log"))
            .args(["-w", "-o", &options, "start"]));
        Replicated { primary, replica_data, replica_port }
    }

    fn replica_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.replica_port)
    }
}

impl Drop for Replicated {
    fn drop(&mut self) {
        let _ = self
            .primary
            .as_postgres(&self.primary.bin.join("pg_ctl"))
            .arg("-D")
            .arg(&self.replica_data)
            .args(["-m", "immediate", "stop"])
            .output();
    }
}

/// With `COUNTERSIGN_READ_DATABASE_URL` on a streaming replica, the log page reads the replica:
/// while its replay is paused it shows what the replica has (not the primary's newer rows) and
/// says how far behind it is once that is over a few seconds; resumed, it shows everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_page_reads_the_replica_and_shows_its_lag() {
    let cluster = Replicated::start();
    let primary_url = cluster.primary.direct_url();
    let server =
        start_with(&[("DATABASE_URL", primary_url.clone()), ("COUNTERSIGN_READ_DATABASE_URL", cluster.replica_url())])
            .await;
    let pool = sqlx::postgres::PgPoolOptions::new().max_connections(4).connect(&primary_url).await.expect("connect");
    let replica = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(&cluster.replica_url())
        .await
        .expect("connect to the replica");
    let Provisioned { admin, owner, workspace, body } = provision(pool.clone()).await;
    let admin = admin.with_read_replica(replica.clone().into());
    let page = |admin: Service| {
        let owner = owner.clone();
        async move {
            admin
                .list_logs(&owner, workspace.id, &countersign_service::logs::LogFilter::default())
                .await
                .expect("log page")
                .items
                .len()
        }
    };

    for _ in 0..6 {
        let (status, reply) = post(server.1, "/api/v1/identify", &body).await.expect("identify");
        assert_eq!(status, 200, "{reply}");
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while page(admin.clone()).await < 6 {
        assert!(Instant::now() < deadline, "the replica never showed the first rows");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    sqlx::query("SELECT pg_wal_replay_pause()").execute(&replica).await.expect("pause replay");
    for _ in 0..4 {
        let (status, reply) = post(server.1, "/api/v1/identify", &body).await.expect("identify");
        assert_eq!(status, 200, "{reply}");
    }
    let on_primary: i64 =
        sqlx::query_scalar("SELECT count(*) FROM verification_log").fetch_one(&pool).await.expect("count");
    assert_eq!(on_primary, 10);
    assert_eq!(page(admin.clone()).await, 6, "the log page reads the replica, whose replay is paused");
    // The server process reads it too: its API answers from the replica.
    let token = admin.create_token(&owner, "replica check").await.expect("token").token;
    let logs = format!("/api/v1/workspaces/{}/logs", workspace.id);
    let served = |token: String, logs: String| async move {
        let (status, body) = get_as(server.1, &logs, &token).await.expect("log API");
        assert_eq!(status, 200, "{body}");
        body["items"].as_array().map_or(0, Vec::len)
    };
    assert_eq!(served(token.clone(), logs.clone()).await, 6, "the server's log API reads the paused replica");

    // Over a few seconds behind, the page says so.
    let deadline = Instant::now() + Duration::from_secs(15);
    let lag = loop {
        if let Some(lag) = admin.log_replica_lag_notice(&owner, workspace.id).await.expect("lag") {
            break lag;
        }
        assert!(Instant::now() < deadline, "no lag notice while the replica's replay was paused");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert!(lag >= 5, "{lag} s");

    sqlx::query("SELECT pg_wal_replay_resume()").execute(&replica).await.expect("resume replay");
    let deadline = Instant::now() + Duration::from_secs(10);
    while page(admin.clone()).await < 10 {
        assert!(Instant::now() < deadline, "the replica did not catch up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(admin.log_replica_lag_notice(&owner, workspace.id).await.expect("lag"), None);
    assert_eq!(served(token, logs).await, 10, "and, resumed, everything");
    println!("the log page read the replica: 6 rows while paused (10 on the primary), lag notice at {lag} s");
    drop(server);
}

/// `seed-demo` creates today's log partition before it sends the demo's traffic: rows of today
/// in the default partition would keep that partition from ever being created.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn the_demo_traffic_lands_in_its_day_partition(pool: PgPool) {
    let output = Command::new(env!("CARGO_BIN_EXE_countersign-server"))
        .arg("seed-demo")
        .env("DATABASE_URL", database_url(&pool).await)
        .env_remove("COUNTERSIGN_LOG")
        .output()
        .expect("runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let (today, in_default): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM verification_log WHERE at >= current_date),
                (SELECT count(*) FROM verification_log_default WHERE at >= current_date)",
    )
    .fetch_one(&pool)
    .await
    .expect("counts");
    assert!(today > 0, "the demo sent traffic today");
    assert_eq!(in_default, 0, "today's rows are in today's partition");
}
