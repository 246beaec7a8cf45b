//! Workspaces, members and roles: the permission table cell by cell, cross-tenant 404s.

use axum::http::StatusCode;
use countersign_core::policy::{permits, Action, Role};
use serde_json::json;
use sqlx::PgPool;

use crate::support::{Auth, TestApp, PASSWORD};

/// An owner's workspace with one member of each role, signed in.
struct Team {
    app: TestApp,
    workspace: String,
    sessions: Vec<(Role, Auth, String)>,
}

async fn team(pool: PgPool) -> Team {
    let app = TestApp::new(pool).await;
    let (owner, workspace) = app.signup("owner@example.com", "Acme").await;
    let owner_id = app.get("/api/v1/workspaces", &owner).await;
    assert_eq!(owner_id.status, StatusCode::OK);
    let mut sessions = Vec::new();
    let members = app.get(&format!("/api/v1/workspaces/{workspace}/members"), &owner).await;
    let owner_account = members.body[0]["account_id"].as_str().unwrap_or("").to_owned();
    sessions.push((Role::Owner, owner, owner_account));
    for role in [Role::Admin, Role::Developer, Role::Support] {
        let email = format!("{}@example.com", role.as_str());
        let added = app.post(&format!("/api/v1/workspaces/{workspace}/members"), json!({"email": email, "role": role}), &sessions[0].1).await;
        assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
        let password = added.body["temporary_password"].as_str().unwrap_or("").to_owned();
        let account = added.body["member"]["account_id"].as_str().unwrap_or("").to_owned();
        sessions.push((role, app.login(&email, &password).await, account));
    }
    Team { app, workspace, sessions }
}

fn expected(role: Role, action: Action, ok: StatusCode) -> StatusCode {
    if permits(role, action) { ok } else { StatusCode::FORBIDDEN }
}

/// Every role × member action answers as the permission table says, and changes nothing when refused.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn role_matrix_for_members(pool: PgPool) {
    let Team { app, workspace, sessions } = team(pool).await;
    let base = format!("/api/v1/workspaces/{workspace}/members");
    for (role, auth, _) in &sessions {
        let list = app.get(&base, auth).await;
        assert_eq!(list.status, expected(*role, Action::View, StatusCode::OK), "{role:?} list");
        assert_eq!(app.get(&format!("/api/v1/workspaces/{workspace}/audit"), auth).await.status, StatusCode::OK, "{role:?} audit");

        let email = format!("new-by-{}@example.com", role.as_str());
        let add = app.post(&base, json!({"email": email, "role": "support"}), auth).await;
        assert_eq!(add.status, expected(*role, Action::ManageMembers, StatusCode::CREATED), "{role:?} add");
        if add.status == StatusCode::FORBIDDEN {
            assert_eq!(add.code(), "forbidden");
            continue;
        }
        let account = add.body["member"]["account_id"].as_str().unwrap_or("").to_owned();
        let change = app.put(&format!("{base}/{account}"), json!({"role": "developer"}), auth).await;
        assert_eq!(change.status, StatusCode::OK, "{role:?} change");
        assert_eq!(change.body["role"], "developer");
        let remove = app.delete(&format!("{base}/{account}"), auth).await;
        assert_eq!(remove.status, StatusCode::NO_CONTENT, "{role:?} remove");
    }
    // Refused roles changed nothing: 4 members remain, and the refused adds created no account.
    let members = app.get(&base, &sessions[0].1).await;
    assert_eq!(members.body.as_array().map(Vec::len), Some(4));
    let strays: i64 = sqlx::query_scalar("SELECT count(*) FROM accounts WHERE email IN ('new-by-developer@example.com', 'new-by-support@example.com')")
        .fetch_one(&app.pool).await.unwrap_or(-1);
    assert_eq!(strays, 0);
    // Developer and support cannot change or remove others either.
    for (role, auth, _) in &sessions[2..] {
        let target = &sessions[1].2;
        assert_eq!(app.put(&format!("{base}/{target}"), json!({"role": "support"}), auth).await.status, StatusCode::FORBIDDEN, "{role:?}");
        assert_eq!(app.delete(&format!("{base}/{target}"), auth).await.status, StatusCode::FORBIDDEN, "{role:?}");
    }
    assert_eq!(app.audit_count("member.added").await, 5);
    assert_eq!(app.audit_count("member.removed").await, 2);
}

