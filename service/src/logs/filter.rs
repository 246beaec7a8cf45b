//! The log explorer's filters: what a caller may ask for (`LogFilter`, strings as sent), checked
//! into `LogCriteria` (typed, bounded), and turned into SQL conditions. Pure but for the SQL text.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Datelike, Duration, NaiveDateTime, Utc};
use countersign_core::log_limits::{DEFAULT_RANGE_DAYS, MAX_RANGE_DAYS};
use countersign_core::{Outcome, Platform, Reason};
use serde::Deserialize;
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use crate::error::{ServiceError, ServiceResult};

/// Longest accepted free-text filter value (user ids are at most 255 characters).
const MAX_TEXT_CHARS: usize = 1024;

/// Filters of `GET .../logs` and its export and tail, as sent.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogFilter {
    pub outcome: Option<String>,
    pub platform: Option<String>,
    pub reason: Option<String>,
    pub user_id: Option<String>,
    pub kid: Option<String>,
    pub origin: Option<String>,
    /// RFC 3339, or `YYYY-MM-DDTHH:MM[:SS]` read as UTC (what a `datetime-local` input sends).
    pub from: Option<String>,
    pub to: Option<String>,
    pub cursor: Option<String>,
    /// 50 by default, 200 at most.
    pub limit: Option<i64>,
}

/// Checked filters: known values only, a bounded time range, a decoded cursor.
#[derive(Debug, Clone, PartialEq)]
pub struct LogCriteria {
    pub outcome: Option<&'static str>,
    pub platform: Option<&'static str>,
    pub reason: Option<String>,
    pub user_id: Option<String>,
    pub kid: Option<String>,
    pub origin: Option<String>,
    /// Inclusive.
    pub from: DateTime<Utc>,
    /// Exclusive; `None` is "up to now and beyond" (rows stamped by a clock slightly ahead).
    pub to: Option<DateTime<Utc>>,
    /// Rows strictly older than this (at, id).
    pub before: Option<(DateTime<Utc>, Uuid)>,
}

impl LogFilter {
    /// The filters of a query string whose other parameters are `own` (the endpoint's, read by
    /// the caller). Any other name is refused, so a misspelt filter never widens a search or an
    /// export.
    pub fn from_query(query: &str, own: &[&str]) -> ServiceResult<LogFilter> {
        let refuse =
            |err: serde_urlencoded::de::Error| ServiceError::invalid(format!("The query string is not valid: {err}."));
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).map_err(refuse)?;
        let filters: Vec<_> = pairs.into_iter().filter(|(name, _)| !own.contains(&name.as_str())).collect();
        let filters = serde_urlencoded::to_string(filters).map_err(ServiceError::internal)?;
        serde_urlencoded::from_str(&filters).map_err(refuse)
    }

    /// Checks every filter; `now` anchors the default range.
    pub fn criteria(&self, now: DateTime<Utc>) -> ServiceResult<LogCriteria> {
        let outcome = known("outcome", &self.outcome, &Outcome::ALL.map(|o| o.as_str()))?;
        let platform = known("platform", &self.platform, &Platform::ALL.map(|p| p.as_str()))?;
        let reasons: Vec<&'static str> = Reason::ALL.iter().map(|r| r.as_str()).chain(["invalid_request"]).collect();
        let reason = known("reason", &self.reason, &reasons)?.map(str::to_owned);
        let to = time("to", &self.to)?;
        let end = to.unwrap_or(now);
        let from = time("from", &self.from)?.unwrap_or(end - Duration::days(DEFAULT_RANGE_DAYS));
        if from >= end {
            return Err(ServiceError::invalid("from must be earlier than to (and than now when to is not given)."));
        }
        if end - from > Duration::days(MAX_RANGE_DAYS) {
            return Err(ServiceError::invalid(format!("The time range may span {MAX_RANGE_DAYS} days at most.")));
        }
        let before = self.cursor.as_deref().filter(|c| !c.is_empty()).map(decode_cursor).transpose()?;
        Ok(LogCriteria {
            outcome,
            platform,
            reason,
            user_id: text("user_id", &self.user_id)?,
            kid: text("kid", &self.kid)?,
            origin: text("origin", &self.origin)?,
            from,
            to,
            before,
        })
    }

    /// The page size: 50 by default, 1 to 200.
    pub fn page_size(&self) -> ServiceResult<i64> {
        let limit = self.limit.unwrap_or(50);
        if !(1..=200).contains(&limit) {
            return Err(ServiceError::invalid("limit must be between 1 and 200."));
        }
        Ok(limit)
    }
}

