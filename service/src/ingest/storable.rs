//! The one boundary between client-controlled strings and the log writer: every attempt is made
//! storable here before it is queued, so no byte a client sends can make Postgres refuse a
//! batch (NUL in `text` or `jsonb`) or make a row grow without bound.

use countersign_core::text::{make_json_storable, make_map_storable, storable_owned};
use countersign_core::Platform;

use super::Attempt;

/// Longest stored `kid`, `origin`, `user_id` and attribute name, in characters.
const MAX_NAME_CHARS: usize = 255;
/// Longest stored `alg` and reason code.
const MAX_CODE_CHARS: usize = 32;
/// Longest stored user agent.
const MAX_USER_AGENT_CHARS: usize = 512;
/// Longest stored IP address text.
const MAX_IP_CHARS: usize = 64;
/// Longest stored explanation.
const MAX_EXPLANATION_CHARS: usize = 4096;
/// What a platform that is not `web`, `ios` or `android` is stored as.
pub const UNKNOWN_PLATFORM: &str = "unknown";

impl Attempt {
    /// The attempt with control characters escaped in every text column, NUL replaced in every
    /// JSON value, lengths capped, and an unknown platform stored as `unknown`.
    pub(crate) fn into_storable(mut self) -> Attempt {
        let log = &mut self.log;
        log.platform = log.platform.take().map(|p| storable_platform(&p).to_owned());
        log.reason = storable_owned(log.reason.take(), MAX_CODE_CHARS);
        log.alg = storable_owned(log.alg.take(), MAX_CODE_CHARS);
        log.kid = storable_owned(log.kid.take(), MAX_NAME_CHARS);
        log.user_id = storable_owned(log.user_id.take(), MAX_NAME_CHARS);
        log.origin = storable_owned(log.origin.take(), MAX_NAME_CHARS);
        log.ip = storable_owned(log.ip.take(), MAX_IP_CHARS);
        log.user_agent = storable_owned(log.user_agent.take(), MAX_USER_AGENT_CHARS);
        log.outcome = storable_owned(Some(std::mem::take(&mut log.outcome)), MAX_CODE_CHARS).unwrap_or_default();
        log.explanation =
            storable_owned(Some(std::mem::take(&mut log.explanation)), MAX_EXPLANATION_CHARS).unwrap_or_default();
        make_json_storable(&mut log.attributes_accepted);
        make_json_storable(&mut log.attributes_rejected);
        make_json_storable(&mut log.details);
        for name in &mut self.unsigned_attributes {
            *name = storable_owned(Some(std::mem::take(name)), MAX_NAME_CHARS).unwrap_or_default();
        }
        if let Some(contact) = &mut self.contact {
            contact.user_id =
                storable_owned(Some(std::mem::take(&mut contact.user_id)), MAX_NAME_CHARS).unwrap_or_default();
            contact.platform = storable_platform(&contact.platform).to_owned();
            make_map_storable(&mut contact.attributes);
        }
        self
    }
}

/// The platform's wire name, or `unknown` for anything else.
pub fn storable_platform(platform: &str) -> &'static str {
    Platform::parse(platform).map_or(UNKNOWN_PLATFORM, Platform::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::ContactUpdate;
    use chrono::Utc;
    use countersign_proto::LogEntry;
    use serde_json::json;
    use uuid::Uuid;

    /// Every client-controlled string of an attempt comes out without NUL and within its cap.
    #[test]
    fn hostile_strings_become_storable() {
        let nul = "x\u{0}y";
        let log = LogEntry {
            id: Uuid::now_v7(),
            at: Utc::now(),
            outcome: "rejected".into(),
            reason: Some("invalid_request".into()),
            explanation: format!("duplicate key `{nul}`"),
            platform: Some(format!("web{nul}")),
            kid: Some(nul.repeat(1000)),
            alg: Some(nul.into()),
            user_id: Some(nul.into()),
            attributes_accepted: json!({nul: nul}),
            attributes_rejected: json!([{"name": nul, "reason": "secure_only"}]),
            details: json!({"ignored_attributes": [nul], "notes": [nul]}),
            origin: Some(nul.into()),
            ip: Some(nul.into()),
            user_agent: Some(nul.into()),
            latency_us: 1,
        };
        let mut attributes = serde_json::Map::new();
        attributes.insert(nul.into(), json!(nul));
        let contact = ContactUpdate { user_id: nul.into(), attributes, verified: false, platform: "x".into() };
        let attempt =
            Attempt { workspace_id: Uuid::nil(), log, contact: Some(contact), unsigned_attributes: Vec::new() }
                .into_storable();
        let text = serde_json::to_string(&attempt).unwrap_or_default();
        assert!(!text.contains("\\u0000"), "{text}");
        assert_eq!(attempt.log.platform.as_deref(), Some("unknown"));
        assert!(attempt.log.kid.is_some_and(|k| k.chars().count() <= MAX_NAME_CHARS));
        assert_eq!(attempt.contact.map(|c| c.platform), Some("unknown".to_owned()));
    }
}
