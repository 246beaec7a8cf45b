//! The workspace overview: per-platform traffic from the rollups, monitor-to-enforce readiness,
//! failure groups and a health checklist. Loading is a few bounded queries over the rollups
//! (never the log's rows); judging is pure functions, tested below.

use chrono::{DateTime, Duration, DurationRound, Utc};
use countersign_core::policy::Action;
use countersign_core::reason::Reason;
use countersign_core::text::thousands;
use countersign_core::{Mode, Platform, LONG_LIVED_SECONDS};
use countersign_proto::{
    AttributeUsage, EnforceImpact, FailureGroup, HealthItem, KeyInfo, OutcomeCounts, Overview, PlatformHealth,
    Readiness, ReasonCount, SecuritySettings, SeriesPoint,
};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::{ServiceError, ServiceResult};
use crate::security::{SecurityRow, SECURITY_COLUMNS};
use crate::stats::estimate_users;
use crate::{Actor, Service};

/// Below this share of would-be rejections, a monitored platform is ready to enforce.
const READY_RATE: f64 = 0.01;
/// A primary key older than this should be rotated.
const KEY_MAX_AGE_DAYS: i64 = 90;
/// Attribute names that are usually someone's identity or entitlements.
const SENSITIVE_NAMES: &[&str] =
    &["email", "plan", "role", "company", "admin", "is_admin", "tier", "permissions", "phone", "account_id"];
/// Failure groups shown.
const MAX_FAILURE_GROUPS: i64 = 10;
/// The top addresses presenting a revoked key are those of its latest this many attempts.
const REVOKED_IPS_SAMPLE: i64 = 10_000;
/// How many of the range's latest attempts are read to find long-lived verified tokens: a
/// bounded read of recent rows, whatever the traffic.
const LONG_LIVED_SAMPLE: i64 = 2_000;

/// The ranges the overview offers: name, length, chart bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    Day,
    Week,
    Month,
}

impl Range {
    pub fn parse(value: Option<&str>) -> ServiceResult<Range> {
        match value.filter(|v| !v.is_empty()) {
            None | Some("24h") => Ok(Range::Day),
            Some("7d") => Ok(Range::Week),
            Some("30d") => Ok(Range::Month),
            Some(_) => Err(ServiceError::invalid("range must be one of 24h, 7d, 30d.")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Range::Day => "24h",
            Range::Week => "7d",
            Range::Month => "30d",
        }
    }

    /// In words, for sentences ("in the last 24 hours").
    pub fn words(self) -> &'static str {
        match self {
            Range::Day => "the last 24 hours",
            Range::Week => "the last 7 days",
            Range::Month => "the last 30 days",
        }
    }

    fn bar(self) -> Duration {
        match self {
            Range::Day => Duration::hours(1),
            Range::Week => Duration::hours(6),
            Range::Month => Duration::days(1),
        }
    }

    fn bars(self) -> i64 {
        match self {
            Range::Day => 24,
            Range::Week => 28,
            Range::Month => 30,
        }
    }

    /// `[from, to)`: whole bars, the last one holding `now`.
    pub fn bounds(self, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        let to = now.duration_trunc(self.bar()).unwrap_or(now) + self.bar();
        (to - self.bar() * self.bars() as i32, to)
    }
}

/// One hourly rollup row, summed over kids.
#[derive(Debug, Clone)]
pub struct HourRow {
    pub bucket: DateTime<Utc>,
    pub platform: String,
    pub outcome: String,
    pub reason: String,
    pub attempts: i64,
}

fn add(counts: &mut OutcomeCounts, outcome: &str, attempts: i64) {
    match outcome {
        "verified" => counts.verified += attempts,
        "unverified" => counts.unverified += attempts,
        "would_reject" => counts.would_reject += attempts,
        "rejected" => counts.rejected += attempts,
        _ => {}
    }
}

/// The range's totals and chart bars of one platform.
pub fn platform_series(
    rows: &[HourRow],
    platform: &str,
    range: Range,
    from: DateTime<Utc>,
) -> (OutcomeCounts, Vec<SeriesPoint>) {
    let mut totals = OutcomeCounts::default();
    let mut series: Vec<SeriesPoint> = (0..range.bars())
        .map(|i| SeriesPoint { at: from + range.bar() * i as i32, counts: OutcomeCounts::default() })
        .collect();
    for row in rows.iter().filter(|r| r.platform == platform) {
        add(&mut totals, &row.outcome, row.attempts);
        let index = (row.bucket - from).num_seconds().div_euclid(range.bar().num_seconds());
        if let Some(point) = usize::try_from(index).ok().and_then(|i| series.get_mut(i)) {
            add(&mut point.counts, &row.outcome, row.attempts);
        }
    }
    (totals, series)
}

fn percent(rate: f64) -> String {
    let value = rate * 100.0;
    if value == 0.0 {
        "0 %".into()
    } else if value < 0.1 {
        format!("{value:.2} %")
    } else if value < 10.0 {
        format!("{value:.1} %")
    } else {
        format!("{value:.0} %")
    }
}

