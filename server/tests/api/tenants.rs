//! The cross-tenant matrix: every management route (walked from the router's own table, so a
//! new route cannot be left out) called by the owner of another workspace with the ids of a
//! victim workspace answers 404 exactly like a missing id, and so does a call naming the
//! caller's own workspace with the victim's objects; nothing of the victim changes.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::support::{jwt, Auth, TestApp, Workspace};

/// Routes that name no workspace and no other account's object: they act on the caller only.
const CALLER_SCOPED: &[&str] = &[
    "/auth/signup",
    "/auth/login",
    "/auth/logout",
    "/tokens",
    "/account/password",
    "/account/sessions",
    "/invitations/accept",
    "/workspaces",
];

/// A fingerprint of everything the victim owns: a change anywhere changes it.
async fn victim_state(pool: &PgPool, workspace: &str, account: &str) -> Vec<String> {
    let queries = [
        "SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM workspaces t WHERE id::text = $1",
        "SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM members t WHERE workspace_id::text = $1",
        "SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM workspace_keys t WHERE workspace_id::text = $1",
        "SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM attributes t WHERE workspace_id::text = $1",
        "SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM invitations t WHERE workspace_id::text = $1",
        "SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM contacts t WHERE workspace_id::text = $1",
        "SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM audit_log t WHERE workspace_id::text = $1",
        "SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM webhook_endpoints t WHERE workspace_id::text = $1",
        "SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM webhook_deliveries t WHERE workspace_id::text = $1",
        "SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM sessions t WHERE account_id::text = $2",
        "SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM personal_access_tokens t WHERE account_id::text = $2",
    ];
    let mut state = Vec::new();
    for query in queries {
        let digest: Option<String> = sqlx::query_scalar(query)
            .bind(workspace)
            .bind(account)
            .fetch_one(pool)
            .await
            .unwrap_or_else(|e| panic!("{query}: {e}"));
        state.push(digest.unwrap_or_default());
    }
    state
}

/// A victim workspace with one of everything a route can name: an attribute `plan`, a pending
/// invitation, a contact `victim-user`, a webhook endpoint, and its owner's personal access
/// token and session.
struct Victim {
    workspace: Workspace,
    invitation_id: String,
    hook_id: String,
    account: String,
    pat_id: String,
    session_id: String,
}

async fn victim(app: &TestApp) -> Victim {
    let workspace = app.workspace("victim@example.com").await;
    let (ws, owner) = (&workspace.id, &workspace.owner);
    app.post(
        &format!("/api/v1/workspaces/{ws}/attributes"),
        json!({"name": "plan", "type": "string", "secure_only": true}),
        owner,
    )
    .await;
    let invitation =
        app.post(&format!("/api/v1/workspaces/{ws}/invitations"), json!({"role": "developer"}), owner).await;
    let invitation_id =
        invitation.body["invitation"]["id"].as_str().or(invitation.body["id"].as_str()).unwrap_or_default().to_owned();
    let token = jwt(&workspace.secret, &workspace.kid, json!({"user_id": "victim-user"}));
    assert_eq!(
        app.identify(json!({"app_id": workspace.app_id, "platform": "web", "user_jwt": token})).await.status,
        StatusCode::OK
    );
    let members = app.get(&format!("/api/v1/workspaces/{ws}/members"), owner).await;
    let account = members.body[0]["account_id"].as_str().unwrap_or_default().to_owned();
    let hook = app
        .post(
            &format!("/api/v1/workspaces/{ws}/webhooks"),
            json!({"url": "http://127.0.0.1:9/victim", "events": ["key.revoked"]}),
            owner,
        )
        .await;
    let hook_id = hook.body["id"].as_str().unwrap_or_default().to_owned();
    let pat = app.post("/api/v1/tokens", json!({"name": "ci"}), owner).await;
    let pat_id = pat.body["id"].as_str().unwrap_or_default().to_owned();
    let sessions = app.get("/api/v1/account/sessions", owner).await;
    let session_id = sessions.body[0]["id"].as_str().unwrap_or_default().to_owned();
    for (what, id) in [
        ("invitation", &invitation_id),
        ("webhook", &hook_id),
        ("account", &account),
        ("token", &pat_id),
        ("session", &session_id),
    ] {
        assert!(!id.is_empty(), "the victim's {what} id");
    }
    Victim { workspace, invitation_id, hook_id, account, pat_id, session_id }
}

