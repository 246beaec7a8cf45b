//! `GET /api/v1/workspaces/{id}/snippets`: filled in for the workspace, for every role, without
//! the secret; and the Node, Python, Ruby and Rust snippets, run as served with the real libraries,
//! sign tokens that identify verifies under every token profile.

use axum::http::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::libraries::{node, python, ruby, token_from};
use crate::support::{TestApp, Workspace};

async fn snippets(app: &TestApp, ws: &Workspace) -> Value {
    let reply = app.get(&format!("/api/v1/workspaces/{}/snippets", ws.id), &ws.owner).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body
}

/// The code of the server snippet `id`.
fn code<'a>(all: &'a Value, id: &str) -> &'a str {
    all["server"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["id"] == id))
        .and_then(|s| s["code"].as_str())
        .unwrap_or_else(|| panic!("no {id} snippet: {all}"))
}

/// Runs a snippet's code as a file with `COUNTERSIGN_SECRET` set; returns the token it prints.
fn run_snippet(code: &str, file: &str, secret: &str) -> String {
    let dir = std::env::temp_dir().join(format!("countersign-snippet-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(file);
    std::fs::write(&path, code).expect("write the snippet");
    let program = match file.rsplit('.').next() {
        Some("py") => python(),
        Some("rb") => ruby(),
        _ => node(),
    };
    let token = token_from(program, &[path.to_str().expect("UTF-8 path")], &[("COUNTERSIGN_SECRET", secret)]);
    let _ = std::fs::remove_dir_all(&dir);
    token
}

/// Builds and runs the Rust snippet's code as a crate of its own, with the dependencies its
/// first line names (`cargo add jsonwebtoken@9 serde_json`) from crates.io, and
/// `COUNTERSIGN_SECRET` set; returns the token it prints. Built in `target/snippet-rust`, so a
/// second run compiles only the snippet.
fn run_rust_snippet(code: &str, secret: &str) -> String {
    assert!(code.starts_with("// cargo add jsonwebtoken@9 serde_json\n"), "the dependencies changed: {code}");
    let dir = std::env::temp_dir().join(format!("countersign-snippet-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(dir.join("src")).expect("temp dir");
    // `[workspace]`: a crate of its own, whatever directory holds it.
    let manifest = "[package]\nname = \"snippet\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n\
                    [dependencies]\njsonwebtoken = \"9\"\nserde_json = \"1\"\n\n[workspace]\n";
    std::fs::write(dir.join("Cargo.toml"), manifest).expect("write Cargo.toml");
    std::fs::write(dir.join("src/main.rs"), code).expect("write the snippet");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest_path = dir.join("Cargo.toml");
    let target = crate::libraries::repo_root().join("target/snippet-rust");
    let args = [
        "run",
        "--quiet",
        "--manifest-path",
        manifest_path.to_str().expect("UTF-8 path"),
        "--target-dir",
        target.to_str().expect("UTF-8 path"),
    ];
    let token = token_from(cargo, &args, &[("COUNTERSIGN_SECRET", secret)]);
    let _ = std::fs::remove_dir_all(&dir);
    token
}

/// Every role sees the snippets; they carry the app id, the primary kid and the profile, and
/// never the secret. They follow the profile and the primary key as these change.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn snippets_follow_the_workspace(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ws = app.workspace("owner@example.com").await;
    let all = snippets(&app, &ws).await;
    assert_eq!(all["context"]["app_id"], ws.app_id.as_str());
    assert_eq!(all["context"]["kid"], ws.kid.as_str());
    assert_eq!(all["context"]["token_profile"], "countersign");
    assert_eq!(all["server"].as_array().map(Vec::len), Some(8));
    assert_eq!(all["widget"].as_array().map(Vec::len), Some(3));
    assert!(code(&all, "node").contains(&ws.kid) && code(&all, "node").contains("user_id:"));
    assert!(all["widget"][0]["code"].as_str().unwrap_or_default().contains("http://127.0.0.1:3000/api/v1/identify"));
    assert!(!all.to_string().contains(&ws.secret), "no snippet holds the secret");

    let support = app.join(&ws.id, &ws.owner, "support@example.com", "support").await;
    let reply = app.get(&format!("/api/v1/workspaces/{}/snippets", ws.id), &support).await;
    assert_eq!(reply.status, StatusCode::OK, "every role sees snippets: {}", reply.body);

    app.set_security(&ws, json!({"token_profile": "talkjs", "expected_issuer": "https://backend.example"})).await;
    let rotated =
        app.post(&format!("/api/v1/workspaces/{}/keys/rotate", ws.id), json!({"grace_seconds": 0}), &ws.owner).await;
    let new_kid = rotated.body["kid"].as_str().unwrap_or_default();
    let all = snippets(&app, &ws).await;
    assert_eq!((&all["context"]["kid"], &all["context"]["token_profile"]), (&json!(new_kid), &json!("talkjs")));
    let python = code(&all, "python");
    assert!(
        python.contains("\"sub\": str(user[\"id\"])") && python.contains("\"iss\": \"https://backend.example\""),
        "{python}"
    );
}

/// Under each profile, the Node (`jsonwebtoken`), Python (PyJWT), Ruby (`jwt`) and Rust
/// (`jsonwebtoken`) snippets, run exactly as served with the workspace's secret in the
/// environment, make tokens that identify verifies for the example user.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn node_python_ruby_and_rust_snippets_verify_under_every_profile(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ws = app.workspace("owner@example.com").await;
    for profile in countersign_core::TokenProfile::ALL {
        let claims = if profile == countersign_core::TokenProfile::Custom { json!(["account_ref"]) } else { json!([]) };
        app.set_security(
            &ws,
            json!({"token_profile": profile.as_str(), "user_id_claims": claims, "max_token_lifetime_seconds": 3600}),
        )
        .await;
        let all = snippets(&app, &ws).await;
        for (id, file) in
            [("node", "snippet.cjs"), ("python", "snippet.py"), ("ruby", "snippet.rb"), ("rust", "main.rs")]
        {
            let token = match id {
                "rust" => run_rust_snippet(code(&all, id), &ws.secret),
                _ => run_snippet(code(&all, id), file, &ws.secret),
            };
            let reply = app.identify(json!({"app_id": ws.app_id, "platform": "web", "user_jwt": token})).await;
            assert_eq!(
                (reply.status, &reply.body["verified"]),
                (StatusCode::OK, &json!(true)),
                "{profile:?} {id}: {}",
                reply.body
            );
            assert_eq!(reply.body["user_id"], countersign_core::snippets::EXAMPLE_USER_ID, "{profile:?} {id}");
        }
    }
}
