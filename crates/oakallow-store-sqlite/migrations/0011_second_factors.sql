-- oakallow schema, version 11 (SQLite): second factors. An account's TOTP secret (kept as is:
-- codes are computed from it) and its recovery codes (kept only as SHA-256), sign-ins waiting
-- for their second factor (their cookie's secret as SHA-256), when each session last verified a
-- second factor, and the org setting that requires one of approvers.

CREATE TABLE totp_factors (
    account_id   TEXT PRIMARY KEY REFERENCES accounts (id),
    secret       BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    activated_at INTEGER,
    last_step    INTEGER
);

CREATE TABLE recovery_codes (
    account_id TEXT NOT NULL REFERENCES accounts (id),
    digest     BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    used_at    INTEGER,
    PRIMARY KEY (account_id, digest)
);

CREATE TABLE pending_sign_ins (
    digest     BLOB PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);
CREATE INDEX pending_sign_ins_by_expiry ON pending_sign_ins (expires_at);

CREATE TABLE session_second_factors (
    session_id  TEXT PRIMARY KEY REFERENCES sessions (id),
    verified_at INTEGER NOT NULL
);

CREATE TABLE org_second_factor_policy (
    org_id                  TEXT PRIMARY KEY REFERENCES orgs (id),
    required_for_approvers  INTEGER NOT NULL,
    updated_at              INTEGER NOT NULL
);