/// An app whose webhooks may target loopback (the victim's endpoint is local).
async fn app_with_local_webhooks(pool: PgPool) -> TestApp {
    TestApp::with_settings(pool, countersign_service::Settings { webhooks_allow_private: true, ..Default::default() })
        .await
}

/// The body a route needs to get past its own validation and reach the permission check.
fn body_for(method: &Method, path: &str, security: &Value) -> Option<Value> {
    let body = match (method.as_str(), path.rsplit('/').next().unwrap_or("")) {
        ("POST", "invitations") => json!({"email": "mallory@example.com", "role": "owner"}),
        ("PUT", "{account_id}") => json!({"role": "developer"}),
        ("POST", "rotate") => json!({"grace_seconds": 0}),
        ("POST", "import") => json!({"secret": "mallory-0123456789abcdefghijklmnopqrstuv", "primary": true}),
        ("PUT", "security") => security.clone(),
        ("POST", "attributes") => json!({"name": "stolen", "type": "string", "secure_only": false}),
        ("PUT", "{name}") => json!({"type": "number", "secure_only": false}),
        ("POST", "webhooks") | ("PUT", "{hook_id}") => {
            json!({"url": "http://127.0.0.1:9/mallory", "events": ["key.revoked"]})
        }
        ("POST", "debug") => json!({"platform": "web", "user_jwt": "a.b.c"}),
        ("POST", "token") => json!({"user_id": "mallory-test"}),
        ("GET", _) | ("DELETE", _) => return None,
        _ => json!({}),
    };
    Some(body)
}

/// Calls `path` (the management route `route` with ids filled in) with every method the route
/// has, as `caller`: each must answer 404 `not_found`. Returns how many methods answered.
async fn every_method_is_not_found(app: &TestApp, path: &str, route: &str, security: &Value, caller: &Auth) -> usize {
    let mut probed = 0;
    for method in [Method::GET, Method::POST, Method::PUT, Method::DELETE] {
        let reply = app.send(method.clone(), path, body_for(&method, route, security), caller, &[]).await;
        if reply.status == StatusCode::METHOD_NOT_ALLOWED {
            continue;
        }
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::NOT_FOUND, "not_found"),
            "{method} {path}: {}",
            reply.body
        );
        probed += 1;
    }
    probed
}

#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn every_route_hides_another_workspace(pool: PgPool) {
    let app = app_with_local_webhooks(pool).await;
    let Victim { workspace: victim, invitation_id, hook_id, account, pat_id, session_id } = victim(&app).await;
    let ws = victim.id.clone();
    let security = app.get(&format!("/api/v1/workspaces/{ws}/security"), &victim.owner).await.body;

    let (mallory, mallory_ws) = app.signup("mallory@example.com", "Mallory's").await;
    let before = victim_state(&app.pool, &ws, &account).await;

    let ids = [
        ("{id}", ws.as_str()),
        ("{account_id}", account.as_str()),
        ("{invitation_id}", invitation_id.as_str()),
        ("{hook_id}", hook_id.as_str()),
        ("{kid}", victim.kid.as_str()),
        ("{name}", "plan"),
        ("{user_id}", "victim-user"),
    ];
    for (route, _) in countersign_server::http::v1_routes() {
        if CALLER_SCOPED.contains(&route) {
            continue;
        }
        assert!(route.contains('{'), "{route} names no id: classify it in CALLER_SCOPED or give it a foreign id here");
        let mut path = format!("/api/v1{route}");
        // The caller-scoped objects of another account: its token and its session.
        let own_id = match route {
            "/tokens/{id}" => Some(pat_id.as_str()),
            "/account/sessions/{id}" => Some(session_id.as_str()),
            _ => None,
        };
        for (placeholder, value) in ids {
            let value = if placeholder == "{id}" { own_id.unwrap_or(value) } else { value };
            path = path.replace(placeholder, value);
        }
        assert!(!path.contains('{'), "{route}: no foreign id for a placeholder");
        let probed = every_method_is_not_found(&app, &path, route, &security, &mallory).await;
        assert!(probed > 0, "{route}: no method answered");
    }

    // Mallory's own workspace, where she may do anything, with the victim's objects in the rest
    // of the path: each object is looked up in the workspace the path names, so none is found.
    let mut mixed = 0;
    for (route, _) in countersign_server::http::v1_routes() {
        let Some(rest) = route.strip_prefix("/workspaces/{id}/").filter(|rest| rest.contains('{')) else {
            continue;
        };
        let mut path = format!("/api/v1/workspaces/{mallory_ws}/{rest}");
        for (placeholder, value) in ids {
            path = path.replace(placeholder, value);
        }
        mixed += every_method_is_not_found(&app, &path, route, &security, &mallory).await;
    }
    assert!(mixed >= 10, "only {mixed} calls named an object inside a workspace");
    assert_eq!(victim_state(&app.pool, &ws, &account).await, before, "nothing of the victim changed");
}

