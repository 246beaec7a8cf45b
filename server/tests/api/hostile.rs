//! Hostile bytes from the public internet: NUL, lone surrogates, invalid UTF-8 and control
//! characters in every field of identify never cost another tenant a row, and the management
//! API answers them with a 400, never a 500.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::support::{jwt, TestApp, Workspace};

/// A compact JWT with a raw header and payload (any bytes) and a signature under `secret`.
fn raw_jwt(secret: &str, header: &[u8], payload: &[u8]) -> String {
    let input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(payload));
    let signature = countersign_core::Alg::Hs256.sign(secret.as_bytes(), input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// Identify with exact body bytes and extra headers.
async fn identify_raw(app: &TestApp, body: Vec<u8>, headers: &[(&str, &[u8])]) -> (StatusCode, Value) {
    let mut request = Request::post("/api/v1/identify").header(header::CONTENT_TYPE, "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let reply = app.raw(request.body(Body::from(body)).expect("request")).await;
    (reply.status, reply.body)
}

/// Raw header names and values.
type Headers = Vec<(&'static str, &'static [u8])>;

/// Every poisoned identify request an attacker can send with a known app id: NUL and control
/// characters in the platform, the token's kid and alg, a duplicate key, claims and attribute
/// names and values, the user id, the origin and the user agent; lone surrogates and invalid
/// UTF-8 in the body and inside the token.
fn poisoned_bodies(ws: &Workspace) -> Vec<(Vec<u8>, Headers)> {
    let app_id = &ws.app_id;
    let nul_claims = json!({"user_id": "u\u{0}1", "plan": "p\u{0}ro", "na\u{0}me": "x"});
    let valid_claims = json!({"user_id": "victim", "plan": "pro\u{0}", "seats\u{0}": 1});
    let tokens = [
        raw_jwt(
            &ws.secret,
            format!(r#"{{"alg":"HS256","kid":"{}\u0000x"}}"#, ws.kid).as_bytes(),
            br#"{"user_id":"u"}"#,
        ),
        raw_jwt(&ws.secret, br#"{"alg":"HS256\u0000","kid":"k"}"#, br#"{"user_id":"u"}"#),
        raw_jwt(&ws.secret, br#"{"alg":"HS256"}"#, br#"{"user_id":"u","\u0000dup":1,"\u0000dup":2}"#),
        raw_jwt(&ws.secret, br#"{"alg":"HS256"}"#, br#"{"user_id":"\ud800"}"#),
        raw_jwt(&ws.secret, br#"{"alg":"HS256"}"#, b"{\"user_id\":\"\xff\xfe\"}"),
        raw_jwt(
            &ws.secret,
            format!(r#"{{"alg":"HS256","kid":"{}"}}"#, ws.kid).as_bytes(),
            nul_claims.to_string().as_bytes(),
        ),
        jwt(&ws.secret, &ws.kid, valid_claims),
        "\u{0}.\u{0}.\u{0}".to_owned(),
    ];
    let mut bodies: Vec<Vec<u8>> = tokens
        .iter()
        .flat_map(|token| {
            ["web", "ios", "android"].map(|platform| {
                json!({"app_id": app_id, "platform": platform, "user_jwt": token,
                       "attributes": {"plan": "a\u{0}b", "se\u{0}ats": 2, "nick\u{1b}[31m": "\u{0}"}})
                .to_string()
                .into_bytes()
            })
        })
        .collect();
    bodies.extend([
        json!({"app_id": app_id, "platform": "web\u{0}"}).to_string().into_bytes(),
        json!({"app_id": app_id, "platform": "w\u{0}".repeat(5000)}).to_string().into_bytes(),
        json!({"app_id": app_id, "platform": "ios", "user_id": "a\u{0}b", "user_hash": "\u{0}"})
            .to_string()
            .into_bytes(),
        json!({"app_id": app_id, "platform": "ios", "user_jwt": "x", "attributes": {"\u{0}": "\u{0}"}})
            .to_string()
            .into_bytes(),
        format!(r#"{{"app_id":"{app_id}","platform":"web","user_jwt":"\ud800"}}"#).into_bytes(),
        [format!(r#"{{"app_id":"{app_id}","platform":"web","user_jwt":""#).as_bytes(), b"\xff\"}"].concat(),
        [format!(r#"{{"app_id":"{app_id}","platform":""#).as_bytes(), b"\xc3\x28\"}"].concat(),
    ]);
    let headers: Headers = vec![("origin", b"https://evil.example\xff\t"), ("user-agent", b"agent\t\xfe\xff")];
    bodies.into_iter().map(|body| (body, headers.clone())).collect()
}

/// Poisoned attempts of one workspace, sent while a neighbour's clients identify: every
/// neighbour attempt that got a log_id is committed and readable through the logs API within
/// a second, and every poisoned attempt that got a log_id is stored too (made storable).
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn poisoned_attempts_never_cost_a_neighbour_a_row(pool: PgPool) {
    let app = Arc::new(TestApp::new(pool).await);
    let attacker = app.workspace("mallory@example.com").await;
    let neighbour = app.workspace("victim@example.com").await;
    for name in ["plan", "seats"] {
        let def = json!({"name": name, "type": if name == "plan" { "string" } else { "number" }, "secure_only": false});
        app.post(&format!("/api/v1/workspaces/{}/attributes", attacker.id), def, &attacker.owner).await;
    }
    app.set_security(&attacker, json!({"modes": {"web": "monitor", "ios": "off", "android": "enforce"}})).await;

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let neighbours: Vec<_> = (0..4)
        .map(|client| {
            let (app, stop) = (app.clone(), stop.clone());
            let (app_id, secret, kid) = (neighbour.app_id.clone(), neighbour.secret.clone(), neighbour.kid.clone());
            tokio::spawn(async move {
                let mut acknowledged = Vec::new();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) || acknowledged.len() < 20 {
                    let token = jwt(&secret, &kid, json!({"user_id": format!("neighbour-{client}")}));
                    let reply = app.identify(json!({"app_id": app_id, "platform": "web", "user_jwt": token})).await;
                    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
                    acknowledged
                        .push(reply.body["log_id"].as_str().unwrap_or_default().parse::<Uuid>().expect("log_id"));
                }
                acknowledged
            })
        })
        .collect();

    let mut poisoned_logged = Vec::new();
    for round in 0..3 {
        for (body, headers) in poisoned_bodies(&attacker) {
            let (status, reply) = identify_raw(&app, body, &headers).await;
            assert!(status.is_client_error() || status == StatusCode::OK, "round {round}: {status} {reply}");
            if let Some(id) = reply["log_id"].as_str() {
                poisoned_logged.push(id.parse::<Uuid>().expect("log_id"));
            }
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut acknowledged = Vec::new();
    for client in neighbours {
        acknowledged.extend(client.await.expect("neighbour client"));
    }
    assert!(poisoned_logged.len() > 20, "the poisoned attempts were logged: {}", poisoned_logged.len());

    // A fresh neighbour attempt, read back through the logs API within a second.
    let token = jwt(&neighbour.secret, &neighbour.kid, json!({"user_id": "after-the-poison"}));
    let reply = app.identify(json!({"app_id": neighbour.app_id, "platform": "ios", "user_jwt": token})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let sent = Instant::now();
    let path = format!("/api/v1/workspaces/{}/logs?user_id=after-the-poison", neighbour.id);
    loop {
        let page = app.get(&path, &neighbour.owner).await;
        if page.body["items"][0]["id"] == reply.body["log_id"] {
            break;
        }
        assert!(sent.elapsed() < Duration::from_secs(1), "the neighbour's row is not readable: {}", page.body);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    for (owner, ids) in [("neighbour", &acknowledged), ("attacker", &poisoned_logged)] {
        let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM verification_log WHERE id = ANY($1)")
            .bind(ids)
            .fetch_one(&app.pool)
            .await
            .expect("count");
        assert_eq!(stored, ids.len() as i64, "every acknowledged {owner} attempt is committed");
    }
    assert_eq!(app.svc.spooled_attempts().await, 0, "nothing waits in the spool");
    let dump: Vec<String> =
        sqlx::query_scalar("SELECT row_to_json(v)::text FROM verification_log v WHERE id = ANY($1)")
            .bind(&poisoned_logged)
            .fetch_all(&app.pool)
            .await
            .expect("rows");
    assert!(dump.iter().all(|row| !row.contains("\\u0000")), "no NUL is stored");
    let platforms: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT platform FROM verification_log WHERE platform IS NOT NULL")
            .fetch_all(&app.pool)
            .await
            .expect("platforms");
    assert!(platforms.iter().all(|p| ["web", "ios", "android", "unknown"].contains(&p.as_str())), "{platforms:?}");
}

/// The same bytes sent to the management API get a 400 `invalid_request`, never a 500, and
/// change nothing.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn management_api_refuses_nul_with_a_400(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ws = app.workspace("owner@example.com").await;
    let id = &ws.id;
    let attributes = format!("/api/v1/workspaces/{id}/attributes");
    let security = format!("/api/v1/workspaces/{id}/security");
    let debug = format!("/api/v1/workspaces/{id}/debug");
    let mut current = app.get(&security, &ws.owner).await.body;
    current["expected_issuer"] = json!("iss\u{0}");
    let with_nul_origin = {
        let mut s = current.clone();
        s["expected_issuer"] = Value::Null;
        s["allowed_origins"] = json!(["https://a\u{0}.example"]);
        s
    };
    let cases: Vec<(Method, String, Value)> = vec![
        (Method::POST, "/api/v1/workspaces".into(), json!({"name": "Acme\u{0}"})),
        (Method::POST, "/api/v1/tokens".into(), json!({"name": "ci\u{0}"})),
        (Method::POST, attributes.clone(), json!({"name": "pl\u{0}an", "type": "string", "secure_only": true})),
        (Method::PUT, security.clone(), current),
        (Method::PUT, security.clone(), with_nul_origin),
        (Method::POST, debug.clone(), json!({"platform": "web\u{0}", "user_jwt": "a.b.c"})),
        (Method::POST, debug.clone(), json!({"platform": "web", "user_jwt": "\u{0}", "user_id": "\u{0}"})),
        (Method::POST, "/api/v1/auth/login".into(), json!({"email": "a\u{0}@b.c", "password": "\u{0}"})),
        (
            Method::POST,
            "/api/v1/auth/signup".into(),
            json!({"email": "n\u{0}@b.c", "password": "correct-horse-battery", "workspace_name": "x"}),
        ),
    ];
    for (method, path, body) in cases {
        let reply = app.send(method.clone(), &path, Some(body.clone()), &ws.owner, &[]).await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::BAD_REQUEST, "invalid_request"),
            "{method} {path} {body}: {}",
            reply.body
        );
    }
    for path in [
        format!("/api/v1/workspaces/{id}/attributes/pl%00an"),
        format!("/api/v1/workspaces/{id}/contacts/u%00"),
        format!("/api/v1/workspaces/{id}/logs?user_id=%00"),
        format!("/api/v1/workspaces/{id}/logs?reason=a%00"),
    ] {
        for method in [Method::GET, Method::PUT, Method::DELETE] {
            let body = (method == Method::PUT).then(|| json!({"type": "string", "secure_only": false}));
            let reply = app.send(method.clone(), &path, body, &ws.owner, &[]).await;
            assert!(reply.status.is_client_error(), "{method} {path}: {} {}", reply.status, reply.body);
            assert!(!reply.code().is_empty(), "{method} {path}: a JSON error");
        }
    }
    let workspaces: i64 =
        sqlx::query_scalar("SELECT count(*) FROM workspaces").fetch_one(&app.pool).await.expect("count");
    let defs: i64 = sqlx::query_scalar("SELECT count(*) FROM attributes").fetch_one(&app.pool).await.expect("count");
    assert_eq!((workspaces, defs), (1, 0), "nothing changed");
}

/// Unsigned attributes beyond the per-request bounds are a 400 `invalid_request` with a log
/// row; app ids that cannot exist are unknown without a look-up.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn request_bounds(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ws = app.workspace("owner@example.com").await;
    let token = jwt(&ws.secret, &ws.kid, json!({"user_id": "u"}));
    let many: serde_json::Map<String, Value> = (0..300).map(|i| (format!("n{i}"), json!(1))).collect();
    let reply =
        app.identify(json!({"app_id": ws.app_id, "platform": "web", "user_jwt": token, "attributes": many})).await;
    assert_eq!((reply.status, reply.code()), (StatusCode::BAD_REQUEST, "invalid_request"), "{}", reply.body);
    assert_eq!(app.log_row(&reply.body["log_id"]).await.map(|r| r.1), Some(Some("invalid_request".into())));
    for app_id in ["x".repeat(60 * 1024), "app id".into(), "app\u{0}".into()] {
        let reply = app.identify(json!({"app_id": app_id, "platform": "web", "user_jwt": token})).await;
        assert_eq!((reply.status, reply.code()), (StatusCode::NOT_FOUND, "unknown_app"));
    }
}

/// Every server function of the dashboard answers missing or hostile arguments with the
/// contract's code and its status (a 400 for arguments it cannot read), never a 500. The list
/// comes from the server function registry, so a new one cannot be left out.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn server_functions_answer_bad_arguments_with_their_code(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (owner, workspace) = app.signup("owner@example.com", "Acme").await;
    let crate::support::Auth::Cookie(session) = owner else { panic!("signup signs in with a cookie") };
    let mut paths: Vec<(&str, Method)> = leptos::server_fn::axum::server_fn_paths().collect();
    for (path, _) in &paths {
        assert!(path.starts_with(countersign_app::api::SERVER_FN_PREFIX), "{path} is behind the argument guard");
    }
    // Functions that end the caller's session go last, so the others run signed in.
    let ends_session = |path: &str| ["logout", "end_other_sessions", "end_session"].iter().any(|n| path.contains(n));
    paths.sort_by_key(|(path, _)| (ends_session(path), *path));
    // First, while signed in: the log's functions with the caller's own workspace, so that
    // hostile search values get past the workspace and reach the filters: a time that is not
    // one, or a broken cursor, is a 400.
    for (name, field) in [
        ("list_logs", "from"),
        ("list_logs", "to"),
        ("list_logs", "cursor"),
        ("get_log_failures", "from"),
        ("get_log_failures", "to"),
    ] {
        let (path, _) = paths
            .iter()
            .find(|(p, _)| {
                p.rsplit('/').next().unwrap_or_default().trim_end_matches(|c: char| c.is_ascii_digit()) == name
            })
            .unwrap_or_else(|| panic!("{name} is a server function"));
        let request = Request::builder()
            .method(Method::POST)
            .uri(*path)
            .header("origin", crate::support::ORIGIN)
            .header("accept", "application/json")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", format!("cs_session={session}"));
        let value = if field == "cursor" { "not-a-cursor" } else { "9999-99-99T99%3A99" };
        let body = format!("workspace={workspace}&{field}={value}");
        let reply = app.raw(request.body(Body::from(body)).expect("request")).await;
        assert_eq!(
            (reply.status, reply.body["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_request")),
            "{name} {field}: {}",
            reply.body
        );
    }
    let fields = [
        "workspace",
        "id",
        "kid",
        "account",
        "invitation",
        "hook",
        "name",
        "user_id",
        "role",
        "email",
        "password",
        "secret",
        "url",
        "platform",
        "token",
        "user_jwt",
        "user_hash",
        "web",
        "ios",
        "android",
        "kind",
        "next",
    ];
    let hostile = fields.iter().map(|f| format!("{f}=%00%FF%ED%A0%80")).collect::<Vec<_>>().join("&");
    let mut refused = 0;
    for (path, method) in &paths {
        for body in ["", hostile.as_str(), "%%%&&==", "workspace[=1"] {
            let request = Request::builder()
                .method(method.clone())
                .uri(if *method == Method::GET { format!("{path}?{body}") } else { (*path).to_owned() })
                .header("origin", crate::support::ORIGIN)
                .header("accept", "application/json")
                .header("content-type", "application/x-www-form-urlencoded")
                .header("cookie", format!("cs_session={session}"));
            let body = if *method == Method::GET { Body::empty() } else { Body::from(body.to_owned()) };
            let reply = app.raw(request.body(body).expect("request")).await;
            assert_ne!(reply.status, StatusCode::INTERNAL_SERVER_ERROR, "{path}: {}", reply.body);
            if reply.status.is_client_error() {
                let code = reply.body["code"].as_str().unwrap_or_default();
                let expected = countersign_service::ErrorCode::from_wire(code).map(|c| c.status());
                assert_eq!(expected, Some(reply.status.as_u16()), "{path}: the status goes with {}", reply.body);
                refused += 1;
            }
        }
    }
    assert!(refused > paths.len(), "most calls were refused: {refused} of {}", paths.len() * 4);
    // A sign-in without its arguments, with NUL, or over the body limit is the caller's mistake.
    let login = paths.iter().find(|(p, _)| p.contains("/login")).expect("login is a server function");
    let oversize = format!("email=a%40b.c&password={}", "x".repeat(70 * 1024));
    for (body, status, code) in [
        ("email=a%40b.c".to_owned(), StatusCode::BAD_REQUEST, "invalid_request"),
        ("email=a%00%40b.c&password=p".to_owned(), StatusCode::BAD_REQUEST, "invalid_request"),
        (oversize, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
    ] {
        let request = Request::builder()
            .method(Method::POST)
            .uri(login.0)
            .header("origin", crate::support::ORIGIN)
            .header("content-type", "application/x-www-form-urlencoded");
        let reply = app.raw(request.body(Body::from(body)).expect("request")).await;
        assert_eq!((reply.status, reply.body["code"].as_str()), (status, Some(code)));
    }
}

/// A server function's error answers with the status of its code, as the HTTP API does: the
/// dashboard's own `confirmation_required` is a 409.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn server_function_errors_carry_their_status(pool: PgPool) {
    use countersign_app::api::{GetSecurity, Login, SaveSecurity};
    use leptos::server_fn::ServerFn;

    let app = TestApp::new(pool).await;
    let (owner, ws) = app.signup("owner@example.com", "Acme").await;
    let crate::support::Auth::Cookie(session) = owner else { panic!("signup signs in with a cookie") };
    let call = |path: &'static str, body: String| {
        Request::builder()
            .method(Method::POST)
            .uri(path)
            .header("origin", crate::support::ORIGIN)
            .header("accept", "application/json")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", format!("cs_session={session}"))
            .body(Body::from(body))
            .expect("request")
    };
    let modes = |mode: &str| {
        format!(
            "workspace={ws}&web={mode}&ios={mode}&android={mode}&token_profile=countersign&leeway_seconds=60\
             &max_token_lifetime_seconds=&allowed_origins=&user_id_claims=&expected_issuer="
        )
    };
    let monitored = app.raw(call(SaveSecurity::PATH, modes("monitor"))).await;
    assert_eq!(monitored.status, StatusCode::OK, "{}", monitored.body);
    let enforce = modes("enforce");
    let cases = [
        (call(Login::PATH, "email=owner%40example.com&password=wrong-password".into()), 401, "invalid_credentials"),
        (call(GetSecurity::PATH, format!("workspace={}", Uuid::new_v4())), 404, "not_found"),
        (call(SaveSecurity::PATH, enforce), 409, "confirmation_required"),
    ];
    for (request, status, code) in cases {
        let path = request.uri().to_string();
        let reply = app.raw(request).await;
        assert_eq!((reply.status.as_u16(), reply.body["code"].as_str()), (status, Some(code)), "{path}");
    }
}
