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
        let session = app.join(&workspace, &sessions[0].1, &email, role.as_str()).await;
        let account = app.get("/api/v1/workspaces", &session).await;
        assert_eq!(account.status, StatusCode::OK);
        sessions.push((role, session, account_id(&app, &email).await));
    }
    Team { app, workspace, sessions }
}

async fn account_id(app: &TestApp, email: &str) -> String {
    let id: uuid::Uuid = sqlx::query_scalar("SELECT id FROM accounts WHERE email = $1")
        .bind(email)
        .fetch_one(&app.pool)
        .await
        .expect("account");
    id.to_string()
}

fn expected(role: Role, action: Action, ok: StatusCode) -> StatusCode {
    if permits(role, action) {
        ok
    } else {
        StatusCode::FORBIDDEN
    }
}

/// Every role × member action answers as the permission table says, and changes nothing when refused.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn role_matrix_for_members(pool: PgPool) {
    let Team { app, workspace, sessions } = team(pool).await;
    let base = format!("/api/v1/workspaces/{workspace}/members");
    for (role, auth, _) in &sessions {
        let list = app.get(&base, auth).await;
        assert_eq!(list.status, expected(*role, Action::View, StatusCode::OK), "{role:?} list");
        assert_eq!(
            app.get(&format!("/api/v1/workspaces/{workspace}/audit"), auth).await.status,
            StatusCode::OK,
            "{role:?} audit"
        );

        let invitations = format!("/api/v1/workspaces/{workspace}/invitations");
        let list = app.get(&invitations, auth).await;
        assert_eq!(list.status, expected(*role, Action::ManageMembers, StatusCode::OK), "{role:?} list invitations");
        let email = format!("new-by-{}@example.com", role.as_str());
        let invite = app.post(&invitations, json!({"email": email, "role": "support"}), auth).await;
        assert_eq!(invite.status, expected(*role, Action::ManageMembers, StatusCode::CREATED), "{role:?} invite");
        if invite.status == StatusCode::FORBIDDEN {
            assert_eq!(invite.code(), "forbidden");
            continue;
        }
        let token = invite.body["token"].as_str().unwrap_or("");
        let accepted =
            app.post("/api/v1/invitations/accept", json!({"token": token, "password": PASSWORD}), &Auth::None).await;
        assert_eq!(accepted.status, StatusCode::CREATED, "{}", accepted.body);
        let account = accepted.body["account"]["id"].as_str().unwrap_or("").to_owned();
        let change = app.put(&format!("{base}/{account}"), json!({"role": "developer"}), auth).await;
        assert_eq!(change.status, StatusCode::OK, "{role:?} change");
        assert_eq!(change.body["role"], "developer");
        let remove = app.delete(&format!("{base}/{account}"), auth).await;
        assert_eq!(remove.status, StatusCode::NO_CONTENT, "{role:?} remove");
    }
    // Refused roles changed nothing: 4 members remain, and the refused invitations do not exist.
    let members = app.get(&base, &sessions[0].1).await;
    assert_eq!(members.body.as_array().map(Vec::len), Some(4));
    let strays: i64 = sqlx::query_scalar("SELECT count(*) FROM invitations WHERE email IN ('new-by-developer@example.com', 'new-by-support@example.com')")
        .fetch_one(&app.pool).await.unwrap_or(-1);
    assert_eq!(strays, 0);
    // Developer and support cannot change or remove others either.
    for (role, auth, _) in &sessions[2..] {
        let target = &sessions[1].2;
        assert_eq!(
            app.put(&format!("{base}/{target}"), json!({"role": "support"}), auth).await.status,
            StatusCode::FORBIDDEN,
            "{role:?}"
        );
        assert_eq!(app.delete(&format!("{base}/{target}"), auth).await.status, StatusCode::FORBIDDEN, "{role:?}");
    }
    assert_eq!(app.audit_count("invitation.created").await, 5);
    assert_eq!(app.audit_count("invitation.accepted").await, 5);
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

