//! Approvals (PRODUCT.md sections 4.3 and 6): a risky call waits for a person. Create (with
//! `Idempotency-Key`), read and long-poll, list, cancel, decide (two levels when the tool asks
//! for it), and expire (the sweeper). Every change is one transaction with its audit entry and
//! webhook event, and wakes the long-polls waiting on it.

mod view;

use std::time::Duration;

use oakallow_domain::Timestamp;
use oakallow_domain::approval::{
    Approval, ApprovalStatus, DecideError, Decider, LevelDecision, Outcome, Verdict, effective_timeout, new_reference,
};
use oakallow_domain::audit::{ActivityRecord, ActivityType, Actor};
use oakallow_domain::canonical::{object_sha256, to_canonical_string};
use oakallow_domain::id::{ApprovalId, CheckId, OrgId};
use oakallow_domain::permission::Permission;
use oakallow_domain::pii::digest;
use oakallow_domain::policy::{CheckInput, MAX_LABEL_LEN, check_text};
use oakallow_store::{ApprovalFilter, ApprovalTransition, CreateOutcome, IdempotencyClaim, NewApproval, StoreError};
use serde::Deserialize;
use serde_json::{Map, Value, json};

pub use view::ApprovalView;

use crate::auth::{ApprovalReader, Approver, Caller, Standard};
use crate::billing::billable;
use crate::check::{check_runtime_name, check_runtime_object};
use crate::error::{ServiceError, ServiceResult};
use crate::orgs_cache::OrgRuntime;
use crate::page::{Page, PageRequest};
use crate::{Service, events, redact};

/// Longest wait of a long-poll, in seconds.
pub const MAX_WAIT_SECONDS: u32 = 60;
/// How long an `Idempotency-Key` is remembered, in seconds.
const IDEMPOTENCY_SECONDS: i64 = 24 * 3600;

/// Body of `POST /v1/approvals`.
#[derive(Debug, Clone, Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalRequest {
    /// Tool name.
    #[schema(value_type = oakallow_domain::policy::text::Name)]
    pub tool: String,
    /// Tenant external id.
    #[serde(default)]
    #[schema(value_type = Option<oakallow_domain::policy::text::Name>)]
    pub tenant: Option<String>,
    /// Resource name.
    #[serde(default)]
    #[schema(value_type = Option<oakallow_domain::policy::text::Name>)]
    pub resource: Option<String>,
    /// Method name.
    #[serde(default)]
    #[schema(value_type = Option<oakallow_domain::policy::text::Name>)]
    pub method: Option<String>,
    /// The call's params (an object).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub params: Option<Map<String, Value>>,
    /// Why the agent wants to run it; shown to the approver.
    #[schema(value_type = oakallow_domain::policy::text::Reason)]
    pub reason: String,
    /// Free-form context.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub context: Option<Map<String, Value>>,
    /// The caller's own reference.
    #[serde(default)]
    #[schema(value_type = Option<oakallow_domain::policy::text::Name>)]
    pub reference_id: Option<String>,
    /// Wait at most this long (clamped to 60 s … 7 days).
    #[serde(default)]
    pub timeout_seconds: Option<u32>,
    /// The check that answered `requires_approval`, if any.
    #[serde(default)]
    pub check_id: Option<String>,
}

/// A decision as the service records it, whoever made it.
#[derive(Debug, Clone)]
pub(crate) struct Decision {
    /// Approve or deny.
    pub verdict: Verdict,
    /// The decider's name as recorded (already redacted as the org wants).
    pub by: String,
    /// The note (already redacted).
    pub note: Option<String>,
    /// A member's approver groups; `None` for an approver key (its tier is the permission).
    pub levels: Option<oakallow_domain::account::ApproverLevels>,
}

