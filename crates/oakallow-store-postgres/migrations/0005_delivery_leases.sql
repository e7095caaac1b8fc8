-- Each claim of a delivery names itself; only the newest claim may record the attempt, so a
-- worker whose lease ran out cannot overwrite the outcome of the attempt that replaced it.
ALTER TABLE webhook_deliveries ADD COLUMN lease_id TEXT COLLATE "C";