/// Inviting the email of an existing account attaches nothing: whoever signed up first with
/// that address cannot join through it, and the account joins only by accepting while signed in.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn existing_accounts_join_only_by_accepting(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (owner, workspace) = app.signup("owner@example.com", "Acme").await;
    let (squatter, _) = app.signup("victim@example.com", "Squat").await;
    let base = format!("/api/v1/workspaces/{workspace}/members");
    let token = app.invite(&workspace, &owner, Some("VICTIM@example.com"), "admin").await;
    assert_eq!(app.get(&base, &owner).await.body.as_array().map(Vec::len), Some(1), "nobody was added");
    assert_eq!(
        app.get(&base, &squatter).await.status,
        StatusCode::NOT_FOUND,
        "the account registered first is not attached"
    );

    // Signed out, the link cannot take over the existing account or reset its password.
    let taken = app
        .post("/api/v1/invitations/accept", json!({"token": token, "password": "another-password-1"}), &Auth::None)
        .await;
    assert_eq!((taken.status, taken.code()), (StatusCode::CONFLICT, "conflict"));
    app.login("victim@example.com", PASSWORD).await;

    // Signed in, the holder joins with their own account and password.
    let joined = app.post("/api/v1/invitations/accept", json!({"token": token}), &squatter).await;
    assert_eq!(joined.status, StatusCode::OK, "{}", joined.body);
    assert_eq!(joined.body["workspace"]["role"], "admin");
    assert_eq!(joined.body["account_created"], false);
    let again = app
        .post(
            &format!("/api/v1/workspaces/{workspace}/invitations"),
            json!({"email": "victim@example.com", "role": "support"}),
            &owner,
        )
        .await;
    assert_eq!((again.status, again.code()), (StatusCode::CONFLICT, "conflict"), "already a member");
}

/// Adding members directly is gone: people join by invitation only.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn members_cannot_be_added_directly(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (owner, workspace) = app.signup("owner@example.com", "Acme").await;
    let reply = app
        .post(
            &format!("/api/v1/workspaces/{workspace}/members"),
            json!({"email": "x@example.com", "role": "admin"}),
            &owner,
        )
        .await;
    assert_eq!((reply.status, reply.code()), (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"));
    let accounts: i64 = sqlx::query_scalar("SELECT count(*) FROM accounts").fetch_one(&app.pool).await.unwrap_or(-1);
    assert_eq!(accounts, 1);
}

/// Any id of another workspace answers 404, exactly like a missing one.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn cross_tenant_is_not_found(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (ada, ada_ws) = app.signup("ada@example.com", "Acme").await;
    let (bob, _) = app.signup("bob@example.com", "Bobco").await;
    let members = app.get(&format!("/api/v1/workspaces/{ada_ws}/members"), &ada).await;
    let ada_account = members.body[0]["account_id"].as_str().unwrap_or("").to_owned();
    app.invite(&ada_ws, &ada, Some("carol@example.com"), "support").await;
    let invitations = app.get(&format!("/api/v1/workspaces/{ada_ws}/invitations"), &ada).await;
    let ada_invitation = invitations.body[0]["id"].as_str().unwrap_or("").to_owned();
    let missing = app.get("/api/v1/workspaces/00000000-0000-4000-8000-000000000000/members", &bob).await;
    for reply in [
        app.get(&format!("/api/v1/workspaces/{ada_ws}/members"), &bob).await,
        app.get(&format!("/api/v1/workspaces/{ada_ws}/audit"), &bob).await,
        app.get(&format!("/api/v1/workspaces/{ada_ws}/invitations"), &bob).await,
        app.post(
            &format!("/api/v1/workspaces/{ada_ws}/invitations"),
            json!({"email": "x@y.io", "role": "owner"}),
            &bob,
        )
        .await,
        app.delete(&format!("/api/v1/workspaces/{ada_ws}/invitations/{ada_invitation}"), &bob).await,
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
    let invitations = app.get(&format!("/api/v1/workspaces/{ada_ws}/invitations"), &ada).await;
    assert_eq!(invitations.body[0]["status"], "pending", "the invitation was not revoked");
    assert_eq!(invitations.body.as_array().map(Vec::len), Some(1));
}

/// The audit log lists invitations newest first, with filters and a keyset cursor.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn audit_log_pages(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (owner, workspace) = app.signup("owner@example.com", "Acme").await;
    for i in 0..3 {
        app.invite(&workspace, &owner, Some(&format!("m{i}@example.com")), "support").await;
    }
    let page = app.get(&format!("/api/v1/workspaces/{workspace}/audit?action=invitation.&limit=2"), &owner).await;
    assert_eq!(page.status, StatusCode::OK);
    let items = page.body["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["target"], "m2@example.com");
    assert_eq!(items[0]["actor_email"], "owner@example.com");
    let cursor = page.body["next_cursor"].as_str().unwrap_or("").to_owned();
    let next = app
        .get(&format!("/api/v1/workspaces/{workspace}/audit?action=invitation.&limit=2&cursor={cursor}"), &owner)
        .await;
    assert_eq!(next.body["items"][0]["target"], "m0@example.com");
    assert!(next.body["next_cursor"].is_null());
    let bad = app.get(&format!("/api/v1/workspaces/{workspace}/audit?limit=500"), &owner).await;
    assert_eq!(bad.code(), "invalid_request");
}
