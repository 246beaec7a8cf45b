//! Security alerts by webhook: delivery to a real receiver on loopback, signatures, retries,
//! exactly-once across instances, alerts from the rollups, SSRF refusals, roles, bad input.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use countersign_service::Settings;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::support::{Auth, TestApp, Workspace};

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Received {
    id: String,
    timestamp: String,
    signature: String,
    body: String,
}

/// A webhook receiver on 127.0.0.1: records every request; answers 500 to the first
/// `failures` of them, then 200.
#[derive(Clone)]
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    async fn start(failures: usize) -> Receiver {
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let seen = got.clone();
        let handler = move |headers: HeaderMap, body: String| {
            let seen = seen.clone();
            async move {
                let header =
                    |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
                let mut seen = seen.lock().expect("lock");
                seen.push(Received {
                    id: header("webhook-id"),
                    timestamp: header("webhook-timestamp"),
                    signature: header("webhook-signature"),
                    body,
                });
                if seen.len() <= failures {
                    (StatusCode::INTERNAL_SERVER_ERROR, "try again")
                } else {
                    (StatusCode::OK, "ok")
                }
            }
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/hooks", listener.local_addr().expect("addr"));
        tokio::spawn(async move {
            axum::serve(listener, axum::Router::new().route("/hooks", axum::routing::post(handler))).await
        });
        Receiver { url, got }
    }

    fn received(&self) -> Vec<Received> {
        self.got.lock().expect("lock").clone()
    }

    /// Waits (30 s at most) until `count` requests arrived, then a little longer so that a
    /// duplicate would show; returns them.
    async fn wait_for(&self, count: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.received().len() < count {
            assert!(Instant::now() < deadline, "only {} of {count} webhook requests arrived", self.received().len());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(Duration::from_millis(2500)).await;
        self.received()
    }
}

/// Checks a request's Standard Webhooks signature with the endpoint's `whsec_` secret.
fn assert_signed(secret: &str, got: &Received) -> Value {
    let key = STANDARD.decode(secret.strip_prefix("whsec_").expect("whsec_ prefix")).expect("base64 secret");
    let timestamp: i64 = got.timestamp.parse().expect("timestamp");
    assert!((timestamp - crate::support::now()).abs() < 60, "a fresh timestamp");
    let expected = countersign_core::webhook::signature(&key, &got.id, timestamp, &got.body);
    assert_eq!(got.signature, expected, "signature of {}", got.body);
    // Independently of the server's code: HMAC-SHA256 over "{id}.{timestamp}.{body}".
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).expect("key");
    mac.update(format!("{}.{}.{}", got.id, got.timestamp, got.body).as_bytes());
    assert_eq!(got.signature, format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes())));
    let body: Value = serde_json::from_str(&got.body).expect("JSON body");
    assert_eq!(body["id"].as_str(), Some(got.id.as_str()), "the body names its webhook-id");
    body
}

async fn local_app(pool: PgPool) -> TestApp {
    TestApp::with_settings(pool, Settings { webhooks_allow_private: true, ..Default::default() }).await
}

fn hooks_path(ws: &Workspace) -> String {
    format!("/api/v1/workspaces/{}/webhooks", ws.id)
}

/// Creates an endpoint; returns its id and secret.
async fn add_endpoint(app: &TestApp, ws: &Workspace, url: &str, events: &[&str]) -> (String, String) {
    let reply = app.post(&hooks_path(ws), json!({"url": url, "events": events}), &ws.owner).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    (reply.body["id"].as_str().expect("id").to_owned(), reply.body["secret"].as_str().expect("secret").to_owned())
}

const ALL_EVENTS: [&str; 10] = [
    "key.rotated",
    "key.revoked",
    "key.revealed",
    "key.imported",
    "security.changed",
    "attribute.changed",
    "member.changed",
    "alert.revoked_key_presented",
    "alert.rejection_spike",
    "alert.traffic_stopped",
];

