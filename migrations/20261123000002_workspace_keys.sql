-- Workspace secrets. The secret is sealed with XChaCha20-Poly1305 under the master key, with
-- the workspace id and kid as associated data, so a ciphertext cannot move to another tenant.
CREATE TABLE workspace_keys (
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    kid          text NOT NULL UNIQUE,
    sealed       bytea NOT NULL,
    fingerprint  text NOT NULL,
    state        text NOT NULL CHECK (state IN ('primary', 'rotating', 'revoked')),
    expires_at   timestamptz,
    created_at   timestamptz NOT NULL,
    created_by   uuid REFERENCES accounts (id) ON DELETE SET NULL,
    last_used_at timestamptz,
    revoked_at   timestamptz,
    PRIMARY KEY (workspace_id, kid),
    CHECK ((state = 'rotating') = (expires_at IS NOT NULL))
);
CREATE UNIQUE INDEX workspace_keys_one_primary ON workspace_keys (workspace_id) WHERE state = 'primary';