/// Body of `POST /v1/approvals/{id}/decide`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecideRequest {
    /// `approved` or `denied`.
    pub decision: Verdict,
    /// Shown to the agent (a denial's note is what it tells the model).
    #[serde(default)]
    #[schema(value_type = Option<oakallow_domain::policy::text::Text>)]
    pub note: Option<String>,
    /// The person deciding (required with an approver key, the only key that decides).
    #[serde(default)]
    #[schema(value_type = oakallow_domain::policy::text::DecidedBy, required = true)]
    pub decided_by: Option<String>,
}

/// Query of `GET /v1/approvals`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ApprovalQuery {
    /// Status (as of now: pending approvals past their deadline are `expired`).
    pub status: Option<ApprovalStatus>,
    /// Tool name.
    pub tool: Option<String>,
    /// Tenant external id.
    pub tenant: Option<String>,
    /// Page size, 1–500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// Cursor from the previous page.
    pub cursor: Option<String>,
}

fn approval_not_found() -> ServiceError {
    ServiceError::NotFound { what: "approval" }
}

fn parse_id(id: &str) -> ServiceResult<ApprovalId> {
    id.parse().map_err(|_| approval_not_found())
}

fn check_request(request: &ApprovalRequest) -> ServiceResult<()> {
    check_runtime_name("tool", Some(&request.tool))?;
    check_runtime_name("tenant", request.tenant.as_deref())?;
    check_runtime_name("resource", request.resource.as_deref())?;
    check_runtime_name("method", request.method.as_deref())?;
    check_runtime_object("params", request.params.as_ref())?;
    check_runtime_object("context", request.context.as_ref())?;
    if request.reason.trim().is_empty() {
        return Err(ServiceError::invalid("reason must not be empty"));
    }
    check_text("reason", Some(&request.reason))?;
    crate::check::check_reference_id(request.reference_id.as_deref())?;
    Ok(())
}

/// The claim an `Idempotency-Key` makes. The key and the request are kept as digests only: the
/// key may be made of personal data, and the request holds params, reason and context unredacted.
fn idempotency_claim(org: OrgId, key: &str, request: &ApprovalRequest, now: Timestamp) -> ServiceResult<IdempotencyClaim> {
    let body = to_canonical_string(&serde_json::to_value(request).map_err(|_| ServiceError::Internal)?);
    Ok(IdempotencyClaim {
        key: digest(&format!("idempotency-key:{org}"), key),
        fingerprint: digest(&format!("idempotency-request:{org}"), &body),
        expires_at: now.plus_seconds(IDEMPOTENCY_SECONDS),
    })
}

fn system_actor() -> Actor {
    Actor { kind: oakallow_domain::audit::ActorKind::System, id: "approval-sweeper".into(), label: "approval sweeper".into() }
}

impl Service {
    /// Asks for a human decision about one call. With an `Idempotency-Key` seen in the last 24
    /// hours for the same request, answers that approval again (`true` in the second element).
    pub async fn create_approval(
        &self,
        caller: &Standard,
        request: ApprovalRequest,
        idempotency_key: Option<String>,
    ) -> ServiceResult<(ApprovalView, bool)> {
        check_request(&request)?;
        if idempotency_key.as_ref().is_some_and(|k| k.is_empty() || k.chars().count() > MAX_LABEL_LEN || k.chars().any(char::is_control)) {
            return Err(ServiceError::invalid(format!(
                "Idempotency-Key must be 1 to {MAX_LABEL_LEN} characters without control characters"
            )));
        }
        let runtime = self.org_runtime(caller.org_id()).await?;
        let check_id = match &request.check_id {
            Some(text) => Some(self.own_check(caller, text).await?),
            None => None,
        };
        let now = self.clock.now();
        let idempotency = idempotency_key.map(|key| idempotency_claim(caller.org_id(), &key, &request, now)).transpose()?;
        let channels = self.channels(caller.org_id()).await?;
        for _ in 0..3 {
            let approval = self.plan_approval(&runtime, &request, check_id, now)?;
            let mut outbox =
                vec![events::outbox(&runtime.org, "approval.created", json!({ "approval": ApprovalView::at(&approval, now) }), now)];
            outbox.extend(self.approval_outbox(&runtime, &channels, "approval.created", &approval, now).await?);
            let new = NewApproval {
                idempotency: idempotency.clone(),
                activity: billable(self.approval_activity(caller.actor(), &approval, ActivityType::ApprovalCreated, now, &runtime)),
                outbox,
                approval,
            };
            match self.store.create_approval(&new, self.charge(&runtime.org)).await {
                Ok(CreateOutcome::Created) => {
                    self.webhook_wake.notify_one();
                    // Nobody listening is fine: the send only fails then.
                    let _ = self.approval_changes.send(new.approval.org_id);
                    return Ok((ApprovalView::at(&new.approval, now), false));
                }
                Ok(CreateOutcome::Replayed(existing)) => return Ok((ApprovalView::at(&existing, now), true)),
                Ok(CreateOutcome::InsufficientCredits) => return Err(ServiceError::InsufficientCredits),
                Ok(CreateOutcome::KeyReused) => {
                    return Err(ServiceError::Conflict {
                        message: "this Idempotency-Key was used for a different request in the last 24 hours".into(),
                        details: json!({ "header": "Idempotency-Key" }),
                    });
                }
                // A reference already taken in this org: draw another.
                Err(StoreError::Conflict(_)) => continue,
                Err(error) => return Err(error.into()),
            }
        }
        Err(ServiceError::Unavailable)
    }