/// Every audited change a webhook reports arrives once, signed, with its type; a change that
/// fails (and so rolls back) sends nothing; the secret is shown only at creation.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn every_event_is_delivered_once_and_signed(pool: PgPool) {
    let app = local_app(pool).await;
    let receiver = Receiver::start(0).await;
    let ws = app.workspace("owner@example.com").await;
    let (hook_id, secret) = add_endpoint(&app, &ws, &receiver.url, &ALL_EVENTS).await;
    assert!(secret.starts_with("whsec_"));
    let listed = app.get(&hooks_path(&ws), &ws.owner).await;
    assert_eq!(listed.body[0]["id"].as_str(), Some(hook_id.as_str()));
    assert!(!listed.body.to_string().contains(&secret), "the secret is shown once");

    let base = format!("/api/v1/workspaces/{}", ws.id);
    let rotated = app.post(&format!("{base}/keys/rotate"), json!({"grace_seconds": 3600}), &ws.owner).await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    assert_eq!(app.get(&format!("{base}/keys/{}/secret", ws.kid), &ws.owner).await.status, StatusCode::OK);
    assert_eq!(app.post(&format!("{base}/keys/{}/revoke", ws.kid), json!({}), &ws.owner).await.status, StatusCode::OK);
    let imported = app
        .post(
            &format!("{base}/keys/import"),
            json!({"secret": "imported-0123456789abcdefghijklmnopqrstuv", "primary": false}),
            &ws.owner,
        )
        .await;
    assert_eq!(imported.status, StatusCode::CREATED, "{}", imported.body);
    app.set_security(&ws, json!({"modes": {"web": "enforce", "ios": "off", "android": "off"}})).await;
    let attribute = app
        .post(&format!("{base}/attributes"), json!({"name": "plan", "type": "string", "secure_only": false}), &ws.owner)
        .await;
    assert_eq!(attribute.status, StatusCode::CREATED, "{}", attribute.body);
    app.join(&ws.id, &ws.owner, "dev@example.com", "developer").await;
    // A change that fails commits nothing, and sends nothing.
    assert_eq!(
        app.post(&format!("{base}/keys/k_missing/revoke"), json!({}), &ws.owner).await.status,
        StatusCode::NOT_FOUND
    );

    let got = receiver.wait_for(7).await;
    assert_eq!(got.len(), 7, "each change exactly once: {got:?}");
    let mut types: Vec<String> =
        got.iter().map(|g| assert_signed(&secret, g)["type"].as_str().unwrap_or_default().to_owned()).collect();
    types.sort();
    assert_eq!(
        types,
        [
            "attribute.changed",
            "key.imported",
            "key.revealed",
            "key.revoked",
            "key.rotated",
            "member.changed",
            "security.changed"
        ]
    );
    let mut ids: Vec<&str> = got.iter().map(|g| g.id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 7, "distinct webhook-ids");
    let revoked = got
        .iter()
        .map(|g| serde_json::from_str::<Value>(&g.body).unwrap_or_default())
        .find(|b| b["type"] == "key.revoked")
        .expect("revoked");
    assert_eq!(revoked["data"]["target"].as_str(), Some(ws.kid.as_str()));
    assert_eq!(revoked["data"]["actor"]["email"].as_str(), Some("owner@example.com"));
    assert_eq!(revoked["workspace_id"].as_str(), Some(ws.id.as_str()));

    let log = app.get(&format!("{}/{hook_id}/deliveries", hooks_path(&ws)), &ws.owner).await;
    assert_eq!(log.status, StatusCode::OK);
    let log = log.body.as_array().cloned().unwrap_or_default();
    assert_eq!(log.len(), 7);
    assert!(
        log.iter().all(|d| d["status"] == "delivered" && d["attempts"] == 1 && d["response_code"] == 200),
        "{log:?}"
    );
}

