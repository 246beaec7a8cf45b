//! Claim rules applied once a signature verified (PRODUCT.md, "Identify: the precise rules"):
//! NumericDate types, `exp`/`nbf`/`iat` with leeway (RFC 7519 §4.1.4-6), token lifetime, issuer,
//! TalkJS `tokenType`, and the user id.

use std::fmt::Write;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::json::{kind, JsonObject, JsonRef};
use crate::profile::IssuerRule;
use crate::reason::Reason;
use crate::time::format_numeric_date;
use crate::verdict::Trace;
use crate::workspace::WorkspacePolicy;

/// Longest user id, in characters (Unicode scalar values).
pub const MAX_USER_ID_CHARS: usize = 255;

/// A failed rule: its reason code and the human explanation.
pub(crate) type Failure = (Reason, String);

/// Quotes a client-supplied string for an explanation: escaped and cut to 64 characters, so a
/// hostile value cannot flood a log line.
pub(crate) fn quote(s: &str) -> String {
    Quoted(s).to_string()
}

/// [`quote`] as a `Display`, to write a quoted value into a larger message without a copy.
pub(crate) struct Quoted<'a>(pub &'a str);

impl Quoted<'_> {
    /// The text cut to 64 characters, what marks a cut, and whether the text is its own escape
    /// (printable ASCII other than quotes and backslash).
    fn parts(&self) -> (&str, &'static str, bool) {
        let s = self.0;
        // A string of at most 64 bytes has at most 64 characters: no need to count them.
        let end = if s.len() <= 64 { s.len() } else { s.char_indices().nth(64).map_or(s.len(), |(i, _)| i) };
        let cut = s.get(..end).unwrap_or(s);
        let more = if end < s.len() { "..." } else { "" };
        let plain = cut.bytes().all(|b| matches!(b, b' '..=b'~') && !matches!(b, b'"' | b'\'' | b'\\'));
        (cut, more, plain)
    }

    /// Appends the quoted text to `out`; plain text skips the formatter.
    pub(crate) fn push_to(&self, out: &mut String) {
        match self.parts() {
            (cut, more, true) => {
                out.push('"');
                out.push_str(cut);
                out.push_str(more);
                out.push('"');
            }
            _ => {
                let _ = write!(out, "{self}");
            }
        }
    }
}

impl std::fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (cut, more, plain) = self.parts();
        f.write_char('"')?;
        if plain {
            f.write_str(cut)?;
        } else {
            write!(f, "{}", cut.escape_debug())?;
        }
        f.write_str(more)?;
        f.write_char('"')
    }
}

/// Validates a user id: a non-empty string of at most [`MAX_USER_ID_CHARS`] characters without
/// control characters. Absent (or `null`) → `missing_user_id`; anything else → `invalid_user_id`.
/// Never coerces (a number stays invalid) and never truncates.
pub fn validate_user_id(value: Option<&Value>) -> Result<String, (Reason, String)> {
    match value {
        None | Some(Value::Null) => {
            Err((Reason::MissingUserId, "No user id was sent. Send the logged-in user's id as a string.".to_string()))
        }
        Some(Value::String(s)) => check_user_id_text(s).map(|()| s.clone()),
        Some(Value::Number(n)) => {
            invalid_user_id(format!("is a number ({n}); send it as a string (\"{n}\") and sign the same string"))
        }
        Some(other) => invalid_user_id(format!("is {}; it must be a string", kind(other))),
    }
}

/// [`validate_user_id`] of a claim read in place; a string is copied only once valid.
fn validate_user_id_claim(value: JsonRef) -> Result<String, Failure> {
    match value.as_str() {
        Some(text) => check_user_id_text(&text).map(|()| text.into_owned()),
        None => validate_user_id(Some(&value.to_value())),
    }
}

/// The rules a user id string must follow (see [`validate_user_id`]).
fn check_user_id_text(s: &str) -> Result<(), Failure> {
    if s.is_empty() {
        return invalid_user_id("is empty; send the user's id".into());
    }
    // Bytes bound the characters: count them only when the string might be too long.
    if s.len() > MAX_USER_ID_CHARS && s.chars().count() > MAX_USER_ID_CHARS {
        return invalid_user_id(format!(
            "is {} characters long; the limit is {MAX_USER_ID_CHARS} (it is never truncated)",
            s.chars().count()
        ));
    }
    if s.chars().any(char::is_control) {
        return invalid_user_id("contains control characters; send a plain string".into());
    }
    Ok(())
}

/// An `invalid_user_id` failure: "The user id {why}."
fn invalid_user_id<T>(why: String) -> Result<T, Failure> {
    Err((Reason::InvalidUserId, format!("The user id {why}.")))
}