    async fn own_check(&self, caller: &Caller, text: &str) -> ServiceResult<CheckId> {
        let unknown = || ServiceError::InvalidRequest {
            message: "check_id does not exist".into(),
            details: json!({ "field": "check_id", "value": text }),
        };
        let id: CheckId = text.parse().map_err(|_| unknown())?;
        self.store.check(caller.org_id(), id).await?.map(|c| c.id).ok_or_else(unknown)
    }

    /// The approval a request creates, after re-resolving the call.
    fn plan_approval(
        &self,
        runtime: &OrgRuntime,
        request: &ApprovalRequest,
        check_id: Option<CheckId>,
        now: Timestamp,
    ) -> ServiceResult<Approval> {
        let input = CheckInput {
            tool: &request.tool,
            tenant: request.tenant.as_deref(),
            resource: request.resource.as_deref(),
            method: request.method.as_deref(),
        };
        let decision = runtime.policy.resolve(input);
        if decision.permission == Permission::Disabled {
            return Err(ServiceError::ToolDisabled { name: request.tool.clone() });
        }
        if let (Some(tool), Some(params)) = (decision.tool, &request.params) {
            let errors = crate::check::param_errors(runtime, tool, params)?;
            if !errors.is_empty() {
                return Err(ServiceError::InvalidParams { errors });
            }
        }
        let timeout = effective_timeout(
            request.timeout_seconds,
            decision.tool.and_then(|t| t.approval_timeout_seconds),
            runtime.org.approval_timeout_seconds,
        );
        let org = &runtime.org;
        Ok(Approval {
            id: ApprovalId::generate(),
            org_id: org.id,
            reference: new_reference().map_err(|_| ServiceError::Unavailable)?,
            status: ApprovalStatus::Pending,
            level: 1,
            required_levels: if decision.tool.is_some_and(|t| t.requires_second_approval) { 2 } else { 1 },
            tool: request.tool.clone(),
            tenant: request.tenant.clone(),
            resource: request.resource.clone(),
            method: request.method.clone(),
            params: redact::object(org, request.params.as_ref()),
            params_sha256: object_sha256(request.params.as_ref()),
            reason: redact::text(org, &request.reason),
            context: redact::object(org, request.context.as_ref()),
            reference_id: redact::optional_text(org, request.reference_id.as_deref()),
            check_id,
            created_at: now,
            expires_at: now.plus_seconds(i64::from(timeout)),
            decided_at: None,
            decided_by: None,
            note: None,
            decisions: Vec::new(),
        })
    }