/// A receiver that answers 500 gets the event again after the backoff; the log shows it.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn a_failed_delivery_is_retried(pool: PgPool) {
    let app = local_app(pool).await;
    let receiver = Receiver::start(1).await;
    let ws = app.workspace("owner@example.com").await;
    let (hook_id, secret) = add_endpoint(&app, &ws, &receiver.url, &["key.revoked"]).await;
    let test = app.post(&format!("{}/{hook_id}/test", hooks_path(&ws)), json!({}), &ws.owner).await;
    assert_eq!(test.status, StatusCode::ACCEPTED, "{}", test.body);
    assert_eq!(test.body["event_type"], "webhook.test");

    let got = receiver.wait_for(2).await;
    assert_eq!(got.len(), 2, "one failure, one retry");
    assert_eq!(got[0].id, got[1].id, "the retry carries the same webhook-id");
    assert_eq!(assert_signed(&secret, &got[1])["type"], "webhook.test");
    let log = app.get(&format!("{}/{hook_id}/deliveries", hooks_path(&ws)), &ws.owner).await.body;
    assert_eq!(
        (log[0]["status"].as_str(), log[0]["attempts"].as_i64(), log[0]["response_code"].as_i64()),
        (Some("delivered"), Some(2), Some(200)),
        "{log}"
    );
    let endpoint = &app.get(&hooks_path(&ws), &ws.owner).await.body[0];
    assert_eq!(endpoint["consecutive_failures"], 0);
}

/// A rotation that revokes the previous key at once (`grace_seconds: 0`) tells `key.revoked`
/// subscribers, as a revocation does; one with a grace period does not.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn a_rotation_without_grace_is_a_revocation(pool: PgPool) {
    let app = local_app(pool).await;
    let receiver = Receiver::start(0).await;
    let ws = app.workspace("owner@example.com").await;
    let (_, secret) = add_endpoint(&app, &ws, &receiver.url, &["key.revoked"]).await;
    let keys = format!("/api/v1/workspaces/{}/keys", ws.id);
    let graceful = app.post(&format!("{keys}/rotate"), json!({"grace_seconds": 3600}), &ws.owner).await;
    assert_eq!(graceful.status, StatusCode::OK, "{}", graceful.body);
    let current = graceful.body["kid"].as_str().expect("new kid").to_owned();
    let at_once = app.post(&format!("{keys}/rotate"), json!({"grace_seconds": 0}), &ws.owner).await;
    assert_eq!(at_once.status, StatusCode::OK, "{}", at_once.body);

    let got = receiver.wait_for(1).await;
    let revoked: Vec<Value> = got.iter().map(|g| assert_signed(&secret, g)).collect();
    assert_eq!(revoked.len(), 1, "{revoked:?}");
    assert_eq!(revoked[0]["type"], "key.revoked");
    assert_eq!(revoked[0]["data"]["target"], current, "{}", revoked[0]);
}

/// Two instances on one database deliver every event exactly once between them: test events
/// and the events of real changes made through either instance.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn two_instances_deliver_each_event_once(pool: PgPool) {
    let first = local_app(pool.clone()).await;
    let second = local_app(pool).await;
    let receiver = Receiver::start(0).await;
    let ws = first.workspace("owner@example.com").await;
    let events = ["key.rotated", "key.revoked", "security.changed", "attribute.changed"];
    let (hook_id, secret) = add_endpoint(&first, &ws, &receiver.url, &events).await;
    for i in 0..30 {
        let app = if i % 2 == 0 { &first } else { &second };
        assert_eq!(
            app.post(&format!("{}/{hook_id}/test", hooks_path(&ws)), json!({}), &ws.owner).await.status,
            StatusCode::ACCEPTED
        );
    }
    let base = format!("/api/v1/workspaces/{}", ws.id);
    let rotated = first.post(&format!("{base}/keys/rotate"), json!({"grace_seconds": 0}), &ws.owner).await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    let security = second.get(&format!("{base}/security"), &ws.owner).await.body;
    let mut changed = security.clone();
    changed["modes"]["android"] = json!("monitor");
    assert_eq!(second.put(&format!("{base}/security"), changed, &ws.owner).await.status, StatusCode::OK);
    let attribute = json!({"name": "plan", "type": "string", "secure_only": true});
    assert_eq!(first.post(&format!("{base}/attributes"), attribute, &ws.owner).await.status, StatusCode::CREATED);

    let got = receiver.wait_for(34).await;
    assert_eq!(got.len(), 34);
    let mut ids: Vec<&str> = got.iter().map(|g| g.id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 34, "no event twice");
    let payloads: Vec<Value> = got.iter().map(|g| assert_signed(&secret, g)).collect();
    for event in events {
        let n = payloads.iter().filter(|p| p["type"] == event).count();
        assert_eq!(n, 1, "{event} delivered once");
    }
}

