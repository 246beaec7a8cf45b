//! `GET /metrics`: every documented metric is exposed with its labels, and identify traffic
//! moves the counters and histograms by exactly the number of attempts sent.

use axum::http::{header, Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use crate::support::{jwt, now, Auth, TestApp};

/// One scrape of `/metrics`, parsed into (series, value) pairs such as
/// `countersign_identify_total{outcome="verified",reason="none",platform="web"}` → 2.
struct Scrape {
    text: String,
    samples: Vec<(String, f64)>,
}

impl Scrape {
    async fn take(app: &TestApp) -> Scrape {
        let reply = app.get("/metrics", &Auth::None).await;
        assert_eq!(reply.status, StatusCode::OK);
        let content_type = reply.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
        let text = reply.body.as_str().expect("a text exposition").to_owned();
        let samples = text
            .lines()
            .filter(|line| !line.starts_with('#') && !line.is_empty())
            .map(|line| {
                let (series, value) = line.rsplit_once(' ').expect("series and value");
                (series.to_owned(), value.parse().expect("a number"))
            })
            .collect();
        Scrape { text, samples }
    }

    /// The value of a series (labels in the order the exposition prints them), 0 when absent.
    fn value(&self, series: &str) -> f64 {
        self.samples.iter().find(|(s, _)| s == series).map_or(0.0, |(_, v)| *v)
    }

    fn identify(&self, outcome: &str, reason: &str, platform: &str) -> f64 {
        self.value(&format!(
            "countersign_identify_total{{outcome=\"{outcome}\",platform=\"{platform}\",reason=\"{reason}\"}}"
        ))
    }
}

/// Every metric has its HELP and TYPE lines before any traffic, the unlabelled ones with a
/// sample; the identify counter appears with its three labels once an attempt is counted.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn every_metric_is_exposed_with_its_type(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let scrape = Scrape::take(&app).await;
    for (name, kind) in [
        ("countersign_identify_seconds", "histogram"),
        ("countersign_log_batch_size", "histogram"),
        ("countersign_log_spooled", "gauge"),
        ("countersign_log_dead_letters_total", "counter"),
        ("countersign_database_breaker_open", "gauge"),
    ] {
        assert!(scrape.text.contains(&format!("# HELP {name} ")), "no HELP for {name}:\n{}", scrape.text);
        assert!(scrape.text.contains(&format!("# TYPE {name} {kind}\n")), "{name} is not a {kind}:\n{}", scrape.text);
    }
    for series in [
        "countersign_identify_seconds_count",
        "countersign_identify_seconds_sum",
        "countersign_identify_seconds_bucket{le=\"0.0005\"}",
        "countersign_identify_seconds_bucket{le=\"1\"}",
        "countersign_identify_seconds_bucket{le=\"+Inf\"}",
        "countersign_log_batch_size_count",
        "countersign_log_batch_size_bucket{le=\"1024\"}",
        "countersign_log_spooled",
        "countersign_log_dead_letters_total",
        "countersign_database_breaker_open",
    ] {
        assert!(scrape.samples.iter().any(|(s, _)| s == series), "no sample {series}:\n{}", scrape.text);
    }
    assert_eq!(scrape.value("countersign_identify_seconds_count"), 0.0);
    assert_eq!(scrape.value("countersign_database_breaker_open"), 0.0);
    assert_eq!(scrape.value("countersign_log_spooled"), 0.0);

    let ws = app.workspace("owner@example.com").await;
    let token = jwt(&ws.secret, &ws.kid, json!({"user_id": "u-1", "exp": now() + 600}));
    assert_eq!(
        app.identify(json!({"app_id": ws.app_id, "platform": "web", "user_jwt": token})).await.status,
        StatusCode::OK
    );
    let scrape = Scrape::take(&app).await;
    assert!(scrape.text.contains("# TYPE countersign_identify_total counter\n"), "{}", scrape.text);
    assert_eq!(scrape.identify("verified", "none", "web"), 1.0, "{}", scrape.text);
}

