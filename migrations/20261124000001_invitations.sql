-- Invitations replace adding members by email: a single-use, expiring link whose holder joins
-- with an account of their own. Only the SHA-256 of the link's token is stored.
CREATE TABLE invitations (
    id           uuid PRIMARY KEY,
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    email        text,
    role         text NOT NULL CHECK (role IN ('owner', 'admin', 'developer', 'support')),
    token_hash   bytea NOT NULL UNIQUE,
    created_by   uuid REFERENCES accounts (id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    accepted_at  timestamptz,
    accepted_by  uuid REFERENCES accounts (id) ON DELETE SET NULL,
    revoked_at   timestamptz
);
CREATE INDEX invitations_workspace_idx ON invitations (workspace_id, created_at DESC);

-- Sessions get a public id, so that an account can list where it is signed in and end one
-- session without ever seeing another session's cookie (or its hash).
ALTER TABLE sessions ADD COLUMN id uuid NOT NULL DEFAULT gen_random_uuid();
CREATE UNIQUE INDEX sessions_id_key ON sessions (id);
