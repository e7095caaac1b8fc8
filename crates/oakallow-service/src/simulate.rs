//! `POST /v1/policy/simulate`: what a policy change would have done to real traffic. Every
//! check the org recorded in a window is decided again under the candidate policy, exactly as
//! `POST /v1/check` would decide it; the answer counts old → new permissions and lists the
//! calls whose answer changes, with the rule that would decide them.
//!
//! The history is read a page at a time, oldest first, and only counts and at most `limit`
//! changed calls are kept, so memory does not grow with the history; time grows linearly with
//! the checks in the window. A simulation takes one of the org's export places (the same heavy
//! read), so an org cannot run more of them at once than exports.

use std::collections::HashMap;

use oakallow_domain::Timestamp;
use oakallow_domain::audit::ActivityType;
use oakallow_domain::id::RuleId;
use oakallow_domain::permission::{Permission, ResolvedFrom};
use oakallow_domain::policy::{CheckInput, PolicyDiff, PolicyDocument, PolicyState, RuleSpec};
use oakallow_store::ActivityFilter;
use serde::{Deserialize, Serialize};

use crate::Service;
use crate::auth::Reader;
use crate::error::{ServiceError, ServiceResult};

/// Entries read from the store at a time.
const PAGE: u32 = 1000;
/// The most changed calls one answer lists.
pub const MAX_LISTED: u32 = 10_000;
/// Changed calls listed when the request does not say.
const DEFAULT_LISTED: u32 = 100;

/// Body of `POST /v1/policy/simulate`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SimulateRequest {
    /// The candidate policy, as `PUT /v1/policy` takes it: each section present replaces the
    /// current one, sections left out stay as they are (so `{"rules": [...]}` simulates a rule
    /// change alone).
    pub policy: PolicyDocument,
    /// RFC 3339; checks at or after (default: the first).
    #[serde(default)]
    #[schema(format = DateTime)]
    pub since: Option<String>,
    /// RFC 3339; checks before (default: now).
    #[serde(default)]
    #[schema(format = DateTime)]
    pub until: Option<String>,
    /// How many changed calls to list, oldest first (0 to 10,000, default 100). The counts
    /// always cover every check in the window.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 10000)]
    pub limit: Option<u32>,
}

/// A decision, then or under the candidate.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Outcome {
    /// The permission.
    pub permission: Permission,
    /// The step that decided (recorded with the check; absent only in entries written before
    /// it was).
    pub resolved_from: Option<ResolvedFrom>,
    /// The rule that decides, by names, when a rule does.
    pub rule: Option<RuleSpec>,
}

/// A recorded check whose answer the candidate changes.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ChangedCall {
    /// The check's position in the org's chain.
    pub seq: u64,
    /// The check's id.
    pub check_id: Option<String>,
    /// When it was made.
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    /// Tool name.
    pub tool: String,
    /// Tenant external id.
    pub tenant: Option<String>,
    /// Resource name.
    pub resource: Option<String>,
    /// Method name.
    pub method: Option<String>,
    /// What was answered at the time.
    pub before: Outcome,
    /// What the candidate answers.
    pub after: Outcome,
}

/// How many checks went from one permission to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Transition {
    /// Answered at the time.
    pub from: Permission,
    /// Answered under the candidate.
    pub to: Permission,
    /// Checks.
    pub count: u64,
}

/// Answer of `POST /v1/policy/simulate`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Simulation {
    /// Recorded checks in the window, all decided again.
    pub checks: u64,
    /// Of those, the checks whose permission the candidate changes.
    pub changed: u64,
    /// Checks by old → new permission (every pair that occurs, unchanged ones included).
    pub transitions: Vec<Transition>,
    /// Checks that would have needed a person's approval under the candidate.
    pub requires_approval: u64,
    /// Of those, the ones that did not need it at the time.
    pub newly_requires_approval: u64,
    /// Changed calls, oldest first, at most `limit`.
    pub changes: Vec<ChangedCall>,
    /// More calls changed than are listed.
    pub truncated: bool,
    /// What the candidate changes in the current policy (as a dry run of `PUT /v1/policy`).
    pub diff: PolicyDiff,
}

/// The running totals of a simulation.
struct Tally {
    limit: usize,
    checks: u64,
    changed: u64,
    transitions: HashMap<(Permission, Permission), u64>,
    requires_approval: u64,
    newly_requires_approval: u64,
    changes: Vec<ChangedCall>,
}

