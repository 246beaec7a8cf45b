-- The rollups count a kid only when it names a key of the row's workspace. The log keeps the kid a
-- token's header carried, whatever it was; but anyone who knows a public app id can send tokens
-- with endless made-up kids, and as a rollup dimension each would add minute and hour rows without
-- bound (and slow every count). Such a kid is counted as none (''): the failure it caused
-- (`unknown_key`, `malformed_token`, ...) is still counted, and the log still shows the kid.
-- Rollup rows merged before this migration keep their kids; they age out with the retention.
-- The merger judges each presented kid once per group with this function; the view below, read
-- with every count, joins the keys instead (a function call per pending row costs several times
-- the row itself).
CREATE FUNCTION countersign_rollup_kid(workspace uuid, presented text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN EXISTS (SELECT 1 FROM workspace_keys k WHERE k.workspace_id = workspace AND k.kid = presented)
                THEN presented ELSE '' END
$$;

CREATE OR REPLACE VIEW log_rollup_pending_rows AS
SELECT t.workspace_id, t.at, coalesce(t.platform, '') AS platform, t.outcome, coalesce(t.reason, '') AS reason,
       coalesce(k.kid, '') AS kid, t.user_id
  FROM log_rollup_pending p
 CROSS JOIN LATERAL unnest(p.workspace_ids, p.ats, p.platforms, p.outcomes, p.reasons, p.kids, p.user_ids)
           AS t(workspace_id, at, platform, outcome, reason, kid, user_id)
  LEFT JOIN workspace_keys k ON k.workspace_id = t.workspace_id AND k.kid = t.kid;
