//! Target `spool_line`: arbitrary bytes as one line of the spool file, read as the replay does.

use countersign_service::ingest::parse_spool_line;
use serde_json::Value;

use crate::alloc::within_budget;

/// The caps of `service/src/ingest/storable.rs`, in characters: `kid`, `origin`, `user_id`;
/// `alg`, `reason`, `outcome`; user agent; IP; explanation.
const NAME: usize = 255;
const CODE: usize = 32;
const USER_AGENT: usize = 512;
const IP: usize = 64;
const EXPLANATION: usize = 4096;

/// Parses `data` with `parse_spool_line` and checks that whatever parses is storable: no NUL in
/// any text column or JSON value, no control character in a text column, every length within
/// its cap, a known platform or `unknown`; that it serialises (as the spool and the batch
/// statement do) without NUL; and that making it storable again changes nothing.
pub fn spool_line(data: &[u8]) {
    within_budget("spool_line", data, || check(data));
}

fn check(data: &[u8]) {
    let Some(attempt) = parse_spool_line(data) else {
        return;
    };
    let log = &attempt.log;
    let texts = [
        (log.reason.as_deref(), CODE),
        (log.alg.as_deref(), CODE),
        (Some(log.outcome.as_str()), CODE),
        (log.kid.as_deref(), NAME),
        (log.user_id.as_deref(), NAME),
        (log.origin.as_deref(), NAME),
        (log.ip.as_deref(), IP),
        (log.user_agent.as_deref(), USER_AGENT),
        (Some(log.explanation.as_str()), EXPLANATION),
        (attempt.contact.as_ref().map(|c| c.user_id.as_str()), NAME),
    ];
    for (text, cap) in texts.into_iter().filter_map(|(t, cap)| Some((t?, cap))) {
        assert!(!text.chars().any(char::is_control), "a control character in {text:?}");
        assert!(text.chars().count() <= cap, "{} characters (cap {cap})", text.chars().count());
    }
    let platforms = ["web", "ios", "android", "unknown"];
    assert!(log.platform.as_deref().is_none_or(|p| platforms.contains(&p)));
    assert!(attempt.contact.as_ref().is_none_or(|c| platforms.contains(&c.platform.as_str())));
    for value in [&log.attributes_accepted, &log.attributes_rejected, &log.details] {
        assert!(!holds_nul(value));
    }
    if let Some(contact) = &attempt.contact {
        assert!(contact.attributes.iter().all(|(k, v)| !k.contains('\0') && !holds_nul(v)));
    }
    let line = serde_json::to_string(&attempt);
    assert!(line.is_ok(), "a replayed attempt does not serialise");
    let line = line.unwrap_or_default();
    // `\\u0000` in the text is a backslash and "u0000", which is harmless; a NUL is not.
    let parsed = serde_json::from_str::<Value>(&line).unwrap_or(Value::Null);
    assert!(!line.contains('\0') && !holds_nul(&parsed), "NUL in {line}");
    // What the spool holds is storable already: replaying it again changes no text. (Numbers
    // are left out: serde_json, without `float_roundtrip`, may re-read a float as a neighbour.)
    let again = parse_spool_line(line.as_bytes()).and_then(|a| serde_json::to_value(a).ok());
    assert_eq!(again.map(texts_only), Some(texts_only(parsed)), "making an attempt storable is not idempotent");
}

/// `value` with every number replaced by `null`.
fn texts_only(value: Value) -> Value {
    match value {
        Value::Number(_) => Value::Null,
        Value::Array(items) => Value::Array(items.into_iter().map(texts_only).collect()),
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, texts_only(v))).collect()),
        other => other,
    }
}

/// Whether `value` holds NUL in a string or a key, at any depth.
fn holds_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}
