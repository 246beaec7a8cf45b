//! A live batch's rollup rows, grouped in the writer: the batch statement then upserts one row
//! per (minute or hour, platform, outcome, reason, kid) instead of returning and regrouping
//! every log row it inserted, which kept the statement every identify waits for longer.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use uuid::Uuid;

use super::Attempt;

/// What a rollup row counts: the log's columns it groups by (absent text stored as `''`).
type Group<'a> = (Uuid, DateTime<Utc>, &'a str, &'a str, &'a str, &'a str);

/// The hour row of one group: its attempts, first and last attempt, and the distinct user ids
/// it saw (the statement hashes them into the row's sketch, as every other writer does).
#[derive(Debug, Default)]
struct HourRow<'a> {
    attempts: i64,
    first_at: Option<DateTime<Utc>>,
    last_at: Option<DateTime<Utc>>,
    users: BTreeSet<&'a str>,
}

/// The minute and hour rows of one batch, in key order (so concurrent writers lock shared
/// rows in one order).
#[derive(Debug, Default)]
pub(super) struct Rollups<'a> {
    minutes: BTreeMap<Group<'a>, i64>,
    hours: BTreeMap<Group<'a>, HourRow<'a>>,
    /// Unsigned updates per (workspace, hour, attribute name).
    attributes: BTreeMap<(Uuid, DateTime<Utc>, &'a str), i64>,
}

impl<'a> Rollups<'a> {
    /// Groups the attempts of a batch whose every row is inserted.
    pub(super) fn of(attempts: &'a [Attempt]) -> Rollups<'a> {
        let mut rollups = Rollups::default();
        for Attempt { workspace_id, log, unsigned_attributes, .. } in attempts {
            let workspace_id = *workspace_id;
            let columns = |bucket| {
                (
                    workspace_id,
                    bucket,
                    log.platform.as_deref().unwrap_or(""),
                    log.outcome.as_str(),
                    log.reason.as_deref().unwrap_or(""),
                    log.kid.as_deref().unwrap_or(""),
                )
            };
            *rollups.minutes.entry(columns(truncate(log.at, TimeDelta::minutes(1)))).or_default() += 1;
            let hour_bucket = truncate(log.at, TimeDelta::hours(1));
            for name in unsigned_attributes {
                *rollups.attributes.entry((workspace_id, hour_bucket, name.as_str())).or_default() += 1;
            }
            let hour = rollups.hours.entry(columns(hour_bucket)).or_default();
            hour.attempts += 1;
            hour.first_at = Some(hour.first_at.map_or(log.at, |at| at.min(log.at)));
            hour.last_at = Some(hour.last_at.map_or(log.at, |at| at.max(log.at)));
            if let Some(user_id) = log.user_id.as_deref() {
                hour.users.insert(user_id);
            }
        }
        rollups
    }

    /// The minute rows as the statement's parallel arrays.
    pub(super) fn minute_columns(&self) -> GroupColumns<'a> {
        GroupColumns::of(self.minutes.iter().map(|(group, attempts)| (*group, *attempts)))
    }

    /// The hour rows as the statement's parallel arrays.
    pub(super) fn hour_columns(&self) -> GroupColumns<'a> {
        GroupColumns::of(self.hours.iter().map(|(group, row)| (*group, row.attempts)))
    }

    /// Each hour row's first and last attempt.
    pub(super) fn hour_spans(&self) -> (Vec<DateTime<Utc>>, Vec<DateTime<Utc>>) {
        let span = |row: &HourRow| (row.first_at.unwrap_or_default(), row.last_at.unwrap_or_default());
        self.hours.values().map(span).unzip()
    }

    /// The unsigned updates per attribute and hour, as the statement's parallel arrays.
    pub(super) fn attribute_columns(&self) -> AttributeColumns<'a> {
        let mut columns = AttributeColumns::default();
        for (&(workspace_id, bucket, name), &updates) in &self.attributes {
            columns.workspace_ids.push(workspace_id);
            columns.buckets.push(bucket);
            columns.names.push(name);
            columns.updates.push(updates);
        }
        columns
    }

    /// The distinct user ids of each hour row, as (1-based row number, user id) pairs.
    pub(super) fn hour_users(&self) -> (Vec<i64>, Vec<&'a str>) {
        let mut numbers = Vec::new();
        let mut users = Vec::new();
        for (number, row) in (1..).zip(self.hours.values()) {
            for user in &row.users {
                numbers.push(number);
                users.push(*user);
            }
        }
        (numbers, users)
    }
}