fn plural(n: i64, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), if n == 1 { one } else { many })
}

/// "75 unverified identities (115 attempts)": the people, then how often they came.
fn unverified(p: &PlatformHealth) -> String {
    let identities = plural(p.unverified_users, "unverified identity", "unverified identities");
    if p.totals.unverified == p.unverified_users {
        identities
    } else {
        format!("{identities} ({})", plural(p.totals.unverified, "attempt", "attempts"))
    }
}

fn platform_name(platform: &str) -> &str {
    Platform::parse(platform).map_or(platform, |p| p.label())
}

/// Whether a monitored platform can be switched to enforce, judged on its traffic.
pub fn readiness(platform: &str, totals: &OutcomeCounts, reasons: Vec<ReasonCount>, range: Range) -> Readiness {
    let judged = totals.verified + totals.would_reject;
    let rate = if judged == 0 { 0.0 } else { totals.would_reject as f64 / judged as f64 };
    let name = platform_name(platform);
    let (ready, verdict) = if judged == 0 {
        (false, format!("No identify traffic on {name} in {}: nothing to judge by yet.", range.words()))
    } else if totals.would_reject == 0 {
        (true, format!("Ready to enforce: every attempt on {name} in {} verified.", range.words()))
    } else {
        let top = reasons.first();
        let users: i64 = reasons.iter().map(|r| r.users).sum();
        let cause = match (top, reasons.len()) {
            (Some(top), 1) if users > 0 => {
                format!("all from {} with {}", plural(users, "user", "users"), top.reason.replace('_', " "))
            }
            (Some(top), 1) => format!("all with {}", top.reason.replace('_', " ")),
            (Some(top), _) => format!("mostly {}", top.reason.replace('_', " ")),
            (None, _) => String::new(),
        };
        if rate < READY_RATE {
            (true, format!("Ready to enforce: {} would be rejected, {cause}.", percent(rate)))
        } else {
            (false, format!("Not ready: {} would be rejected, {cause}. Fix that first.", percent(rate)))
        }
    };
    Readiness { would_reject_rate: rate, ready, verdict, reasons }
}

/// What the overview knows about a workspace's configuration.
pub struct Posture<'a> {
    pub settings: &'a SecuritySettings,
    /// Every key, with its verified use.
    pub keys: &'a [KeyInfo],
    /// Every registered attribute, with its unsigned updates in the last 7 days.
    pub attributes: &'a [AttributeUsage],
    /// Attempts signed with a revoked or retired key in the range, with the last one's time and the top IPs.
    pub revoked_presented: Option<(i64, DateTime<Utc>, Vec<String>)>,
    /// Long-lived tokens among the range's latest verified attempts.
    pub long_lived: LongLivedSample,
}

/// Among the latest [`LONG_LIVED_SAMPLE`] attempts of a range: the verified ones, and how many
/// of those carried a token without `exp` or living over a day, with the last of each.
#[derive(Debug, Default, Clone, sqlx::FromRow)]
pub struct LongLivedSample {
    pub verified: i64,
    pub no_exp: i64,
    pub last_no_exp: Option<DateTime<Utc>>,
    pub over_a_day: i64,
    pub last_over_a_day: Option<DateTime<Utc>>,
}

impl LongLivedSample {
    /// "12 of the latest 840 verified tokens in the last 24 hours had no exp (the last at
    /// 2026-11-30 14:02 UTC)"
    fn evidence(&self, (count, last): (i64, Option<DateTime<Utc>>), range: Range, what: &str) -> String {
        format!(
            "{count} of the latest {} in {} {what}{}",
            plural(self.verified, "verified token", "verified tokens"),
            range.words(),
            last.map(|at| format!(" (the last at {} UTC)", at.format("%Y-%m-%d %H:%M"))).unwrap_or_default()
        )
    }
}

fn item(severity: &str, title: String, detail: String, fix_path: &str) -> HealthItem {
    HealthItem { severity: severity.into(), title, detail, fix_path: fix_path.into() }
}