    /// An audit entry about `approval`.
    fn approval_activity(
        &self,
        actor: Actor,
        approval: &Approval,
        kind: ActivityType,
        now: Timestamp,
        runtime: &OrgRuntime,
    ) -> ActivityRecord {
        let mut record = ActivityRecord::new(approval.org_id, now, kind, actor);
        record.tool = Some(approval.tool.clone());
        record.tenant.clone_from(&approval.tenant);
        record.resource.clone_from(&approval.resource);
        record.method.clone_from(&approval.method);
        record.params.clone_from(&approval.params);
        record.reason = Some(approval.reason.clone());
        record.approval_id = Some(approval.id);
        record.check_id = approval.check_id;
        let status = approval.status_at(now);
        record.result = (status != ApprovalStatus::Pending).then(|| status.as_str().to_owned());
        record.details = Some(json!({
            "reference": approval.reference,
            "level": approval.level,
            "required_levels": approval.required_levels,
            "expires_at": approval.expires_at,
            "decided_by": approval.decided_by,
            "note": approval.note,
            "context": approval.context,
            "redacted": runtime.org.redact_pii,
        }));
        record
    }

    async fn load_approval(&self, caller: &Caller, id: ApprovalId) -> ServiceResult<Approval> {
        self.store.approval(caller.org_id(), id).await?.ok_or_else(approval_not_found)
    }