/// Attribute rollup rows as one array per column.
#[derive(Debug, Default, PartialEq)]
pub(super) struct AttributeColumns<'a> {
    pub workspace_ids: Vec<Uuid>,
    pub buckets: Vec<DateTime<Utc>>,
    pub names: Vec<&'a str>,
    pub updates: Vec<i64>,
}

/// Rollup rows as one array per column, the shape `UNNEST` takes.
#[derive(Debug, Default, PartialEq)]
pub(super) struct GroupColumns<'a> {
    pub workspace_ids: Vec<Uuid>,
    pub buckets: Vec<DateTime<Utc>>,
    pub platforms: Vec<&'a str>,
    pub outcomes: Vec<&'a str>,
    pub reasons: Vec<&'a str>,
    pub kids: Vec<&'a str>,
    pub attempts: Vec<i64>,
}

impl<'a> GroupColumns<'a> {
    fn of(rows: impl Iterator<Item = (Group<'a>, i64)>) -> GroupColumns<'a> {
        let mut columns = GroupColumns::default();
        for ((workspace_id, bucket, platform, outcome, reason, kid), attempts) in rows {
            columns.workspace_ids.push(workspace_id);
            columns.buckets.push(bucket);
            columns.platforms.push(platform);
            columns.outcomes.push(outcome);
            columns.reasons.push(reason);
            columns.kids.push(kid);
            columns.attempts.push(attempts);
        }
        columns
    }
}

/// `date_trunc` in UTC (the time zone sqlx sets on every connection).
fn truncate(at: DateTime<Utc>, unit: TimeDelta) -> DateTime<Utc> {
    at.duration_trunc(unit).unwrap_or(at)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn entry(at: &str, outcome: &str, user_id: Option<&str>) -> Attempt {
        let mut attempt = crate::ingest::test_attempt(Uuid::nil(), "u");
        attempt.log.at = at.parse().unwrap();
        attempt.log.outcome = outcome.into();
        attempt.log.user_id = user_id.map(str::to_owned);
        attempt
    }

    /// Rows group by minute and by hour; an hour row spans its first and last attempt and
    /// lists each user once; unsigned attribute updates count per name and hour.
    #[test]
    fn groups_by_minute_and_hour() {
        let mut attempts = [
            entry("2026-11-29T10:15:59.900Z", "verified", Some("a")),
            entry("2026-11-29T10:15:01Z", "verified", Some("a")),
            entry("2026-11-29T10:59:00Z", "verified", Some("b")),
            entry("2026-11-29T10:20:00Z", "rejected", None),
            entry("2026-11-29T11:00:00Z", "verified", Some("a")),
        ];
        attempts[0].unsigned_attributes = vec!["plan".into(), "email".into()];
        attempts[2].unsigned_attributes = vec!["plan".into()];
        attempts[4].unsigned_attributes = vec!["plan".into()];
        let rollups = Rollups::of(&attempts);
        let minutes = rollups.minute_columns();
        let time = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        assert_eq!(
            minutes.buckets,
            ["10:15", "10:20", "10:59", "11:00"].map(|m| time(&format!("2026-11-29T{m}:00Z"))).to_vec()
        );
        assert_eq!(minutes.attempts, vec![2, 1, 1, 1]);
        let hours = rollups.hour_columns();
        assert_eq!(hours.outcomes, vec!["rejected", "verified", "verified"]);
        assert_eq!(hours.attempts, vec![1, 3, 1]);
        let (first, last) = rollups.hour_spans();
        assert_eq!((first[1], last[1]), (time("2026-11-29T10:15:01Z"), time("2026-11-29T10:59:00Z")));
        assert_eq!(rollups.hour_users(), (vec![2, 2, 3], vec!["a", "b", "a"]));
        let attributes = rollups.attribute_columns();
        assert_eq!(attributes.names, vec!["email", "plan", "plan"]);
        assert_eq!(attributes.updates, vec![1, 2, 1]);
        assert_eq!(attributes.buckets[2], time("2026-11-29T11:00:00Z"));
    }
}
