-- The hours in which each origin was seen, per workspace: what lets the log explorer find an
-- origin's rows (or learn there are none) without reading every row of the range. Origins are
-- neither indexed on the log (each index there is paid for by every identify) nor a rollup
-- dimension (whatever a browser sends would multiply the count rows every overview reads).
-- A row here is one (workspace, origin, hour): at most one per log row, so no more than the log
-- itself holds, and trimmed with it.
--
-- Kept like the rollups: each log batch's pending row carries its origins (the same array its
-- log rows are inserted from), the merger moves them here, and the view below adds the pending
-- ones, so a committed row's origin is findable at once.

ALTER TABLE log_rollup_pending ADD COLUMN origins text[];

CREATE TABLE log_origin_hour_merged (
    workspace_id uuid NOT NULL,
    origin       text NOT NULL,
    bucket       timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, origin, bucket)
);

-- The tenant role reads it only through the view below; the policy guards it all the same.
ALTER TABLE log_origin_hour_merged ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON log_origin_hour_merged TO countersign_tenant
    USING (workspace_id = countersign_workspace());

INSERT INTO log_origin_hour_merged (workspace_id, origin, bucket)
SELECT DISTINCT workspace_id, origin, date_trunc('hour', at) FROM verification_log WHERE origin IS NOT NULL;

-- As the rollup views: the owner's rights bypass row-level security, so the view applies the
-- tenant policy itself.
CREATE VIEW log_origin_hour AS
SELECT workspace_id, origin, bucket
  FROM (SELECT workspace_id, origin, bucket FROM log_origin_hour_merged
        UNION ALL
        SELECT t.workspace_id, t.origin, date_trunc('hour', t.at)
          FROM log_rollup_pending p
         CROSS JOIN LATERAL unnest(p.workspace_ids, p.ats, p.origins) AS t(workspace_id, at, origin)
         WHERE t.origin IS NOT NULL) o
 WHERE current_user <> 'countersign_tenant' OR workspace_id = countersign_workspace();

GRANT SELECT ON log_origin_hour TO countersign_tenant;
