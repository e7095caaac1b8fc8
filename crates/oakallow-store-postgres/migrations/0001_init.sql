-- oakallow schema, version 1 (PostgreSQL).
-- Times are microseconds since the Unix epoch (UTC); ids are the prefixed text form, compared
-- byte by byte (COLLATE "C") so that they sort by creation time whatever the database locale;
-- JSON values are stored as text, so that the audit chain reads back exactly what was hashed.
-- Tables are created unqualified: they land in the first schema of the search_path.

CREATE TABLE accounts (
    id            TEXT COLLATE "C" PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT,
    created_at    BIGINT NOT NULL
);

CREATE TABLE orgs (
    id                       TEXT COLLATE "C" PRIMARY KEY,
    account_id               TEXT COLLATE "C" NOT NULL REFERENCES accounts (id),
    name                     TEXT NOT NULL,
    approval_timeout_seconds BIGINT,
    webhook_url              TEXT,
    webhook_events           TEXT,
    token_signing            TEXT NOT NULL,
    redact_pii               BOOLEAN NOT NULL,
    policy_version           BIGINT NOT NULL DEFAULT 0,
    created_at               BIGINT NOT NULL,
    updated_at               BIGINT NOT NULL
);
CREATE INDEX orgs_by_account ON orgs (account_id, id);

CREATE TABLE api_keys (
    id         TEXT COLLATE "C" PRIMARY KEY,
    org_id     TEXT COLLATE "C" NOT NULL REFERENCES orgs (id),
    name       TEXT NOT NULL,
    tier       TEXT NOT NULL,
    prefix     TEXT NOT NULL,
    digest     BYTEA NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX api_keys_by_org ON api_keys (org_id, id);

CREATE TABLE categories (
    id                 TEXT COLLATE "C" PRIMARY KEY,
    org_id             TEXT COLLATE "C" NOT NULL REFERENCES orgs (id),
    name               TEXT NOT NULL,
    description        TEXT,
    default_permission TEXT,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    UNIQUE (org_id, name)
);

CREATE TABLE tools (
    id                       TEXT COLLATE "C" PRIMARY KEY,
    org_id                   TEXT COLLATE "C" NOT NULL REFERENCES orgs (id),
    name                     TEXT NOT NULL,
    description              TEXT,
    category_id              TEXT COLLATE "C" REFERENCES categories (id),
    risk_level               TEXT NOT NULL,
    parameters_schema        TEXT,
    default_permission       TEXT,
    approved                 BOOLEAN NOT NULL,
    enabled                  BOOLEAN NOT NULL,
    approval_timeout_seconds BIGINT,
    requires_second_approval BOOLEAN NOT NULL,
    annotations              TEXT NOT NULL,
    tags                     TEXT NOT NULL,
    created_at               BIGINT NOT NULL,
    updated_at               BIGINT NOT NULL,
    UNIQUE (org_id, name)
);
CREATE INDEX tools_by_category ON tools (category_id);

CREATE TABLE tenants (
    id          TEXT COLLATE "C" PRIMARY KEY,
    org_id      TEXT COLLATE "C" NOT NULL REFERENCES orgs (id),
    external_id TEXT NOT NULL,
    name        TEXT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    UNIQUE (org_id, external_id)
);

CREATE TABLE resources (
    id          TEXT COLLATE "C" PRIMARY KEY,
    org_id      TEXT COLLATE "C" NOT NULL REFERENCES orgs (id),
    name        TEXT NOT NULL,
    description TEXT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    UNIQUE (org_id, name)
);

CREATE TABLE methods (
    id          TEXT COLLATE "C" PRIMARY KEY,
    org_id      TEXT COLLATE "C" NOT NULL REFERENCES orgs (id),
    name        TEXT NOT NULL,
    description TEXT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    UNIQUE (org_id, name)
);

CREATE TABLE rules (
    id          TEXT COLLATE "C" PRIMARY KEY,
    org_id      TEXT COLLATE "C" NOT NULL REFERENCES orgs (id),
    tenant_id   TEXT COLLATE "C" REFERENCES tenants (id),
    resource_id TEXT COLLATE "C" REFERENCES resources (id),
    tool_id     TEXT COLLATE "C" REFERENCES tools (id),
    method_id   TEXT COLLATE "C" REFERENCES methods (id),
    permission  TEXT NOT NULL,
    note        TEXT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
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
    id            TEXT COLLATE "C" PRIMARY KEY,
    org_id        TEXT COLLATE "C" NOT NULL,
    tool          TEXT NOT NULL,
    tenant        TEXT,
    resource      TEXT,
    method        TEXT,
    permission    TEXT NOT NULL,
    resolved_from TEXT NOT NULL,
    params_sha256 TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);

CREATE TABLE activity (
    org_id        TEXT COLLATE "C" NOT NULL,
    seq           BIGINT NOT NULL,
    id            TEXT COLLATE "C" NOT NULL UNIQUE,
    at            BIGINT NOT NULL,
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
    duration_ms   BIGINT,
    token_jti     TEXT,
    approval_id   TEXT,
    check_id      TEXT,
    details       TEXT,
    prev_hash     TEXT NOT NULL,
    hash          TEXT NOT NULL,
    PRIMARY KEY (org_id, seq)
);

-- The last entry of each org's chain: where the next one links, and what truncation would lose.
-- Appenders lock an org's row (FOR UPDATE) for the rest of their transaction, which orders
-- every node's appends to that org; a new org starts at the genesis row (seq 0, id '').
CREATE TABLE activity_heads (
    org_id  TEXT COLLATE "C" PRIMARY KEY,
    seq     BIGINT NOT NULL,
    id      TEXT COLLATE "C" NOT NULL,
    hash    TEXT NOT NULL
);
