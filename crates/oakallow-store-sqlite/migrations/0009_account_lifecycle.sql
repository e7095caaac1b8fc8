-- oakallow schema, version 9 (SQLite): accounts can be disabled by the operator and deleted.
-- A disabled account cannot sign in (no session can be made for it). A deleted account keeps
-- its row, so that the ledger, purchases and orgs it paid for still point somewhere, but not its
-- personal data: its email becomes 'deleted:<id>' and its name 'Deleted account'.
ALTER TABLE accounts ADD COLUMN disabled_at INTEGER;
ALTER TABLE accounts ADD COLUMN deleted_at INTEGER;