impl Tally {
    fn count(&mut self, before: Permission, after: Permission) {
        self.checks += 1;
        *self.transitions.entry((before, after)).or_default() += 1;
        if after == Permission::RequiresApproval {
            self.requires_approval += 1;
            if before != Permission::RequiresApproval {
                self.newly_requires_approval += 1;
            }
        }
        if before != after {
            self.changed += 1;
        }
    }
}

/// Rule `id` of `state` by names, if it has that rule.
fn rule_spec(state: &PolicyState, id: Option<RuleId>) -> Option<RuleSpec> {
    id.and_then(|id| state.rules().get(&id)).map(|rule| state.rule_spec(rule))
}

impl Service {
    /// Replays the org's recorded checks in the window under the candidate policy.
    pub async fn simulate_policy(&self, caller: &Reader, request: SimulateRequest) -> ServiceResult<Simulation> {
        let limit = request.limit.unwrap_or(DEFAULT_LISTED);
        if limit > MAX_LISTED {
            return Err(ServiceError::invalid(format!("limit must be 0 to {MAX_LISTED}")));
        }
        let since = crate::activity::time("since", request.since.as_deref())?;
        let until = crate::activity::time("until", request.until.as_deref())?;
        let org = caller.org_id();
        let runtime = self.org_runtime(org).await?;
        let plan = crate::policy_doc::plan_without_writing(&runtime, request.policy, self.clock.now())?;
        let state = plan.state;
        let _permit = self.limits.export(org)?;

        let mut tally = Tally {
            limit: limit as usize,
            checks: 0,
            changed: 0,
            transitions: HashMap::new(),
            requires_approval: 0,
            newly_requires_approval: 0,
            changes: Vec::new(),
        };
        let mut filter = ActivityFilter {
            kind: Some(ActivityType::PermissionChecked),
            since,
            until,
            ascending: true,
            after_seq: Some(0),
            limit: PAGE,
            ..ActivityFilter::default()
        };
        loop {
            let entries = self.store.list_activity(org, &filter).await?;
            for entry in &entries {
                let record = &entry.record;
                // A check entry always names its tool and permission; one that does not is not
                // a decision to replay.
                let (Some(tool), Some(permission)) = (record.tool.as_deref(), record.permission) else { continue };
                let input = CheckInput {
                    tool,
                    tenant: record.tenant.as_deref(),
                    resource: record.resource.as_deref(),
                    method: record.method.as_deref(),
                };
                let decision = state.resolve(input);
                tally.count(permission, decision.permission);
                // Rules are written out by names only for the calls listed, not for every check.
                if permission != decision.permission && tally.changes.len() < tally.limit {
                    let after = Outcome {
                        permission: decision.permission,
                        resolved_from: Some(decision.resolved_from),
                        rule: rule_spec(&state, decision.rule_id),
                    };
                    tally.changes.push(ChangedCall {
                        seq: entry.seq,
                        check_id: record.check_id.map(|id| id.to_string()),
                        at: record.at,
                        tool: tool.to_owned(),
                        tenant: record.tenant.clone(),
                        resource: record.resource.clone(),
                        method: record.method.clone(),
                        before: Outcome {
                            permission,
                            resolved_from: record.resolved_from,
                            rule: rule_spec(&runtime.policy, record.rule_id),
                        },
                        after,
                    });
                }
            }
            if entries.len() < PAGE as usize {
                break;
            }
            filter.after_seq = entries.last().map(|entry| entry.seq);
        }
        // In a fixed order: allowed, requires_approval, disabled; from, then to.
        let order = [Permission::Allowed, Permission::RequiresApproval, Permission::Disabled];
        let transitions = order
            .iter()
            .flat_map(|&from| order.iter().map(move |&to| (from, to)))
            .filter_map(|pair| tally.transitions.get(&pair).map(|&count| Transition { from: pair.0, to: pair.1, count }))
            .collect();
        Ok(Simulation {
            checks: tally.checks,
            changed: tally.changed,
            transitions,
            requires_approval: tally.requires_approval,
            newly_requires_approval: tally.newly_requires_approval,
            truncated: tally.changed > tally.changes.len() as u64,
            changes: tally.changes,
            diff: plan.diff,
        })
    }
}
