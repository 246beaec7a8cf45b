-- The log rollups are counted off the commit path. A log batch used to upsert one minute and
-- one hour row per group it touched: about as many upserts as log rows, each an index probe and
-- a new version of a hot row (with its 512-byte user sketch) in the statement every identify
-- waits for. Now a batch appends one row to `log_rollup_pending` (the columns the rollups group
-- by, one array element per log row, in the same statement as the rows: counted exactly once,
-- spool replays included), and a merger moves pending rows into the rollup tables in the
-- background (`service/src/ingest/merge.rs`).
--
-- The views keep the rollups' names and sum merged and pending counts alike, so a reader sees a
-- committed row at once, whether or not it has been merged.

ALTER TABLE log_rollup_minute RENAME TO log_rollup_minute_merged;
ALTER TABLE log_rollup_hour RENAME TO log_rollup_hour_merged;

-- One row per committed batch: element i of every array describes the batch's i-th log row.
-- It spans workspaces, so it has no row-level policy and the tenant role cannot read it: the
-- views below show a tenant only its own part. Rows of up to ~8 kB stay in the page uncompressed.
CREATE TABLE log_rollup_pending (
    workspace_ids uuid[] NOT NULL,
    ats           timestamptz[] NOT NULL,
    platforms     text[] NOT NULL,
    outcomes      text[] NOT NULL,
    reasons       text[] NOT NULL,
    kids          text[] NOT NULL,
    user_ids      text[] NOT NULL
) WITH (toast_tuple_target = 8160);

-- Pending rows, one per log row, in the rollups' terms ('' for none).
CREATE VIEW log_rollup_pending_rows AS
SELECT t.workspace_id, t.at, coalesce(t.platform, '') AS platform, t.outcome, coalesce(t.reason, '') AS reason,
       coalesce(t.kid, '') AS kid, t.user_id
  FROM log_rollup_pending p,
       unnest(p.workspace_ids, p.ats, p.platforms, p.outcomes, p.reasons, p.kids, p.user_ids)
           AS t(workspace_id, at, platform, outcome, reason, kid, user_id);

-- The views run with their owner's rights, which bypass row-level security, so each applies the
-- tenant policy itself: the tenant role sees its workspace's rows; every other role (the owner's
-- cross-workspace jobs) sees all.
CREATE VIEW log_rollup_minute AS
SELECT workspace_id, bucket, platform, outcome, reason, kid, attempts
  FROM (SELECT workspace_id, bucket, platform, outcome, reason, kid, attempts FROM log_rollup_minute_merged
        UNION ALL
        SELECT workspace_id, date_trunc('minute', at), platform, outcome, reason, kid, 1 FROM log_rollup_pending_rows) r
 WHERE current_user <> 'countersign_tenant' OR workspace_id = countersign_workspace();

CREATE VIEW log_rollup_hour AS
SELECT workspace_id, bucket, platform, outcome, reason, kid, attempts, users, first_at, last_at
  FROM (SELECT workspace_id, bucket, platform, outcome, reason, kid, attempts, users, first_at, last_at
          FROM log_rollup_hour_merged
        UNION ALL
        SELECT workspace_id, date_trunc('hour', at), platform, outcome, reason, kid, 1, countersign_user_bit(user_id),
               at, at
          FROM log_rollup_pending_rows) r
 WHERE current_user <> 'countersign_tenant' OR workspace_id = countersign_workspace();

GRANT SELECT ON log_rollup_minute, log_rollup_hour TO countersign_tenant;
