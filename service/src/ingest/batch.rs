//! One group-commit batch as a single SQL statement: log rows, contact upserts and key
//! `last_used_at`, in one round trip and one transaction (a statement commits atomically).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
#[cfg(test)]
use sqlx::PgPool;
use uuid::Uuid;

use super::rollup::AttributeRollups;
use super::Attempt;

/// The merged contact write of a batch: later attempts' attributes override earlier ones.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct ContactRow {
    pub workspace_id: Uuid,
    pub user_id: String,
    /// The accepted attributes as a JSON object (merged into the stored ones).
    pub attributes: serde_json::Map<String, serde_json::Value>,
    pub verified: bool,
    pub platform: String,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}

/// A batch ready to write: the attempts, the contact rows to upsert (sorted by key, so
/// concurrent batches lock rows in one order), and the keys whose `last_used_at` moves.
pub(super) struct Batch<'a> {
    attempts: &'a [Attempt],
    contacts: Vec<ContactRow>,
    used_keys: Vec<(String, DateTime<Utc>)>,
}

impl<'a> Batch<'a> {
    /// Merges the attempts' contact updates per contact and keeps those `write_contact` wants.
    pub(super) fn new(
        attempts: &'a [Attempt],
        mut write_contact: impl FnMut(&ContactRow) -> bool,
        used_keys: Vec<(String, DateTime<Utc>)>,
    ) -> Batch<'a> {
        let mut merged: BTreeMap<(Uuid, &str), ContactRow> = BTreeMap::new();
        for attempt in attempts {
            let Some(update) = &attempt.contact else { continue };
            let at = attempt.log.at;
            merged
                .entry((attempt.workspace_id, update.user_id.as_str()))
                .and_modify(|row| {
                    row.attributes.extend(update.attributes.clone());
                    row.verified = update.verified;
                    row.platform.clone_from(&update.platform);
                    row.first_seen = row.first_seen.min(at);
                    row.last_seen = row.last_seen.max(at);
                })
                .or_insert_with(|| ContactRow {
                    workspace_id: attempt.workspace_id,
                    user_id: update.user_id.clone(),
                    attributes: update.attributes.clone(),
                    verified: update.verified,
                    platform: update.platform.clone(),
                    first_seen: at,
                    last_seen: at,
                });
        }
        let contacts = merged.into_values().filter(|row| write_contact(row)).collect();
        Batch { attempts, contacts, used_keys }
    }

    /// Contact rows this batch upserts.
    pub(super) fn contacts(&self) -> &[ContactRow] {
        &self.contacts
    }
}

/// What a batch expects of its log rows' ids.
#[derive(Debug, Clone, Copy)]
pub(super) enum Ids {
    /// A live batch: every id was just made, so the insert skips the per-row conflict check
    /// (an index probe per row, about an eighth of Postgres' time per batch).
    New,
    /// A spool replay: a row may have committed before an ambiguous failure; it is skipped.
    MaybeStored,
}

