//! `GET`/`POST /api/v1/workspaces`, members and audit of a workspace (people join by invitation).

use axum::extract::State;
use axum::http::StatusCode;
use countersign_proto::{AuditEntry, ChangeRoleRequest, CreateWorkspaceRequest, Member, Page, WorkspaceSummary};
use countersign_service::audit::AuditFilter;
use uuid::Uuid;

use super::error::ApiResult;
use super::extract::{Authed, Json, Path, Query};
use crate::AppState;

/// The caller's workspaces, with their role.
pub async fn list_workspaces(
    State(state): State<AppState>,
    Authed(actor): Authed,
) -> ApiResult<Json<Vec<WorkspaceSummary>>> {
    Ok(Json(state.svc.list_workspaces(&actor).await?))
}

/// Creates a workspace owned by the caller.
pub async fn create_workspace(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Json(body): Json<CreateWorkspaceRequest>,
) -> ApiResult<(StatusCode, Json<WorkspaceSummary>)> {
    Ok((StatusCode::CREATED, Json(state.svc.create_workspace(&actor, &body.name).await?)))
}

/// The members of a workspace.
pub async fn list_members(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Vec<Member>>> {
    Ok(Json(state.svc.list_members(&actor, id).await?))
}

/// Changes a member's role.
pub async fn change_member_role(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path((id, account_id)): Path<(Uuid, Uuid)>,
    Json(body): Json<ChangeRoleRequest>,
) -> ApiResult<Json<Member>> {
    Ok(Json(state.svc.change_member_role(&actor, id, account_id, body.role).await?))
}

/// Removes a member.
pub async fn remove_member(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path((id, account_id)): Path<(Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    state.svc.remove_member(&actor, id, account_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The workspace's audit log, newest first.
pub async fn list_audit(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<Uuid>,
    Query(filter): Query<AuditFilter>,
) -> ApiResult<Json<Page<AuditEntry>>> {
    Ok(Json(state.svc.list_audit(&actor, id, &filter).await?))
}
