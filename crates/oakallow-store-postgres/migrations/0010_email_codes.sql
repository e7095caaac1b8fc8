-- Sign-in codes sent by e-mail: at most one outstanding per account (a new one replaces it), kept
-- only as digests of the typed code and of the link's secret; a row is deleted when either is used.
CREATE TABLE email_codes (
    account_id   TEXT PRIMARY KEY REFERENCES accounts (id),
    code_digest  BYTEA NOT NULL,
    link_digest  BYTEA NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    wrong_tries  INTEGER NOT NULL DEFAULT 0
);