/// After 20 consecutive failures an endpoint is disabled and says why; enabling it again
/// clears that.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn repeated_failure_disables_the_endpoint(pool: PgPool) {
    let app = local_app(pool).await;
    let receiver = Receiver::start(usize::MAX).await;
    let ws = app.workspace("owner@example.com").await;
    let (hook_id, _) = add_endpoint(&app, &ws, &receiver.url, &["key.revoked"]).await;
    sqlx::query("UPDATE webhook_endpoints SET consecutive_failures = 19").execute(&app.pool).await.expect("update");
    app.post(&format!("{}/{hook_id}/test", hooks_path(&ws)), json!({}), &ws.owner).await;
    receiver.wait_for(1).await;
    let endpoint = app.get(&hooks_path(&ws), &ws.owner).await.body[0].clone();
    assert_eq!(endpoint["enabled"], false, "{endpoint}");
    let reason = endpoint["disabled_reason"].as_str().unwrap_or_default();
    assert!(reason.contains("20 consecutive") && reason.contains("HTTP 500"), "{reason}");
    assert_eq!(app.audit_count("webhook.disabled").await, 1, "the server's action is audited");
    // A disabled endpoint gets no events.
    app.post(&format!("/api/v1/workspaces/{}/keys/{}/revoke", ws.id, ws.kid), json!({}), &ws.owner).await;
    let enabled = app
        .put(
            &format!("{}/{hook_id}", hooks_path(&ws)),
            json!({"url": receiver.url, "events": ["key.revoked"], "enabled": true}),
            &ws.owner,
        )
        .await;
    assert_eq!(enabled.status, StatusCode::OK, "{}", enabled.body);
    assert_eq!(
        (
            enabled.body["enabled"].as_bool(),
            enabled.body["disabled_reason"].is_null(),
            enabled.body["consecutive_failures"].as_i64()
        ),
        (Some(true), true, Some(0))
    );
    let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM webhook_deliveries WHERE event_type = 'key.revoked'")
        .fetch_one(&app.pool)
        .await
        .expect("count");
    assert_eq!(pending, 0, "the revocation while disabled was not queued");
}