/// The checklist: every finding, most severe first.
pub fn checklist(posture: &Posture, platforms: &[PlatformHealth], now: DateTime<Utc>, range: Range) -> Vec<HealthItem> {
    let mut items = Vec::new();
    for p in platforms {
        let name = platform_name(&p.platform);
        match p.mode.as_str() {
            "off" => items.push(item(
                "critical",
                format!("{name} is off"),
                format!(
                    "Identities on {name} are accepted without verification: {} in {}. Anyone can impersonate these users.",
                    unverified(p),
                    range.words()
                ),
                "/security",
            )),
            "monitor" => items.push(item(
                "warning",
                format!("{name} is in monitor mode"),
                format!(
                    "Failed verifications on {name} are let in and only logged: {} in {}.",
                    plural(p.totals.would_reject, "attempt", "attempts"),
                    range.words()
                ),
                "/security",
            )),
            _ => {}
        }
    }
    let settings = posture.settings;
    if settings.allowed_origins.is_empty() && settings.modes.web != Mode::Off {
        items.push(item(
            "warning",
            "Web has no allowed origins".into(),
            "Any site can send identify calls for your app id: list the origins your widget runs on.".into(),
            "/security",
        ));
    }
    if settings.hmac_enabled {
        items.push(item(
            "warning",
            "Legacy HMAC is on".into(),
            "A user_hash never expires: once leaked, it identifies that user forever. Move to signed JWTs and turn it off.".into(),
            "/security",
        ));
    }
    let sample = &posture.long_lived;
    if sample.no_exp > 0 {
        items.push(item(
            "warning",
            "Tokens without an expiry are in use".into(),
            format!(
                "{}: once leaked, such a token stays valid for ever. Sign every token with exp (the snippets do), then require exp.",
                sample.evidence((sample.no_exp, sample.last_no_exp), range, "had no exp")
            ),
            "/snippets",
        ));
    } else if !settings.require_exp && settings.max_token_lifetime_seconds.is_none() {
        items.push(item(
            "warning",
            "Tokens without an expiry are accepted".into(),
            "A token without exp stays valid forever once leaked. Require exp, or set a maximum lifetime of a day or less.".into(),
            "/security",
        ));
    }
    if sample.over_a_day > 0 {
        items.push(item(
            "warning",
            "Tokens living over a day are in use".into(),
            format!(
                "{}: a leaked one is worth that long. Sign tokens with an exp an hour or so after iat, then set a maximum lifetime.",
                sample.evidence((sample.over_a_day, sample.last_over_a_day), range, "lived over a day")
            ),
            "/snippets",
        ));
    } else if settings.max_token_lifetime_seconds.is_some_and(|s| s > LONG_LIVED_SECONDS) {
        items.push(item(
            "info",
            "Token lifetimes over a day are accepted".into(),
            "Short-lived tokens limit what a leaked one is worth: a maximum lifetime of a day or less is enough for a session.".into(),
            "/security",
        ));
    }
    for key in posture.keys {
        let kid = &key.kid;
        match key.state.as_str() {
            "primary" if now - key.created_at > Duration::days(KEY_MAX_AGE_DAYS) => items.push(item(
                "warning",
                format!("The primary key is {} days old", (now - key.created_at).num_days()),
                format!("Rotate {kid}: a key in use for months has had many chances to leak."),
                "/keys",
            )),
            "rotating" => {
                let left = key.expires_at.map(|e| e - now).unwrap_or_else(Duration::zero);
                let left = if left.num_hours() >= 48 {
                    plural(left.num_days(), "day", "days")
                } else {
                    plural(left.num_hours().max(0), "hour", "hours")
                };
                let at = |time: DateTime<Utc>| time.format("%Y-%m-%d %H:%M UTC").to_string();
                // What it is still used for decides between waiting and revoking now.
                let detail = match key.last_used_at {
                    Some(last) if key.verifications_24h > 0 => format!(
                        "It still verifies for {left}, and {} used it in the last 24 hours, the last at {}: move every backend to the primary key before then.",
                        plural(key.verifications_24h, "verified attempt", "verified attempts"),
                        at(last)
                    ),
                    Some(last) => format!(
                        "It still verifies for {left}, but no verified attempt used it in the last 24 hours (the last at {}): revoke it now to close that window.",
                        at(last)
                    ),
                    None => format!(
                        "It still verifies for {left}, but no verified attempt ever used it: revoke it now to close that window."
                    ),
                };
                items.push(item("info", format!("{kid} is in its grace period"), detail, "/keys"));
            }
            _ => {}
        }
    }
    if let Some((count, last, ips)) = &posture.revoked_presented {
        items.push(item(
            "critical",
            "A revoked key is still being presented".into(),
            format!(
                "{} signed with a revoked or retired key in {}, the last at {} UTC{}. Someone still holds that secret.",
                plural(*count, "token", "tokens"),
                range.words(),
                last.format("%Y-%m-%d %H:%M"),
                if ips.is_empty() { String::new() } else { format!(", from {}", ips.join(", ")) }
            ),
            "/logs?reason=revoked_key",
        ));
    }
    let exposed: Vec<&AttributeUsage> = posture
        .attributes
        .iter()
        .filter(|a| !a.secure_only && SENSITIVE_NAMES.contains(&a.name.to_ascii_lowercase().as_str()))
        .collect();
    if !exposed.is_empty() {
        let names: Vec<&str> = exposed.iter().map(|a| a.name.as_str()).collect();
        let evidence: Vec<String> = exposed
            .iter()
            .filter(|a| a.unsigned_updates > 0)
            .map(|a| format!("{} {}", a.name, plural(a.unsigned_updates, "time", "times")))
            .collect();
        let seen = if evidence.is_empty() {
            String::new()
        } else {
            format!("In the last 7 days, updates arrived unsigned: {}. ", evidence.join(", "))
        };
        items.push(item(
            "warning",
            format!("Sensitive attributes arrive unsigned: {}", names.join(", ")),
            format!(
                "{seen}Anyone can set these from the browser. Mark them secure-only so only your signed tokens can set them."
            ),
            "/attributes",
        ));
    }
    let rank = |s: &str| match s {
        "critical" => 0,
        "warning" => 1,
        _ => 2,
    };
    items.sort_by_key(|i| rank(&i.severity));
    items
}

