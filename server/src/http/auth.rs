//! `POST /api/v1/auth/signup`, `/auth/login`, `/auth/logout`.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use countersign_proto::{LoginRequest, SessionInfo, SignupRequest};
use countersign_service::accounts::{clear_session_cookie, session_cookie, NewSession};
use countersign_service::Actor;

use super::error::ApiResult;
use super::extract::{Json, Meta};
use crate::AppState;
use countersign_service::web::session_token;

/// Creates an account and its first workspace, and signs in.
pub async fn signup(
    State(state): State<AppState>,
    Meta(meta): Meta,
    Json(body): Json<SignupRequest>,
) -> ApiResult<Response> {
    let session = state.svc.signup(&body.email, &body.password, &body.workspace_name, &meta).await?;
    signed_in(&state, session, meta, StatusCode::CREATED).await
}

/// Signs in with email and password.
pub async fn login(
    State(state): State<AppState>,
    Meta(meta): Meta,
    Json(body): Json<LoginRequest>,
) -> ApiResult<Response> {
    let session = state.svc.login(&body.email, &body.password, &meta).await?;
    signed_in(&state, session, meta, StatusCode::OK).await
}

async fn signed_in(
    state: &AppState,
    session: NewSession,
    meta: countersign_service::RequestMeta,
    status: StatusCode,
) -> ApiResult<Response> {
    let cookie = session_cookie(&session, state.svc.settings().secure_cookies, state.svc.clock.now());
    let actor = Actor { account_id: session.account.id, email: session.account.email.clone(), meta };
    let workspaces = state.svc.list_workspaces(&actor).await?;
    let mut response = (status, axum::Json(SessionInfo { account: session.account, workspaces })).into_response();
    set_cookie(response.headers_mut(), &cookie);
    Ok(response)
}

/// Ends the current session and clears its cookie.
pub async fn logout(State(state): State<AppState>, parts: axum::http::request::Parts) -> ApiResult<Response> {
    if let Some(token) = session_token(&parts.headers) {
        state.svc.logout(&token).await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    set_cookie(response.headers_mut(), &clear_session_cookie(state.svc.settings().secure_cookies));
    Ok(response)
}

/// Appends a `Set-Cookie` header.
pub(super) fn set_cookie(headers: &mut HeaderMap, cookie: &str) {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        headers.append(header::SET_COOKIE, value);
    }
}