/// Only owners touch the owner role; the last owner can be neither demoted nor removed.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn ownership_rules(pool: PgPool) {
    let Team { app, workspace, sessions } = team(pool).await;
    let base = format!("/api/v1/workspaces/{workspace}/members");
    let (owner, admin) = (&sessions[0], &sessions[1]);

    let grant = app.put(&format!("{base}/{}", sessions[2].2), json!({"role": "owner"}), &admin.1).await;
    assert_eq!(grant.status, StatusCode::FORBIDDEN, "an admin cannot make owners");
    let demote = app.put(&format!("{base}/{}", owner.2), json!({"role": "admin"}), &admin.1).await;
    assert_eq!(demote.status, StatusCode::FORBIDDEN, "an admin cannot demote an owner");

    let last = app.put(&format!("{base}/{}", owner.2), json!({"role": "admin"}), &owner.1).await;
    assert_eq!((last.status, last.code()), (StatusCode::CONFLICT, "last_owner"));
    let last = app.delete(&format!("{base}/{}", owner.2), &owner.1).await;
    assert_eq!(last.code(), "last_owner");

    let promote = app.put(&format!("{base}/{}", admin.2), json!({"role": "owner"}), &owner.1).await;
    assert_eq!(promote.status, StatusCode::OK);
    let step_down = app.put(&format!("{base}/{}", owner.2), json!({"role": "admin"}), &owner.1).await;
    assert_eq!(step_down.status, StatusCode::OK, "with a second owner, the first may step down");
}

/// Adding someone twice is a conflict; adding an existing account does not reset its password.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn adding_existing_accounts(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (owner, workspace) = app.signup("owner@example.com", "Acme").await;
    app.signup("bob@example.com", "Bobco").await;
    let base = format!("/api/v1/workspaces/{workspace}/members");
    let added = app.post(&base, json!({"email": "BOB@example.com", "role": "admin"}), &owner).await;
    assert_eq!(added.status, StatusCode::CREATED);
    assert!(added.body.get("temporary_password").is_none());
    app.login("bob@example.com", PASSWORD).await;
    let again = app.post(&base, json!({"email": "bob@example.com", "role": "support"}), &owner).await;
    assert_eq!((again.status, again.code()), (StatusCode::CONFLICT, "conflict"));
}

/// Any id of another workspace answers 404, exactly like a missing one.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn cross_tenant_is_not_found(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (ada, ada_ws) = app.signup("ada@example.com", "Acme").await;
    let (bob, _) = app.signup("bob@example.com", "Bobco").await;
    let members = app.get(&format!("/api/v1/workspaces/{ada_ws}/members"), &ada).await;
    let ada_account = members.body[0]["account_id"].as_str().unwrap_or("").to_owned();
    let missing = app.get("/api/v1/workspaces/00000000-0000-4000-8000-000000000000/members", &bob).await;
    for reply in [
        app.get(&format!("/api/v1/workspaces/{ada_ws}/members"), &bob).await,
        app.get(&format!("/api/v1/workspaces/{ada_ws}/audit"), &bob).await,
        app.post(&format!("/api/v1/workspaces/{ada_ws}/members"), json!({"email": "x@y.io", "role": "owner"}), &bob).await,
        app.put(&format!("/api/v1/workspaces/{ada_ws}/members/{ada_account}"), json!({"role": "support"}), &bob).await,
        app.delete(&format!("/api/v1/workspaces/{ada_ws}/members/{ada_account}"), &bob).await,
    ] {
        assert_eq!(reply.status, StatusCode::NOT_FOUND);
        assert_eq!(reply.body, missing.body);
    }
    let list = app.get("/api/v1/workspaces", &bob).await;
    assert_eq!(list.body.as_array().map(Vec::len), Some(1), "bob sees only his workspace");
    let members = app.get(&format!("/api/v1/workspaces/{ada_ws}/members"), &ada).await;
    assert_eq!(members.body.as_array().map(Vec::len), Some(1), "nothing changed");
}

/// The audit log lists member changes newest first, with filters and a keyset cursor.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn audit_log_pages(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (owner, workspace) = app.signup("owner@example.com", "Acme").await;
    for i in 0..3 {
        app.post(&format!("/api/v1/workspaces/{workspace}/members"), json!({"email": format!("m{i}@example.com"), "role": "support"}), &owner).await;
    }
    let page = app.get(&format!("/api/v1/workspaces/{workspace}/audit?action=member.&limit=2"), &owner).await;
    assert_eq!(page.status, StatusCode::OK);
    let items = page.body["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["target"], "m2@example.com");
    assert_eq!(items[0]["actor_email"], "owner@example.com");
    let cursor = page.body["next_cursor"].as_str().unwrap_or("").to_owned();
    let next = app.get(&format!("/api/v1/workspaces/{workspace}/audit?action=member.&limit=2&cursor={cursor}"), &owner).await;
    assert_eq!(next.body["items"][0]["target"], "m0@example.com");
    assert!(next.body["next_cursor"].is_null());
    let bad = app.get(&format!("/api/v1/workspaces/{workspace}/audit?limit=500"), &owner).await;
    assert_eq!(bad.code(), "invalid_request");
}