/// Every server function of the dashboard called by another workspace's owner with the victim's
/// ids answers `not_found`, and nothing of the victim changes. The list comes from the server
/// function registry, so a new one cannot be left out.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn every_server_function_hides_another_workspace(pool: PgPool) {
    let app = app_with_local_webhooks(pool).await;
    let Victim { workspace: victim, invitation_id, hook_id, account, pat_id, session_id } = victim(&app).await;
    let ws = victim.id.clone();
    let (mallory, _) = app.signup("mallory@example.com", "Mallory's").await;
    let before = victim_state(&app.pool, &ws, &account).await;

    let mut paths: Vec<(&str, Method)> = leptos::server_fn::axum::server_fn_paths().collect();
    paths.sort_by_key(|(path, _)| *path);
    assert!(paths.len() > 20, "the registry lists the server functions: {paths:?}");
    for (path, method) in paths {
        let name = path.rsplit('/').next().unwrap_or_default().trim_end_matches(|c: char| c.is_ascii_digit());
        // Functions that act on the caller alone, or that end the caller's own session.
        if matches!(
            name,
            "whoami"
                | "login"
                | "signup"
                | "logout"
                | "create_workspace"
                | "list_workspaces"
                | "list_tokens"
                | "create_token"
                | "list_sessions"
                | "end_other_sessions"
                | "change_password"
                | "preview_invitation"
                | "accept_invitation"
        ) {
            continue;
        }
        let id = match name {
            "revoke_token" => pat_id.as_str(),
            "end_session" => session_id.as_str(),
            _ => ws.as_str(),
        };
        let form = [
            ("workspace", ws.as_str()),
            ("id", id),
            ("kid", victim.kid.as_str()),
            ("account", account.as_str()),
            ("invitation", invitation_id.as_str()),
            ("hook", hook_id.as_str()),
            ("name", "plan"),
            ("user_id", "victim-user"),
            ("role", "developer"),
            ("grace_seconds", "0"),
            ("kind", "string"),
            ("secure_only", "true"),
            ("email", "mallory@example.com"),
            ("web", "off"),
            ("ios", "off"),
            ("android", "off"),
            ("token_profile", "countersign"),
            ("leeway_seconds", "60"),
            ("max_token_lifetime_seconds", ""),
            ("allowed_origins", ""),
            ("user_id_claims", ""),
            ("expected_issuer", ""),
            ("secret", "mallory-0123456789abcdefghijklmnopqrstuv"),
            ("primary", "true"),
            ("url", "http://127.0.0.1:9/mallory"),
            ("events[0]", "key.revoked"),
            ("enabled", "true"),
        ];
        let body = form.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
        let mut request = axum::http::Request::builder()
            .method(method.clone())
            .uri(if method == Method::GET { format!("{path}?{body}") } else { path.to_owned() })
            .header("origin", crate::support::ORIGIN)
            .header("content-type", "application/x-www-form-urlencoded");
        if let crate::support::Auth::Cookie(token) = &mallory {
            request = request.header("cookie", format!("cs_session={token}"));
        }
        let body = if method == Method::GET { axum::body::Body::empty() } else { axum::body::Body::from(body) };
        let reply = app.raw(request.body(body).expect("request")).await;
        // `not_found`, or for the look-up that answers "none" (`find_contact`), nothing: a
        // mutator answering `null` (its success) must not pass for hidden.
        let hidden = (reply.status == StatusCode::NOT_FOUND && reply.body["code"].as_str() == Some("not_found"))
            || (name == "find_contact" && reply.status == StatusCode::OK && reply.body.is_null());
        assert!(hidden, "{name} ({path}): {} {}", reply.status, reply.body);
    }
    assert_eq!(victim_state(&app.pool, &ws, &account).await, before, "nothing of the victim changed");
}
