//! The log explorer's API: every filter, the keyset cursor with filters, hostile filter values,
//! and the streamed export (CSV and NDJSON).

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use chrono::{DateTime, Duration, Utc};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use sqlx::PgPool;
use tower::ServiceExt;
use uuid::Uuid;

use crate::support::{jwt, Auth, TestApp, Workspace};

/// Percent-encodes a query value (everything but unreserved characters).
pub fn enc(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A row written straight into the log, with its hourly rollup and origin hour as the log
/// writer keeps them, for time-range and volume fixtures.
struct Row<'a> {
    at: DateTime<Utc>,
    outcome: &'a str,
    platform: &'a str,
    reason: Option<&'a str>,
    user_id: &'a str,
    kid: &'a str,
    origin: &'a str,
}

async fn insert(pool: &PgPool, ws: &Workspace, row: Row<'_>) {
    let ws_id: Uuid = ws.id.parse().expect("workspace id");
    sqlx::query(
        "INSERT INTO verification_log (id, workspace_id, at, outcome, reason, explanation, platform, kid, alg, user_id,
            attributes_accepted, attributes_rejected, details, origin, ip, user_agent, latency_us)
         VALUES ($1, $2, $3, $4, $5, 'fixture', $6, $7, 'HS256', $8, '{}', '[]', '{}', $9, '203.0.113.7', 'fixture-agent', 120)",
    )
    .bind(Uuid::now_v7())
    .bind(ws_id)
    .bind(row.at)
    .bind(row.outcome)
    .bind(row.reason)
    .bind(row.platform)
    .bind(row.kid)
    .bind(row.user_id)
    .bind(row.origin)
    .execute(pool)
    .await
    .expect("insert fixture row");
    sqlx::query(
        "INSERT INTO log_rollup_hour_merged AS r (workspace_id, bucket, platform, outcome, reason, kid, attempts, users, first_at, last_at)
         VALUES ($1, date_trunc('hour', $2), $3, $4, coalesce($5, ''), countersign_rollup_kid($1, $6), 1,
                 countersign_user_bit($7), $2, $2)
         ON CONFLICT (workspace_id, bucket, platform, outcome, reason, kid, shard) DO UPDATE
            SET attempts = r.attempts + 1, first_at = least(r.first_at, EXCLUDED.first_at), last_at = greatest(r.last_at, EXCLUDED.last_at)",
    )
    .bind(ws_id)
    .bind(row.at)
    .bind(row.platform)
    .bind(row.outcome)
    .bind(row.reason)
    .bind(row.kid)
    .bind(row.user_id)
    .execute(pool)
    .await
    .expect("insert fixture rollup");
    sqlx::query("INSERT INTO log_origin_hour_merged VALUES ($1, $2, date_trunc('hour', $3)) ON CONFLICT DO NOTHING")
        .bind(ws_id)
        .bind(row.origin)
        .bind(row.at)
        .execute(pool)
        .await
        .expect("insert fixture origin hour");
}

fn count(reply: &crate::support::Reply) -> usize {
    reply.body["items"].as_array().map(Vec::len).unwrap_or(usize::MAX)
}

/// User ids with `+`, `&`, `=`, `%`, `#`, spaces and non-ASCII are matched exactly when sent
/// percent-encoded, and the cursor pages through them without losing the filter.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn reserved_characters_in_filters_and_paging(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ws = app.workspace("owner@example.com").await;
    let tricky = ["a+b@example.com", "x&outcome=rejected", "50% off #1", "a b", "ünï"];
    for user in tricky {
        for _ in 0..3 {
            let reply = app.identify(json!({"app_id": ws.app_id, "platform": "web", "user_jwt": jwt(&ws.secret, &ws.kid, json!({"user_id": user}))})).await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        }
    }
    app.identify(json!({"app_id": ws.app_id, "platform": "web", "user_jwt": jwt(&ws.secret, &ws.kid, json!({"user_id": "a b"}))})).await;
    let base = format!("/api/v1/workspaces/{}/logs", ws.id);
    for user in tricky {
        let first = app.get(&format!("{base}?user_id={}&limit=2", enc(user)), &ws.owner).await;
        assert_eq!(first.status, StatusCode::OK, "{user}: {}", first.body);
        assert_eq!(count(&first), 2, "{user}: {}", first.body);
        let cursor = first.body["next_cursor"].as_str().expect("a second page").to_owned();
        let second = app.get(&format!("{base}?user_id={}&limit=2&cursor={}", enc(user), enc(&cursor)), &ws.owner).await;
        let rest: Vec<&str> =
            second.body["items"].as_array().into_iter().flatten().filter_map(|i| i["user_id"].as_str()).collect();
        let expected = if user == "a b" { 2 } else { 1 };
        assert_eq!(rest.len(), expected, "{user}: {}", second.body);
        assert!(rest.iter().all(|u| *u == user), "the filter holds on the next page: {rest:?}");
    }
    // Sent raw, `+` is a space and `&` splits the query: a different (and honest) question.
    let raw = app.get(&format!("{base}?user_id=a+b@example.com"), &ws.owner).await;
    assert_eq!(count(&raw), 0, "{}", raw.body);
}