/// Finds the user id in `payload` under the first of `claims` that is present (non-`null`) and
/// validates it. A present but invalid claim fails; it does not fall through to the next one.
pub(crate) fn user_id_from_claims(payload: &impl JsonObject, claims: &[&str]) -> Result<String, Failure> {
    let found = claims.iter().find_map(|c| payload.member(c).filter(|v| !v.is_null()).map(|v| (c, v)));
    match found {
        Some((claim, value)) => {
            validate_user_id_claim(value).map_err(|(reason, msg)| (reason, format!("{msg} (claim `{claim}`)")))
        }
        None => {
            let names = match claims {
                [one] => format!("the `{one}` claim"),
                _ => format!("one of the claims `{}` (tried in that order)", claims.join("`, `")),
            };
            Err((Reason::MissingUserId, format!("The token carries no user id: add {names} with the user's id.")))
        }
    }
}

/// A duration in whole seconds for an explanation (rounded up, saturating).
fn secs(duration: f64) -> i64 {
    duration.ceil() as i64
}

/// Reads a NumericDate claim: absent → `None`; a JSON number → its value; anything else →
/// `malformed_token`.
fn numeric_date(payload: &impl JsonObject, claim: &str) -> Result<Option<f64>, Failure> {
    match payload.member(claim) {
        None => Ok(None),
        Some(value) if value.is_number() => Ok(value.as_f64()),
        Some(other) => Err((
            Reason::MalformedToken,
            format!(
                "The `{claim}` claim is {}; it must be a number of seconds since the epoch \
                 (RFC 7519 NumericDate).",
                other.kind()
            ),
        )),
    }
}

/// The longest a token may live before the health checklist counts it as long-lived: a day.
pub const LONG_LIVED_SECONDS: i64 = 86_400;

/// A token that verified but is worth more than a session if it leaks: it has no `exp`, or its
/// `exp` lies more than [`LONG_LIVED_SECONDS`] after its `iat` (after now when it has no `iat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LongLived {
    /// No `exp` claim: valid for ever.
    NoExp,
    /// Valid this many seconds in all.
    Lifetime(i64),
}

/// The user id of a token whose claims passed, and whether it is long-lived.
pub(crate) type Claimed = (String, Option<LongLived>);

