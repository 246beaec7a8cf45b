//! A live batch's unsigned attribute updates, grouped in the writer: the batch statement then
//! upserts one row per (workspace, hour, attribute name) instead of one per update.

use std::collections::BTreeMap;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use uuid::Uuid;

use super::Attempt;

/// Unsigned updates per (workspace, hour, attribute name), in key order (so concurrent
/// writers lock shared rows in one order).
#[derive(Debug, Default)]
pub(super) struct AttributeRollups<'a> {
    updates: BTreeMap<(Uuid, DateTime<Utc>, &'a str), i64>,
}

impl<'a> AttributeRollups<'a> {
    /// Groups the unsigned updates of a batch whose every row is inserted.
    pub(super) fn of(attempts: &'a [Attempt]) -> AttributeRollups<'a> {
        let mut rollups = AttributeRollups::default();
        for Attempt { workspace_id, log, unsigned_attributes, .. } in attempts {
            let hour = truncate(log.at, TimeDelta::hours(1));
            for name in unsigned_attributes {
                *rollups.updates.entry((*workspace_id, hour, name.as_str())).or_default() += 1;
            }
        }
        rollups
    }

    /// The rows as the statement's parallel arrays.
    pub(super) fn columns(&self) -> AttributeColumns<'a> {
        let mut columns = AttributeColumns::default();
        for (&(workspace_id, bucket, name), &updates) in &self.updates {
            columns.workspace_ids.push(workspace_id);
            columns.buckets.push(bucket);
            columns.names.push(name);
            columns.updates.push(updates);
        }
        columns
    }
}

/// Attribute rollup rows as one array per column, the shape `UNNEST` takes.
#[derive(Debug, Default, PartialEq)]
pub(super) struct AttributeColumns<'a> {
    pub workspace_ids: Vec<Uuid>,
    pub buckets: Vec<DateTime<Utc>>,
    pub names: Vec<&'a str>,
    pub updates: Vec<i64>,
}

/// `date_trunc` in UTC (the time zone sqlx sets on every connection).
fn truncate(at: DateTime<Utc>, unit: TimeDelta) -> DateTime<Utc> {
    at.duration_trunc(unit).unwrap_or(at)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn entry(at: &str, unsigned: &[&str]) -> Attempt {
        let mut attempt = crate::ingest::test_attempt(Uuid::nil(), "u");
        attempt.log.at = at.parse().unwrap();
        attempt.unsigned_attributes = unsigned.iter().map(|name| name.to_string()).collect();
        attempt
    }

    /// Unsigned attribute updates count per name and hour.
    #[test]
    fn groups_by_name_and_hour() {
        let attempts = [
            entry("2026-11-29T10:15:59.900Z", &["plan", "email"]),
            entry("2026-11-29T10:59:00Z", &["plan"]),
            entry("2026-11-29T10:20:00Z", &[]),
            entry("2026-11-29T11:00:00Z", &["plan"]),
        ];
        let columns = AttributeRollups::of(&attempts).columns();
        let time = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        assert_eq!(columns.names, vec!["email", "plan", "plan"]);
        assert_eq!(columns.updates, vec![1, 2, 1]);
        assert_eq!(
            columns.buckets,
            vec![time("2026-11-29T10:00:00Z"), time("2026-11-29T10:00:00Z"), time("2026-11-29T11:00:00Z")]
        );
    }
}
