//! What this instance wrote recently, so that repeated identical writes are skipped: a key's
//! `last_used_at` and an unchanged contact are refreshed at most once per [`REFRESH`].
//! A skipped write only delays a timestamp; any change to a contact is written at once.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::batch::ContactRow;
use super::Attempt;

/// How stale `last_used_at` and an unchanged contact's `last_seen_at` may get.
pub const REFRESH: Duration = Duration::seconds(60);
/// Contacts remembered before the memory is cleared (a cleared entry costs one more write).
const MAX_CONTACTS: usize = 200_000;

/// When each key's `last_used_at` was last written.
#[derive(Default)]
pub(super) struct KeyUse(Mutex<HashMap<String, DateTime<Utc>>>);

impl KeyUse {
    /// The keys of verified attempts whose `last_used_at` is due, with the newest use.
    pub(super) fn due(&self, attempts: &[Attempt]) -> Vec<(String, DateTime<Utc>)> {
        let mut written = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut due: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
        for attempt in attempts.iter().filter(|a| a.log.outcome == "verified") {
            let Some(kid) = &attempt.log.kid else { continue };
            let stale = written.get(kid).is_none_or(|last| attempt.log.at - *last > REFRESH);
            if stale {
                let at = due.entry(kid.clone()).or_insert(attempt.log.at);
                *at = (*at).max(attempt.log.at);
            }
        }
        for (kid, at) in &due {
            written.insert(kid.clone(), *at);
        }
        due.into_iter().collect()
    }
}

/// The last contact state this instance wrote, per contact.
#[derive(Default)]
pub(super) struct ContactWrites(Mutex<HashMap<(Uuid, String), Written>>);

struct Written {
    attributes: serde_json::Map<String, serde_json::Value>,
    verified: bool,
    platform: String,
    at: DateTime<Utc>,
}

impl ContactWrites {
    /// Whether `row` must be written: new to this instance, changed, or last written more
    /// than [`REFRESH`] ago. Remembers it when so.
    pub(super) fn due(&self, row: &ContactRow) -> bool {
        let mut written = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let key = (row.workspace_id, row.user_id.clone());
        if let Some(last) = written.get(&key) {
            let unchanged = last.verified == row.verified && last.platform == row.platform && last.attributes == row.attributes;
            if unchanged && row.last_seen - last.at <= REFRESH {
                return false;
            }
        }
        if written.len() >= MAX_CONTACTS {
            written.clear();
        }
        let state = Written {
            attributes: row.attributes.clone(),
            verified: row.verified,
            platform: row.platform.clone(),
            at: row.last_seen,
        };
        written.insert(key, state);
        true
    }

    /// Forgets rows whose write was refused, so the next attempt writes them again.
    pub(super) fn forget(&self, rows: &[ContactRow]) {
        let mut written = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for row in rows {
            written.remove(&(row.workspace_id, row.user_id.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, at: DateTime<Utc>) -> ContactRow {
        let mut attributes = serde_json::Map::new();
        attributes.insert("name".into(), name.into());
        ContactRow {
            workspace_id: Uuid::nil(),
            user_id: "u1".into(),
            attributes,
            verified: true,
            platform: "web".into(),
            first_seen: at,
            last_seen: at,
        }
    }

    #[test]
    fn unchanged_contact_is_written_once_per_refresh() {
        let writes = ContactWrites::default();
        let t0 = DateTime::<Utc>::UNIX_EPOCH;
        assert!(writes.due(&row("Ada", t0)));
        assert!(!writes.due(&row("Ada", t0 + Duration::seconds(30))));
        assert!(writes.due(&row("Ada", t0 + Duration::seconds(61))));
    }

    #[test]
    fn any_change_is_written_at_once() {
        let writes = ContactWrites::default();
        let t0 = DateTime::<Utc>::UNIX_EPOCH;
        assert!(writes.due(&row("Ada", t0)));
        assert!(writes.due(&row("Grace", t0 + Duration::seconds(1))));
        let mut unverified = row("Grace", t0 + Duration::seconds(2));
        unverified.verified = false;
        assert!(writes.due(&unverified));
        let mut android = row("Grace", t0 + Duration::seconds(3));
        android.verified = false;
        android.platform = "android".into();
        assert!(writes.due(&android));
    }
}