/// Verified, rejected, would-reject and malformed attempts each move their own labelled
/// counter by exactly their number; the latency histogram counts every answered attempt and
/// the batch-size histogram sums to every committed log row.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn identify_traffic_moves_the_counters_by_the_right_amounts(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ws = app.workspace("owner@example.com").await;
    let before = Scrape::take(&app).await;

    let mut logged = Vec::new();
    let mut send = async |body: serde_json::Value, status: StatusCode| {
        let reply = app.identify(body).await;
        assert_eq!(reply.status, status, "{}", reply.body);
        logged.push(reply.body["log_id"].as_str().expect("log_id").parse::<uuid::Uuid>().expect("uuid"));
    };
    for user in ["u-1", "u-2", "u-3"] {
        let token = jwt(&ws.secret, &ws.kid, json!({"user_id": user, "exp": now() + 600}));
        send(json!({"app_id": ws.app_id, "platform": "web", "user_jwt": token}), StatusCode::OK).await;
    }
    let forged = jwt("not-the-secret-not-the-secret-xx", &ws.kid, json!({"user_id": "mallory"}));
    for _ in 0..2 {
        send(json!({"app_id": ws.app_id, "platform": "ios", "user_jwt": forged}), StatusCode::UNAUTHORIZED).await;
    }
    send(json!({"app_id": ws.app_id, "platform": "android", "user_jwt": 42}), StatusCode::BAD_REQUEST).await;
    app.set_security(&ws, json!({"modes": {"web": "enforce", "ios": "enforce", "android": "monitor"}})).await;
    send(json!({"app_id": ws.app_id, "platform": "android", "user_jwt": forged}), StatusCode::OK).await;
    // An unknown app is refused before any work: it is not an attempt of any workspace.
    let unknown = app.identify(json!({"app_id": "app_unknown", "platform": "web", "user_id": "x"})).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.body);
    app.wait_until_stored(&logged).await;

    let after = Scrape::take(&app).await;
    let moved = |outcome: &str, reason: &str, platform: &str| {
        after.identify(outcome, reason, platform) - before.identify(outcome, reason, platform)
    };
    assert_eq!(moved("verified", "none", "web"), 3.0, "{}", after.text);
    assert_eq!(moved("rejected", "invalid_signature", "ios"), 2.0, "{}", after.text);
    assert_eq!(moved("rejected", "invalid_request", "android"), 1.0, "{}", after.text);
    assert_eq!(moved("would_reject", "invalid_signature", "android"), 1.0, "{}", after.text);
    let counted: f64 =
        after.samples.iter().filter(|(s, _)| s.starts_with("countersign_identify_total{")).map(|(_, v)| v).sum();
    assert_eq!(counted, 7.0, "no other identify series moved:\n{}", after.text);

    // Latency is observed for every attempt that reached a verdict (the malformed one did not).
    let latency = |s: &Scrape, series: &str| s.value(&format!("countersign_identify_seconds_{series}"));
    assert_eq!(latency(&after, "count") - latency(&before, "count"), 6.0, "{}", after.text);
    assert_eq!(latency(&after, "bucket{le=\"+Inf\"}") - latency(&before, "bucket{le=\"+Inf\"}"), 6.0);
    assert!(latency(&after, "sum") > latency(&before, "sum"));
    assert!(latency(&after, "bucket{le=\"1\"}") <= latency(&after, "bucket{le=\"+Inf\"}"));

    // Every log row went through exactly one group commit.
    let batches = |s: &Scrape, series: &str| s.value(&format!("countersign_log_batch_size_{series}"));
    assert_eq!(batches(&after, "sum") - batches(&before, "sum"), 7.0, "{}", after.text);
    let commits = batches(&after, "count") - batches(&before, "count");
    assert!((1.0..=7.0).contains(&commits), "{commits} commits for 7 rows");
    assert_eq!(after.value("countersign_log_spooled"), 0.0);
    assert_eq!(after.value("countersign_log_dead_letters_total"), 0.0);
    assert_eq!(after.value("countersign_database_breaker_open"), 0.0);
}

/// Every dashboard and API response carries `X-Request-Id`: the caller's own when it is sane, a
/// fresh one (distinct per request) otherwise. The data plane answers with its `log_id` instead.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn every_response_carries_a_request_id(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let id = |reply: &crate::support::Reply| {
        reply.headers.get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
    };
    let kept = app.send(Method::GET, "/healthz", None, &Auth::None, &[("x-request-id", "lb-7f3a.2_x")]).await;
    assert_eq!(id(&kept), "lb-7f3a.2_x");
    let long = "a".repeat(65);
    for hostile in ["has space", "quote\"", long.as_str()] {
        let replaced = app.send(Method::GET, "/healthz", None, &Auth::None, &[("x-request-id", hostile)]).await;
        assert!(!id(&replaced).is_empty() && id(&replaced) != hostile, "{hostile:?} was echoed");
    }
    let first = app.get("/api/v1/me", &Auth::None).await;
    let second = app.get("/api/v1/workspaces", &Auth::None).await;
    assert!(!id(&first).is_empty() && !id(&second).is_empty());
    assert_ne!(id(&first), id(&second));
    let identify = app.identify(json!({"app_id": "app_nothing_here", "platform": "web"})).await;
    assert!(id(&identify).is_empty(), "the data plane carries no request id");
}