/// The checker raises each alert from the rollups once, whichever instances check, and
/// throttles it.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn alerts_from_the_rollups_are_raised_once(pool: PgPool) {
    let first = local_app(pool.clone()).await;
    let second = local_app(pool.clone()).await;
    let receiver = Receiver::start(0).await;
    let ws = first.workspace("owner@example.com").await;
    let (_, secret) = add_endpoint(
        &first,
        &ws,
        &receiver.url,
        &["alert.revoked_key_presented", "alert.rejection_spike", "alert.traffic_stopped"],
    )
    .await;
    let rows = [
        // A revoked key presented a minute ago; a spike of rejections; web traffic that stopped
        // 30 minutes ago.
        (1, "web", "rejected", "revoked_key", "k_old", 3),
        (2, "ios", "rejected", "invalid_signature", "", 150),
        (30, "web", "verified", "", "k_new", 40),
    ];
    for (minutes_ago, platform, outcome, reason, kid, attempts) in rows {
        sqlx::query(
            "INSERT INTO log_rollup_minute_merged (workspace_id, bucket, platform, outcome, reason, kid, attempts)
             VALUES ($1::uuid, date_trunc('minute', now()) - make_interval(mins => $2), $3, $4, $5, $6, $7)",
        )
        .bind(&ws.id)
        .bind(minutes_ago)
        .bind(platform)
        .bind(outcome)
        .bind(reason)
        .bind(kid)
        .bind(attempts as i64)
        .execute(&pool)
        .await
        .expect("rollup row");
    }
    let (a, b) = tokio::join!(first.svc.check_alerts(), second.svc.check_alerts());
    assert_eq!(a.expect("check") + b.expect("check"), 3, "three alerts, each raised by one instance");
    assert_eq!(first.svc.check_alerts().await.expect("check"), 0, "throttled");
    let got = receiver.wait_for(3).await;
    let mut types: Vec<String> =
        got.iter().map(|g| assert_signed(&secret, g)["type"].as_str().unwrap_or_default().to_owned()).collect();
    types.sort();
    assert_eq!(types, ["alert.rejection_spike", "alert.revoked_key_presented", "alert.traffic_stopped"]);
    let revoked = got
        .iter()
        .map(|g| serde_json::from_str::<Value>(&g.body).unwrap_or_default())
        .find(|b| b["type"] == "alert.revoked_key_presented")
        .expect("alert");
    assert_eq!(revoked["data"]["kid"], "k_old");
}

/// Without the switch, only https to public addresses is accepted.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn private_targets_are_refused(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ws = app.workspace("owner@example.com").await;
    for url in [
        "https://10.0.0.1/hook",
        "https://127.0.0.1/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://[::ffff:192.168.0.1]/hook",
        "https://localhost/hook",
        "https://0.0.0.0/hook",
        "http://93.184.216.34/hook",
    ] {
        let reply = app.post(&hooks_path(&ws), json!({"url": url, "events": ["key.revoked"]}), &ws.owner).await;
        assert_eq!((reply.status, reply.code()), (StatusCode::BAD_REQUEST, "invalid_request"), "{url}: {}", reply.body);
    }
    let count: i64 =
        sqlx::query_scalar("SELECT count(*) FROM webhook_endpoints").fetch_one(&app.pool).await.expect("count");
    assert_eq!(count, 0);
}

/// Hostile input on every field is a 400 (413 when too big), never a 500.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn hostile_input_is_refused(pool: PgPool) {
    let app = local_app(pool).await;
    let receiver = Receiver::start(0).await;
    let ws = app.workspace("owner@example.com").await;
    let path = hooks_path(&ws);
    let long = format!("{}/{}", receiver.url, "a".repeat(5000));
    for body in [
        json!({"url": long, "events": ["key.revoked"]}),
        json!({"url": format!("{}\u{0}", receiver.url), "events": ["key.revoked"]}),
        json!({"url": "https://exa mple.com/", "events": ["key.revoked"]}),
        json!({"url": "https://user:pw@example.com/", "events": ["key.revoked"]}),
        json!({"url": receiver.url, "events": []}),
        json!({"url": receiver.url, "events": ["webhook.test"]}),
        json!({"url": receiver.url, "events": ["\u{0}".repeat(1000)]}),
        json!({"url": receiver.url, "events": "key.revoked"}),
        json!({"url": 5, "events": ["key.revoked"]}),
        json!({"events": ["key.revoked"]}),
        json!([]),
    ] {
        let reply = app.post(&path, body.clone(), &ws.owner).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}: {}", reply.body);
    }
    let bad_json = app
        .raw(
            axum::http::Request::post(path.as_str())
                .header("origin", crate::support::ORIGIN)
                .header("content-type", "application/json")
                .header(
                    "cookie",
                    match &ws.owner {
                        Auth::Cookie(t) => format!("cs_session={t}"),
                        _ => String::new(),
                    },
                )
                .body(axum::body::Body::from("{\"url\": "))
                .expect("request"),
        )
        .await;
    assert_eq!(bad_json.status, StatusCode::BAD_REQUEST, "{}", bad_json.body);
    // A malformed id names no endpoint; a NUL in the path is refused outright.
    for (bad_id, status) in [("not-a-uuid", StatusCode::NOT_FOUND), ("%00", StatusCode::BAD_REQUEST)] {
        let reply = app.get(&format!("{path}/{bad_id}/deliveries"), &ws.owner).await;
        assert_eq!(reply.status, status, "{bad_id}: {}", reply.body);
    }
    let missing = app.post(&format!("{path}/{}/test", uuid::Uuid::new_v4()), json!({}), &ws.owner).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let count: i64 =
        sqlx::query_scalar("SELECT count(*) FROM webhook_endpoints").fetch_one(&app.pool).await.expect("count");
    assert_eq!(count, 0);
}