/// The one sentence at the top of the page.
pub fn headline(platforms: &[PlatformHealth], checklist: &[HealthItem], range: Range) -> HealthItem {
    let off_with_traffic = platforms.iter().filter(|p| p.mode == "off").max_by_key(|p| p.totals.unverified);
    if let Some(p) = off_with_traffic {
        let name = platform_name(&p.platform);
        let detail = if p.totals.unverified > 0 {
            format!("{name} is off: {} in {} — anyone can impersonate these users.", unverified(p), range.words())
        } else {
            format!("{name} is off: anyone can impersonate your users there.")
        };
        return item("critical", format!("{name} is off"), detail, "/security");
    }
    if let Some(first) = checklist.iter().find(|i| i.severity == "critical") {
        return first.clone();
    }
    if let Some(p) = platforms.iter().filter(|p| p.mode == "monitor").max_by_key(|p| p.totals.would_reject) {
        let name = platform_name(&p.platform);
        return item(
            "warning",
            format!("{name} is in monitor mode"),
            format!(
                "{name} only watches: {} in {} would have been rejected and were let in.",
                plural(p.totals.would_reject, "attempt", "attempts"),
                range.words()
            ),
            "/security",
        );
    }
    let rejected: i64 = platforms.iter().map(|p| p.totals.rejected).sum();
    let verified: i64 = platforms.iter().map(|p| p.totals.verified).sum();
    let detail = if verified + rejected == 0 {
        format!("Every platform enforces verification. No identify traffic in {} yet.", range.words())
    } else {
        format!(
            "Every platform enforces verification: {} verified and {} rejected in {}.",
            plural(verified, "identity", "identities"),
            plural(rejected, "forged or broken attempt", "forged or broken attempts"),
            range.words()
        )
    };
    item("ok", "Every platform enforces verification".into(), detail, "/logs")
}

fn fix_of(reason: &str) -> String {
    Reason::parse(reason).map(|r| r.fix().to_owned()).unwrap_or_default()
}

type GroupRow = (String, i64, Option<i64>, DateTime<Utc>, DateTime<Utc>, Vec<String>, Vec<String>);