/// Applies the time, issuer and token-type rules and extracts the user id, recording each step.
/// Leeway applies to `exp`, `nbf`, `iat` and to the `exp - now` lifetime (clocks differ); not to
/// `exp - iat`, which one clock wrote.
pub(crate) fn check_claims(
    payload: &impl JsonObject,
    policy: &WorkspacePolicy,
    now: i64,
    trace: &mut Trace,
) -> Result<Claimed, Failure> {
    let leeway = policy.effective_leeway() as f64;
    let now_f = now as f64;
    let (exp, nbf, iat) =
        trace.step("claim_types", numeric_dates(payload), |_| "exp, nbf, iat are numbers where present".into())?;

    let exp_rule = match exp {
        None if policy.require_exp || policy.max_token_lifetime_seconds.is_some() => Err((
            Reason::MissingExp,
            "The token has no `exp` claim, which this workspace requires (require_exp or a \
             maximum lifetime is set). Add exp, e.g. now + 1 hour, when signing."
                .to_string(),
        )),
        Some(exp) if now_f >= exp + leeway => Err((
            Reason::TokenExpired,
            format!(
                "The token expired at {} ({} s ago, beyond the {leeway} s leeway). Mint a fresh \
                 token for each session instead of caching an old one.",
                format_numeric_date(exp),
                secs(now_f - exp)
            ),
        )),
        _ => Ok(()),
    };
    trace.step("exp", exp_rule, |_| match exp {
        Some(exp) => format!("expires at {}", format_numeric_date(exp)),
        None => "absent (not required)".into(),
    })?;

    let nbf_rule = match nbf {
        Some(nbf) if now_f + leeway < nbf => Err((
            Reason::TokenNotYetValid,
            format!(
                "The token is not valid before {} ({} s from now, beyond the {leeway} s leeway). \
                 Check the signing server's clock, or drop `nbf`.",
                format_numeric_date(nbf),
                secs(nbf - now_f)
            ),
        )),
        _ => Ok(()),
    };
    trace.step("nbf", nbf_rule, |_| match nbf {
        Some(nbf) => format!("valid since {}", format_numeric_date(nbf)),
        None => "absent".into(),
    })?;

    let iat_rule = match iat {
        Some(iat) if iat > now_f + leeway => Err((
            Reason::TokenIssuedInFuture,
            format!(
                "The token claims it was issued at {}, {} s in the future (beyond the {leeway} s \
                 leeway). The signing server's clock is ahead: sync it with NTP.",
                format_numeric_date(iat),
                secs(iat - now_f)
            ),
        )),
        _ => Ok(()),
    };
    trace.step("iat", iat_rule, |_| match iat {
        Some(iat) => format!("issued at {}", format_numeric_date(iat)),
        None => "absent".into(),
    })?;

    if let (Some(max), Some(exp)) = (policy.max_token_lifetime_seconds, exp) {
        let (lifetime, basis, allowed) = match iat {
            Some(iat) => (exp - iat, "exp - iat", max as f64),
            None => (exp - now_f, "exp - now, as there is no iat", max as f64 + leeway),
        };
        let rule = if lifetime > allowed {
            Err((
                Reason::LifetimeTooLong,
                format!(
                    "The token lives {} s ({basis}); this workspace allows at most {max} s. \
                     Sign tokens with a shorter exp.",
                    secs(lifetime)
                ),
            ))
        } else {
            Ok(())
        };
        trace.step("lifetime", rule, |_| format!("{} s ({basis}), at most {max} s", secs(lifetime)))?;
    }

    let expected = policy.effective_issuer();
    let profile = policy.token_profile;
    let iss = payload.member("iss");
    let iss_rule = match (profile.issuer_rule(), iss) {
        (IssuerRule::NotChecked, _) | (IssuerRule::IfPresent, None) => Ok(()),
        (IssuerRule::Required, None) => Err((
            Reason::InvalidIssuer,
            format!(
                "The {} profile requires an `iss` claim; set iss to {} when signing.",
                profile.as_str(),
                Quoted(expected)
            ),
        )),
        (_, Some(iss)) if iss.as_str().is_some_and(|iss| iss == expected) => Ok(()),
        (_, Some(iss)) => Err((
            Reason::InvalidIssuer,
            format!(
                "The token's iss is {} but this workspace expects {}. Set iss to that value \
                 when signing, or change the expected issuer in the security settings.",
                iss.as_str().map_or_else(|| iss.kind().to_string(), |iss| quote(&iss)),
                Quoted(expected)
            ),
        )),
    };
    trace.step("iss", iss_rule, |_| match (profile.issuer_rule(), iss) {
        (IssuerRule::NotChecked, _) => format!("not checked by the {} profile", profile.as_str()),
        (_, None) => "absent (optional)".into(),
        (_, Some(_)) => format!("equals {}", Quoted(expected)),
    })?;

    if profile.checks_token_type() {
        let token_type = payload.member("tokenType");
        let rule = match token_type {
            None => Ok(()),
            Some(t) if t.as_str().is_some_and(|t| t == "user") => Ok(()),
            Some(other) => Err((
                Reason::InvalidTokenType,
                format!(
                    "tokenType is {}; TalkJS user tokens must have tokenType \"user\" (or none).",
                    other.as_str().map_or_else(|| other.kind().to_string(), |t| quote(&t))
                ),
            )),
        };
        trace.step("token_type", rule, |_| match token_type {
            None => "absent".into(),
            Some(_) => "user".into(),
        })?;
    }

    let claims = profile.user_id_claim_names(&policy.user_id_claims);
    let user_id = trace.step("user_id", user_id_from_claims(payload, &claims), |id| {
        format!("{} (claims tried: `{}`)", Quoted(id), claims.join("`, `"))
    })?;
    let long_lived = match exp {
        None => Some(LongLived::NoExp),
        Some(exp) => {
            let lifetime = secs(exp - iat.unwrap_or(now_f));
            (lifetime > LONG_LIVED_SECONDS).then_some(LongLived::Lifetime(lifetime))
        }
    };
    match long_lived {
        Some(LongLived::NoExp) => trace.note(
            "The token has no exp: if it leaks, it stays valid for ever. Sign it with exp (now + 1 \
             hour is typical), then require exp in the security settings.",
        ),
        Some(LongLived::Lifetime(seconds)) => trace.note(&format!(
            "The token lives {seconds} s, over a day: if it leaks, it stays valid that long. Sign \
             it with a shorter exp."
        )),
        None => {}
    }
    Ok((user_id, long_lived))
}

/// `exp`, `nbf` and `iat`, each `None` when absent.
type Dates = (Option<f64>, Option<f64>, Option<f64>);

/// Reads the three time claims as NumericDates, or fails on the first that is not a number.
fn numeric_dates(payload: &impl JsonObject) -> Result<Dates, Failure> {
    Ok((numeric_date(payload, "exp")?, numeric_date(payload, "nbf")?, numeric_date(payload, "iat")?))
}

#[cfg(test)]
mod tests;