/// Owners and admins manage webhooks; developers and support get 403.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn only_owners_and_admins_manage_webhooks(pool: PgPool) {
    let app = local_app(pool).await;
    let ws = app.workspace("owner@example.com").await;
    let path = hooks_path(&ws);
    let (hook_id, _) = add_endpoint(&app, &ws, "http://127.0.0.1:9/hooks", &["key.revoked"]).await;
    for role in ["developer", "support"] {
        let member = app.join(&ws.id, &ws.owner, &format!("{role}@example.com"), role).await;
        assert_eq!(app.get(&path, &member).await.status, StatusCode::FORBIDDEN, "{role}");
        assert_eq!(
            app.post(&path, json!({"url": "http://127.0.0.1:9/x", "events": ["key.revoked"]}), &member).await.status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(app.delete(&format!("{path}/{hook_id}"), &member).await.status, StatusCode::FORBIDDEN);
        assert_eq!(app.get(&format!("{path}/{hook_id}/deliveries"), &member).await.status, StatusCode::FORBIDDEN);
    }
    let admin = app.join(&ws.id, &ws.owner, "admin@example.com", "admin").await;
    assert_eq!(app.get(&path, &admin).await.status, StatusCode::OK);
    assert_eq!(app.delete(&format!("{path}/{hook_id}"), &admin).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.audit_count("webhook.deleted").await, 1);
    assert_eq!(app.get(&path, &admin).await.body, json!([]));
}

/// A receiver that never answers times out after 10 seconds; one that answers with a huge body
/// has only a short excerpt kept. Both count as failed attempts, to be retried.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn silent_and_verbose_receivers_are_bounded(pool: PgPool) {
    let app = local_app(pool).await;
    let ws = app.workspace("owner@example.com").await;
    // Accepts connections and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let silent_url = format!("http://{}/hooks", silent.local_addr().expect("addr"));
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    // Answers 500 with a 1 MiB body.
    let verbose = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let verbose_url = format!("http://{}/hooks", verbose.local_addr().expect("addr"));
    let huge = "x".repeat(1 << 20);
    let router = axum::Router::new()
        .route("/hooks", axum::routing::post(move || async move { (StatusCode::INTERNAL_SERVER_ERROR, huge) }));
    tokio::spawn(async move { axum::serve(verbose, router).await });

    let (silent_id, _) = add_endpoint(&app, &ws, &silent_url, &["key.revoked"]).await;
    let (verbose_id, _) = add_endpoint(&app, &ws, &verbose_url, &["key.revoked"]).await;
    let started = Instant::now();
    for hook in [&silent_id, &verbose_id] {
        assert_eq!(
            app.post(&format!("{}/{hook}/test", hooks_path(&ws)), json!({}), &ws.owner).await.status,
            StatusCode::ACCEPTED
        );
    }
    let silent_log = first_attempt(&app, &ws, &silent_id, started).await;
    assert!(started.elapsed() >= Duration::from_secs(10), "gave up only after the timeout");
    assert_eq!(
        (silent_log["status"].as_str(), silent_log["response_code"].as_i64()),
        (Some("pending"), None),
        "{silent_log}"
    );
    assert_eq!(silent_log["error"], "No answer within 10 seconds.");
    assert!(silent_log["next_attempt_at"].is_string(), "retried later: {silent_log}");
    let verbose_log = first_attempt(&app, &ws, &verbose_id, started).await;
    assert_eq!(verbose_log["response_code"], 500, "{verbose_log}");
    let excerpt = verbose_log["response_excerpt"].as_str().unwrap_or_default();
    assert!(!excerpt.is_empty() && excerpt.len() <= 256, "{} bytes kept", excerpt.len());
}

