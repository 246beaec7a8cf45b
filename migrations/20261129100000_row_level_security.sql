-- Row-level security: every dashboard and API operation on one workspace runs as the role
-- `countersign_tenant`, with that workspace's id in the setting `countersign.workspace_id`
-- (`service/src/tenant.rs`). The policies below show that role only that workspace's rows and
-- refuse writes of any other; with the setting missing or empty they see no row at all. Paths that
-- span workspaces by design (the log writer, configuration snapshots, retention, sign-in) run
-- as the connecting role, which owns the tables and is not subject to these policies.

-- Roles are shared by every database of a cluster; another database may be creating it now.
-- An administrator may have made it already (when this role may not create roles).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'countersign_tenant') THEN
        BEGIN
            CREATE ROLE countersign_tenant NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;
        END;
    END IF;
    IF NOT pg_has_role(current_user, 'countersign_tenant', 'MEMBER') THEN
        EXECUTE format('GRANT countersign_tenant TO %I', current_user);
    END IF;
END
$$;

-- The workspace the current transaction is confined to; NULL (matching no row) when none is.
CREATE FUNCTION countersign_workspace() RETURNS uuid
    LANGUAGE sql STABLE
    AS $$ SELECT nullif(current_setting('countersign.workspace_id', true), '')::uuid $$;

GRANT SELECT, UPDATE ON workspaces TO countersign_tenant;
GRANT SELECT, INSERT, UPDATE, DELETE ON members, workspace_keys, attributes, contacts, invitations TO countersign_tenant;
GRANT SELECT ON verification_log TO countersign_tenant;
GRANT SELECT, INSERT ON audit_log TO countersign_tenant;
GRANT USAGE ON SEQUENCE audit_log_id_seq TO countersign_tenant;
-- Never the password hash.
GRANT SELECT (id, email, created_at) ON accounts TO countersign_tenant;

ALTER TABLE workspaces ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON workspaces TO countersign_tenant
    USING (id = countersign_workspace());

ALTER TABLE members ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON members TO countersign_tenant
    USING (workspace_id = countersign_workspace());

ALTER TABLE workspace_keys ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON workspace_keys TO countersign_tenant
    USING (workspace_id = countersign_workspace());

ALTER TABLE attributes ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON attributes TO countersign_tenant
    USING (workspace_id = countersign_workspace());

ALTER TABLE contacts ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON contacts TO countersign_tenant
    USING (workspace_id = countersign_workspace());

ALTER TABLE invitations ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON invitations TO countersign_tenant
    USING (workspace_id = countersign_workspace());

ALTER TABLE verification_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON verification_log TO countersign_tenant
    USING (workspace_id = countersign_workspace());

ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_log TO countersign_tenant
    USING (workspace_id = countersign_workspace());

-- People are seen only as members of the workspace, or as the author or taker of one of its
-- invitations (an email address is another tenant's data).
ALTER TABLE accounts ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON accounts TO countersign_tenant
    USING (
        EXISTS (SELECT 1 FROM members m WHERE m.account_id = accounts.id AND m.workspace_id = countersign_workspace())
        OR EXISTS (SELECT 1 FROM invitations i
                    WHERE i.workspace_id = countersign_workspace() AND accounts.id IN (i.created_by, i.accepted_by))
    );
