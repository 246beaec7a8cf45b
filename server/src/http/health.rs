//! `GET /healthz` (process up) and `GET /readyz` (database reachable).

use axum::extract::State;
use axum::Json;
use countersign_service::ErrorCode;

use super::error::{ApiError, ApiResult};
use crate::AppState;

/// The process is up.
pub async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

/// The database answers.
pub async fn readyz(State(state): State<AppState>) -> ApiResult<Json<serde_json::Value>> {
    sqlx::query("SELECT 1")
        .execute(&state.svc.pool)
        .await
        .map_err(|_| ApiError::new(ErrorCode::Unavailable, "The database is unreachable."))?;
    Ok(Json(serde_json::json!({ "status": "ready" })))
}