/// Writes the batch in one statement. A live batch that fails is spooled and replayed with
/// [`Ids::MaybeStored`], so a commit that did happen is never duplicated.
pub(super) async fn write_batch(
    pool: &crate::db::Db,
    batch: &Batch<'_>,
    ids: Ids,
    shard: i16,
) -> Result<(), sqlx::Error> {
    static NEW: LazyLock<String> = LazyLock::new(|| [LOG_SQL, LIVE_ROLLUPS_SQL, CONTACTS_SQL].concat());
    static MAYBE_STORED: LazyLock<String> = LazyLock::new(|| {
        let returning = "
            ON CONFLICT DO NOTHING
            RETURNING id, workspace_id, at, outcome, reason, platform, kid, user_id, origin
         ";
        [LOG_SQL, returning, REPLAY_ROLLUPS_SQL, CONTACTS_SQL].concat()
    });
    if batch.attempts.is_empty() {
        return Ok(());
    }
    let logs: Vec<_> = batch.attempts.iter().map(|a| &a.log).collect();
    let text = |f: fn(&countersign_proto::LogEntry) -> &Option<String>| {
        logs.iter().map(|l| f(l).as_deref()).collect::<Vec<_>>()
    };
    let json = |f: fn(&countersign_proto::LogEntry) -> &serde_json::Value| {
        logs.iter().map(|l| f(l).to_string()).collect::<Vec<_>>()
    };
    let contacts = &batch.contacts;
    let sql: &'static str = match ids {
        Ids::New => &NEW,
        Ids::MaybeStored => &MAYBE_STORED,
    };
    let query = crate::db::query(sql)
        .bind(logs.iter().map(|l| l.id).collect::<Vec<_>>())
        .bind(batch.attempts.iter().map(|a| a.workspace_id).collect::<Vec<_>>())
        .bind(logs.iter().map(|l| l.at).collect::<Vec<_>>())
        .bind(logs.iter().map(|l| l.outcome.as_str()).collect::<Vec<_>>())
        .bind(text(|l| &l.reason))
        .bind(logs.iter().map(|l| l.explanation.as_str()).collect::<Vec<_>>())
        .bind(text(|l| &l.platform))
        .bind(text(|l| &l.kid))
        .bind(text(|l| &l.alg))
        .bind(text(|l| &l.user_id))
        .bind(json(|l| &l.attributes_accepted))
        .bind(json(|l| &l.attributes_rejected))
        .bind(json(|l| &l.details))
        .bind(text(|l| &l.origin))
        .bind(text(|l| &l.ip))
        .bind(text(|l| &l.user_agent))
        .bind(logs.iter().map(|l| l.latency_us).collect::<Vec<_>>())
        .bind(contacts.iter().map(|c| c.workspace_id).collect::<Vec<_>>())
        .bind(contacts.iter().map(|c| c.user_id.as_str()).collect::<Vec<_>>())
        .bind(
            contacts
                .iter()
                .map(|c| serde_json::to_string(&c.attributes).unwrap_or_else(|_| "{}".to_owned()))
                .collect::<Vec<_>>(),
        )
        .bind(contacts.iter().map(|c| c.verified).collect::<Vec<_>>())
        .bind(contacts.iter().map(|c| c.first_seen).collect::<Vec<_>>())
        .bind(contacts.iter().map(|c| c.last_seen).collect::<Vec<_>>())
        .bind(contacts.iter().map(|c| c.platform.as_str()).collect::<Vec<_>>())
        .bind(batch.used_keys.iter().map(|(kid, _)| kid.as_str()).collect::<Vec<_>>())
        .bind(batch.used_keys.iter().map(|(_, at)| *at).collect::<Vec<_>>())
        .bind(shard);
    let query = match ids {
        Ids::New => {
            let attributes = AttributeRollups::of(batch.attempts).columns();
            query
                .bind(attributes.workspace_ids)
                .bind(attributes.buckets)
                .bind(attributes.names)
                .bind(attributes.updates)
        }
        Ids::MaybeStored => {
            let unsigned = batch.attempts.iter().flat_map(|a| a.unsigned_attributes.iter().map(|n| (a.log.id, n)));
            let (ids, names): (Vec<Uuid>, Vec<&str>) = unsigned.map(|(id, name)| (id, name.as_str())).unzip();
            query.bind(ids).bind(names)
        }
    };
    query.execute(pool).await?;
    Ok(())
}

/// What became of one row of a batch that Postgres refused as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fate {
    /// Committed (alone or with its neighbours).
    Stored,
    /// Postgres refuses the row itself.
    Refused,
    /// The database became unreachable before the row was written.
    Unreachable,
}

/// Writes a refused batch again in halves, then halves of the halves, until every row is
/// committed or found to be refused alone: one bad row costs its neighbours a few statements,
/// never their place in the log. Every contact is written (a first try may have skipped some).
pub(super) async fn write_split(
    pool: &crate::db::Db,
    attempts: &[Attempt],
    used_keys: &[(String, DateTime<Utc>)],
    shard: i16,
) -> Vec<Fate> {
    let mut fates = vec![Fate::Stored; attempts.len()];
    let halves = |start: usize, end: usize| {
        let mid = start + (end - start) / 2;
        [(mid, end), (start, mid)]
    };
    let mut pending: Vec<(usize, usize)> =
        if attempts.len() > 1 { halves(0, attempts.len()).to_vec() } else { vec![(0, attempts.len())] };
    while let Some((start, end)) = pending.pop() {
        let Some(part) = attempts.get(start..end).filter(|p| !p.is_empty()) else { continue };
        let batch = Batch::new(part, |_| true, used_keys.to_vec());
        match write_batch(pool, &batch, Ids::MaybeStored, shard).await {
            Ok(()) => {}
            // Ranges are taken left to right: every row from `start` on is still unwritten.
            Err(err) if super::is_outage(&err) => {
                fates[start..].fill(Fate::Unreachable);
                break;
            }
            Err(_) if part.len() == 1 => fates[start] = Fate::Refused,
            Err(_) => pending.extend(halves(start, end)),
        }
    }
    fates
}

