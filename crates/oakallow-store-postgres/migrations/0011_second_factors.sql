-- oakallow schema, version 11 (PostgreSQL): second factors. An account's TOTP secret (kept as is:
-- codes are computed from it) and its recovery codes (kept only as SHA-256), sign-ins waiting
-- for their second factor (their cookie's secret as SHA-256), when each session last verified a
-- second factor, and the org setting that requires one of approvers.

CREATE TABLE totp_factors (
    account_id   TEXT PRIMARY KEY REFERENCES accounts (id),
    secret       BYTEA NOT NULL,
    created_at   BIGINT NOT NULL,
    activated_at BIGINT,
    last_step    BIGINT
);

CREATE TABLE recovery_codes (
    account_id TEXT NOT NULL REFERENCES accounts (id),
    digest     BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    used_at    BIGINT,
    PRIMARY KEY (account_id, digest)
);

CREATE TABLE pending_sign_ins (
    digest     BYTEA PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX pending_sign_ins_by_expiry ON pending_sign_ins (expires_at);

CREATE TABLE session_second_factors (
    session_id  TEXT PRIMARY KEY REFERENCES sessions (id),
    verified_at BIGINT NOT NULL
);

CREATE TABLE org_second_factor_policy (
    org_id                  TEXT PRIMARY KEY REFERENCES orgs (id),
    required_for_approvers  BOOLEAN NOT NULL,
    updated_at              BIGINT NOT NULL
);