/// A value from a closed list; blank is "any".
fn known(name: &str, value: &Option<String>, allowed: &[&'static str]) -> ServiceResult<Option<&'static str>> {
    match value.as_deref().filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => allowed
            .iter()
            .copied()
            .find(|a| *a == v)
            .map(Some)
            .ok_or_else(|| ServiceError::invalid(format!("{name} must be one of {}.", allowed.join(", ")))),
    }
}

/// A free-text value, matched exactly; blank is "any".
fn text(name: &str, value: &Option<String>) -> ServiceResult<Option<String>> {
    match value.as_deref().filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) if v.contains('\0') => Err(ServiceError::invalid(format!("{name} may not contain the NUL character."))),
        Some(v) if v.chars().count() > MAX_TEXT_CHARS => {
            Err(ServiceError::invalid(format!("{name} may be {MAX_TEXT_CHARS} characters at most.")))
        }
        Some(v) => Ok(Some(v.to_owned())),
    }
}

/// A timestamp: RFC 3339, or a `datetime-local` value read as UTC; blank is "not given".
fn time(name: &str, value: &Option<String>) -> ServiceResult<Option<DateTime<Utc>>> {
    let Some(v) = value.as_deref().filter(|v| !v.is_empty()) else { return Ok(None) };
    let at = match DateTime::parse_from_rfc3339(v) {
        Ok(at) => Some(at.with_timezone(&Utc)),
        Err(_) => ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
            .iter()
            .find_map(|format| NaiveDateTime::parse_from_str(v, format).ok())
            .map(|naive| naive.and_utc()),
    };
    at.filter(in_log_era)
        .map(Some)
        .ok_or_else(|| ServiceError::invalid(format!("{name} must be a time such as 2026-11-29T18:00:00Z.")))
}

/// Whether `at` lies in years 1970 to 9999: every log row does, and the range arithmetic on
/// such times (a week back, a microsecond on) can never overflow.
fn in_log_era(at: &DateTime<Utc>) -> bool {
    (1970..=9999).contains(&at.year())
}

/// A keyset cursor: the (at, id) of the last row of a page, opaque to clients.
pub fn encode_cursor(at: DateTime<Utc>, id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}|{id}", at.timestamp_micros()))
}

pub fn decode_cursor(cursor: &str) -> ServiceResult<(DateTime<Utc>, Uuid)> {
    let invalid = || ServiceError::invalid("cursor is not valid.");
    let raw = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let raw = String::from_utf8(raw).map_err(|_| invalid())?;
    let (micros, id) = raw.split_once('|').ok_or_else(invalid)?;
    let at = DateTime::from_timestamp_micros(micros.parse().map_err(|_| invalid())?)
        .filter(in_log_era)
        .ok_or_else(invalid)?;
    Ok((at, id.parse().map_err(|_| invalid())?))
}

/// The columns of a log row, in the order of `LogEntry`.
pub const LOG_COLUMNS: &str =
    "id, at, outcome, reason, explanation, platform, kid, alg, user_id, attributes_accepted, \
     attributes_rejected, details, origin, ip, user_agent, latency_us";

impl LogCriteria {
    /// These criteria confined to `[start, end)` as well as their own range.
    pub fn within(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> LogCriteria {
        LogCriteria { from: self.from.max(start), to: Some(self.to.map_or(end, |to| to.min(end))), ..self.clone() }
    }

    /// `WHERE ...` for this workspace and these criteria. Only the given filters become
    /// conditions, so the planner sees plain equalities it can match to an index.
    pub fn push_where(&self, sql: &mut QueryBuilder<'_, Postgres>, workspace_id: Uuid) {
        sql.push(" WHERE workspace_id = ").push_bind(workspace_id);
        sql.push(" AND at >= ").push_bind(self.from);
        if let Some(to) = self.to {
            sql.push(" AND at < ").push_bind(to);
        }
        if let Some((at, id)) = self.before {
            // The plain `at <=` lets every `(…, at)` index bound its range; the row comparison
            // then breaks ties within one microsecond.
            sql.push(" AND at <= ").push_bind(at);
            sql.push(" AND (at, id) < (").push_bind(at).push(", ").push_bind(id).push(")");
        }
        let equal: [(&str, Option<String>); 6] = [
            ("outcome", self.outcome.map(str::to_owned)),
            ("platform", self.platform.map(str::to_owned)),
            ("reason", self.reason.clone()),
            ("user_id", self.user_id.clone()),
            ("kid", self.kid.clone()),
            ("origin", self.origin.clone()),
        ];
        for (column, value) in equal {
            if let Some(value) = value {
                sql.push(format!(" AND {column} = ")).push_bind(value);
            }
        }
    }
}

/// An hour that may hold a matching row, and the part of it that may: `[first, last]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatchingHour {
    /// The start of the hour.
    pub hour: DateTime<Utc>,
    /// The earliest time in it a match may have.
    pub first: DateTime<Utc>,
    /// The latest time in it a match may have.
    pub last: DateTime<Utc>,
}