/// A redirect is an answer, not an instruction: the delivery is not followed to the `Location`
/// (which could point anywhere, the cloud metadata address included), the 307 is logged and
/// retried later, and the redirect's target hears nothing.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn redirects_are_not_followed(pool: PgPool) {
    let app = local_app(pool).await;
    let ws = app.workspace("owner@example.com").await;
    let elsewhere = Receiver::start(0).await;
    let redirector = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let redirector_url = format!("http://{}/hooks", redirector.local_addr().expect("addr"));
    let location = elsewhere.url.clone();
    let router = axum::Router::new().route(
        "/hooks",
        axum::routing::post(move || async move {
            (StatusCode::TEMPORARY_REDIRECT, [(axum::http::header::LOCATION, location)], "moved")
        }),
    );
    tokio::spawn(async move { axum::serve(redirector, router).await });

    let (hook, _) = add_endpoint(&app, &ws, &redirector_url, &["key.revoked"]).await;
    let started = Instant::now();
    let test = app.post(&format!("{}/{hook}/test", hooks_path(&ws)), json!({}), &ws.owner).await;
    assert_eq!(test.status, StatusCode::ACCEPTED, "{}", test.body);
    let log = first_attempt(&app, &ws, &hook, started).await;
    assert_eq!((log["status"].as_str(), log["response_code"].as_i64()), (Some("pending"), Some(307)), "{log}");
    assert!(log["next_attempt_at"].is_string(), "retried later: {log}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(elsewhere.received().is_empty(), "the redirect was followed");
}

/// Addresses are checked when a delivery is made, not only when the endpoint is saved: a host
/// that resolved to a public address then and to loopback now (DNS rebinding; here the stored
/// URL is changed under the service) is refused before any connection is opened.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn addresses_are_checked_at_delivery(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ws = app.workspace("owner@example.com").await;
    let (hook, _) = add_endpoint(&app, &ws, "https://93.184.216.34/hook", &["key.revoked"]).await;
    let loopback = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = loopback.local_addr().expect("addr").port();
    let connections = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = connections.clone();
    tokio::spawn(async move {
        while let Ok((_socket, _)) = loopback.accept().await {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    sqlx::query("UPDATE webhook_endpoints SET url = $1 WHERE id = $2::uuid")
        .bind(format!("https://localhost:{port}/hook"))
        .bind(&hook)
        .execute(&app.pool)
        .await
        .expect("point the endpoint at a name that now resolves to loopback");

    let started = Instant::now();
    let test = app.post(&format!("{}/{hook}/test", hooks_path(&ws)), json!({}), &ws.owner).await;
    assert_eq!(test.status, StatusCode::ACCEPTED, "{}", test.body);
    let log = first_attempt(&app, &ws, &hook, started).await;
    let error = log["error"].as_str().unwrap_or_default();
    assert!(error.contains("resolves to") && error.contains("127.0.0.1"), "{log}");
    assert_eq!(log["response_code"], Value::Null, "{log}");
    assert_eq!(connections.load(std::sync::atomic::Ordering::SeqCst), 0, "no connection to loopback was opened");
}

/// The newest delivery of an endpoint once an attempt is recorded (30 s at most).
async fn first_attempt(app: &TestApp, ws: &Workspace, hook: &str, started: Instant) -> Value {
    let path = format!("{}/{hook}/deliveries", hooks_path(ws));
    loop {
        let log = app.get(&path, &ws.owner).await.body;
        if log[0]["attempts"].as_i64().is_some_and(|n| n >= 1) {
            return log[0].clone();
        }
        assert!(started.elapsed() < Duration::from_secs(30), "no attempt recorded: {log}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
