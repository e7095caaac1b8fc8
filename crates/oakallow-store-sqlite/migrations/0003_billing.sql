-- oakallow schema, version 3 (SQLite): prepaid credit.

-- Lots of credit and what is left of each; spent free credit first, then oldest first.
CREATE TABLE credit_lots (
    id         TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    kind       TEXT NOT NULL,
    amount     INTEGER NOT NULL,
    remaining  INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER
);
CREATE INDEX credit_lots_by_account ON credit_lots (account_id, created_at);

-- Every credit and debit. The sum of an account's rows is its balance.
CREATE TABLE ledger (
    id         TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    org_id     TEXT,
    kind       TEXT NOT NULL,
    amount     INTEGER NOT NULL,
    calls      INTEGER NOT NULL DEFAULT 0,
    note       TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX ledger_by_account ON ledger (account_id, id);