/// A kid no key of the workspace has (anyone may put one in a token) is kept in the log and
/// found by the kid filter, though the rollups count it as no kid.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn made_up_kids_are_found_in_the_log(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ws = app.workspace("owner@example.com").await;
    for kid in ["made-up-1", "made-up-2", &ws.kid] {
        // Enforce (the default): a made-up kid is a 401 `unknown_key`, logged.
        let reply = app.identify(json!({"app_id": ws.app_id, "platform": "web", "user_jwt": jwt(&ws.secret, kid, json!({"user_id": "u"}))})).await;
        let expected = if kid == ws.kid { StatusCode::OK } else { StatusCode::UNAUTHORIZED };
        assert_eq!(reply.status, expected, "{}", reply.body);
    }
    let base = format!("/api/v1/workspaces/{}/logs", ws.id);
    for kid in ["made-up-1", "made-up-2", &ws.kid] {
        let reply = app.get(&format!("{base}?kid={}", enc(kid)), &ws.owner).await;
        let kids: Vec<&str> =
            reply.body["items"].as_array().into_iter().flatten().filter_map(|i| i["kid"].as_str()).collect();
        assert_eq!(kids, [kid], "{}", reply.body);
    }
    let rejected = app.get(&format!("{base}?kid=made-up-2&outcome=rejected"), &ws.owner).await;
    assert_eq!(count(&rejected), 1, "{}", rejected.body);
    assert_eq!(count(&app.get(&format!("{base}?kid=made-up-3"), &ws.owner).await), 0);
}

/// Origins sent to identify are found by the origin filter as soon as their rows commit, and
/// exactly: another origin, one that differs by case or a trailing slash, and a prefix find
/// nothing.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn origins_are_found_as_identify_stored_them(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ws = app.workspace("owner@example.com").await;
    for (origin, user) in
        [("https://shop.example", "u-1"), ("https://blog.example", "u-2"), ("https://shop.example", "u-3")]
    {
        let body = json!({"app_id": ws.app_id, "platform": "web", "user_jwt": jwt(&ws.secret, &ws.kid, json!({"user_id": user}))});
        let reply = app.send(Method::POST, "/api/v1/identify", Some(body), &Auth::None, &[("origin", origin)]).await;
        assert!(reply.body["log_id"].is_string(), "{}", reply.body);
    }
    let base = format!("/api/v1/workspaces/{}/logs", ws.id);
    let users = |reply: &crate::support::Reply| -> Vec<String> {
        reply.body["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| i["user_id"].as_str().map(str::to_owned))
            .collect()
    };
    let shop = app.get(&format!("{base}?origin={}", enc("https://shop.example")), &ws.owner).await;
    assert_eq!(users(&shop), ["u-3", "u-1"], "{}", shop.body);
    let blog = app.get(&format!("{base}?origin={}&user_id=u-2", enc("https://blog.example")), &ws.owner).await;
    assert_eq!(users(&blog), ["u-2"], "{}", blog.body);
    for other in ["https://Shop.example", "https://shop.example/", "https://shop", "https://nowhere.example"] {
        let reply = app.get(&format!("{base}?origin={}", enc(other)), &ws.owner).await;
        assert_eq!((reply.status, count(&reply)), (StatusCode::OK, 0), "{other}: {}", reply.body);
    }
    // Another workspace's origin hours are not this one's.
    let other = app.workspace("other@example.com").await;
    let theirs = app
        .get(&format!("/api/v1/workspaces/{}/logs?origin={}", other.id, enc("https://shop.example")), &other.owner)
        .await;
    assert_eq!(count(&theirs), 0, "{}", theirs.body);
}

