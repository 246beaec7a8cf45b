-- The log explorer's filters, each served by an index so that a search that matches few or no
-- rows reads a short index range instead of every row of the time range (bench/README.md has
-- the figures). Outcome and platform, the two closed lists, share one index for their
-- combination; user id and reason had theirs already. Partial where the column is often
-- empty: an equality filter implies NOT NULL, so the planner can use them.
--
-- On a large existing log, build these per partition with CREATE INDEX CONCURRENTLY and
-- ATTACH them before running this migration, to keep identify writing meanwhile.
CREATE INDEX IF NOT EXISTS verification_log_outcome_idx ON verification_log (workspace_id, outcome, at DESC);
CREATE INDEX IF NOT EXISTS verification_log_platform_outcome_idx ON verification_log (workspace_id, platform, outcome, at DESC);
CREATE INDEX IF NOT EXISTS verification_log_kid_idx ON verification_log (workspace_id, kid, at DESC) WHERE kid IS NOT NULL;
CREATE INDEX IF NOT EXISTS verification_log_origin_idx ON verification_log (workspace_id, origin, at DESC) WHERE origin IS NOT NULL;
