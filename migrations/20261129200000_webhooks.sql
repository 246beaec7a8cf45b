-- Security alerts by webhook: per-workspace HTTPS endpoints, a durable delivery queue (one row
-- per event and endpoint, retried with backoff, claimed with FOR UPDATE SKIP LOCKED) and the
-- throttle marks of the periodic alert checker.

CREATE TABLE webhook_endpoints (
    id                   uuid PRIMARY KEY,
    workspace_id         uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    url                  text NOT NULL,
    events               text[] NOT NULL,
    -- The signing secret, sealed like key secrets (service/src/crypto.rs).
    sealed_secret        bytea NOT NULL,
    enabled              boolean NOT NULL DEFAULT true,
    disabled_reason      text,
    consecutive_failures integer NOT NULL DEFAULT 0,
    created_at           timestamptz NOT NULL,
    created_by           uuid
);
CREATE INDEX webhook_endpoints_workspace ON webhook_endpoints (workspace_id);

-- `event_id` is shared by every endpoint an event goes to; unique per endpoint, so an event
-- enqueued twice (two checkers racing) is delivered once.
CREATE TABLE webhook_deliveries (
    id               uuid PRIMARY KEY,
    workspace_id     uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    endpoint_id      uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id         text NOT NULL,
    event_type       text NOT NULL,
    -- The exact bytes signed and sent.
    payload          text NOT NULL,
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz,
    last_attempt_at  timestamptz,
    response_code    integer,
    -- At most a small excerpt of the receiver's answer.
    response_excerpt text,
    error            text,
    created_at       timestamptz NOT NULL,
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (endpoint_id, created_at DESC);

-- When the checker last raised each alert of a workspace: claimed by a conditional upsert, so
-- of several instances checking at once exactly one raises it.
CREATE TABLE webhook_alerts (
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    alert        text NOT NULL,
    last_sent_at timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, alert)
);

GRANT SELECT, INSERT, UPDATE, DELETE ON webhook_endpoints, webhook_deliveries TO countersign_tenant;
GRANT SELECT ON webhook_alerts TO countersign_tenant;

ALTER TABLE webhook_endpoints ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON webhook_endpoints TO countersign_tenant
    USING (workspace_id = countersign_workspace());
ALTER TABLE webhook_deliveries ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON webhook_deliveries TO countersign_tenant
    USING (workspace_id = countersign_workspace());
ALTER TABLE webhook_alerts ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON webhook_alerts TO countersign_tenant
    USING (workspace_id = countersign_workspace());
