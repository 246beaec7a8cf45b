-- Verification data plane: security settings, attribute registry, contacts, verification log.

ALTER TABLE workspaces
    ADD COLUMN mode_web text NOT NULL DEFAULT 'enforce' CHECK (mode_web IN ('off', 'monitor', 'enforce')),
    ADD COLUMN mode_ios text NOT NULL DEFAULT 'enforce' CHECK (mode_ios IN ('off', 'monitor', 'enforce')),
    ADD COLUMN mode_android text NOT NULL DEFAULT 'enforce' CHECK (mode_android IN ('off', 'monitor', 'enforce')),
    ADD COLUMN hmac_enabled boolean NOT NULL DEFAULT false,
    ADD COLUMN leeway_seconds integer NOT NULL DEFAULT 60,
    ADD COLUMN require_exp boolean NOT NULL DEFAULT false,
    ADD COLUMN max_token_lifetime_seconds integer,
    ADD COLUMN allowed_origins text[] NOT NULL DEFAULT '{}',
    ADD COLUMN token_profile text NOT NULL DEFAULT 'countersign',
    ADD COLUMN user_id_claims text[] NOT NULL DEFAULT '{}',
    ADD COLUMN expected_issuer text;

CREATE TABLE attributes (
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name         text NOT NULL,
    type         text NOT NULL CHECK (type IN ('string', 'number', 'boolean', 'datetime')),
    secure_only  boolean NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, name)
);

CREATE TABLE contacts (
    workspace_id  uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id       text NOT NULL,
    attributes    jsonb NOT NULL DEFAULT '{}'::jsonb,
    verified      boolean NOT NULL,
    first_seen_at timestamptz NOT NULL,
    last_seen_at  timestamptz NOT NULL,
    last_platform text NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
);

-- One row per identify attempt on a known app. Never the token or a secret. Partitioned by
-- day (partitions are created ahead and dropped after the retention period by the server);
-- the default partition catches anything outside them, so no row is ever refused. Ids are
-- UUIDv7, made by the instance, so a row spooled during an outage keeps its id on replay.
CREATE TABLE verification_log (
    id                  uuid NOT NULL,
    workspace_id        uuid NOT NULL,
    at                  timestamptz NOT NULL,
    outcome             text NOT NULL,
    reason              text,
    explanation         text NOT NULL,
    platform            text,
    kid                 text,
    alg                 text,
    user_id             text,
    attributes_accepted jsonb NOT NULL,
    attributes_rejected jsonb NOT NULL,
    details             jsonb NOT NULL,
    origin              text,
    ip                  text,
    user_agent          text,
    latency_us          integer NOT NULL,
    PRIMARY KEY (workspace_id, at, id)
) PARTITION BY RANGE (at);
CREATE INDEX verification_log_user_idx ON verification_log (workspace_id, user_id, at DESC);
CREATE INDEX verification_log_reason_idx ON verification_log (workspace_id, reason, at DESC) WHERE reason IS NOT NULL;
CREATE TABLE verification_log_default PARTITION OF verification_log DEFAULT;
