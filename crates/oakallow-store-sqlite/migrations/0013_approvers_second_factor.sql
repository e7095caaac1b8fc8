-- "Second factor required for approvers" becomes one of the org's settings, beside redact_pii:
-- changed with PATCH /v1/org (or the dashboard, through the same call), versioned by the org's
-- updated_at, written to the audit trail as a config change and cached on every node with the
-- rest of the org. The separate table from version 11 is folded in and dropped.
ALTER TABLE orgs ADD COLUMN require_second_factor_for_approvers INTEGER NOT NULL DEFAULT 0;

UPDATE orgs SET require_second_factor_for_approvers = 1
 WHERE id IN (SELECT org_id FROM org_second_factor_policy WHERE required_for_approvers);

DROP TABLE org_second_factor_policy;
