-- oakallow schema, version 2 (PostgreSQL): the runtime workflow. Tables and columns are those of
-- the SQLite schema; types follow version 1 (BIGINT microseconds, TEXT JSON, COLLATE "C" ids).

ALTER TABLE orgs ADD COLUMN webhook_secret TEXT;

-- One token signing key per org and algorithm; the secret is the HMAC key or the Ed25519 seed.
CREATE TABLE signing_keys (
    org_id     TEXT COLLATE "C" NOT NULL REFERENCES orgs (id),
    kid        TEXT COLLATE "C" NOT NULL,
    algorithm  TEXT NOT NULL,
    secret     BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, kid),
    UNIQUE (org_id, algorithm)
);

-- Issued tokens (never the token text). One token per source check or approval.
CREATE TABLE tokens (
    jti           TEXT COLLATE "C" PRIMARY KEY,
    org_id        TEXT COLLATE "C" NOT NULL,
    kid           TEXT COLLATE "C" NOT NULL,
    src           TEXT COLLATE "C" NOT NULL,
    tool          TEXT NOT NULL,
    tenant        TEXT,
    resource      TEXT,
    method        TEXT,
    params_sha256 TEXT NOT NULL,
    issued_at     BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    consumed_at   BIGINT,
    UNIQUE (org_id, src)
);

CREATE TABLE executions (
    id          TEXT COLLATE "C" PRIMARY KEY,
    org_id      TEXT COLLATE "C" NOT NULL,
    tool        TEXT NOT NULL,
    tenant      TEXT,
    resource    TEXT,
    method      TEXT,
    params      TEXT,
    result      TEXT NOT NULL,
    duration_ms BIGINT NOT NULL,
    output      TEXT,
    error       TEXT,
    token_jti   TEXT COLLATE "C",
    authorized  BOOLEAN NOT NULL,
    created_at  BIGINT NOT NULL
);
-- One execution per token.
CREATE UNIQUE INDEX executions_by_token ON executions (org_id, token_jti) WHERE token_jti IS NOT NULL;

CREATE TABLE approvals (
    id              TEXT COLLATE "C" PRIMARY KEY,
    org_id          TEXT COLLATE "C" NOT NULL REFERENCES orgs (id),
    reference       TEXT NOT NULL,
    status          TEXT NOT NULL,
    level           INTEGER NOT NULL,
    required_levels INTEGER NOT NULL,
    tool            TEXT NOT NULL,
    tenant          TEXT,
    resource        TEXT,
    method          TEXT,
    params          TEXT,
    params_sha256   TEXT NOT NULL,
    reason          TEXT NOT NULL,
    context         TEXT,
    reference_id    TEXT,
    check_id        TEXT COLLATE "C",
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    decided_at      BIGINT,
    decided_by      TEXT,
    note            TEXT,
    UNIQUE (org_id, reference)
);
CREATE INDEX approvals_by_org ON approvals (org_id, id);
CREATE INDEX approvals_pending_by_deadline ON approvals (expires_at) WHERE status = 'pending';

CREATE TABLE approval_decisions (
    approval_id TEXT COLLATE "C" NOT NULL REFERENCES approvals (id),
    level       INTEGER NOT NULL,
    decision    TEXT NOT NULL,
    decided_by  TEXT NOT NULL,
    note        TEXT,
    decided_at  BIGINT NOT NULL,
    PRIMARY KEY (approval_id, level)
);

-- Idempotency-Key claims of approval requests, valid until expires_at (24 h).
CREATE TABLE approval_idempotency (
    org_id      TEXT COLLATE "C" NOT NULL,
    key         TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    approval_id TEXT COLLATE "C" NOT NULL,
    expires_at  BIGINT NOT NULL,
    PRIMARY KEY (org_id, key)
);

-- The webhook outbox: events, written in the same transaction as what they announce, and
-- their deliveries (a pending delivery is the outbox entry).
CREATE TABLE webhook_events (
    id         TEXT COLLATE "C" PRIMARY KEY,
    org_id     TEXT COLLATE "C" NOT NULL,
    type       TEXT NOT NULL,
    payload    TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE webhook_deliveries (
    id              TEXT COLLATE "C" PRIMARY KEY,
    org_id          TEXT COLLATE "C" NOT NULL,
    event_id        TEXT COLLATE "C" NOT NULL REFERENCES webhook_events (id),
    url             TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    round_attempts  INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT,
    last_status     INTEGER,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    delivered_at    BIGINT
);
-- Workers of every node claim due deliveries from here (FOR UPDATE SKIP LOCKED).
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_by_org ON webhook_deliveries (org_id, id);

CREATE TABLE webhook_attempts (
    delivery_id      TEXT COLLATE "C" NOT NULL REFERENCES webhook_deliveries (id),
    attempt          INTEGER NOT NULL,
    at               BIGINT NOT NULL,
    status_code      INTEGER,
    latency_ms       BIGINT NOT NULL,
    response_excerpt TEXT,
    error            TEXT,
    PRIMARY KEY (delivery_id, attempt)
);
