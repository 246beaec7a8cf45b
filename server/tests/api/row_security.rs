//! Postgres row-level security under the application's own scoping: a transaction confined to
//! one workspace (`countersign_service::tenant`) can neither see nor change another's rows, even
//! with a query that names no workspace at all.

#![allow(clippy::unwrap_used)]

use axum::http::StatusCode;
use serde_json::json;
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::support::{TestApp, Workspace};

async fn confined(pool: &PgPool, workspace: &Workspace) -> Transaction<'static, Postgres> {
    let mut tx = pool.begin().await.unwrap();
    countersign_service::tenant::confine(&mut tx, workspace.id.parse().unwrap()).await.unwrap();
    tx
}

async fn count(tx: &mut Transaction<'static, Postgres>, query: &str) -> i64 {
    sqlx::query_scalar(query).fetch_one(&mut **tx).await.unwrap_or_else(|e| panic!("{query}: {e}"))
}

/// Two workspaces with an attribute and a pending invitation each.
async fn two_workspaces(app: &TestApp) -> (Workspace, Workspace) {
    let mut workspaces = Vec::new();
    for email in ["a@example.com", "b@example.com"] {
        let ws = app.workspace(email).await;
        let path = format!("/api/v1/workspaces/{}/attributes", ws.id);
        let reply = app.post(&path, json!({"name": "plan", "type": "string", "secure_only": false}), &ws.owner).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        app.invite(&ws.id, &ws.owner, Some("someone@example.com"), "support").await;
        workspaces.push(ws);
    }
    let b = workspaces.pop().unwrap();
    (workspaces.pop().unwrap(), b)
}

/// Every table the tenant role may touch, and every table that holds a workspace's rows, has
/// row-level security with a policy for that role: read from the catalog, so a new table
/// cannot be forgotten.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn every_tenant_table_has_a_policy(pool: PgPool) {
    let unguarded: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
            AND (has_table_privilege('countersign_tenant', c.oid, 'SELECT, INSERT, UPDATE, DELETE')
                 OR has_any_column_privilege('countersign_tenant', c.oid, 'SELECT')
                 OR EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'workspace_id'))
            AND NOT (c.relrowsecurity AND EXISTS (
                SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid
                   AND 'countersign_tenant'::regrole = ANY (p.polroles)))
          ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(unguarded.is_empty(), "tables without a tenant policy: {unguarded:?}");
    // No partition can be reached around its parent's policy.
    let partitions: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_class c WHERE c.relispartition
            AND has_table_privilege('countersign_tenant', c.oid, 'SELECT, INSERT, UPDATE, DELETE')",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(partitions, 0);
}

/// Confined to A, queries without any workspace condition see only A's rows.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn a_confined_transaction_sees_only_its_workspace(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let (a, b) = two_workspaces(&app).await;
    let mut tx = confined(&pool, &a).await;
    for table in ["workspaces", "members", "workspace_keys", "attributes", "invitations", "accounts"] {
        assert_eq!(count(&mut tx, &format!("SELECT count(*) FROM {table}")).await, 1, "{table}");
    }
    let audit: i64 = count(&mut tx, "SELECT count(*) FROM audit_log").await;
    let audit_of_a: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE workspace_id = $1")
        .bind(a.id.parse::<Uuid>().unwrap())
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(audit, audit_of_a);
    let b_id: Uuid = b.id.parse().unwrap();
    let b_keys: i64 = sqlx::query_scalar("SELECT count(*) FROM workspace_keys WHERE workspace_id = $1")
        .bind(b_id)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(b_keys, 0, "B's keys are invisible even when asked for by id");
}

/// Confined to A, writes reach only A's rows, and a row for B is refused.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn a_confined_transaction_changes_only_its_workspace(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let (a, b) = two_workspaces(&app).await;
    let b_id: Uuid = b.id.parse().unwrap();

    let mut tx = confined(&pool, &a).await;
    let updated = sqlx::query("UPDATE attributes SET secure_only = true").execute(&mut *tx).await.unwrap();
    assert_eq!(updated.rows_affected(), 1);
    let deleted = sqlx::query("DELETE FROM invitations").execute(&mut *tx).await.unwrap();
    assert_eq!(deleted.rows_affected(), 1);
    tx.commit().await.unwrap();
    let (b_secure, b_invitations): (bool, i64) = sqlx::query_as(
        "SELECT (SELECT secure_only FROM attributes WHERE workspace_id = $1),
                (SELECT count(*) FROM invitations WHERE workspace_id = $1)",
    )
    .bind(b_id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((b_secure, b_invitations), (false, 1), "B is untouched");

    let mut tx = confined(&pool, &a).await;
    let refused = sqlx::query(
        "INSERT INTO attributes (workspace_id, name, type, created_at) VALUES ($1, 'injected', 'string', now())",
    )
    .bind(b_id)
    .execute(&mut *tx)
    .await
    .unwrap_err();
    assert!(refused.to_string().contains("row-level security"), "{refused}");
}

/// What no tenant may do at all: read password hashes, rewrite or delete the verification log.
/// And with no workspace named, the tenant role sees no row and can write none.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn the_tenant_role_is_denied_beyond_its_grants(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let (a, _b) = two_workspaces(&app).await;
    for statement in [
        "SELECT password_hash FROM accounts",
        "DELETE FROM verification_log",
        "UPDATE verification_log SET outcome = 'verified'",
        "DELETE FROM audit_log",
        "SELECT count(*) FROM sessions",
        "SELECT count(*) FROM personal_access_tokens",
    ] {
        let mut tx = confined(&pool, &a).await;
        let err = sqlx::query(statement).execute(&mut *tx).await.unwrap_err();
        assert!(err.to_string().contains("permission denied"), "{statement}: {err}");
    }
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("SET LOCAL ROLE countersign_tenant").execute(&mut *tx).await.unwrap();
    assert_eq!(count(&mut tx, "SELECT count(*) FROM workspace_keys").await, 0);
    assert_eq!(count(&mut tx, "SELECT count(*) FROM members").await, 0);
    let renamed = sqlx::query("UPDATE workspaces SET name = 'taken'").execute(&mut *tx).await.unwrap();
    assert_eq!(renamed.rows_affected(), 0);
    let a_id: Uuid = a.id.parse().unwrap();
    let refused =
        sqlx::query("INSERT INTO attributes (workspace_id, name, type, created_at) VALUES ($1, 'x', 'string', now())")
            .bind(a_id)
            .execute(&mut *tx)
            .await
            .unwrap_err();
    assert!(refused.to_string().contains("row-level security"), "{refused}");
}

/// The API's reads go through the policies: with a policy that hides every row, the owner's
/// own keys disappear from the dashboard's list.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn the_api_reads_through_the_policies(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let (a, _b) = two_workspaces(&app).await;
    let path = format!("/api/v1/workspaces/{}/keys", a.id);
    assert_eq!(app.get(&path, &a.owner).await.body.as_array().map(Vec::len), Some(1));
    sqlx::query("ALTER POLICY tenant_isolation ON workspace_keys USING (false)").execute(&pool).await.unwrap();
    assert_eq!(app.get(&path, &a.owner).await.body.as_array().map(Vec::len), Some(0));
}
