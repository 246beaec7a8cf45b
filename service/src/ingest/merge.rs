//! Counts committed log rows into the minute and hour rollups, off the commit path. Each log
//! batch appends one `log_rollup_pending` row in its own statement
//! (`migrations/*_rollups_off_the_commit_path.sql`); this merger moves pending rows into the
//! rollup tables a few times a second, so the statement every identify waits for no longer
//! upserts hot rollup rows. Readers sum merged and pending rows through the rollup views, so a
//! count never waits for a merge.

use std::sync::Arc;
use std::time::Duration;

use super::Breaker;

/// How often pending rows are merged. Shorter keeps the pending rows every rollup read also
/// scans few; longer merges more rows per statement.
const MERGE_INTERVAL: Duration = Duration::from_millis(250);
/// Most pending rows (log batches) merged per statement, so a backlog left by a long outage is
/// merged in bounded steps.
const MAX_PENDING_PER_MERGE: i64 = 1000;

/// Merges pending rows every [`MERGE_INTERVAL`] while the database is reachable. `shard` is this
/// instance's own rollup shard, so two instances merging at once never wait on each other's
/// row locks.
pub(super) async fn merge_loop(pool: crate::db::Db, breaker: Arc<Breaker>, shard: i16) {
    let mut tick = tokio::time::interval(MERGE_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Said once per run of failures, not four times a second through an outage.
    let mut failing = false;
    loop {
        tick.tick().await;
        if breaker.is_open() {
            continue;
        }
        match merge_pending(&pool, shard).await {
            Ok(_) if failing => {
                failing = false;
                tracing::info!("rollup merge works again");
            }
            Ok(_) => {}
            Err(err) if !failing => {
                failing = true;
                tracing::warn!(error = %err, "rollup merge failed; pending rows stay counted and are retried");
            }
            Err(_) => {}
        }
    }
}

/// Merges every pending row, in steps of [`MAX_PENDING_PER_MERGE`]; returns the log rows counted.
/// Each step deletes the pending rows it counts in the same statement, so a row is counted once
/// even when several instances merge at once (a row another merger took is skipped).
pub(crate) async fn merge_pending(pool: &crate::db::Db, shard: i16) -> Result<i64, sqlx::Error> {
    let mut merged = 0;
    loop {
        let (batches, rows): (i64, i64) =
            crate::db::query_as(MERGE_SQL).bind(shard).bind(MAX_PENDING_PER_MERGE).fetch_one(pool).await?;
        merged += rows;
        if batches < MAX_PENDING_PER_MERGE {
            return Ok(merged);
        }
    }
}

/// One merge step: take pending rows, count them per minute and per hour group, add the counts
/// to this shard's rollup rows (in key order, so concurrent writers lock rows in one order), and
/// note the hours each origin was seen in, with the first and last time in each (a row merged
/// without them stands for the whole hour and keeps standing for it). A kid that names no key of the workspace is counted
/// as none (`countersign_rollup_kid`), so made-up kids cannot grow the rollups.
const MERGE_SQL: &str = "WITH pending AS (
            DELETE FROM log_rollup_pending
             WHERE ctid IN (SELECT ctid FROM log_rollup_pending LIMIT $2)
            RETURNING *
         ), presented AS (
            -- Grouped per minute first, with the kid as presented: the kid is then judged once
            -- per group, not once per row.
            SELECT t.workspace_id, date_trunc('minute', t.at) AS minute, coalesce(t.platform, '') AS platform,
                   t.outcome, coalesce(t.reason, '') AS reason, t.kid, count(*) AS attempts,
                   bit_or(countersign_user_bit(t.user_id)) AS users, min(t.at) AS first_at, max(t.at) AS last_at
              FROM pending p,
                   unnest(p.workspace_ids, p.ats, p.platforms, p.outcomes, p.reasons, p.kids, p.user_ids)
                       AS t(workspace_id, at, platform, outcome, reason, kid, user_id)
             GROUP BY 1, 2, 3, 4, 5, 6
         ), groups AS (
            SELECT workspace_id, minute, platform, outcome, reason, countersign_rollup_kid(workspace_id, kid) AS kid,
                   attempts, users, first_at, last_at
              FROM presented
         ), minute AS (
            INSERT INTO log_rollup_minute_merged AS r (workspace_id, bucket, platform, outcome, reason, kid, shard, attempts)
            SELECT workspace_id, minute, platform, outcome, reason, kid, $1, sum(attempts)
              FROM groups GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6
            ON CONFLICT (workspace_id, bucket, platform, outcome, reason, kid, shard)
               DO UPDATE SET attempts = r.attempts + EXCLUDED.attempts
         ), hour AS (
            INSERT INTO log_rollup_hour_merged AS r (workspace_id, bucket, platform, outcome, reason, kid, shard, attempts, users, first_at, last_at)
            SELECT workspace_id, date_trunc('hour', minute), platform, outcome, reason, kid, $1, sum(attempts),
                   bit_or(users), min(first_at), max(last_at)
              FROM groups GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6
            ON CONFLICT (workspace_id, bucket, platform, outcome, reason, kid, shard)
               DO UPDATE SET attempts = r.attempts + EXCLUDED.attempts,
                             users = CASE WHEN r.users IS NULL THEN EXCLUDED.users
                                          WHEN EXCLUDED.users IS NULL THEN r.users
                                          ELSE r.users | EXCLUDED.users END,
                             first_at = least(r.first_at, EXCLUDED.first_at),
                             last_at = greatest(r.last_at, EXCLUDED.last_at)
         ), origins AS (
            INSERT INTO log_origin_hour_merged AS o (workspace_id, origin, bucket, first_at, last_at)
            SELECT t.workspace_id, t.origin, date_trunc('hour', t.at), min(t.at), max(t.at)
              FROM pending p, unnest(p.workspace_ids, p.ats, p.origins) AS t(workspace_id, at, origin)
             WHERE t.origin IS NOT NULL
             GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
            ON CONFLICT (workspace_id, origin, bucket)
               DO UPDATE SET first_at = least(o.first_at, EXCLUDED.first_at),
                             last_at = greatest(o.last_at, EXCLUDED.last_at)
               WHERE o.first_at IS NOT NULL AND (EXCLUDED.first_at < o.first_at OR EXCLUDED.last_at > o.last_at)
         )
         SELECT (SELECT count(*) FROM pending), (SELECT coalesce(sum(attempts), 0)::bigint FROM presented)";

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use sqlx::PgPool;

    use chrono::DurationRound;

    use super::*;
    use crate::ingest::batch::{write_batch, Batch, Ids};

    /// What the rollup views show (attempts per minute and per hour, the hour rows' merged user
    /// sketch), and how many rows are still pending.
    async fn counts(pool: &PgPool) -> (i64, i64, String, i64) {
        let (minutes, hours) = crate::ingest::rolled_up(pool).await;
        let (users, pending): (String, i64) = crate::db::query_as(
            "SELECT (SELECT coalesce(bit_or(users)::text, '') FROM log_rollup_hour),
                    (SELECT count(*) FROM log_rollup_pending)",
        )
        .fetch_one(pool)
        .await
        .unwrap();
        (minutes, hours, users, pending)
    }

    /// Counts read the same before and after a merge, which empties the pending rows; a second
    /// merger finds nothing left to count.
    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn merge_moves_pending_counts_without_changing_them(pool: PgPool) {
        let workspace_id = crate::ingest::test_workspace(&pool, "app_merge").await;
        let db: crate::db::Db = pool.clone().into();
        for users in [["a", "b", "a"], ["c", "a", "b"]] {
            let attempts: Vec<_> = users.iter().map(|u| crate::ingest::test_attempt(workspace_id, u)).collect();
            write_batch(&db, &Batch::new(&attempts, |_| true, Vec::new()), Ids::New, 0).await.unwrap();
        }
        let before = counts(&pool).await;
        assert_eq!((before.0, before.1, before.3), (6, 6, 2), "two pending batches, counted by the views");

        assert_eq!(merge_pending(&db, 7).await.unwrap(), 6);
        let after = counts(&pool).await;
        assert_eq!((after.0, after.1, after.2.as_str(), after.3), (6, 6, before.2.as_str(), 0));
        assert_eq!(after.2.matches('1').count(), 3, "three distinct users sketched");
        assert_eq!(merge_pending(&db, 8).await.unwrap(), 0, "nothing is counted twice");
    }

    /// Kids are counted only when they name a key of the workspace: a flood of made-up kids adds
    /// no rollup rows (their attempts are still counted, under no kid), before and after a merge.
    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn made_up_kids_do_not_grow_the_rollups(pool: PgPool) {
        let workspace_id = crate::ingest::test_workspace(&pool, "app_kids").await;
        crate::db::query(
            "INSERT INTO workspace_keys (workspace_id, kid, sealed, fingerprint, state, created_at)
             VALUES ($1, 'k_real', '\\x00', 'f', 'primary', now())",
        )
        .bind(workspace_id)
        .execute(&pool)
        .await
        .unwrap();
        let db: crate::db::Db = pool.clone().into();
        let at = chrono::Utc::now();
        let attempts: Vec<_> = (0..200)
            .map(|i| {
                let mut attempt = crate::ingest::test_attempt(workspace_id, "u");
                attempt.log.at = at;
                attempt.log.kid = Some(if i % 4 == 0 { "k_real".to_owned() } else { format!("made-up-{i}") });
                attempt
            })
            .collect();
        write_batch(&db, &Batch::new(&attempts, |_| true, Vec::new()), Ids::New, 0).await.unwrap();
        let kids = |pool: PgPool| async move {
            let rows: Vec<(String, i64)> =
                crate::db::query_as("SELECT kid, sum(attempts)::bigint FROM log_rollup_hour GROUP BY kid ORDER BY kid")
                    .fetch_all(&pool)
                    .await
                    .unwrap();
            rows
        };
        let expected = [(String::new(), 150), ("k_real".to_owned(), 50)];
        assert_eq!(kids(pool.clone()).await, expected, "pending rows, as the views show them");
        merge_pending(&db, 0).await.unwrap();
        assert_eq!(kids(pool.clone()).await, expected, "merged");
        let merged: i64 =
            crate::db::query_scalar("SELECT count(*) FROM log_rollup_minute_merged").fetch_one(&pool).await.unwrap();
        assert_eq!(merged, 2, "one minute row per kid that exists (and one for none), not one per made-up kid");
    }

    /// Each origin is noted once per hour it was seen in: pending at once, merged without
    /// duplicates (a second batch of the same hour adds nothing), rows without one not at all.
    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn origins_are_noted_per_hour(pool: PgPool) {
        let workspace_id = crate::ingest::test_workspace(&pool, "app_origins").await;
        let db: crate::db::Db = pool.clone().into();
        let hour = chrono::Utc::now().duration_trunc(chrono::Duration::hours(1)).unwrap();
        for origins in
            [[Some("https://a.example"), Some("https://b.example"), None], [Some("https://a.example"), None, None]]
        {
            let attempts: Vec<_> = origins
                .iter()
                .enumerate()
                .map(|(i, origin)| {
                    let mut attempt = crate::ingest::test_attempt(workspace_id, "u");
                    attempt.log.at = hour + chrono::Duration::minutes(i as i64 * 70);
                    attempt.log.origin = origin.map(str::to_owned);
                    attempt
                })
                .collect();
            write_batch(&db, &Batch::new(&attempts, |_| true, Vec::new()), Ids::New, 0).await.unwrap();
        }
        let noted = |pool: PgPool| async move {
            let rows: Vec<(String, chrono::DateTime<chrono::Utc>)> =
                crate::db::query_as("SELECT DISTINCT origin, bucket FROM log_origin_hour ORDER BY 1, 2")
                    .fetch_all(&pool)
                    .await
                    .unwrap();
            rows
        };
        let expected = vec![
            ("https://a.example".to_owned(), hour),
            ("https://b.example".to_owned(), hour + chrono::Duration::hours(1)),
        ];
        assert_eq!(noted(pool.clone()).await, expected, "pending");
        merge_pending(&db, 0).await.unwrap();
        assert_eq!(noted(pool.clone()).await, expected, "merged");
        let merged: i64 =
            crate::db::query_scalar("SELECT count(*) FROM log_origin_hour_merged").fetch_one(&pool).await.unwrap();
        assert_eq!(merged, 2, "one row per origin and hour");
    }

    /// Each origin hour keeps the first and last time the origin was seen in it, pending and
    /// merged, widened by later batches; a row merged without them stays the whole hour.
    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn origin_hours_keep_their_first_and_last_time(pool: PgPool) {
        use chrono::Duration;
        let workspace_id = crate::ingest::test_workspace(&pool, "app_bounds").await;
        let db: crate::db::Db = pool.clone().into();
        let hour = chrono::Utc::now().duration_trunc(Duration::hours(1)).unwrap();
        crate::db::query("INSERT INTO log_origin_hour_merged (workspace_id, origin, bucket) VALUES ($1, $2, $3)")
            .bind(workspace_id)
            .bind("https://old.example")
            .bind(hour)
            .execute(&pool)
            .await
            .unwrap();
        let write = |origin: &'static str, minutes: &'static [i64]| {
            let db = db.clone();
            async move {
                let attempts: Vec<_> = minutes
                    .iter()
                    .map(|m| {
                        let mut attempt = crate::ingest::test_attempt(workspace_id, "u");
                        attempt.log.at = hour + Duration::minutes(*m);
                        attempt.log.origin = Some(origin.to_owned());
                        attempt
                    })
                    .collect();
                write_batch(&db, &Batch::new(&attempts, |_| true, Vec::new()), Ids::New, 0).await.unwrap();
            }
        };
        let bounds = || async {
            let rows: Vec<(String, chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)> =
                crate::db::query_as(
                    "SELECT origin, min(first_at), max(last_at) FROM log_origin_hour GROUP BY origin ORDER BY origin",
                )
                .fetch_all(&pool)
                .await
                .unwrap();
            rows
        };
        let whole = ("https://old.example".to_owned(), hour, hour + Duration::hours(1) - Duration::microseconds(1));
        write("https://a.example", &[20, 30]).await;
        let a =
            |from, to| ("https://a.example".to_owned(), hour + Duration::minutes(from), hour + Duration::minutes(to));
        assert_eq!(bounds().await, vec![a(20, 30), whole.clone()], "pending");
        merge_pending(&db, 0).await.unwrap();
        assert_eq!(bounds().await, vec![a(20, 30), whole.clone()], "merged");
        write("https://a.example", &[10]).await;
        write("https://old.example", &[40]).await;
        merge_pending(&db, 0).await.unwrap();
        assert_eq!(bounds().await, vec![a(10, 30), whole], "widened; the row without bounds stays the whole hour");
    }

    /// The tenant role sees its own workspace's pending and merged counts and origin hours, never
    /// another's.
    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn views_confine_the_tenant_role(pool: PgPool) {
        let mine = crate::ingest::test_workspace(&pool, "app_mine").await;
        let theirs = crate::ingest::test_workspace(&pool, "app_theirs").await;
        let db: crate::db::Db = pool.clone().into();
        let attempts =
            [crate::ingest::test_attempt(mine, "u"), crate::ingest::test_attempt(theirs, "v")].map(|mut a| {
                a.log.origin = Some("https://shared.example".to_owned());
                a
            });
        write_batch(&db, &Batch::new(&attempts, |_| true, Vec::new()), Ids::New, 0).await.unwrap();
        let seen = |pool: PgPool| async move {
            let mut tx = pool.begin().await.unwrap();
            crate::db::query(
                "SELECT set_config('role', 'countersign_tenant', true), set_config('countersign.workspace_id', $1, true)",
            )
            .bind(mine.to_string())
            .execute(&mut *tx)
            .await
            .unwrap();
            let seen: (i64, i64, i64) = crate::db::query_as(
                "SELECT (SELECT coalesce(sum(attempts), 0)::bigint FROM log_rollup_minute),
                        (SELECT coalesce(sum(attempts), 0)::bigint FROM log_rollup_hour),
                        (SELECT count(*) FROM log_origin_hour)",
            )
            .fetch_one(&mut *tx)
            .await
            .unwrap();
            // Each refusal in a savepoint of its own: a refused statement aborts its transaction.
            for (table, why) in [
                ("log_rollup_pending", "the tenant role cannot read pending rows of every workspace"),
                ("log_origin_hour_merged", "the tenant role reads origin hours only through the view"),
            ] {
                let mut savepoint = sqlx::Connection::begin(&mut *tx).await.unwrap();
                let read = crate::db::query(&format!("SELECT 1 FROM {table}")).execute(&mut *savepoint).await;
                assert!(read.is_err(), "{why}");
                savepoint.rollback().await.unwrap();
            }
            seen
        };
        assert_eq!(seen(pool.clone()).await, (1, 1, 1), "pending: only its own row");
        merge_pending(&db, 0).await.unwrap();
        assert_eq!(seen(pool.clone()).await, (1, 1, 1), "merged: only its own row");
    }
}