    /// One approval; with `wait` (1–60 s), holds the request until it leaves `pending` or the
    /// time is up. Readable by standard and approver keys.
    pub async fn get_approval(&self, caller: &ApprovalReader, id: &str, wait: Option<u32>) -> ServiceResult<ApprovalView> {
        let id = parse_id(id)?;
        let wait = wait.unwrap_or(0);
        if wait > MAX_WAIT_SECONDS {
            return Err(ServiceError::invalid(format!("wait must be at most {MAX_WAIT_SECONDS} seconds")));
        }
        // A long-poll holds a connection for up to a minute: each key may hold only so many.
        // (The dashboard never long-polls; a member's read has no key to count against.)
        let _permit = match caller.key_id() {
            Some(key) if wait > 0 => Some(self.limits.long_poll(key)?),
            _ => None,
        };
        if caller.tier() == oakallow_domain::keys::KeyTier::Standard {
            self.bill_poll(caller, id, wait).await?;
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(u64::from(wait));
        loop {
            let notify = self.wakeups.subscribe(id);
            let notified = notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let approval = self.load_approval(caller, id).await?;
            let now = self.clock.now();
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if approval.status_at(now) != ApprovalStatus::Pending || left.is_zero() {
                return Ok(ApprovalView::at(&approval, now));
            }
            // Wake at the deadline too: from then on the approval reads as expired.
            let until_expiry = u64::try_from(approval.expires_at.micros().saturating_sub(now.micros())).unwrap_or(0);
            let timeout = left.min(Duration::from_micros(until_expiry.max(1_000)));
            if !self.wakeups.wait(notified, timeout).await {
                return Ok(ApprovalView::at(&approval, self.clock.now()));
            }
        }
    }

    /// Records (and charges) a standard key's poll, a long-poll being one call. An unknown id
    /// is 404 before anything is charged.
    async fn bill_poll(&self, caller: &Caller, id: ApprovalId, wait: u32) -> ServiceResult<()> {
        let approval = self.load_approval(caller, id).await?;
        let runtime = self.org_runtime(caller.org_id()).await?;
        let now = self.clock.now();
        let mut record = ActivityRecord::new(caller.org_id(), now, ActivityType::ApprovalPolled, caller.actor());
        record.tool = Some(approval.tool.clone());
        record.tenant.clone_from(&approval.tenant);
        record.approval_id = Some(id);
        record.result = Some(approval.status_at(now).as_str().to_owned());
        record.details = Some(json!({ "wait_seconds": wait }));
        self.committer.commit(oakallow_store::RuntimeWrite::Activity(billable(record)), self.charge(&runtime.org)).await?;
        Ok(())
    }

    /// A page of the org's approvals, newest first. Readable by standard and approver keys.
    pub async fn list_approvals(&self, caller: &ApprovalReader, query: &ApprovalQuery) -> ServiceResult<Page<ApprovalView>> {
        let page = PageRequest { limit: query.limit, cursor: query.cursor.clone() };
        let limit = page.limit()?;
        let now = self.clock.now();
        let filter = ApprovalFilter {
            status: query.status,
            tool: query.tool.clone(),
            tenant: query.tenant.clone(),
            before: page.position_as::<ApprovalId>()?,
            limit: limit + 1,
            now,
        };
        let approvals = self.store.list_approvals(caller.org_id(), &filter).await?;
        let page = Page::from_probe(approvals, limit, |a| a.id.to_string());
        Ok(Page { data: page.data.iter().map(|a| ApprovalView::at(a, now)).collect(), next_cursor: page.next_cursor })
    }

    /// The requester withdraws a pending approval.
    pub async fn cancel_approval(&self, caller: &Standard, id: &str) -> ServiceResult<ApprovalView> {
        let id = parse_id(id)?;
        let approval = self.load_approval(caller, id).await?;
        let now = self.clock.now();
        let status = approval.status_at(now);
        if status != ApprovalStatus::Pending {
            return Err(ServiceError::ApprovalNotPending { status: status.as_str() });
        }
        let mut after = approval.clone();
        after.status = ApprovalStatus::Cancelled;
        after.decided_at = Some(now);
        self.apply_transition(caller.actor(), &approval, after, None, ActivityType::ApprovalCancelled, "approval.cancelled", now).await
    }

    /// A person's decision on a pending approval, through an approver key.
    pub async fn decide_approval(&self, caller: &Approver, id: &str, request: DecideRequest) -> ServiceResult<ApprovalView> {
        let id = parse_id(id)?;
        let decided_by = request
            .decided_by
            .clone()
            .filter(|by| !by.trim().is_empty())
            .ok_or_else(|| ServiceError::invalid("decided_by is required with an approver key"))?;
        if decided_by.chars().count() > MAX_LABEL_LEN || decided_by.chars().any(char::is_control) {
            return Err(ServiceError::invalid(format!("decided_by must be 1 to {MAX_LABEL_LEN} characters without control characters")));
        }
        check_text("note", request.note.as_deref())?;
        // Kept and announced redacted. A level-2 decider is then compared with the level-1 one
        // as redacted too: two names that redact alike count as the same person (refused), never
        // a same person as two.
        let runtime = self.org_runtime(caller.org_id()).await?;
        let (decided_by, note) = (redact::text(&runtime.org, &decided_by), redact::optional_text(&runtime.org, request.note.as_deref()));
        self.decide(caller.actor(), caller.org_id(), id, Decision { verdict: request.decision, by: decided_by, note, levels: None }).await
    }

    /// Decides for `actor` (an approver key, or a signed-in member), who is the decision's
    /// verified identity; `decision.by` is only the name they gave. With `decision.levels`
    /// (a member's approver groups), the level the approval waits at must be one of them.
    pub(crate) async fn decide(
        &self,
        actor: Actor,
        org: oakallow_domain::id::OrgId,
        id: ApprovalId,
        decision: Decision,
    ) -> ServiceResult<ApprovalView> {
        let Decision { verdict, by, note, levels } = decision;
        let approval = self.store.approval(org, id).await?.ok_or_else(approval_not_found)?;
        let now = self.clock.now();
        if let Some(levels) = levels
            && approval.status_at(now) == ApprovalStatus::Pending
            && !levels.may_decide(approval.level)
        {
            return Err(ServiceError::ForbiddenRole {
                required: if approval.level == 1 { "the level-1 approver group" } else { "the level-2 approver group" },
            });
        }
        let decider = Decider { kind: actor.kind, id: actor.id.clone() };
        let outcome = approval.decide(now, verdict, &decider).map_err(|e| match e {
            DecideError::NotPending(status) => ServiceError::ApprovalNotPending { status },
            DecideError::SamePerson => {
                ServiceError::Conflict { message: e.to_string(), details: json!({ "level": approval.level, "decider": decider }) }
            }
        })?;
        let decision =
            LevelDecision { level: approval.level, decision: verdict, decided_by: by, decider: Some(decider), note, decided_at: now };
        let mut after = approval.clone();
        after.apply(&outcome, decision.clone());
        let (kind, event) = match outcome {
            Outcome::Escalated => (ActivityType::ApprovalEscalated, "approval.escalated"),
            Outcome::Decided(_) => (ActivityType::ApprovalDecided, "approval.decided"),
        };
        self.pauses.pass(crate::pauses::PausePoint::DecisionPlanned).await;
        self.apply_transition(actor, &approval, after, Some(decision), kind, event, now).await
    }

    /// Writes a transition planned from `before`; if the approval changed meanwhile, answers
    /// with its current state's error.
    #[expect(clippy::too_many_arguments, reason = "one transition, described field by field")]
    async fn apply_transition(
        &self,
        actor: Actor,
        before: &Approval,
        after: Approval,
        decision: Option<LevelDecision>,
        kind: ActivityType,
        event: &str,
        now: Timestamp,
    ) -> ServiceResult<ApprovalView> {
        let runtime = self.org_runtime(before.org_id).await?;
        let mut data = json!({ "approval": ApprovalView::at(&after, now) });
        if let Some(decision) = &decision {
            data["decision"] = json!(decision.decision);
            data["level"] = json!(decision.level);
            data["decided_by"] = json!(decision.decided_by);
            data["decider"] = json!(decision.decider);
            data["note"] = json!(decision.note);
            data["decided_at"] = json!(decision.decided_at);
        }
        let mut outbox = vec![events::outbox(&runtime.org, event, data, now)];
        let channels = self.channels(before.org_id).await?;
        outbox.extend(self.approval_outbox(&runtime, &channels, event, &after, now).await?);
        let transition = ApprovalTransition {
            org_id: before.org_id,
            id: before.id,
            expected_level: before.level,
            now,
            activity: self.approval_activity(actor, &after, kind, now, &runtime),
            outbox,
            decision,
            after,
        };
        if !self.store.transition_approval(&transition).await? {
            let current = self.store.approval(before.org_id, before.id).await?.ok_or_else(approval_not_found)?;
            let status = current.status_at(self.clock.now());
            if status == ApprovalStatus::Pending {
                // Still pending, so another decision moved it to its next level meanwhile: this
                // one was made about a level that is decided now.
                return Err(ServiceError::Conflict {
                    message: format!("level {} was decided meanwhile; the approval now waits for level {}", before.level, current.level),
                    details: json!({ "level": current.level, "status": status.as_str() }),
                });
            }
            return Err(ServiceError::ApprovalNotPending { status: status.as_str() });
        }
        self.wakeups.notify(before.id);
        self.webhook_wake.notify_one();
        let _ = self.approval_changes.send(before.org_id);
        Ok(ApprovalView::at(&transition.after, now))
    }

    /// Marks every approval past its deadline `expired` and announces each once (on any
    /// number of nodes: only one transition per approval applies). Answers how many this call
    /// expired.
    pub async fn sweep_expired_approvals(&self) -> ServiceResult<usize> {
        let mut expired = 0;
        loop {
            let now = self.clock.now();
            let due = self.store.due_approvals(now, 100).await?;
            let batch = due.len();
            for approval in due {
                let mut after = approval.clone();
                after.status = ApprovalStatus::Expired;
                after.decided_at = Some(approval.expires_at);
                let applied = self
                    .apply_transition(system_actor(), &approval, after, None, ActivityType::ApprovalExpired, "approval.expired", now)
                    .await;
                match applied {
                    Ok(_) => expired += 1,
                    Err(ServiceError::ApprovalNotPending { .. }) => {}
                    Err(error) => return Err(error),
                }
            }
            if batch < 100 {
                return Ok(expired);
            }
        }
    }
}
