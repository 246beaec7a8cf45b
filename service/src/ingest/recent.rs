//! What this instance wrote recently, so that repeated identical writes are skipped: a key's
//! `last_used_at` and an unchanged contact are refreshed at most once per [`REFRESH`].
//! A skipped write only delays a timestamp; any change to a contact is written at once.

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

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

/// The last contact state this instance wrote, per contact: only digests (keyed per process,
/// so a client cannot aim for collisions), so memory per contact is fixed whatever its
/// attributes hold.
#[derive(Default)]
pub(super) struct ContactWrites {
    written: Mutex<HashMap<u64, Written>>,
    hasher: RandomState,
}

struct Written {
    /// Digest of the attributes, verified flag and platform last written.
    state: u64,
    at: DateTime<Utc>,
}

impl ContactWrites {
    /// Whether `row` must be written: new to this instance, changed, or last written more
    /// than [`REFRESH`] ago. Remembers it when so.
    pub(super) fn due(&self, row: &ContactRow) -> bool {
        let key = self.contact_key(row);
        let state = self.state_digest(row);
        let mut written = self.written.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(last) = written.get(&key) {
            if last.state == state && row.last_seen - last.at <= REFRESH {
                return false;
            }
        }
        if written.len() >= MAX_CONTACTS {
            written.clear();
        }
        written.insert(key, Written { state, at: row.last_seen });
        true
    }

    /// Forgets rows whose write was refused, so the next attempt writes them again.
    pub(super) fn forget(&self, rows: &[ContactRow]) {
        let keys: Vec<u64> = rows.iter().map(|row| self.contact_key(row)).collect();
        let mut written = self.written.lock().unwrap_or_else(|e| e.into_inner());
        for key in keys {
            written.remove(&key);
        }
    }

    fn contact_key(&self, row: &ContactRow) -> u64 {
        self.hasher.hash_one((row.workspace_id, &row.user_id))
    }

    fn state_digest(&self, row: &ContactRow) -> u64 {
        // serde_json's maps iterate in key order, so equal attributes hash equally.
        self.hasher.hash_one((row.verified, &row.platform, &row.attributes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

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
