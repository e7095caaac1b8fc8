-- "Second factor required for approvers" becomes one of the org's settings, beside redact_pii:
-- changed with PATCH /v1/org (or the dashboard, through the same call), versioned by the org's
-- updated_at, written to the audit trail as a config change and cached on every node with the
-- rest of the org. The separate table from version 11 is folded in and dropped.
ALTER TABLE orgs ADD COLUMN require_second_factor_for_approvers BOOLEAN NOT NULL DEFAULT FALSE;

UPDATE orgs o SET require_second_factor_for_approvers = TRUE
  FROM org_second_factor_policy p
 WHERE p.org_id = o.id AND p.required_for_approvers;

DROP TABLE org_second_factor_policy;
