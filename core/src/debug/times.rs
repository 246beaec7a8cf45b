//! The token's time claims as dates and in words ("expired 3 h ago"), with clock skew named.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::time::format_unix;

/// One of `iat`, `nbf`, `exp` as the debugger shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeClaim {
    /// `iat`, `nbf` or `exp`.
    pub claim: String,
    /// The value as sent.
    pub value: Value,
    /// As an RFC 3339 UTC date, when it is a number.
    pub at: Option<String>,
    /// In words, relative to now ("expired 3 h ago", "issued 2 min in the future: ...").
    pub relative: String,
    /// Whether the claim passes its rule at the workspace's leeway.
    pub ok: bool,
}

/// "3 h 12 min", "45 s", "2 d 4 h": a duration for people, rounded to its smallest unit
/// (3,599 s is "1 h": a token minted a second ago "expires in 1 h").
pub fn words(seconds: i64) -> String {
    let s = seconds.saturating_abs();
    if s < 60 {
        return format!("{s} s");
    }
    let minutes = s.saturating_add(30) / 60;
    match minutes {
        0..=59 => format!("{minutes} min"),
        60..=1439 if minutes % 60 == 0 => format!("{} h", minutes / 60),
        60..=1439 => format!("{} h {} min", minutes / 60, minutes % 60),
        _ => {
            let hours = s.saturating_add(1800) / 3600;
            format!("{} d {} h", hours / 24, hours % 24)
        }
    }
}

/// Describes `iat`, `nbf` and `exp`, in that order, where present.
pub fn describe_times(payload: &Map<String, Value>, leeway: i64, now: i64) -> Vec<TimeClaim> {
    ["iat", "nbf", "exp"]
        .into_iter()
        .filter_map(|claim| {
            let value = payload.get(claim)?;
            let Some(secs) = value.as_f64() else {
                return Some(TimeClaim {
                    claim: claim.into(),
                    value: value.clone(),
                    at: None,
                    relative: "not a number: it must be seconds since 1970 (NumericDate)".into(),
                    ok: false,
                });
            };
            // `as` saturates on out-of-range floats: fine for words.
            let at = secs.floor() as i64;
            let delta = at.saturating_sub(now);
            let (relative, ok) = describe(claim, delta, leeway);
            Some(TimeClaim { claim: claim.into(), value: value.clone(), at: Some(format_unix(at)), relative, ok })
        })
        .collect()
}

/// Words for a claim `delta` seconds from now (negative: in the past).
fn describe(claim: &str, delta: i64, leeway: i64) -> (String, bool) {
    let span = words(delta);
    let within = format!("within the {leeway} s leeway");
    match claim {
        "exp" if delta <= -leeway => (format!("expired {span} ago"), false),
        "exp" if delta <= 0 => (format!("expired {span} ago, {within}: still accepted"), true),
        "exp" => (format!("expires in {span}"), true),
        "nbf" if delta > leeway => {
            (format!("not valid for another {span}: the signing server's clock may be ahead"), false)
        }
        "nbf" if delta > 0 => (format!("valid in {span}, {within}: accepted"), true),
        "nbf" => (format!("valid since {span} ago"), true),
        _ if delta > leeway => {
            (format!("issued {span} in the future: the signing server's clock is about {span} ahead"), false)
        }
        _ if delta > 0 => (format!("issued {span} in the future, {within} (clock skew)"), true),
        _ => (format!("issued {span} ago"), true),
    }
}
