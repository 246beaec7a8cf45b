-- Each origin hour also keeps the first and last time the origin was seen in it, so a search for
-- an origin seen once in a busy hour reads that moment, not the hour's every row. The merger
-- widens the bounds as it merges; rows merged before them have none, which readers take as the
-- whole hour (so this needs no pass over the log).
ALTER TABLE log_origin_hour_merged ADD COLUMN first_at timestamptz, ADD COLUMN last_at timestamptz;

CREATE OR REPLACE VIEW log_origin_hour AS
SELECT workspace_id, origin, bucket, first_at, last_at
  FROM (SELECT workspace_id, origin, bucket, coalesce(first_at, bucket) AS first_at,
               coalesce(last_at, bucket + interval '1 hour' - interval '1 microsecond') AS last_at
          FROM log_origin_hour_merged
        UNION ALL
        SELECT t.workspace_id, t.origin, date_trunc('hour', t.at), t.at, t.at
          FROM log_rollup_pending p
         CROSS JOIN LATERAL unnest(p.workspace_ids, p.ats, p.origins) AS t(workspace_id, at, origin)
         WHERE t.origin IS NOT NULL) o
 WHERE current_user <> 'countersign_tenant' OR workspace_id = countersign_workspace();