/// The most frequent failure reasons of the hours from `from`'s to `to`, from the hourly
/// rollups, each with its fix.
pub(crate) async fn failure_groups(
    conn: &mut PgConnection,
    workspace_id: Uuid,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> ServiceResult<Vec<FailureGroup>> {
    let groups: Vec<GroupRow> = crate::db::query_as(
        "SELECT reason, sum(attempts)::bigint, length(replace(bit_or(users)::text, '1', ''))::bigint,
                min(first_at), max(last_at),
                coalesce(array_agg(DISTINCT platform) FILTER (WHERE platform <> ''), '{}'),
                coalesce(array_agg(DISTINCT kid) FILTER (WHERE kid <> ''), '{}')
           FROM log_rollup_hour
          WHERE workspace_id = $1 AND bucket >= date_trunc('hour', $2) AND bucket < $3 AND reason <> ''
          GROUP BY reason ORDER BY 2 DESC, reason LIMIT $4",
    )
    .bind(workspace_id)
    .bind(from)
    .bind(to)
    .bind(MAX_FAILURE_GROUPS)
    .fetch_all(conn)
    .await?;
    Ok(groups
        .into_iter()
        .map(|(reason, attempts, zeros, first_seen, last_seen, platforms, kids)| FailureGroup {
            fix: fix_of(&reason),
            reason,
            attempts,
            users: zeros.map(estimate_users).unwrap_or(0),
            first_seen,
            last_seen,
            platforms,
            kids,
        })
        .collect())
}

impl Service {
    /// The overview of a workspace over `range` (`24h`, `7d`, `30d`; default 24 h).
    pub async fn overview(&self, actor: &Actor, workspace_id: Uuid, range: Option<&str>) -> ServiceResult<Overview> {
        let mut tenant = self.tenant(actor, workspace_id, Action::View).await?;
        let range = Range::parse(range)?;
        let now = self.clock.now();
        let (from, to) = range.bounds(now);
        let conn = tenant.conn();

        let settings =
            crate::db::query_as::<SecurityRow>(&format!("SELECT {SECURITY_COLUMNS} FROM workspaces WHERE id = $1"))
                .bind(workspace_id)
                .fetch_one(&mut *conn)
                .await?
                .settings();
        let rows: Vec<(DateTime<Utc>, String, String, String, i64)> = crate::db::query_as(
            "SELECT bucket, platform, outcome, reason, sum(attempts)::bigint FROM log_rollup_hour
              WHERE workspace_id = $1 AND bucket >= $2 AND bucket < $3 GROUP BY 1, 2, 3, 4",
        )
        .bind(workspace_id)
        .bind(from)
        .bind(to)
        .fetch_all(&mut *conn)
        .await?;
        let rows: Vec<HourRow> = rows
            .into_iter()
            .map(|(bucket, platform, outcome, reason, attempts)| HourRow {
                bucket,
                platform,
                outcome,
                reason,
                attempts,
            })
            .collect();
        let verified_span: Vec<(String, DateTime<Utc>, DateTime<Utc>)> = crate::db::query_as(
            "SELECT platform, min(first_at), max(last_at) FROM log_rollup_hour
              WHERE workspace_id = $1 AND outcome = 'verified' GROUP BY platform",
        )
        .bind(workspace_id)
        .fetch_all(&mut *conn)
        .await?;
        let unverified_users: Vec<(String, Option<i64>)> = crate::db::query_as(
            "SELECT platform, length(replace(bit_or(users)::text, '1', ''))::bigint FROM log_rollup_hour
              WHERE workspace_id = $1 AND bucket >= $2 AND bucket < $3 AND outcome = 'unverified' GROUP BY platform",
        )
        .bind(workspace_id)
        .bind(from)
        .bind(to)
        .fetch_all(&mut *conn)
        .await?;
        let would_reject: Vec<(String, String, i64, Option<i64>)> = crate::db::query_as(
            "SELECT platform, reason, sum(attempts)::bigint, length(replace(bit_or(users)::text, '1', ''))::bigint
               FROM log_rollup_hour
              WHERE workspace_id = $1 AND bucket >= $2 AND bucket < $3 AND outcome = 'would_reject'
              GROUP BY 1, 2 ORDER BY 3 DESC",
        )
        .bind(workspace_id)
        .bind(from)
        .bind(to)
        .fetch_all(&mut *conn)
        .await?;
        let failures = failure_groups(&mut *conn, workspace_id, from, to).await?;
        let keys = crate::keys::key_infos(&mut *conn, workspace_id, now).await?;
        let since = now - Duration::days(crate::stats::ATTRIBUTE_PREVIEW_DAYS);
        let attributes = crate::stats::attribute_usage(&mut *conn, workspace_id, since).await?;
        // Counted apart from the failure groups, which show only the most frequent reasons:
        // a leaked key in use must be reported however rare its attempts are.
        let (revoked_attempts, revoked_last): (Option<i64>, Option<DateTime<Utc>>) = crate::db::query_as(
            "SELECT sum(attempts)::bigint, max(last_at) FROM log_rollup_hour
              WHERE workspace_id = $1 AND bucket >= $2 AND bucket < $3 AND reason = 'revoked_key'",
        )
        .bind(workspace_id)
        .bind(from)
        .bind(to)
        .fetch_one(&mut *conn)
        .await?;
        let revoked_presented = match (revoked_attempts, revoked_last) {
            (Some(attempts), Some(last)) if attempts > 0 => {
                // The latest attempts' addresses, through the reason index: bounded however
                // many attempts a flood of them made.
                let ips: Vec<String> = crate::db::query_scalar(
                    "SELECT ip FROM (SELECT ip FROM verification_log
                                      WHERE workspace_id = $1 AND reason = 'revoked_key' AND at >= $2
                                      ORDER BY at DESC LIMIT $3) latest
                      WHERE ip IS NOT NULL GROUP BY ip ORDER BY count(*) DESC, ip LIMIT 3",
                )
                .bind(workspace_id)
                .bind(from)
                .bind(REVOKED_IPS_SAMPLE)
                .fetch_all(&mut *conn)
                .await?;
                Some((attempts, last, ips))
            }
            _ => None,
        };
        let long_lived: LongLivedSample = crate::db::query_as(
            "SELECT count(*) FILTER (WHERE verified) AS verified,
                    count(*) FILTER (WHERE verified AND no_exp) AS no_exp,
                    max(at) FILTER (WHERE verified AND no_exp) AS last_no_exp,
                    count(*) FILTER (WHERE verified AND over_a_day) AS over_a_day,
                    max(at) FILTER (WHERE verified AND over_a_day) AS last_over_a_day
               FROM (SELECT at, outcome = 'verified' AS verified,
                            details->>'long_lived' = 'no_exp' AS no_exp,
                            details->'long_lived' ? 'lifetime' AS over_a_day
                       FROM verification_log
                      WHERE workspace_id = $1 AND at >= $2 AND at < $3
                      ORDER BY at DESC LIMIT $4) latest",
        )
        .bind(workspace_id)
        .bind(from)
        .bind(to)
        .bind(LONG_LIVED_SAMPLE)
        .fetch_one(&mut *conn)
        .await?;
        drop(tenant);

        let platforms: Vec<PlatformHealth> = Platform::ALL
            .into_iter()
            .map(|platform| {
                let name = platform.as_str();
                let mode = settings.modes.get(platform);
                let (totals, series) = platform_series(&rows, name, range, from);
                let span = verified_span.iter().find(|(p, _, _)| p == name);
                let readiness = (mode == Mode::Monitor).then(|| {
                    let reasons = would_reject
                        .iter()
                        .filter(|(p, _, _, _)| p == name)
                        .map(|(_, reason, attempts, zeros)| ReasonCount {
                            reason: reason.clone(),
                            attempts: *attempts,
                            users: zeros.map(estimate_users).unwrap_or(0),
                            fix: fix_of(reason),
                        })
                        .collect();
                    readiness(name, &totals, reasons, range)
                });
                let users = unverified_users.iter().find(|(p, _)| p == name).and_then(|(_, zeros)| *zeros);
                PlatformHealth {
                    platform: name.into(),
                    mode: mode.as_str().into(),
                    unverified_users: users.map(estimate_users).unwrap_or(0).min(totals.unverified),
                    totals,
                    series,
                    first_verified_at: span.map(|s| s.1),
                    last_verified_at: span.map(|s| s.2),
                    readiness,
                }
            })
            .collect();
        let posture =
            Posture { settings: &settings, keys: &keys, attributes: &attributes, revoked_presented, long_lived };
        let checklist = checklist(&posture, &platforms, now, range);
        let headline = headline(&platforms, &checklist, range);
        Ok(Overview { range: range.as_str().into(), from, to, headline, platforms, failures, checklist })
    }
}

