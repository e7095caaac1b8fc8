-- Accounts can be disabled by the operator and deleted (columns as in the SQLite schema). A
-- disabled account cannot sign in; a deleted one keeps its row, without its personal data, so
-- that the ledger, purchases and orgs it paid for still point somewhere.
ALTER TABLE accounts ADD COLUMN disabled_at BIGINT;
ALTER TABLE accounts ADD COLUMN deleted_at BIGINT;