/// Every filter narrows to exactly its rows; combinations, the time range and the cursor
/// compose.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn every_filter(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ws = app.workspace("owner@example.com").await;
    let now = Utc::now();
    let rows = [
        (1, "verified", "web", None, "u-1", "kid-a", "https://a.example"),
        (2, "rejected", "ios", Some("invalid_signature"), "u-2", "kid-b", "https://b.example"),
        (3, "would_reject", "android", Some("token_expired"), "u-1", "kid-a", "https://a.example"),
        (4, "unverified", "web", Some("missing_token"), "u-3", "kid-b", "https://b.example"),
        (50, "verified", "android", None, "u-1", "kid-a", "https://a.example"),
    ];
    for (hours_ago, outcome, platform, reason, user_id, kid, origin) in rows {
        insert(
            &app.pool,
            &ws,
            Row { at: now - Duration::hours(hours_ago), outcome, platform, reason, user_id, kid, origin },
        )
        .await;
    }
    let base = format!("/api/v1/workspaces/{}/logs", ws.id);
    let from = enc(&(now - Duration::days(5)).to_rfc3339());
    for (query, expected) in [
        ("", 5),
        ("outcome=verified", 2),
        ("outcome=would_reject", 1),
        ("platform=android", 2),
        ("platform=android&outcome=would_reject", 1),
        ("platform=ios&outcome=would_reject", 0),
        ("reason=invalid_signature", 1),
        ("reason=missing_token&platform=web", 1),
        ("user_id=u-1", 3),
        ("kid=kid-b", 2),
        ("origin=https%3A%2F%2Fa.example", 3),
        ("origin=https%3A%2F%2Fa.example&kid=kid-b", 0),
        ("origin=https%3A%2F%2Fa.example&platform=android", 2),
        ("origin=https%3A%2F%2Fnowhere.example", 0),
        ("user_id=u-1&outcome=verified", 2),
        ("outcome=&platform=&reason=&user_id=&kid=&origin=&to=", 5),
    ] {
        let reply = app.get(&format!("{base}?{query}&from={from}"), &ws.owner).await;
        assert_eq!(reply.status, StatusCode::OK, "{query}: {}", reply.body);
        assert_eq!(count(&reply), expected, "{query}: {}", reply.body);
    }
    // The range: the default is the last 7 days; `from`/`to` bound it (`to` exclusive).
    let since = |h: i64| enc(&(now - Duration::hours(h)).to_rfc3339());
    assert_eq!(count(&app.get(&base, &ws.owner).await), 5, "50 hours ago is within the default week");
    assert_eq!(count(&app.get(&format!("{base}?from=&to=&outcome="), &ws.owner).await), 5, "blank is not given");
    assert_eq!(count(&app.get(&format!("{base}?from={}", since(10)), &ws.owner).await), 4);
    assert_eq!(count(&app.get(&format!("{base}?from={}&to={}", since(10), since(2)), &ws.owner).await), 2);
    insert(
        &app.pool,
        &ws,
        Row {
            at: now - Duration::days(9),
            outcome: "verified",
            platform: "web",
            reason: None,
            user_id: "old",
            kid: "kid-a",
            origin: "https://a.example",
        },
    )
    .await;
    assert_eq!(count(&app.get(&format!("{base}?user_id=old"), &ws.owner).await), 0, "older than the default week");
    assert_eq!(count(&app.get(&format!("{base}?user_id=old&from={}", since(24 * 10)), &ws.owner).await), 1);
    let origin = "origin=https%3A%2F%2Fa.example";
    assert_eq!(count(&app.get(&format!("{base}?{origin}"), &ws.owner).await), 3, "the default week");
    assert_eq!(count(&app.get(&format!("{base}?{origin}&from={}", since(24 * 10)), &ws.owner).await), 4);
    let (nine_days_from, nine_days_to) = (since(24 * 10), since(24 * 8));
    let reply = app.get(&format!("{base}?{origin}&from={nine_days_from}&to={nine_days_to}"), &ws.owner).await;
    assert_eq!(count(&reply), 1, "{}", reply.body);
    assert_eq!(count(&app.get(&format!("{base}?{origin}&from={}&to={}", since(30), since(20)), &ws.owner).await), 0);
    // A `datetime-local` value (what the dashboard's form sends) is read as UTC.
    let local = (now - Duration::hours(10)).format("%Y-%m-%dT%H:%M").to_string();
    assert_eq!(count(&app.get(&format!("{base}?from={}", enc(&local)), &ws.owner).await), 4);

    // Paging one row at a time with filters: every row once, newest first, filters kept.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let reply = app.get(&format!("{base}?kid=kid-a&from={from}&limit=1&cursor={}", enc(&cursor)), &ws.owner).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        seen.extend(
            reply.body["items"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|i| (i["at"].as_str().map(str::to_owned), i["kid"].clone())),
        );
        match reply.body["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert!(seen.iter().all(|(_, kid)| kid == "kid-a"));
    assert!(seen.windows(2).all(|w| w[0].0 > w[1].0), "newest first: {seen:?}");
}