impl Service {
    /// Per platform, what enforcing it would have refused over the last 7 days: the impact
    /// shown before a platform is switched to enforce.
    pub async fn enforce_impact(&self, actor: &Actor, workspace_id: Uuid) -> ServiceResult<Vec<EnforceImpact>> {
        let mut tenant = self.tenant(actor, workspace_id, Action::View).await?;
        let rows: Vec<(String, String, String, i64, Option<i64>)> = crate::db::query_as(
            "SELECT platform, outcome, reason, sum(attempts)::bigint, length(replace(bit_or(users)::text, '1', ''))::bigint
               FROM log_rollup_hour
              WHERE workspace_id = $1 AND bucket >= $2
              GROUP BY 1, 2, 3 ORDER BY 4 DESC",
        )
        .bind(workspace_id)
        .bind(self.clock.now() - Duration::days(7))
        .fetch_all(tenant.conn())
        .await?;
        Ok(Platform::ALL
            .into_iter()
            .map(|platform| {
                let mine = rows.iter().filter(|r| r.0 == platform.as_str());
                let failing: Vec<_> = mine.clone().filter(|r| r.1 == "would_reject" || r.1 == "unverified").collect();
                EnforceImpact {
                    platform: platform.as_str().into(),
                    attempts: mine.map(|r| r.3).sum(),
                    would_fail: failing.iter().map(|r| r.3).sum(),
                    reasons: failing
                        .iter()
                        .map(|(_, _, reason, attempts, zeros)| ReasonCount {
                            reason: reason.clone(),
                            attempts: *attempts,
                            users: zeros.map(estimate_users).unwrap_or(0),
                            fix: fix_of(reason),
                        })
                        .collect(),
                }
            })
            .collect())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use countersign_core::Modes;

    fn total(counts: &OutcomeCounts) -> i64 {
        counts.verified + counts.unverified + counts.would_reject + counts.rejected
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 29, 12, 30, 0).unwrap()
    }

    fn settings(web: Mode, ios: Mode, android: Mode) -> SecuritySettings {
        SecuritySettings {
            modes: Modes { web, ios, android },
            hmac_enabled: false,
            leeway_seconds: 60,
            require_exp: true,
            max_token_lifetime_seconds: Some(3600),
            allowed_origins: vec!["https://app.example.com".into()],
            token_profile: countersign_core::TokenProfile::Countersign,
            user_id_claims: vec![],
            expected_issuer: None,
        }
    }

    fn health(platform: &str, mode: &str, totals: OutcomeCounts) -> PlatformHealth {
        PlatformHealth {
            platform: platform.into(),
            mode: mode.into(),
            unverified_users: totals.unverified,
            totals,
            series: vec![],
            first_verified_at: None,
            last_verified_at: None,
            readiness: None,
        }
    }

    #[test]
    fn ranges_end_with_the_current_bar() {
        let (from, to) = Range::Day.bounds(now());
        assert_eq!(to, Utc.with_ymd_and_hms(2026, 11, 29, 13, 0, 0).unwrap());
        assert_eq!(to - from, Duration::hours(24));
        let (from, to) = Range::Month.bounds(now());
        assert_eq!((to - from).num_days(), 30);
        assert!(Range::parse(Some("1y")).is_err());
    }

