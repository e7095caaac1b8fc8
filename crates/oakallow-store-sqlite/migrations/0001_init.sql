-- oakallow schema, version 1 (SQLite).
-- Times are microseconds since the Unix epoch (UTC); ids are the prefixed text form;
-- JSON values are stored as text.

CREATE TABLE accounts (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT,
    created_at    INTEGER NOT NULL
);

CREATE TABLE orgs (
    id                       TEXT PRIMARY KEY,
    account_id               TEXT NOT NULL REFERENCES accounts (id),
    name                     TEXT NOT NULL,
    approval_timeout_seconds INTEGER,
    webhook_url              TEXT,
    webhook_events           TEXT,
    token_signing            TEXT NOT NULL,
    redact_pii               INTEGER NOT NULL,
    policy_version           INTEGER NOT NULL DEFAULT 0,
    created_at               INTEGER NOT NULL,
    updated_at               INTEGER NOT NULL
);
CREATE INDEX orgs_by_account ON orgs (account_id, id);

CREATE TABLE api_keys (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL REFERENCES orgs (id),
    name       TEXT NOT NULL,
    tier       TEXT NOT NULL,
    prefix     TEXT NOT NULL,
    digest     BLOB NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE INDEX api_keys_by_org ON api_keys (org_id, id);

CREATE TABLE categories (
    id                 TEXT PRIMARY KEY,
    org_id             TEXT NOT NULL REFERENCES orgs (id),
    name               TEXT NOT NULL,
    description        TEXT,
    default_permission TEXT,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    UNIQUE (org_id, name)
);

CREATE TABLE tools (
    id                       TEXT PRIMARY KEY,
    org_id                   TEXT NOT NULL REFERENCES orgs (id),
    name                     TEXT NOT NULL,
    description              TEXT,
    category_id              TEXT REFERENCES categories (id),
    risk_level               TEXT NOT NULL,
    parameters_schema        TEXT,
    default_permission       TEXT,
    approved                 INTEGER NOT NULL,
    enabled                  INTEGER NOT NULL,
    approval_timeout_seconds INTEGER,
    requires_second_approval INTEGER NOT NULL,
    annotations              TEXT NOT NULL,
    tags                     TEXT NOT NULL,
    created_at               INTEGER NOT NULL,
    updated_at               INTEGER NOT NULL,
    UNIQUE (org_id, name)
);

CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES orgs (id),
    external_id TEXT NOT NULL,
    name        TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (org_id, external_id)
);

CREATE TABLE resources (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES orgs (id),
    name        TEXT NOT NULL,
    description TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (org_id, name)
);

CREATE TABLE methods (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES orgs (id),
    name        TEXT NOT NULL,
    description TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (org_id, name)
);

CREATE TABLE rules (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES orgs (id),
    tenant_id   TEXT REFERENCES tenants (id),
    resource_id TEXT REFERENCES resources (id),
    tool_id     TEXT REFERENCES tools (id),
    method_id   TEXT REFERENCES methods (id),
    permission  TEXT NOT NULL,
    note        TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX rules_by_scope ON rules (
    org_id, coalesce(tenant_id, ''), coalesce(resource_id, ''), coalesce(tool_id, ''), coalesce(method_id, '')
);
CREATE INDEX rules_by_tenant ON rules (tenant_id);
CREATE INDEX rules_by_resource ON rules (resource_id);
CREATE INDEX rules_by_tool ON rules (tool_id);
CREATE INDEX rules_by_method ON rules (method_id);

-- Hot path tables: written by group commit, no foreign keys (the org is authenticated).
CREATE TABLE checks (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL,
    tool          TEXT NOT NULL,
    tenant        TEXT,
    resource      TEXT,
    method        TEXT,
    permission    TEXT NOT NULL,
    resolved_from TEXT NOT NULL,
    params_sha256 TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);

CREATE TABLE activity (
    org_id        TEXT NOT NULL,
    seq           INTEGER NOT NULL,
    id            TEXT NOT NULL UNIQUE,
    at            INTEGER NOT NULL,
    type          TEXT NOT NULL,
    actor_kind    TEXT NOT NULL,
    actor_id      TEXT NOT NULL,
    actor_label   TEXT NOT NULL,
    tenant        TEXT,
    resource      TEXT,
    tool          TEXT,
    method        TEXT,
    permission    TEXT,
    resolved_from TEXT,
    rule_id       TEXT,
    params        TEXT,
    reason        TEXT,
    result        TEXT,
    duration_ms   INTEGER,
    token_jti     TEXT,
    approval_id   TEXT,
    check_id      TEXT,
    details       TEXT,
    prev_hash     TEXT NOT NULL,
    hash          TEXT NOT NULL,
    PRIMARY KEY (org_id, seq)
);

-- The last entry of each org's chain: where the next one links, and what truncation would lose.
CREATE TABLE activity_heads (
    org_id  TEXT PRIMARY KEY,
    seq     INTEGER NOT NULL,
    id      TEXT NOT NULL,
    hash    TEXT NOT NULL
);
