//! Export of the filtered log as CSV or NDJSON, streamed: rows are read in keyset pages as the
//! client consumes the body, so memory stays one page whatever the size of the export.

use countersign_core::log_limits::MAX_EXPORT_ROWS;
use countersign_core::policy::Action;
use countersign_proto::LogEntry;
use futures_util::Stream;
use uuid::Uuid;

use super::filter::{LogCriteria, LogFilter};
use crate::error::{ServiceError, ServiceResult};
use crate::{Actor, Service};

/// Rows read per query: one page is all an export holds in memory.
const EXPORT_PAGE_ROWS: i64 = 1_000;

/// An export's file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Ndjson,
}

impl ExportFormat {
    /// `csv` or `ndjson`.
    pub fn parse(value: Option<&str>) -> ServiceResult<ExportFormat> {
        match value {
            Some("csv") => Ok(ExportFormat::Csv),
            Some("ndjson") => Ok(ExportFormat::Ndjson),
            _ => Err(ServiceError::invalid("format must be one of csv, ndjson.")),
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::Ndjson => "application/x-ndjson",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Ndjson => "ndjson",
        }
    }
}

const CSV_HEADER: &str = "id,at,outcome,reason,explanation,platform,kid,alg,user_id,attributes_accepted,attributes_rejected,origin,ip,user_agent,latency_us\r\n";

/// One CSV cell: always quoted, quotes doubled, and a leading `= + - @` (or tab / carriage
/// return) prefixed with `'` so that a spreadsheet shows the text instead of running a formula.
fn csv_cell(out: &mut String, value: &str) {
    out.push('"');
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        out.push('\'');
    }
    out.push_str(&value.replace('"', "\"\""));
    out.push('"');
}

/// One CSV record (CRLF-terminated, RFC 4180).
fn csv_row(out: &mut String, e: &LogEntry) {
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let cells = [
        e.id.to_string(),
        e.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        e.outcome.clone(),
        text(&e.reason),
        e.explanation.clone(),
        text(&e.platform),
        text(&e.kid),
        text(&e.alg),
        text(&e.user_id),
        e.attributes_accepted.to_string(),
        e.attributes_rejected.to_string(),
        text(&e.origin),
        text(&e.ip),
        text(&e.user_agent),
        e.latency_us.to_string(),
    ];
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        csv_cell(out, cell);
    }
    out.push_str("\r\n");
}

/// A page of rows in `format`.
fn render(format: ExportFormat, rows: &[LogEntry]) -> String {
    let mut out = String::new();
    for row in rows {
        match format {
            ExportFormat::Csv => csv_row(&mut out, row),
            ExportFormat::Ndjson => {
                // A LogEntry always serializes; an empty line would be the only trace otherwise.
                out.push_str(&serde_json::to_string(row).unwrap_or_default());
                out.push('\n');
            }
        }
    }
    out
}

/// Where a running export is.
struct Cursor {
    criteria: LogCriteria,
    left: i64,
    header_sent: bool,
}

impl Service {
    /// The filtered log as a stream of chunks, newest first, `MAX_EXPORT_ROWS` at most (or
    /// `limit`). Filters are checked before the first byte, so a bad one is a plain 400.
    pub async fn export_logs(
        &self,
        actor: &Actor,
        workspace_id: Uuid,
        filter: &LogFilter,
        format: Option<&str>,
    ) -> ServiceResult<(ExportFormat, impl Stream<Item = ServiceResult<String>> + Send + 'static)> {
        drop(self.tenant(actor, workspace_id, Action::View).await?);
        let format = ExportFormat::parse(format)?;
        let criteria = filter.criteria(self.clock.now())?;
        let left = filter.limit.unwrap_or(MAX_EXPORT_ROWS);
        if !(1..=MAX_EXPORT_ROWS).contains(&left) {
            return Err(ServiceError::invalid(format!("limit must be between 1 and {MAX_EXPORT_ROWS} for an export.")));
        }
        let service = self.clone();
        let start = Cursor { criteria, left, header_sent: false };
        Ok((
            format,
            futures_util::stream::unfold(Some(start), move |state| {
                let service = service.clone();
                async move {
                    let mut cursor = state?;
                    let mut chunk = String::new();
                    if !cursor.header_sent && format == ExportFormat::Csv {
                        chunk.push_str(CSV_HEADER);
                    }
                    cursor.header_sent = true;
                    if cursor.left == 0 {
                        return (!chunk.is_empty()).then_some((Ok(chunk), None));
                    }
                    let rows = match service
                        .confined_log_rows(workspace_id, &cursor.criteria, cursor.left.min(EXPORT_PAGE_ROWS))
                        .await
                    {
                        Ok(rows) => rows,
                        Err(err) => return Some((Err(err), None)),
                    };
                    chunk.push_str(&render(format, &rows));
                    cursor.left -= rows.len() as i64;
                    let next = match rows.last() {
                        Some(last) if rows.len() as i64 == EXPORT_PAGE_ROWS && cursor.left > 0 => {
                            cursor.criteria.before = Some((last.at, last.id));
                            Some(cursor)
                        }
                        _ => None,
                    };
                    if chunk.is_empty() {
                        return None;
                    }
                    Some((Ok(chunk), next))
                }
            }),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Formula starters are neutralised and every cell is quoted with quotes doubled.
    #[test]
    fn csv_cells() {
        let mut out = String::new();
        for value in ["=HYPERLINK(\"x\")", "+1", "-2", "@SUM(A1)", "plain, \"quoted\"\nline"] {
            csv_cell(&mut out, value);
            out.push('|');
        }
        assert_eq!(out, "\"'=HYPERLINK(\"\"x\"\")\"|\"'+1\"|\"'-2\"|\"'@SUM(A1)\"|\"plain, \"\"quoted\"\"\nline\"|");
    }
}