/// The log rows of a batch; a replay adds `ON CONFLICT DO NOTHING` and `RETURNING` (below).
const LOG_SQL: &str = "WITH log AS (
            INSERT INTO verification_log (id, workspace_id, at, outcome, reason, explanation, platform, kid, alg, user_id,
                   attributes_accepted, attributes_rejected, details, origin, ip, user_agent, latency_us)
            SELECT id, ws, at, outcome, reason, explanation, platform, kid, alg, user_id,
                   accepted::jsonb, rejected::jsonb, details::jsonb, origin, ip, user_agent, latency_us
              FROM UNNEST($1::uuid[], $2::uuid[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::text[],
                          $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[],
                          $15::text[], $16::text[], $17::int4[])
                   AS t(id, ws, at, outcome, reason, explanation, platform, kid, alg, user_id, accepted, rejected,
                        details, origin, ip, user_agent, latency_us)";

/// A live batch's pending rollup row: the columns the rollups group by, straight from the log
/// rows' arrays ([`super::merge`] counts them off the commit path); then the unsigned
/// attribute updates, grouped by the writer ([`AttributeRollups`]).
const LIVE_ROLLUPS_SQL: &str = "), pending AS (
            INSERT INTO log_rollup_pending (workspace_ids, ats, platforms, outcomes, reasons, kids, user_ids, origins)
            VALUES ($2, $3, $7, $4, $5, $8, $10, $14)
         ), attribute AS (
            INSERT INTO attribute_rollup_hour AS r (workspace_id, bucket, name, shard, unsigned_updates)
            SELECT ws, bucket, name, $27, updates
              FROM UNNEST($28::uuid[], $29::timestamptz[], $30::text[], $31::int8[]) AS t(ws, bucket, name, updates)
            ON CONFLICT (workspace_id, name, bucket, shard)
               DO UPDATE SET unsigned_updates = r.unsigned_updates + EXCLUDED.unsigned_updates
         ";

/// A replay's pending rollup row and unsigned attribute updates, from the rows actually
/// inserted (one already stored is not counted again).
const REPLAY_ROLLUPS_SQL: &str = "), pending AS (
            INSERT INTO log_rollup_pending (workspace_ids, ats, platforms, outcomes, reasons, kids, user_ids, origins)
            SELECT array_agg(workspace_id), array_agg(at), array_agg(platform), array_agg(outcome),
                   array_agg(reason), array_agg(kid), array_agg(user_id), array_agg(origin)
              FROM log HAVING count(*) > 0
         ), attribute AS (
            -- In key order, so that two writers lock shared rows in the same order.
            INSERT INTO attribute_rollup_hour AS r (workspace_id, bucket, name, shard, unsigned_updates)
            SELECT log.workspace_id, date_trunc('hour', log.at), u.name, $27, count(*)
              FROM log JOIN UNNEST($28::uuid[], $29::text[]) AS u(id, name) ON u.id = log.id
             GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
            ON CONFLICT (workspace_id, name, bucket, shard)
               DO UPDATE SET unsigned_updates = r.unsigned_updates + EXCLUDED.unsigned_updates
         ";

/// Contacts and keys' `last_used_at`, the same for both kinds of batch.
const CONTACTS_SQL: &str = "), contact AS (
            INSERT INTO contacts (workspace_id, user_id, attributes, verified, first_seen_at, last_seen_at, last_platform)
            SELECT ws, user_id, attributes::jsonb, verified, first_seen, last_seen, platform
              FROM UNNEST($18::uuid[], $19::text[], $20::text[], $21::bool[], $22::timestamptz[], $23::timestamptz[],
                          $24::text[]) AS t(ws, user_id, attributes, verified, first_seen, last_seen, platform)
            -- Batches may commit out of order (two in flight, a spool replay): the newer
            -- sighting wins each attribute, the verified flag and the platform.
            ON CONFLICT (workspace_id, user_id) DO UPDATE
               SET attributes = CASE WHEN EXCLUDED.last_seen_at >= contacts.last_seen_at
                                     THEN contacts.attributes || EXCLUDED.attributes
                                     ELSE EXCLUDED.attributes || contacts.attributes END,
                   verified = CASE WHEN EXCLUDED.last_seen_at >= contacts.last_seen_at
                                   THEN EXCLUDED.verified ELSE contacts.verified END,
                   last_platform = CASE WHEN EXCLUDED.last_seen_at >= contacts.last_seen_at
                                        THEN EXCLUDED.last_platform ELSE contacts.last_platform END,
                   first_seen_at = least(contacts.first_seen_at, EXCLUDED.first_seen_at),
                   last_seen_at = greatest(contacts.last_seen_at, EXCLUDED.last_seen_at)
         ), key_use AS (
            UPDATE workspace_keys k SET last_used_at = u.at
              FROM UNNEST($25::text[], $26::timestamptz[]) AS u(kid, at)
             WHERE k.kid = u.kid AND (k.last_used_at IS NULL OR k.last_used_at < u.at)
         )
         SELECT 1";

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn attempt(workspace_id: Uuid) -> Attempt {
        crate::ingest::test_attempt(workspace_id, "u1")
    }

    async fn log_rows(pool: &PgPool) -> i64 {
        crate::db::query_scalar("SELECT count(*) FROM verification_log").fetch_one(pool).await.unwrap()
    }

    /// A live batch never expects a stored id (a duplicate fails, and is spooled); a replay of
    /// rows that did commit skips them instead of duplicating them.
    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn replay_skips_rows_already_committed(pool: PgPool) {
        let workspace_id = crate::ingest::test_workspace(&pool, "app_batch_test").await;
        let mut attempts = vec![attempt(workspace_id), attempt(workspace_id)];
        for attempt in &mut attempts {
            attempt.unsigned_attributes = vec!["plan".into()];
        }
        let batch = Batch::new(&attempts, |_| true, Vec::new());
        write_batch(&pool.clone().into(), &batch, Ids::New, 0).await.unwrap();
        assert_eq!(log_rows(&pool).await, 2);

        assert!(
            write_batch(&pool.clone().into(), &batch, Ids::New, 0).await.is_err(),
            "a live batch must not pass over a stored id"
        );
        let mut replay = attempts.clone();
        replay.push(Attempt { unsigned_attributes: vec!["plan".into(), "email".into()], ..attempt(workspace_id) });
        write_batch(&pool.clone().into(), &Batch::new(&replay, |_| true, Vec::new()), Ids::MaybeStored, 0)
            .await
            .unwrap();
        assert_eq!(log_rows(&pool).await, 3, "the replay adds only the row that was missing");
        assert_eq!(crate::ingest::rolled_up(&pool).await, (3, 3), "each committed row is counted once by each rollup");
        let (sketched, logged): (String, String) = crate::db::query_as(
            "SELECT (SELECT bit_or(users)::text FROM log_rollup_hour),
                    (SELECT bit_or(countersign_user_bit(user_id))::text FROM verification_log)",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(sketched, logged, "live and replayed batches sketch users alike");
        let unsigned: Vec<(String, i64)> = crate::db::query_as(
            "SELECT name, sum(unsigned_updates)::bigint FROM attribute_rollup_hour GROUP BY name ORDER BY name",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        assert_eq!(unsigned, [("email".to_owned(), 1), ("plan".to_owned(), 3)], "unsigned updates counted once");
    }

    /// A batch Postgres refuses because of one row is split until only that row is left out:
    /// its neighbours are committed, and it alone is reported refused.
    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn split_isolates_the_refused_row(pool: PgPool) {
        let workspace_id = crate::ingest::test_workspace(&pool, "app_split_test").await;
        let mut attempts: Vec<Attempt> = (0..7).map(|_| attempt(workspace_id)).collect();
        // Made without the storable boundary: Postgres refuses NUL in text.
        attempts[4].log.explanation = "bad\u{0}row".into();
        let whole = Batch::new(&attempts, |_| true, Vec::new());
        assert!(write_batch(&pool.clone().into(), &whole, Ids::New, 0).await.is_err());
        let fates = write_split(&pool.clone().into(), &attempts, &[], 0).await;
        let expected: Vec<Fate> = (0..7).map(|i| if i == 4 { Fate::Refused } else { Fate::Stored }).collect();
        assert_eq!(fates, expected);
        assert_eq!(log_rows(&pool).await, 6);
        assert_eq!(crate::ingest::rolled_up(&pool).await, (6, 6), "a refused statement counts nothing");
    }
}
