-- Accounts, sessions, personal access tokens, workspaces, members, audit log, login throttling.

CREATE TABLE accounts (
    id            uuid PRIMARY KEY,
    email         text NOT NULL,
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL
);
CREATE UNIQUE INDEX accounts_email_key ON accounts (lower(email));

-- Server-side sessions: only the SHA-256 of the cookie value is stored.
CREATE TABLE sessions (
    id_hash      bytea PRIMARY KEY,
    account_id   uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    ip           text,
    user_agent   text
);
CREATE INDEX sessions_account_idx ON sessions (account_id);

-- Personal access tokens: shown once, only their SHA-256 is stored.
CREATE TABLE personal_access_tokens (
    id           uuid PRIMARY KEY,
    account_id   uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name         text NOT NULL,
    token_hash   bytea NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL,
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX personal_access_tokens_account_idx ON personal_access_tokens (account_id);

CREATE TABLE workspaces (
    id         uuid PRIMARY KEY,
    app_id     text NOT NULL UNIQUE,
    name       text NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE TABLE members (
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    account_id   uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    role         text NOT NULL CHECK (role IN ('owner', 'admin', 'developer', 'support')),
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, account_id)
);
CREATE INDEX members_account_idx ON members (account_id);

-- One row per admin action. workspace_id is null for account-level events (signup, login).
CREATE TABLE audit_log (
    id            bigserial PRIMARY KEY,
    at            timestamptz NOT NULL,
    workspace_id  uuid REFERENCES workspaces (id) ON DELETE CASCADE,
    actor_id      uuid,
    actor_email   text,
    action        text NOT NULL,
    target        text,
    details       jsonb NOT NULL DEFAULT '{}'::jsonb,
    ip            text,
    user_agent    text
);
CREATE INDEX audit_log_workspace_idx ON audit_log (workspace_id, id DESC);

-- Failed logins, counted per email and per IP over a sliding window to throttle guessing.
CREATE TABLE login_failures (
    id    bigserial PRIMARY KEY,
    at    timestamptz NOT NULL,
    email text NOT NULL,
    ip    text NOT NULL
);
CREATE INDEX login_failures_email_idx ON login_failures (email, at);
CREATE INDEX login_failures_ip_idx ON login_failures (ip, at);