/// Matches scattered over more runs of hours than are read one by one (with other rows in
/// between) come back complete and newest first, on one page and page by page.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn scattered_matches_are_read_run_by_run(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ws = app.workspace("owner@example.com").await;
    let now = Utc::now();
    for hours_ago in 0..30 {
        let (outcome, reason) =
            if hours_ago % 3 == 1 { ("rejected", Some("token_expired")) } else { ("verified", None) };
        let at = now - Duration::hours(hours_ago) - Duration::minutes(1);
        let origin = "https://a.example";
        insert(&app.pool, &ws, Row { at, outcome, platform: "web", reason, user_id: "u", kid: "kid-a", origin }).await;
    }
    let base = format!("/api/v1/workspaces/{}/logs?outcome=rejected&origin=https%3A%2F%2Fa.example", ws.id);
    let all = app.get(&base, &ws.owner).await;
    let ats = |reply: &crate::support::Reply| -> Vec<String> {
        reply.body["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| i["at"].as_str().map(str::to_owned))
            .collect()
    };
    let expected = ats(&all);
    assert_eq!(expected.len(), 10, "{}", all.body);
    assert!(expected.windows(2).all(|w| w[0] > w[1]), "newest first: {expected:?}");
    let mut paged = Vec::new();
    let mut cursor = String::new();
    loop {
        let reply = app.get(&format!("{base}&limit=3&cursor={}", enc(&cursor)), &ws.owner).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        paged.extend(ats(&reply));
        match reply.body["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(paged, expected);
}

/// Unknown values, broken cursors, bad/inverted/huge ranges and bad limits are the contract's
/// 400 — never a 500 — and a stranger sees 404 whatever the query.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn hostile_filters(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ws = app.workspace("owner@example.com").await;
    let long = "x".repeat(5000);
    for suffix in ["", "/export?format=csv"] {
        let base = format!("/api/v1/workspaces/{}/logs{suffix}", ws.id);
        let sep = if suffix.is_empty() { "?" } else { "&" };
        for query in [
            "outcome=maybe",
            "platform=windows",
            "reason=not_a_reason",
            "reason=%27%20OR%201%3D1--",
            "cursor=!!!",
            "cursor=MTIzfG5vdC1hLXV1aWQ",
            "cursor=%FF%FE",
            "from=yesterday",
            "to=9999999-01-01T00:00:00Z",
            "from=2026-11-29T10:00:00Z&to=2026-11-29T09:00:00Z",
            "from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z",
            "from=2999-01-01T00:00:00Z",
            "limit=0",
            "limit=abc",
            "limit=99999999999999999999",
            "user_id=%00",
            "kid=a%00",
            "origin=https%3A%2F%2Fa%00.example",
            &format!("user_id={long}"),
            &format!("origin=https%3A%2F%2F{long}"),
            // Times chrono can hold whose range arithmetic (a week back, a microsecond on) overflows.
            "to=-262143-01-03T00:00",
            "to=%2B262142-12-31T23:59:59Z",
            &format!("outcome=rejected&cursor={}", cursor_at(i64::MAX)),
            &format!(
                "outcome=rejected&cursor={}",
                cursor_at(chrono::DateTime::<chrono::Utc>::MAX_UTC.timestamp_micros())
            ),
            // A misspelt filter would silently widen the search (or the download).
            "outcomes=rejected",
            "userId=someone",
        ] {
            let reply = app.get(&format!("{base}{sep}{query}"), &ws.owner).await;
            assert_eq!(
                (reply.status, reply.code()),
                (StatusCode::BAD_REQUEST, "invalid_request"),
                "{base}{sep}{query}: {}",
                reply.body
            );
            assert!(reply.body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
        }
    }
    let export = format!("/api/v1/workspaces/{}/logs/export", ws.id);
    for query in ["", "?format=xlsx", "?format=csv&limit=100001"] {
        assert_eq!(app.get(&format!("{export}{query}"), &ws.owner).await.code(), "invalid_request", "{query}");
    }
    // The tail's own `after` cursor, and its filters, are refused before any stream opens.
    let tail = format!("/api/v1/workspaces/{}/logs/tail", ws.id);
    let far = cursor_at(chrono::DateTime::<chrono::Utc>::MAX_UTC.timestamp_micros());
    for query in [
        "after=!!!".to_owned(),
        "after=%00".to_owned(),
        "after=%FF%FE".to_owned(),
        format!("after={far}"),
        format!("after={}", "A".repeat(20_000)),
        "outcomes=rejected".to_owned(),
        "user_id=a%00b".to_owned(),
    ] {
        let reply = app.get(&format!("{tail}?{query}"), &ws.owner).await;
        assert_eq!((reply.status, reply.code()), (StatusCode::BAD_REQUEST, "invalid_request"), "tail?{query}");
    }
    let (stranger, _) = app.signup("stranger@example.com", "Other").await;
    for path in [format!("/api/v1/workspaces/{}/logs?outcome=rejected", ws.id), format!("{export}?format=csv")] {
        assert_eq!(app.get(&path, &stranger).await.status, StatusCode::NOT_FOUND, "{path}");
    }
}

/// Downloads a path: status, content type, disposition, body text.
async fn download(app: &TestApp, path: &str, auth: &Auth) -> (StatusCode, String, String, String) {
    let mut request = Request::builder().method(Method::GET).uri(path).header(header::ORIGIN, crate::support::ORIGIN);
    request = match auth {
        Auth::Cookie(token) => request.header(header::COOKIE, format!("cs_session={token}")),
        Auth::Bearer(token) => request.header(header::AUTHORIZATION, format!("Bearer {token}")),
        Auth::None => request,
    };
    let response = app.router.clone().oneshot(request.body(Body::empty()).expect("request")).await.expect("infallible");
    let status = response.status();
    let header_of = |name| response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let (kind, disposition) = (header_of(header::CONTENT_TYPE), header_of(header::CONTENT_DISPOSITION));
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    (status, kind, disposition, String::from_utf8(bytes.to_vec()).expect("utf-8"))
}

/// Splits one CSV document into records of cells (RFC 4180 quoting).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let (mut rows, mut row, mut cell, mut quoted, mut chars) =
        (Vec::new(), Vec::new(), String::new(), false, text.chars().peekable());
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => row.push(std::mem::take(&mut cell)),
            ('\r', false) => {}
            ('\n', false) => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (c, _) => cell.push(c),
        }
    }
    rows
}

