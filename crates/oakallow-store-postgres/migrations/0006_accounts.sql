-- oakallow schema, version 6 (PostgreSQL): dashboard accounts. Names, the instance operator,
-- sessions, org memberships with roles and approver groups, invitations, failed sign-ins.
-- Secrets (session cookies, invitation links) are kept only as their SHA-256.

-- The name shown to teammates; existing accounts are named by their email.
ALTER TABLE accounts ADD COLUMN name TEXT;
UPDATE accounts SET name = email;
ALTER TABLE accounts ALTER COLUMN name SET NOT NULL;

-- The account that administers the whole instance: at most one row, claimed once.
CREATE TABLE instance_operator (
    singleton  SMALLINT PRIMARY KEY CHECK (singleton = 1),
    account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts (id)
);

CREATE TABLE sessions (
    id         TEXT COLLATE "C" PRIMARY KEY,
    digest     BYTEA NOT NULL UNIQUE,
    account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX sessions_by_account ON sessions (account_id);

CREATE TABLE memberships (
    org_id          TEXT COLLATE "C" NOT NULL REFERENCES orgs (id),
    account_id      TEXT COLLATE "C" NOT NULL REFERENCES accounts (id),
    role            TEXT NOT NULL CHECK (role IN ('member', 'admin', 'owner')),
    approves_level1 BOOLEAN NOT NULL,
    approves_level2 BOOLEAN NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (org_id, account_id)
);
CREATE INDEX memberships_by_account ON memberships (account_id);

-- Every existing org is owned by the account that created it, approving both levels.
INSERT INTO memberships (org_id, account_id, role, approves_level1, approves_level2, created_at)
SELECT id, account_id, 'owner', TRUE, TRUE, created_at FROM orgs;

-- An invitation works while used_at is empty; a withdrawn one is used by nobody.
CREATE TABLE invites (
    id              TEXT COLLATE "C" PRIMARY KEY,
    digest          BYTEA NOT NULL UNIQUE,
    org_id          TEXT COLLATE "C" NOT NULL REFERENCES orgs (id),
    role            TEXT NOT NULL CHECK (role IN ('member', 'admin', 'owner')),
    approves_level1 BOOLEAN NOT NULL,
    approves_level2 BOOLEAN NOT NULL,
    created_by      TEXT COLLATE "C" NOT NULL REFERENCES accounts (id),
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    used_at         BIGINT,
    used_by         TEXT COLLATE "C" REFERENCES accounts (id)
);
CREATE INDEX invites_by_org ON invites (org_id, created_at);

-- One row per failed sign-in per subject (an email, an address); rows past the window are
-- deleted as new failures come in.
CREATE TABLE sign_in_failures (
    subject TEXT NOT NULL,
    at      BIGINT NOT NULL
);
CREATE INDEX sign_in_failures_by_subject ON sign_in_failures (subject, at);
