//! Two server processes on one database: a key rotation takes effect on both within a second.

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
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_countersign-server"))
        .arg("serve")
        .env("DATABASE_URL", database_url)
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

/// A minimal HTTP/1.1 POST (GET when the body is empty); returns status and JSON body.
async fn post(port: u16, path: &str, body: &str) -> Option<(u16, Value)> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.ok()?;
    let method = if body.is_empty() { "GET" } else { "POST" };
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
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
    let rotated = Instant::now();
    for server in [&a, &b] {
        loop {
            let (status, reply) = post(server.1, "/api/v1/identify", &body).await.expect("identify");
            if status == 401 {
                assert_eq!(reply["error"]["code"], "revoked_key");
                break;
            }
            assert!(
                rotated.elapsed() < Duration::from_secs(1),
                "process on port {} still accepts the revoked key",
                server.1
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    println!("both processes converged in {:?}", rotated.elapsed());
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

/// Reads what the server sends on `stream` until it closes the connection (or 30 s pass).
async fn read_until_closed(stream: &mut tokio::net::TcpStream) -> (Duration, String) {
    let started = Instant::now();
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut raw)).await;
    (started.elapsed(), String::from_utf8_lossy(&raw).into_owned())
}

/// Slow clients are cut off: headers that never finish, and a body that stops arriving, end
/// the connection after the listener's timeouts instead of holding it open.
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

    let limit = countersign_server::listen::HEADER_TIMEOUT.max(countersign_server::listen::BODY_IDLE_TIMEOUT)
        + Duration::from_secs(5);
    let ((header_wait, _), (body_wait, body_answer)) =
        tokio::join!(read_until_closed(&mut slow_headers), read_until_closed(&mut slow_body));
    assert!(header_wait < limit, "a client that never finished its headers was kept {header_wait:?}");
    assert!(body_wait < limit, "a client that stopped sending its body was kept {body_wait:?}");
    assert!(body_answer.is_empty() || body_answer.contains("\"error\""), "a JSON error, if any: {body_answer}");

    let (status, _) = post(server.1, "/healthz", "").await.expect("healthz");
    assert_eq!(status, 200, "the server still serves");
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
    for needle in ["serve", "migrate", "seed-demo", "rekey", "DATABASE_URL", "COUNTERSIGN_LOG_FORMAT"] {
        assert!(text.contains(needle), "--help does not mention {needle}");
    }
    let unknown = run(&["launch"], &[]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("unknown command \"launch\""));
    for (name, value) in
        [("COUNTERSIGN_ADDR", "nowhere"), ("COUNTERSIGN_LOG_FORMAT", "xml"), ("COUNTERSIGN_MASTER_KEY", "short")]
    {
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
