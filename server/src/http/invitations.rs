//! Invitations: `GET`/`POST /api/v1/workspaces/{id}/invitations`, `DELETE …/{invitation_id}`,
//! and `POST /api/v1/invitations/accept`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use countersign_proto::{AcceptInvitationRequest, CreateInvitationRequest, CreatedInvitation, Invitation};
use countersign_service::accounts::session_cookie;
use countersign_service::invitations::Joiner;
use countersign_service::web;
use uuid::Uuid;

use super::auth::set_cookie;
use super::error::ApiResult;
use super::extract::{Authed, Json, Meta, Path};
use crate::AppState;

/// The workspace's invitations, newest first.
pub async fn list_invitations(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Vec<Invitation>>> {
    Ok(Json(state.svc.list_invitations(&actor, id).await?))
}

/// Creates an invitation; its link is in this answer only.
pub async fn create_invitation(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<Uuid>,
    Json(body): Json<CreateInvitationRequest>,
) -> ApiResult<(StatusCode, Json<CreatedInvitation>)> {
    Ok((StatusCode::CREATED, Json(state.svc.create_invitation(&actor, id, body.email.as_deref(), body.role).await?)))
}

/// Revokes an invitation.
pub async fn revoke_invitation(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path((id, invitation_id)): Path<(Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    state.svc.revoke_invitation(&actor, id, invitation_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Accepts an invitation: a signed-in caller (session or token) joins with their account;
/// otherwise a new account is made with the given password and signed in (201 + cookie).
pub async fn accept_invitation(
    State(state): State<AppState>,
    Meta(meta): Meta,
    headers: HeaderMap,
    Json(body): Json<AcceptInvitationRequest>,
) -> ApiResult<Response> {
    let actor = if let Some(token) = web::bearer_token(&headers) {
        Some(state.svc.authenticate_token(token, &meta).await?)
    } else if let Some(token) = web::session_token(&headers) {
        Some(state.svc.authenticate_session(&token, &meta).await?)
    } else {
        None
    };
    let joiner = match &actor {
        Some(actor) => Joiner::Account(actor),
        None => Joiner::NewAccount { password: body.password.as_deref(), email: body.email.as_deref(), meta: &meta },
    };
    let (accepted, session) = state.svc.accept_invitation(&body.token, joiner).await?;
    let Some(session) = session else { return Ok(axum::Json(accepted).into_response()) };
    let mut response = (StatusCode::CREATED, axum::Json(accepted)).into_response();
    set_cookie(
        response.headers_mut(),
        &session_cookie(&session, state.svc.settings().secure_cookies, state.svc.clock.now()),
    );
    Ok(response)
}
