-- Rollups of the verification log, maintained by the log writer in the same statement as the
-- rows they count (so a committed row is counted exactly once, spool replays included). Every
-- count the dashboard and the stats API show comes from here, never from count(*) over the log.
-- Empty strings stand for "none" (no platform, reason or kid): a primary key cannot hold NULL.
-- `shard` tells apart the writers that may be committing at once (each instance's batches in
-- flight, its spool replay): they never wait on each other's row locks, so two batches still
-- share one WAL flush. Readers sum over shards.

-- Per minute, kept about 48 hours: charts of the last day and spike detection.
CREATE TABLE log_rollup_minute (
    workspace_id uuid NOT NULL,
    bucket       timestamptz NOT NULL,
    platform     text NOT NULL,
    outcome      text NOT NULL,
    reason       text NOT NULL,
    kid          text NOT NULL,
    shard        smallint NOT NULL DEFAULT 0,
    attempts     bigint NOT NULL,
    PRIMARY KEY (workspace_id, bucket, platform, outcome, reason, kid, shard)
);

-- Per hour, kept as long as the log: every other range. `users` is a linear-counting sketch of
-- the distinct user ids (one bit of 4096 per user id hash): merged with `|`, estimated from
-- the share of zero bits (`service/src/stats.rs`).
CREATE TABLE log_rollup_hour (
    workspace_id uuid NOT NULL,
    bucket       timestamptz NOT NULL,
    platform     text NOT NULL,
    outcome      text NOT NULL,
    reason       text NOT NULL,
    kid          text NOT NULL,
    shard        smallint NOT NULL DEFAULT 0,
    attempts     bigint NOT NULL,
    users        bit(4096),
    first_at     timestamptz NOT NULL,
    last_at      timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, bucket, platform, outcome, reason, kid, shard)
);

-- The sketch of one user id: NULL for none, so that bit_or skips it.
CREATE FUNCTION countersign_user_bit(user_id text) RETURNS bit(4096)
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT CASE WHEN user_id IS NULL THEN NULL
                      ELSE set_bit(repeat('0', 4096)::bit(4096), hashtext(user_id) & 4095, 1) END $$;

INSERT INTO log_rollup_minute (workspace_id, bucket, platform, outcome, reason, kid, attempts)
SELECT workspace_id, date_trunc('minute', at), coalesce(platform, ''), outcome, coalesce(reason, ''), coalesce(kid, ''), count(*)
  FROM verification_log
 WHERE at >= date_trunc('minute', now()) - interval '48 hours'
 GROUP BY 1, 2, 3, 4, 5, 6;

INSERT INTO log_rollup_hour (workspace_id, bucket, platform, outcome, reason, kid, attempts, users, first_at, last_at)
SELECT workspace_id, date_trunc('hour', at), coalesce(platform, ''), outcome, coalesce(reason, ''), coalesce(kid, ''), count(*),
       bit_or(countersign_user_bit(user_id)), min(at), max(at)
  FROM verification_log
 GROUP BY 1, 2, 3, 4, 5, 6;

GRANT SELECT ON log_rollup_minute, log_rollup_hour TO countersign_tenant;
ALTER TABLE log_rollup_minute ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON log_rollup_minute TO countersign_tenant
    USING (workspace_id = countersign_workspace());
ALTER TABLE log_rollup_hour ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON log_rollup_hour TO countersign_tenant
    USING (workspace_id = countersign_workspace());
