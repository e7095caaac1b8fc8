-- oakallow schema, version 4 (PostgreSQL): who decided each approval level, as verified.

-- The decider's kind ('key' now, 'user' for dashboard accounts later) and id ('key_…' or
-- 'acc_…'). decided_by stays what it was: the name the decider gave, free text. Both columns
-- are null only for a decision made before this version whose audit entry cannot be found.
ALTER TABLE approval_decisions ADD COLUMN decider_kind TEXT;
ALTER TABLE approval_decisions ADD COLUMN decider_id TEXT;

-- Decisions made before this version: the decider is the actor of the audit entry written in
-- the same transaction (approval.escalated for a level-1 approval that needed another level,
-- approval.decided for every other decision).
UPDATE approval_decisions
   SET decider_kind = a.actor_kind, decider_id = a.actor_id
  FROM approvals AS p, activity AS a
 WHERE p.id = approval_decisions.approval_id
   AND a.org_id = p.org_id
   AND a.approval_id = p.id
   AND a.actor_kind IN ('key', 'user')
   AND a.type = CASE
           WHEN approval_decisions.level < p.required_levels AND approval_decisions.decision = 'approved'
           THEN 'approval.escalated'
           ELSE 'approval.decided'
       END;