/// CSV and NDJSON carry exactly the filtered rows, newest first, within the limit; CSV quotes
/// every cell and neutralises formulas; the session cookie is enough (a browser download).
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn export_csv_and_ndjson(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ws = app.workspace("owner@example.com").await;
    let now = Utc::now();
    for i in 0..2500 {
        let (outcome, platform) = if i % 2 == 0 { ("verified", "web") } else { ("rejected", "ios") };
        let reason = (outcome == "rejected").then_some("invalid_signature");
        insert(
            &app.pool,
            &ws,
            Row {
                at: now - Duration::seconds(i),
                outcome,
                platform,
                reason,
                user_id: &format!("u-{i}"),
                kid: "kid-a",
                origin: "https://a.example",
            },
        )
        .await;
    }
    let hostile = "=HYPERLINK(\"https://evil.example\",\"click\"), \"quoted\"";
    insert(
        &app.pool,
        &ws,
        Row {
            at: now - Duration::hours(1),
            outcome: "rejected",
            platform: "web",
            reason: Some("invalid_signature"),
            user_id: hostile,
            kid: "@kid",
            origin: "-1+2",
        },
    )
    .await;
    let export = format!("/api/v1/workspaces/{}/logs/export", ws.id);

    let (status, kind, disposition, text) =
        download(&app, &format!("{export}?format=csv&outcome=rejected"), &ws.owner).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(kind.starts_with("text/csv"), "{kind}");
    assert!(disposition.starts_with("attachment;") && disposition.contains(".csv"), "{disposition}");
    let rows = parse_csv(&text);
    assert_eq!(rows[0][..3], ["id", "at", "outcome"]);
    assert_eq!(rows.len(), 1 + 1250 + 1, "header, the 1,250 rejected fixtures (over two pages) and the hostile row");
    assert!(rows[1..].iter().all(|r| r.len() == 15 && r[2] == "rejected"), "filtered, one shape");
    let at: Vec<&str> = rows[1..].iter().map(|r| r[1].as_str()).collect();
    assert!(at.windows(2).all(|w| w[0] >= w[1]), "newest first");
    let evil = rows.iter().find(|r| r[8].contains("HYPERLINK")).expect("the hostile row");
    assert_eq!(evil[8], format!("'{hostile}"), "a formula is neutralised, quotes survive");
    assert_eq!((evil[6].as_str(), evil[11].as_str()), ("'@kid", "'-1+2"));
    assert!(text.lines().skip(1).all(|l| l.starts_with('"')), "every cell is quoted");

    let (status, kind, _, text) =
        download(&app, &format!("{export}?format=ndjson&platform=web&user_id=u-4&limit=10"), &ws.owner).await;
    assert_eq!((status, kind.as_str()), (StatusCode::OK, "application/x-ndjson"));
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).expect("one JSON object a line")).collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert_eq!((lines[0]["user_id"].as_str(), lines[0]["platform"].as_str()), (Some("u-4"), Some("web")));

    let (_, _, _, text) = download(&app, &format!("{export}?format=ndjson&platform=web&limit=1001"), &ws.owner).await;
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).expect("JSON")).collect();
    assert_eq!(lines.len(), 1001, "the limit holds across pages");
    assert!(lines.iter().all(|l| l["platform"] == "web" && l["outcome"] == "verified"));
    let ids: std::collections::HashSet<&str> = lines.iter().filter_map(|l| l["id"].as_str()).collect();
    assert_eq!(ids.len(), 1001, "no row twice");

    let (status, _, _, text) = download(&app, &format!("{export}?format=csv&user_id=nobody"), &ws.owner).await;
    assert_eq!((status, parse_csv(&text).len()), (StatusCode::OK, 1), "an empty export is the header alone");
}

