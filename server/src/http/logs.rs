//! The verification log: pages, the filtered set as a streamed download, and the live tail
//! as server-sent events.

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use countersign_proto::{LogEntry, Page};
use countersign_service::logs::{encode_cursor, LogFilter};
use futures_util::{Stream, StreamExt};
use serde::Deserialize;
use uuid::Uuid;

use super::error::ApiResult;
use super::extract::{Authed, Json, Path, Query};
use crate::AppState;

/// The verification log, newest first.
pub async fn list_logs(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<Uuid>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Page<LogEntry>>> {
    let filter = LogFilter::from_query(query.as_deref().unwrap_or_default(), &[])?;
    Ok(Json(state.svc.list_logs(&actor, id, &filter).await?))
}

/// `?format=` of an export (its other parameters are the log's filters).
#[derive(Deserialize)]
pub struct ExportParams {
    format: Option<String>,
}

/// The filtered log as CSV or NDJSON, streamed as it is read.
pub async fn export_logs(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<Uuid>,
    Query(params): Query<ExportParams>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let filter = LogFilter::from_query(query.as_deref().unwrap_or_default(), &["format"])?;
    let (format, chunks) = state.svc.export_logs(&actor, id, &filter, params.format.as_deref()).await?;
    // An error after the first byte can only cut the body short: the client sees a
    // truncated transfer, never a half-written error inside the file.
    let body = Body::from_stream(chunks.map(|chunk| chunk.map_err(|err| std::io::Error::other(err.message))));
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(format.content_type()));
    let file = format!("attachment; filename=\"verification-log.{}\"", format.extension());
    if let Ok(value) = HeaderValue::from_str(&file) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// How soon a browser reconnects a tail that ended (a page of catch-up sent, a lifetime over).
const RECONNECT_AFTER: std::time::Duration = std::time::Duration::from_millis(500);

/// `?after=` of a tail: the cursor of the newest row the client has (the `Last-Event-ID`
/// header, which a reconnecting `EventSource` sends, takes precedence).
#[derive(Deserialize)]
pub struct TailParams {
    after: Option<String>,
}

/// New rows matching the filters as they commit: one event per row, its id the row's cursor.
pub async fn tail_logs(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    Query(params): Query<TailParams>,
    RawQuery(query): RawQuery,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, axum::Error>>>> {
    let filter = LogFilter::from_query(query.as_deref().unwrap_or_default(), &["after"])?;
    let last_seen = headers.get("last-event-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let after = last_seen.or(params.after);
    let tail = state.svc.tail_logs(&actor, id, &filter, after.as_deref()).await?;
    // First, an event the browser does not dispatch: how soon to reconnect, and (for a fresh
    // tail) the cursor to resume from, so a drop before the first row loses nothing either.
    let mut start = Event::default().event("resume").retry(RECONNECT_AFTER);
    if let Some(cursor) = &tail.resume_from {
        start = start.id(cursor.as_str()).data(cursor.as_str());
    }
    let rows = tail.rows.map(|row| Event::default().id(encode_cursor(row.at, row.id)).json_data(&row));
    let events = futures_util::stream::once(async move { Ok(start) }).chain(rows);
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}