    #[test]
    fn series_put_each_hour_in_its_bar() {
        let (from, _) = Range::Week.bounds(now());
        let row = |hours: i64, outcome: &str, attempts| HourRow {
            bucket: from + Duration::hours(hours),
            platform: "ios".into(),
            outcome: outcome.into(),
            reason: String::new(),
            attempts,
        };
        let rows = vec![row(0, "verified", 2), row(5, "verified", 3), row(6, "rejected", 4), row(1000, "verified", 9)];
        let (totals, series) = platform_series(&rows, "ios", Range::Week, from);
        assert_eq!(series.len(), 28);
        assert_eq!(series[0].counts.verified, 5, "hours 0 and 5 share the first 6-hour bar");
        assert_eq!(series[1].counts.rejected, 4);
        assert_eq!(totals.verified, 14, "totals count every row, the chart only those in range");
        let (empty, _) = platform_series(&rows, "web", Range::Week, from);
        assert_eq!(total(&empty), 0);
    }

    #[test]
    fn readiness_verdicts_name_the_rate_and_the_cause() {
        let counts = |verified, would_reject| OutcomeCounts { verified, would_reject, ..Default::default() };
        let expired =
            || vec![ReasonCount { reason: "token_expired".into(), attempts: 2, users: 3, fix: String::new() }];
        let quiet = readiness("ios", &counts(0, 0), vec![], Range::Day);
        assert!(!quiet.ready && quiet.verdict.contains("nothing to judge"), "{}", quiet.verdict);
        let clean = readiness("ios", &counts(500, 0), vec![], Range::Day);
        assert!(clean.ready && clean.verdict.starts_with("Ready to enforce"), "{}", clean.verdict);
        let almost = readiness("ios", &counts(9998, 2), expired(), Range::Day);
        assert!(almost.ready, "{}", almost.verdict);
        assert_eq!(almost.verdict, "Ready to enforce: 0.02 % would be rejected, all from 3 users with token expired.");
        let broken = readiness("android", &counts(10, 90), expired(), Range::Week);
        assert!(!broken.ready && broken.verdict.starts_with("Not ready: 90 %"), "{}", broken.verdict);
    }

    #[test]
    fn the_headline_names_the_biggest_risk() {
        let traffic = OutcomeCounts { unverified: 1204, ..Default::default() };
        let platforms = vec![
            health("web", "enforce", OutcomeCounts::default()),
            health("android", "off", traffic),
            health("ios", "monitor", OutcomeCounts { would_reject: 5, ..Default::default() }),
        ];
        let line = headline(&platforms, &[], Range::Day);
        assert_eq!(line.severity, "critical");
        assert_eq!(
            line.detail,
            "Android is off: 1,204 unverified identities in the last 24 hours — anyone can impersonate these users."
        );
        let mut returning = platforms.clone();
        returning[1].unverified_users = 75;
        assert_eq!(
            headline(&returning, &[], Range::Day).detail,
            "Android is off: 75 unverified identities (1,204 attempts) in the last 24 hours — anyone can impersonate these users.",
            "people, then how often they came"
        );
        let line = headline(&platforms[2..], &[], Range::Day);
        assert_eq!((line.severity.as_str(), line.title.as_str()), ("warning", "iOS is in monitor mode"));
        let line = headline(&platforms[..1], &[], Range::Day);
        assert_eq!(line.severity, "ok");
    }

    fn usage(name: &str, secure_only: bool, unsigned_updates: i64) -> AttributeUsage {
        AttributeUsage { name: name.into(), secure_only, unsigned_updates }
    }

    #[test]
    fn the_checklist_finds_each_weakness_and_nothing_on_a_tight_workspace() {
        let tight = settings(Mode::Enforce, Mode::Enforce, Mode::Enforce);
        let keys = vec![key("k_new", "primary", 3, None, 0, None)];
        let posture = Posture {
            settings: &tight,
            keys: &keys,
            attributes: &[usage("plan", true, 0)],
            revoked_presented: None,
            long_lived: LongLivedSample::default(),
        };
        assert!(checklist(&posture, &[], now(), Range::Day).is_empty());

        let mut loose = settings(Mode::Off, Mode::Monitor, Mode::Enforce);
        loose.allowed_origins.clear();
        loose.hmac_enabled = true;
        loose.require_exp = false;
        loose.max_token_lifetime_seconds = None;
        let keys = vec![
            key("k_old", "primary", 120, None, 0, None),
            key("k_prev", "rotating", 200, Some(Duration::hours(20)), 37, Some(now() - Duration::minutes(3))),
        ];
        let attributes = vec![usage("email", false, 12), usage("color", false, 3)];
        let posture = Posture {
            settings: &loose,
            keys: &keys,
            attributes: &attributes,
            revoked_presented: Some((7, now(), vec!["203.0.113.9".into()])),
            long_lived: LongLivedSample::default(),
        };
        let platforms =
            vec![health("web", "off", OutcomeCounts::default()), health("ios", "monitor", OutcomeCounts::default())];
        let items = checklist(&posture, &platforms, now(), Range::Day);
        let titles: Vec<&str> = items.iter().map(|i| i.title.as_str()).collect();
        assert_eq!(
            titles,
            [
                "Web is off",
                "A revoked key is still being presented",
                "iOS is in monitor mode",
                "Legacy HMAC is on",
                "Tokens without an expiry are accepted",
                "The primary key is 120 days old",
                "Sensitive attributes arrive unsigned: email",
                "k_prev is in its grace period",
            ]
        );
        assert!(items[1].detail.contains("203.0.113.9"));
        assert!(items[6].detail.contains("email 12 times"), "{}", items[6].detail);
        assert_eq!(items[1].fix_path, "/logs?reason=revoked_key");
        let grace = &items.last().unwrap().detail;
        assert!(grace.starts_with("It still verifies for 20 hours, and 37 verified attempts used it"), "{grace}");
    }

