//! `GET /api/v1/workspaces/{id}/snippets`: the Snippets page's code, for automation.

use axum::extract::State;
use countersign_core::snippets::Snippets;
use uuid::Uuid;

use super::error::ApiResult;
use super::extract::{Authed, Json, Path};
use crate::AppState;

/// Server-side signing code and widget calls, filled in for the workspace (no secret).
pub async fn get_snippets(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Snippets>> {
    Ok(Json(state.svc.snippets(&actor, id).await?))
}