/// Opens a tail and returns its body, to read events from.
async fn open_tail(app: &TestApp, path: &str, auth: &Auth, last_event_id: Option<&str>) -> Body {
    let Auth::Cookie(token) = auth else { panic!("a session") };
    let mut request = Request::builder().uri(path).header(header::COOKIE, format!("cs_session={token}"));
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id);
    }
    let response = app.router.clone().oneshot(request.body(Body::empty()).expect("request")).await.expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    let header_of = |name| response.headers().get(name).and_then(|v| v.to_str().ok());
    assert_eq!(header_of(header::CONTENT_TYPE), Some("text/event-stream"));
    assert_eq!(header_of(header::CACHE_CONTROL), Some("no-store"), "the stream carries log rows: never cached");
    response.into_body()
}

/// The events (id, row) that arrive within `wait`.
async fn events(body: &mut Body, wait: std::time::Duration) -> Vec<(String, Value)> {
    let deadline = tokio::time::Instant::now() + wait;
    let mut text = String::new();
    while let Ok(Some(Ok(frame))) = tokio::time::timeout_at(deadline, body.frame()).await {
        if let Ok(data) = frame.into_data() {
            text.push_str(&String::from_utf8_lossy(&data));
        }
    }
    text.split("\n\n")
        .filter_map(|event| {
            let field = |name: &str| event.lines().find_map(|l| l.strip_prefix(name)).map(str::to_owned);
            Some((field("id: ")?, serde_json::from_str(&field("data: ")?).ok()?))
        })
        .collect()
}

/// A keyset cursor naming `micros` since the epoch, as a client could forge it.
fn cursor_at(micros: i64) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{micros}|{}", uuid::Uuid::nil()))
}

/// New rows stream in within a second of their identify call, filters apply, and a reconnection
/// with `Last-Event-ID` sends what was missed.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn live_tail(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ws = app.workspace("owner@example.com").await;
    let tail = format!("/api/v1/workspaces/{}/logs/tail", ws.id);
    let mut rejected_only = open_tail(&app, &format!("{tail}?outcome=rejected"), &ws.owner, None).await;
    let mut everything = open_tail(&app, &tail, &ws.owner, None).await;
    let good = |user: &str| json!({"app_id": ws.app_id, "platform": "web", "user_jwt": jwt(&ws.secret, &ws.kid, json!({"user_id": user}))});
    let bad = |user: &str| json!({"app_id": ws.app_id, "platform": "web", "user_jwt": jwt("wrong-secret-wrong-secret-wrong!", &ws.kid, json!({"user_id": user}))});
    let sent = std::time::Instant::now();
    app.identify(good("fine+1")).await;
    app.identify(bad("broken&1")).await;

    let seen = events(&mut everything, std::time::Duration::from_millis(1000)).await;
    let users: Vec<&str> = seen.iter().filter_map(|(_, row)| row["user_id"].as_str()).collect();
    assert_eq!(users, ["fine+1", "broken&1"], "both, oldest first, within a second of sending ({:?})", sent.elapsed());
    let filtered = events(&mut rejected_only, std::time::Duration::from_millis(500)).await;
    let users: Vec<&str> = filtered.iter().filter_map(|(_, row)| row["user_id"].as_str()).collect();
    assert_eq!(users, ["broken&1"], "the filter applies");

    // Missed while away: a reconnection from the first row's id gets the rows after it.
    let first_id = seen[0].0.clone();
    drop(everything);
    app.identify(good("while-away")).await;
    let mut resumed = open_tail(&app, &tail, &ws.owner, Some(&first_id)).await;
    let caught_up = events(&mut resumed, std::time::Duration::from_millis(800)).await;
    let users: Vec<&str> = caught_up.iter().filter_map(|(_, row)| row["user_id"].as_str()).collect();
    assert_eq!(users, ["broken&1", "while-away"], "each once, in order");

    let broken = app.get(&format!("{tail}?outcome=maybe"), &ws.owner).await;
    assert_eq!((broken.status, broken.code()), (StatusCode::BAD_REQUEST, "invalid_request"));
    let (stranger, _) = app.signup("stranger@example.com", "Other").await;
    assert_eq!(app.get(&tail, &stranger).await.status, StatusCode::NOT_FOUND);
}

