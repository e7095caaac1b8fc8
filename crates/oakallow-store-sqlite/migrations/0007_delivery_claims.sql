-- A claim takes, org by org, the earliest due deliveries up to the org's share, less those it has
-- under a live lease: the first index finds the orgs with pending deliveries and each org's
-- earliest due ones, the second counts an org's deliveries in flight. A claim then costs a few
-- seeks per org with pending deliveries, whatever the size of the backlog (the index it replaces
-- made every claim rank the whole backlog).
DROP INDEX webhook_deliveries_due;
CREATE INDEX webhook_deliveries_org_due ON webhook_deliveries (org_id, next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_leased ON webhook_deliveries (org_id, next_attempt_at) WHERE status = 'pending' AND lease_id IS NOT NULL;