impl MatchingHour {
    /// All of the hour that starts at `hour`.
    pub fn whole(hour: DateTime<Utc>) -> MatchingHour {
        MatchingHour { hour, first: hour, last: hour + Duration::hours(1) - Duration::microseconds(1) }
    }
}

/// Runs of consecutive hours as `[start, end)` ranges, newest first, from hours given newest
/// first; a run starts at its oldest hour's `first` and ends just after its newest hour's `last`.
pub fn hour_runs(hours: &[MatchingHour]) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    // (oldest hour of the run, start, end)
    let mut runs: Vec<(DateTime<Utc>, DateTime<Utc>, DateTime<Utc>)> = Vec::new();
    for h in hours {
        match runs.last_mut() {
            Some((oldest, start, _)) if *oldest == h.hour + Duration::hours(1) => (*oldest, *start) = (h.hour, h.first),
            _ => runs.push((h.hour, h.first, h.last + Duration::microseconds(1))),
        }
    }
    runs.into_iter().map(|(_, start, end)| (start, end)).collect()
}

/// The hours in both lists, each sorted newest first, newest first, each narrowed to the part
/// both allow.
pub fn common_hours(a: &[MatchingHour], b: &[MatchingHour]) -> Vec<MatchingHour> {
    let (mut a, mut b) = (a.iter().peekable(), b.iter().peekable());
    let mut both = Vec::new();
    while let (Some(&&x), Some(&&y)) = (a.peek(), b.peek()) {
        match x.hour.cmp(&y.hour) {
            std::cmp::Ordering::Greater => drop(a.next()),
            std::cmp::Ordering::Less => drop(b.next()),
            std::cmp::Ordering::Equal => {
                both.push(MatchingHour { hour: x.hour, first: x.first.max(y.first), last: x.last.min(y.last) });
                a.next();
                b.next();
            }
        }
    }
    both
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-29T12:00:00Z").unwrap().with_timezone(&Utc)
    }

    fn filter(pairs: &[(&str, &str)]) -> LogFilter {
        let mut f = LogFilter::default();
        for (k, v) in pairs {
            let v = Some((*v).to_owned());
            match *k {
                "outcome" => f.outcome = v,
                "platform" => f.platform = v,
                "reason" => f.reason = v,
                "user_id" => f.user_id = v,
                "from" => f.from = v,
                "to" => f.to = v,
                "kid" => f.kid = v,
                "origin" => f.origin = v,
                _ => f.cursor = v,
            }
        }
        f
    }

    /// A cursor naming `micros` since the epoch, as a client could forge it.
    fn cursor_at(micros: i64) -> String {
        URL_SAFE_NO_PAD.encode(format!("{micros}|{}", Uuid::nil()))
    }

    /// Cursors round-trip and garbage is refused.
    #[test]
    fn cursor_round_trip() {
        let at = DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap_or_default();
        let id = Uuid::now_v7();
        assert_eq!(decode_cursor(&encode_cursor(at, id)).ok(), Some((at, id)));
        assert!(decode_cursor("garbage!").is_err());
        assert!(decode_cursor(&URL_SAFE_NO_PAD.encode("1|x")).is_err());
    }

    /// No filter is the last seven days; blanks are "any".
    #[test]
    fn defaults() {
        let c = filter(&[("outcome", ""), ("user_id", "")]).criteria(now()).unwrap();
        assert_eq!((c.outcome, c.user_id, c.to), (None, None, None));
        assert_eq!(c.from, now() - Duration::days(7));
    }

    /// Unknown closed-list values, bad times, inverted or huge ranges are refused.
    #[test]
    fn refusals() {
        for bad in [
            vec![("outcome", "maybe")],
            vec![("platform", "windows")],
            vec![("reason", "no_such_reason")],
            vec![("user_id", "a\0b")],
            vec![("from", "yesterday")],
            vec![("to", "+275760-09-13T00:00:00Z")],
            vec![("from", "2026-11-29T10:00:00Z"), ("to", "2026-11-29T09:00:00Z")],
            vec![("from", "2026-01-01T00:00:00Z"), ("to", "2026-11-29T00:00:00Z")],
            vec![("from", "2026-12-01T00:00:00Z")],
            vec![("cursor", "!!")],
            // Years chrono can hold but the range arithmetic would overflow on.
            vec![("to", "-262143-01-03T00:00")],
            vec![("from", "-262143-01-01T00:00:00Z")],
            vec![("to", "+262142-12-31T23:59:59Z")],
            vec![("cursor", cursor_at(i64::MAX).as_str())],
            vec![("cursor", cursor_at(i64::MIN).as_str())],
            vec![("cursor", cursor_at(DateTime::<Utc>::MAX_UTC.timestamp_micros()).as_str())],
        ] {
            assert!(filter(&bad).criteria(now()).is_err(), "{bad:?}");
        }
    }

    /// A query string's filters: the endpoint's own parameters are left to it, and an unknown
    /// name (a typo that would silently widen the search) is refused.
    #[test]
    fn query_strings() {
        let f = LogFilter::from_query("format=csv&user_id=a%2Bb%26c&limit=20", &["format"]).unwrap();
        assert_eq!((f.user_id.as_deref(), f.limit), (Some("a+b&c"), Some(20)));
        for bad in ["outcomes=rejected", "userId=x", "format=csv", "limit=abc", "kid=a&kid=b", "%FF=1"] {
            let err = LogFilter::from_query(bad, &[]).unwrap_err();
            assert_eq!(err.code, crate::error::ErrorCode::InvalidRequest, "{bad}");
        }
        assert!(LogFilter::from_query("", &[]).is_ok());
    }

    /// Times: RFC 3339 with any offset, or a `datetime-local` value as UTC.
    #[test]
    fn times() {
        let c = filter(&[("from", "2026-11-29T10:00"), ("to", "2026-11-29T12:30:00+01:00")]).criteria(now()).unwrap();
        assert_eq!(c.from.to_rfc3339(), "2026-11-29T10:00:00+00:00");
        assert_eq!(c.to.map(|t| t.to_rfc3339()).as_deref(), Some("2026-11-29T11:30:00+00:00"));
    }

    #[test]
    fn hours_become_runs_newest_first() {
        let hour = |h: i64| now() - Duration::hours(h);
        let whole: Vec<MatchingHour> = [0, 1, 2, 5, 7, 8].into_iter().map(|h| MatchingHour::whole(hour(h))).collect();
        let expected = vec![(hour(2), hour(-1)), (hour(5), hour(4)), (hour(8), hour(6))];
        assert_eq!(hour_runs(&whole), expected);
        assert!(hour_runs(&[]).is_empty());
    }

    /// A run starts where its oldest hour's matches start and ends after its newest hour's last.
    #[test]
    fn runs_keep_the_bounds_of_their_ends() {
        let hour = |h: i64| now() - Duration::hours(h);
        let minute = |h: i64, m: i64| hour(h) + Duration::minutes(m);
        let narrow =
            |h: i64, from: i64, to: i64| MatchingHour { hour: hour(h), first: minute(h, from), last: minute(h, to) };
        let runs = hour_runs(&[narrow(0, 5, 6), narrow(1, 40, 50), narrow(4, 10, 10)]);
        let after = |at: DateTime<Utc>| at + Duration::microseconds(1);
        assert_eq!(runs, vec![(minute(1, 40), after(minute(0, 6))), (minute(4, 10), after(minute(4, 10)))]);
    }

    #[test]
    fn common_hours_keep_the_order() {
        let hour = |h: i64| now() - Duration::hours(h);
        let whole = |hours: &[i64]| hours.iter().map(|&h| MatchingHour::whole(hour(h))).collect::<Vec<_>>();
        let mut seen = whole(&[1, 2, 9, 10]);
        seen[1].first = hour(2) + Duration::minutes(30);
        let both = common_hours(&whole(&[0, 2, 3, 9]), &seen);
        assert_eq!(both, vec![seen[1], MatchingHour::whole(hour(9))], "each narrowed to what both allow");
        assert!(common_hours(&whole(&[0]), &[]).is_empty());
    }

    #[test]
    fn within_keeps_the_tighter_bounds() {
        let c = filter(&[("from", "2026-11-29T10:30"), ("to", "2026-11-29T11:30")]).criteria(now()).unwrap();
        let hour = |h: i64| now() - Duration::hours(h);
        let inside = c.within(hour(2), hour(1));
        assert_eq!((inside.from, inside.to), (c.from, Some(hour(1))));
        let open = LogCriteria { to: None, ..c.clone() }.within(hour(3), hour(0));
        assert_eq!((open.from, open.to), (c.from, Some(hour(0))));
    }
}
