-- oakallow schema, version 3 (PostgreSQL): prepaid credit. Tables and columns are those of the
-- SQLite schema; types follow version 1 (BIGINT micro-dollars and microseconds, COLLATE "C" ids).

-- Lots of credit and what is left of each; free credit is spent first, then the oldest first.
CREATE TABLE credit_lots (
    id         TEXT COLLATE "C" PRIMARY KEY,
    account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts (id),
    kind       TEXT NOT NULL,
    amount     BIGINT NOT NULL,
    remaining  BIGINT NOT NULL CHECK (remaining >= 0),
    created_at BIGINT NOT NULL,
    expires_at BIGINT
);
CREATE INDEX credit_lots_by_account ON credit_lots (account_id, created_at);

-- Every credit and debit. The sum of an account's rows is its balance.
CREATE TABLE ledger (
    id         TEXT COLLATE "C" PRIMARY KEY,
    account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts (id),
    org_id     TEXT COLLATE "C",
    kind       TEXT NOT NULL,
    amount     BIGINT NOT NULL,
    calls      BIGINT NOT NULL DEFAULT 0,
    note       TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX ledger_by_account ON ledger (account_id, id);
