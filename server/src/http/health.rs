//! `GET /healthz` (process up), `GET /readyz` (database reachable), `GET /metrics`.

use axum::extract::State;
use axum::Json;
use countersign_service::ErrorCode;

use super::error::{ApiError, ApiResult};
use crate::AppState;

/// The process is up.
pub async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

/// The database answers. While the circuit breaker is open (the database is known to be down)
/// the answer is immediate, and says so. The body also says how configuration changes reach
/// this instance (`config_changes`: `listen`, or `poll` while LISTEN is unavailable) and what
/// sits in front of the database (`db_pooler`).
pub async fn readyz(State(state): State<AppState>) -> ApiResult<Json<serde_json::Value>> {
    if state.svc.database_breaker_open() {
        return Err(ApiError::new(
            ErrorCode::Unavailable,
            "The database is unreachable (circuit breaker open): verification log rows go to the local spool.",
        ));
    }
    countersign_service::db::query("SELECT 1")
        .execute(&state.svc.pool)
        .await
        .map_err(|_| ApiError::new(ErrorCode::Unavailable, "The database is unreachable."))?;
    Ok(Json(serde_json::json!({
        "status": "ready",
        "config_changes": state.svc.config_change_feed().as_str(),
        "db_pooler": state.svc.pool.pooler().as_str(),
    })))
}

/// Prometheus text exposition.
pub async fn metrics(State(state): State<AppState>) -> impl axum::response::IntoResponse {
    let spooled = state.svc.spooled_attempts().await;
    state.svc.metrics.spooled.set(spooled as i64);
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.svc.metrics.render())
}