/// Every filter of the log applies to the tail: each tail gets exactly the attempts its search
/// would list.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn every_filter_applies_to_the_tail(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ws = app.workspace("owner@example.com").await;
    app.set_security(&ws, json!({"modes": {"web": "enforce", "ios": "monitor", "android": "off"}})).await;
    let tail = format!("/api/v1/workspaces/{}/logs/tail", ws.id);
    let from = enc(&(Utc::now() - Duration::minutes(5)).to_rfc3339());
    let to_the_past = enc(&(Utc::now() - Duration::minutes(1)).to_rfc3339());
    let searches = [
        ("platform=ios", vec!["ios-good", "ios-bad"]),
        ("reason=invalid_signature", vec!["ios-bad", "web-bad"]),
        ("user_id=web-good", vec!["web-good"]),
        (&*format!("kid={}", enc(&ws.kid)), vec!["web-good", "ios-good", "ios-bad", "web-bad"]),
        ("kid=k_other", vec!["android-other-kid"]),
        (
            "origin=https%3A%2F%2Fapp.example.com",
            vec!["web-good", "ios-good", "ios-bad", "web-bad", "android-other-kid"],
        ),
        ("origin=https%3A%2F%2Felsewhere.example", vec![]),
        ("outcome=would_reject&platform=ios", vec!["ios-bad"]),
        (&*format!("from={from}"), vec!["web-good", "ios-good", "ios-bad", "web-bad", "android-other-kid"]),
        (&*format!("to={to_the_past}"), vec![]),
    ];
    let mut tails = Vec::new();
    for (query, _) in &searches {
        tails.push(open_tail(&app, &format!("{tail}?{query}"), &ws.owner, None).await);
    }
    let token = |secret: &str, kid: &str, user: &str| jwt(secret, kid, json!({"user_id": user}));
    let wrong = "wrong-secret-wrong-secret-wrong!";
    for (platform, user_jwt) in [
        ("web", token(&ws.secret, &ws.kid, "web-good")),
        ("ios", token(&ws.secret, &ws.kid, "ios-good")),
        ("ios", token(wrong, &ws.kid, "ios-bad")),
        ("web", token(wrong, &ws.kid, "web-bad")),
        ("android", token(wrong, "k_other", "android-other-kid")),
    ] {
        app.identify(json!({"app_id": ws.app_id, "platform": platform, "user_jwt": user_jwt})).await;
    }
    for ((query, expected), body) in searches.iter().zip(tails.iter_mut()) {
        let seen = events(body, std::time::Duration::from_millis(800)).await;
        let users: Vec<&str> = seen.iter().filter_map(|(_, row)| row["user_id"].as_str()).collect();
        assert_eq!(&users, expected, "{query}");
    }
}

