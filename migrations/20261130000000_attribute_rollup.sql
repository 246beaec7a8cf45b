-- Per hour and attribute, how many accepted updates of it arrived unsigned (from the widget's
-- `attributes`, or a token that did not verify): what marking it secure-only would have
-- refused. Maintained by the log writer in the same statement as the rows, like the other
-- rollups (`20261129110000_log_rollups.sql`, whose `shard` this shares); kept as long as the log.
CREATE TABLE attribute_rollup_hour (
    workspace_id     uuid NOT NULL,
    bucket           timestamptz NOT NULL,
    name             text NOT NULL,
    shard            smallint NOT NULL DEFAULT 0,
    unsigned_updates bigint NOT NULL,
    PRIMARY KEY (workspace_id, name, bucket, shard)
);

GRANT SELECT ON attribute_rollup_hour TO countersign_tenant;
ALTER TABLE attribute_rollup_hour ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON attribute_rollup_hour TO countersign_tenant
    USING (workspace_id = countersign_workspace());
