-- A per-workspace configuration version, bumped in the transaction of every change that
-- identify's snapshot holds (with the NOTIFY). An instance whose LISTEN connection is down
-- polls it, so a change still reaches every instance within a second.
ALTER TABLE workspaces ADD COLUMN config_version bigint NOT NULL DEFAULT 0;
