-- oakallow schema, version 12 (PostgreSQL): passkeys. Each account's WebAuthn credentials, and the
-- state of WebAuthn ceremonies in progress (any node may finish what another started).

CREATE TABLE passkeys (
    id            TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES accounts (id),
    name          TEXT NOT NULL,
    credential_id BYTEA NOT NULL UNIQUE,
    credential    TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT
);
CREATE INDEX passkeys_by_account ON passkeys (account_id);

-- One ceremony per binding (a digest of the browser's cookie and the kind); taken out when
-- finished, and forgotten once expired.
CREATE TABLE passkey_ceremonies (
    binding    BYTEA PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('register', 'sign_in', 'confirm')),
    account_id TEXT REFERENCES accounts (id),
    state      TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX passkey_ceremonies_by_expiry ON passkey_ceremonies (expires_at);