    fn key(
        kid: &str,
        state: &str,
        age_days: i64,
        expires_in: Option<Duration>,
        verifications_24h: i64,
        last_used_at: Option<DateTime<Utc>>,
    ) -> KeyInfo {
        KeyInfo {
            kid: kid.into(),
            state: state.into(),
            created_at: now() - Duration::days(age_days),
            expires_at: expires_in.map(|d| now() + d),
            revoked_at: None,
            last_used_at,
            fingerprint: String::new(),
            verifications_24h,
        }
    }

    /// A key in its grace period that nothing used in the last day can be revoked at once; the
    /// item says so, with the last use if there was one.
    #[test]
    fn an_unused_key_in_its_grace_period_can_be_revoked_now() {
        let tight = settings(Mode::Enforce, Mode::Enforce, Mode::Enforce);
        let detail = |last_used_at| {
            let keys = vec![
                key("k_new", "primary", 1, None, 90, Some(now())),
                key("k_prev", "rotating", 200, Some(Duration::days(5)), 0, last_used_at),
            ];
            let posture = Posture {
                settings: &tight,
                keys: &keys,
                attributes: &[],
                revoked_presented: None,
                long_lived: LongLivedSample::default(),
            };
            let items = checklist(&posture, &[], now(), Range::Day);
            assert_eq!(items.len(), 1, "{items:?}");
            items[0].detail.clone()
        };
        let stale = detail(Some(now() - Duration::hours(30)));
        assert!(
            stale.starts_with(
                "It still verifies for 5 days, but no verified attempt used it in the last 24 hours (the last at "
            ),
            "{stale}"
        );
        assert!(stale.ends_with("revoke it now to close that window."), "{stale}");
        assert!(detail(None).contains("no verified attempt ever used it"));
    }

    #[test]
    fn long_lived_tokens_in_the_traffic_are_named_with_their_evidence() {
        let mut loose = settings(Mode::Enforce, Mode::Enforce, Mode::Enforce);
        loose.require_exp = false;
        loose.max_token_lifetime_seconds = None;
        let keys = vec![key("k_new", "primary", 3, None, 0, None)];
        let sample = LongLivedSample {
            verified: 840,
            no_exp: 12,
            last_no_exp: Some(now()),
            over_a_day: 3,
            last_over_a_day: Some(now() - Duration::hours(2)),
        };
        let posture =
            Posture { settings: &loose, keys: &keys, attributes: &[], revoked_presented: None, long_lived: sample };
        let items = checklist(&posture, &[], now(), Range::Day);
        let titles: Vec<&str> = items.iter().map(|i| i.title.as_str()).collect();
        assert_eq!(titles, ["Tokens without an expiry are in use", "Tokens living over a day are in use"]);
        assert!(
            items[0].detail.starts_with(
                "12 of the latest 840 verified tokens in the last 24 hours had no exp (the last at 2026-11-29 12:30 UTC)"
            ),
            "{}",
            items[0].detail
        );
        assert!(
            items[1].detail.starts_with(
                "3 of the latest 840 verified tokens in the last 24 hours lived over a day (the last at 2026-11-29 10:30 UTC)"
            ),
            "{}",
            items[1].detail
        );
        assert!(items.iter().all(|i| i.fix_path == "/snippets"));

        // No such token in the traffic: the settings that would let one in are still named.
        let quiet = Posture { long_lived: LongLivedSample { verified: 840, ..Default::default() }, ..posture };
        let titles: Vec<String> = checklist(&quiet, &[], now(), Range::Day).into_iter().map(|i| i.title).collect();
        assert_eq!(titles, ["Tokens without an expiry are accepted"]);
    }

    #[test]
    fn numbers_read_like_numbers() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1204), "1,204");
        assert_eq!(thousands(1_000_000), "1,000,000");
        assert_eq!(percent(0.0002), "0.02 %");
        assert_eq!(percent(0.123), "12 %");
    }
}