/// A fresh tail names the moment it starts from before any row (so a drop before the first row
/// loses nothing), and a reconnection after a long absence catches up oldest first, a page per
/// connection: the stream ends after a full page and the next connection goes on from it.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn a_tail_resumes_from_its_start_and_catches_up_in_pages(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ws = app.workspace("owner@example.com").await;
    let tail = format!("/api/v1/workspaces/{}/logs/tail", ws.id);
    let mut fresh = open_tail(&app, &tail, &ws.owner, None).await;
    let frame = tokio::time::timeout(std::time::Duration::from_secs(2), fresh.frame()).await;
    let first = match frame {
        Ok(Some(Ok(frame))) => String::from_utf8_lossy(&frame.into_data().unwrap_or_default()).into_owned(),
        other => panic!("a first event at once: {other:?}"),
    };
    assert!(first.contains("event: resume") && first.contains("retry: 500"), "{first}");
    let start = first.lines().find_map(|l| l.strip_prefix("id: ")).expect("a cursor to resume from").to_owned();
    drop(fresh);

    let now = Utc::now();
    for i in 0..520 {
        let at = now + Duration::milliseconds(i);
        let row = Row { at, outcome: "verified", platform: "web", reason: None, user_id: "u", kid: "k", origin: "o" };
        insert(&app.pool, &ws, row).await;
    }
    let mut page = open_tail(&app, &tail, &ws.owner, Some(&start)).await;
    let wait = std::time::Duration::from_secs(10);
    let began = std::time::Instant::now();
    let first_page = events(&mut page, wait).await;
    assert!(began.elapsed() < wait, "the stream ends after a full page");
    assert_eq!(first_page.len(), 500);
    let ats: Vec<DateTime<Utc>> =
        first_page.iter().filter_map(|(_, row)| row["at"].as_str().and_then(|at| at.parse().ok())).collect();
    assert_eq!(ats.len(), 500);
    assert!(ats.windows(2).all(|w| w[0] <= w[1]), "oldest first");
    let mut rest = open_tail(&app, &tail, &ws.owner, Some(&first_page[499].0)).await;
    let second_page = events(&mut rest, std::time::Duration::from_millis(1500)).await;
    // Delivery is at least once: the workspace's poller may still be fanning out rows this
    // client already had, which their ids let it drop.
    let had: std::collections::HashSet<&str> = first_page.iter().map(|(id, _)| id.as_str()).collect();
    let mut new: Vec<&str> = second_page.iter().map(|(id, _)| id.as_str()).filter(|id| !had.contains(id)).collect();
    assert_eq!(new.len(), 20, "the rest, from where the first page ended");
    new.sort_unstable();
    new.dedup();
    assert_eq!(new.len(), 20, "each once");
}

/// Two instances on one database: an attempt answered by one appears in a tail served by the
/// other (each instance polls Postgres, so no instance needs to hear from another).
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn live_tail_across_instances(pool: PgPool) {
    let first = TestApp::new(pool.clone()).await;
    let second = TestApp::new(pool).await;
    let ws = first.workspace("owner@example.com").await;
    let mut tail =
        open_tail(&second, &format!("/api/v1/workspaces/{}/logs/tail?user_id={}", ws.id, enc("x+y")), &ws.owner, None)
            .await;
    for user in ["x+y", "x y", "x+y"] {
        let reply = first.identify(json!({"app_id": ws.app_id, "platform": "web", "user_jwt": jwt(&ws.secret, &ws.kid, json!({"user_id": user}))})).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }
    let seen = events(&mut tail, std::time::Duration::from_millis(1000)).await;
    let users: Vec<&str> = seen.iter().filter_map(|(_, row)| row["user_id"].as_str()).collect();
    assert_eq!(users, ["x+y", "x+y"], "both of that user's attempts, from the other instance, within a second");
}

/// A verified row is stored without its explanation and read back with it, the same sentence
/// the identify verdict had, through every read: a page, the export and the live tail.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn verified_rows_are_explained_when_read(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ws = app.workspace("owner@example.com").await;
    let tail = format!("/api/v1/workspaces/{}/logs/tail", ws.id);
    let mut live = open_tail(&app, &tail, &ws.owner, None).await;
    let token = jwt(&ws.secret, &ws.kid, json!({"user_id": "ada \"the\" first"}));
    let reply = app.identify(json!({"app_id": ws.app_id, "platform": "web", "user_jwt": token})).await;
    assert_eq!(reply.body["verified"], true, "{}", reply.body);
    let expected = format!("Verified user \"ada \\\"the\\\" first\": HS256 signature valid under key \"{}\".", ws.kid);

    let stored: String =
        sqlx::query_scalar("SELECT explanation FROM verification_log").fetch_one(&app.pool).await.expect("the row");
    assert_eq!(stored, "", "the sentence is not stored");
    let page = app.get(&format!("/api/v1/workspaces/{}/logs", ws.id), &ws.owner).await;
    assert_eq!(page.body["items"][0]["explanation"], expected.as_str());
    let (_, _, _, ndjson) =
        download(&app, &format!("/api/v1/workspaces/{}/logs/export?format=ndjson", ws.id), &ws.owner).await;
    let exported: Value = serde_json::from_str(ndjson.lines().next().unwrap_or_default()).expect("one NDJSON row");
    assert_eq!(exported["explanation"], expected.as_str());
    let streamed = events(&mut live, std::time::Duration::from_millis(1000)).await;
    assert_eq!(streamed.first().map(|(_, row)| row["explanation"].clone()), Some(json!(expected)));
}
