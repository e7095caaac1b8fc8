//! Conformance cases of the runtime workflow: webhook secrets, signing keys, tokens,
//! executions, approvals, webhook deliveries, and the activity export order.

use std::sync::Arc;

use oakallow_domain::Timestamp;
use oakallow_domain::approval::{Approval, ApprovalStatus, Decider, LevelDecision, Verdict, new_reference};
use oakallow_domain::audit::{ActivityType, ActorKind};
use oakallow_domain::id::{ApprovalId, DeliveryId, EventId, ExecutionId, LeaseId, OrgId};
use oakallow_domain::token::Algorithm;
use serde_json::json;

use super::{T0, Unbilled, check_record, checked, new_org, record};
use crate::{
    ActivityFilter, ApprovalFilter, ApprovalTransition, AttemptResult, ClaimLimit, CreateOutcome, DeliveryAttempt, DeliveryFilter,
    DeliveryLease, DeliveryStatus, ExecutionRecord, IdempotencyClaim, MintedToken, NewApproval, NewDelivery, Outbox, RuntimeWrite, Store,
    StoreError, StoredSigningKey, TokenRecord, WebhookEvent,
};

fn token(org: OrgId, src: &str, jti: &str) -> TokenRecord {
    TokenRecord {
        jti: jti.into(),
        org_id: org,
        kid: "k_1".into(),
        src: src.into(),
        tool: "refund".into(),
        tenant: Some("acme".into()),
        resource: None,
        method: Some("POST".into()),
        params_sha256: "ab".repeat(32),
        issued_at: T0,
        expires_at: T0.plus_seconds(300),
        consumed_at: None,
    }
}

fn minted(org: OrgId, src: &str, jti: &str) -> MintedToken {
    let mut activity = record(org, ActivityType::TokenMinted);
    activity.token_jti = Some(jti.into());
    MintedToken { token: token(org, src, jti), activity }
}

fn consume(org: OrgId, jti: &str, at: Timestamp) -> RuntimeWrite {
    let mut verified = record(org, ActivityType::TokenVerified);
    verified.token_jti = Some(jti.into());
    let mut already_used = record(org, ActivityType::TokenRejected);
    already_used.token_jti = Some(jti.into());
    already_used.result = Some("used".into());
    RuntimeWrite::ConsumeToken { org_id: org, jti: jti.into(), at, verified, already_used }
}

fn execution(org: OrgId, jti: Option<&str>) -> RuntimeWrite {
    let execution = ExecutionRecord {
        id: ExecutionId::generate(),
        org_id: org,
        tool: "refund".into(),
        tenant: None,
        resource: None,
        method: None,
        params: Some(json!({"amount": 5})),
        result: "success".into(),
        duration_ms: 12,
        output: Some(json!({"ok": true})),
        error: None,
        token_jti: jti.map(Into::into),
        authorized: jti.is_some(),
        created_at: T0,
    };
    let mut activity = record(org, ActivityType::ExecutionLogged);
    activity.token_jti = jti.map(Into::into);
    RuntimeWrite::Execution { execution, activity }
}

async fn count(store: &dyn Store, org: OrgId, kind: ActivityType) -> usize {
    store.list_activity(org, &ActivityFilter { kind: Some(kind), limit: 500, ..Default::default() }).await.unwrap().len()
}

/// An org's webhook secret is set once by the first URL, and replaced by rotation.
pub async fn webhook_secrets(store: Arc<dyn Store>) {
    let mut org = new_org(store.as_ref(), "w@example.com").await;
    assert_eq!(store.webhook_secret(org.id).await.unwrap(), None);
    org.webhook_url = Some("https://hooks.example.com".into());
    store.update_org(&org, org.updated_at, Some("whsec_first"), record(org.id, ActivityType::ConfigChanged)).await.unwrap();
    store.update_org(&org, org.updated_at, Some("whsec_second"), record(org.id, ActivityType::ConfigChanged)).await.unwrap();
    assert_eq!(store.webhook_secret(org.id).await.unwrap().as_deref(), Some("whsec_first"));
    store.set_webhook_secret(org.id, "whsec_rotated", record(org.id, ActivityType::ConfigChanged)).await.unwrap();
    assert_eq!(store.webhook_secret(org.id).await.unwrap().as_deref(), Some("whsec_rotated"));
    assert_eq!(store.org(org.id).await.unwrap(), Some(org));
    let ghost = OrgId::generate();
    assert_eq!(store.set_webhook_secret(ghost, "whsec_x", record(ghost, ActivityType::ConfigChanged)).await, Err(StoreError::NotFound));
}

/// One key per org and algorithm, found by kid, never across orgs.
pub async fn signing_keys(store: Arc<dyn Store>) {
    let a = new_org(store.as_ref(), "s1@example.com").await;
    let b = new_org(store.as_ref(), "s2@example.com").await;
    let key = |org: OrgId, kid: &str, algorithm, byte| StoredSigningKey {
        org_id: org,
        kid: kid.into(),
        algorithm,
        secret: [byte; 32],
        created_at: T0,
    };
    assert_eq!(store.signing_key(a.id, Algorithm::HmacSha256).await.unwrap(), None);
    let first = store.add_signing_key(&key(a.id, "k_a1", Algorithm::HmacSha256, 1)).await.unwrap();
    let second = store.add_signing_key(&key(a.id, "k_a2", Algorithm::HmacSha256, 2)).await.unwrap();
    assert_eq!(second, first, "the first key of an algorithm stays");
    let ed = store.add_signing_key(&key(a.id, "k_a3", Algorithm::Ed25519, 3)).await.unwrap();
    assert_eq!(store.signing_key(a.id, Algorithm::Ed25519).await.unwrap(), Some(ed.clone()));
    assert_eq!(store.signing_key_by_kid(a.id, "k_a1").await.unwrap(), Some(first));
    assert_eq!(store.signing_key_by_kid(b.id, "k_a1").await.unwrap(), None);
    assert_eq!(store.ed25519_keys(a.id).await.unwrap(), vec![ed]);
    assert!(store.ed25519_keys(b.id).await.unwrap().is_empty());
}

/// One token per source; a token is consumed once, and the second attempt is audited as used.
pub async fn tokens_mint_once_and_consume_once(store: Arc<dyn Store>) {
    let org = new_org(store.as_ref(), "t@example.com").await;
    let applied = store.commit_unbilled(&[RuntimeWrite::MintToken(minted(org.id, "apr_1", "j1"))]).await.unwrap();
    assert_eq!(applied, vec![true]);
    let applied = store.commit_unbilled(&[RuntimeWrite::MintToken(minted(org.id, "apr_1", "j2")), checked(org.id, "x", 1)]).await.unwrap();
    assert_eq!(applied, vec![false, true], "a second token from the same source is refused, the rest of the batch commits");
    assert_eq!(store.token(org.id, "j2").await.unwrap(), None);
    assert_eq!(count(store.as_ref(), org.id, ActivityType::TokenMinted).await, 1);

    let mut inline = checked(org.id, "y", 2);
    if let RuntimeWrite::Check { token, check, .. } = &mut inline {
        *token = Some(minted(org.id, &check.id.to_string(), "j3"));
    }
    assert_eq!(store.commit_unbilled(&[inline]).await.unwrap(), vec![true]);
    assert_eq!(store.token(org.id, "j3").await.unwrap().map(|t| t.tool), Some("refund".into()));

    let at = T0.plus_seconds(5);
    assert_eq!(store.commit_unbilled(&[consume(org.id, "j1", at)]).await.unwrap(), vec![true]);
    assert_eq!(store.commit_unbilled(&[consume(org.id, "j1", at.plus_seconds(1))]).await.unwrap(), vec![false]);
    assert_eq!(store.token(org.id, "j1").await.unwrap().and_then(|t| t.consumed_at), Some(at));
    assert_eq!(count(store.as_ref(), org.id, ActivityType::TokenVerified).await, 1);
    assert_eq!(count(store.as_ref(), org.id, ActivityType::TokenRejected).await, 1);
    let other = new_org(store.as_ref(), "t2@example.com").await;
    assert_eq!(store.token(other.id, "j1").await.unwrap(), None);
    assert_eq!(store.commit_unbilled(&[consume(other.id, "j1", at)]).await.unwrap(), vec![false], "another org cannot consume it");
    assert_eq!(store.verify_chain(org.id).await.unwrap().first_broken, None);
}

/// Many concurrent consumptions of one token: exactly one applies.
pub async fn concurrent_consumption(store: Arc<dyn Store>) {
    let org = new_org(store.as_ref(), "cc@example.com").await;
    store.commit_unbilled(&[RuntimeWrite::MintToken(minted(org.id, "chk_1", "jx"))]).await.unwrap();
    let attempts = (0..50).map(|i| {
        let store = store.clone();
        async move { store.commit_unbilled(&[consume(org.id, "jx", T0.plus_seconds(i))]).await.unwrap()[0] }
    });
    let applied = futures_util::future::join_all(attempts).await.into_iter().filter(|a| *a).count();
    assert_eq!(applied, 1);
    assert_eq!(count(store.as_ref(), org.id, ActivityType::TokenVerified).await, 1);
    assert_eq!(count(store.as_ref(), org.id, ActivityType::TokenRejected).await, 49);
}

/// One execution per token (it consumes the token), any number without.
pub async fn executions_once_per_token(store: Arc<dyn Store>) {
    let org = new_org(store.as_ref(), "e@example.com").await;
    store.commit_unbilled(&[RuntimeWrite::MintToken(minted(org.id, "chk_9", "je"))]).await.unwrap();
    assert!(!store.token_has_execution(org.id, "je").await.unwrap());
    assert_eq!(store.commit_unbilled(&[execution(org.id, Some("je"))]).await.unwrap(), vec![true]);
    assert!(store.token(org.id, "je").await.unwrap().unwrap().consumed_at.is_some(), "the execution consumed the token");
    assert!(store.token_has_execution(org.id, "je").await.unwrap());
    assert_eq!(store.commit_unbilled(&[execution(org.id, Some("je"))]).await.unwrap(), vec![false]);
    assert_eq!(store.commit_unbilled(&[execution(org.id, None), execution(org.id, None)]).await.unwrap(), vec![true, true]);
    assert_eq!(count(store.as_ref(), org.id, ActivityType::ExecutionLogged).await, 3);
    // A token consumed by a verification still allows its one execution.
    store.commit_unbilled(&[RuntimeWrite::MintToken(minted(org.id, "chk_10", "jv")), consume(org.id, "jv", T0)]).await.unwrap();
    assert_eq!(store.commit_unbilled(&[execution(org.id, Some("jv"))]).await.unwrap(), vec![true]);
}

/// A number a column cannot keep is refused, never clamped: what the chain hashed is what is
/// stored (the API bounds such numbers first; this is the store's own guard).
pub async fn numbers_are_kept_exactly_or_refused(store: Arc<dyn Store>) {
    let org = new_org(store.as_ref(), "n@example.com").await;
    let with_duration = |duration_ms: u64| {
        let RuntimeWrite::Execution { mut execution, mut activity } = execution(org.id, None) else { unreachable!() };
        execution.duration_ms = duration_ms;
        activity.duration_ms = Some(duration_ms);
        RuntimeWrite::Execution { execution, activity }
    };
    let largest = u64::try_from(i64::MAX).unwrap();
    assert_eq!(store.commit_unbilled(&[with_duration(largest)]).await.unwrap(), vec![true]);
    for too_large in [largest + 1, u64::MAX] {
        let outcome = store.commit_unbilled(&[with_duration(too_large)]).await;
        assert!(!matches!(outcome, Ok(ref applied) if applied == &[true]), "duration_ms {too_large} was stored: {outcome:?}");
    }
    let entries = store.list_activity(org.id, &ActivityFilter { limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(entries.iter().map(|e| e.record.duration_ms).collect::<Vec<_>>(), vec![Some(largest)]);
    let chain = store.verify_chain(org.id).await.unwrap();
    assert_eq!((chain.entries, chain.first_broken), (1, None));
}

pub(crate) fn approval(org: OrgId, required_levels: u8, timeout_seconds: i64) -> Approval {
    Approval {
        id: ApprovalId::generate(),
        org_id: org,
        reference: new_reference().unwrap(),
        status: ApprovalStatus::Pending,
        level: 1,
        required_levels,
        tool: "refund".into(),
        tenant: Some("acme".into()),
        resource: None,
        method: None,
        params: Some(json!({"amount": 5})),
        params_sha256: "cd".repeat(32),
        reason: "customer asked".into(),
        context: Some(json!({"ticket": 7})),
        reference_id: Some("r-1".into()),
        check_id: Some(check_record(org, "refund").id),
        created_at: T0,
        expires_at: T0.plus_seconds(timeout_seconds),
        decided_at: None,
        decided_by: None,
        note: None,
        decisions: vec![],
    }
}

fn outbox(org: OrgId, kind: &str, url: Option<&str>) -> Outbox {
    let id = EventId::generate();
    let event = WebhookEvent { id, org_id: org, kind: kind.into(), payload: format!(r#"{{"id":"{id}","type":"{kind}"}}"#), created_at: T0 };
    let delivery = url.map(|url| NewDelivery {
        id: DeliveryId::generate(),
        channel: crate::DeliveryChannel::Webhook,
        url: url.into(),
        next_attempt_at: T0,
    });
    Outbox { event, delivery }
}

fn new_approval(approval: Approval, idempotency: Option<IdempotencyClaim>) -> NewApproval {
    let org = approval.org_id;
    NewApproval {
        approval,
        idempotency,
        activity: record(org, ActivityType::ApprovalCreated),
        outbox: vec![outbox(org, "approval.created", Some("https://h.example.com"))],
    }
}

/// Approvals read back exactly; references are unique per org; idempotency keys replay within
/// their 24 hours and refuse a different request.
pub async fn approvals_create_and_idempotency(store: Arc<dyn Store>) {
    let org = new_org(store.as_ref(), "a@example.com").await;
    let first = approval(org.id, 1, 3600);
    assert_eq!(store.create_approval(&new_approval(first.clone(), None), None).await.unwrap(), CreateOutcome::Created);
    assert_eq!(store.approval(org.id, first.id).await.unwrap(), Some(first.clone()));
    assert_eq!(count(store.as_ref(), org.id, ActivityType::ApprovalCreated).await, 1);
    let other = new_org(store.as_ref(), "a2@example.com").await;
    assert_eq!(store.approval(other.id, first.id).await.unwrap(), None);

    let twin = Approval { id: ApprovalId::generate(), ..first.clone() };
    assert!(matches!(store.create_approval(&new_approval(twin, None), None).await, Err(StoreError::Conflict(_))), "reference reused");

    let claim = |fingerprint: &str, expires_at| IdempotencyClaim { key: "idem-1".into(), fingerprint: fingerprint.into(), expires_at };
    let keyed = approval(org.id, 1, 3600);
    let created = store.create_approval(&new_approval(keyed.clone(), Some(claim("f1", T0.plus_seconds(86_400)))), None).await.unwrap();
    assert_eq!(created, CreateOutcome::Created);
    let again = approval(org.id, 1, 3600);
    let replay = store.create_approval(&new_approval(again.clone(), Some(claim("f1", T0.plus_seconds(86_400)))), None).await.unwrap();
    assert_eq!(replay, CreateOutcome::Replayed(keyed.clone()));
    assert_eq!(store.approval(org.id, again.id).await.unwrap(), None, "nothing new stored");
    let reused =
        store.create_approval(&new_approval(approval(org.id, 1, 3600), Some(claim("f2", T0.plus_seconds(86_400)))), None).await.unwrap();
    assert_eq!(reused, CreateOutcome::KeyReused);
    // The same key in another org is another key.
    let mut elsewhere = approval(other.id, 1, 3600);
    elsewhere.reference = first.reference.clone();
    assert_eq!(
        store.create_approval(&new_approval(elsewhere, Some(claim("f9", T0.plus_seconds(86_400)))), None).await.unwrap(),
        CreateOutcome::Created
    );
    // After 24 hours the key is free again.
    let mut later = approval(org.id, 1, 3600);
    later.created_at = T0.plus_seconds(86_401);
    later.expires_at = later.created_at.plus_seconds(3600);
    let fresh = store.create_approval(&new_approval(later.clone(), Some(claim("f3", T0.plus_seconds(2 * 86_400)))), None).await.unwrap();
    assert_eq!(fresh, CreateOutcome::Created);
    assert_eq!(count(store.as_ref(), org.id, ActivityType::ApprovalCreated).await, 3);
}

fn transition(
    before: &Approval,
    now: Timestamp,
    after: Approval,
    decision: Option<LevelDecision>,
    kind: ActivityType,
) -> ApprovalTransition {
    ApprovalTransition {
        org_id: before.org_id,
        id: before.id,
        expected_level: before.level,
        now,
        after,
        decision,
        activity: record(before.org_id, kind),
        outbox: vec![outbox(before.org_id, kind.as_str(), None)],
    }
}

fn decided(level: u8, verdict: Verdict, by: &str, at: Timestamp) -> LevelDecision {
    LevelDecision {
        level,
        decision: verdict,
        decided_by: by.into(),
        decider: Some(Decider { kind: ActorKind::Key, id: format!("key_{by}") }),
        note: Some(format!("{by} says {}", verdict.as_str())),
        decided_at: at,
    }
}

/// Decisions apply only to a pending approval at the expected level before its deadline;
/// expiry applies only after it; each applies once.
pub async fn approval_transitions(store: Arc<dyn Store>) {
    let org = new_org(store.as_ref(), "tr@example.com").await;
    let two_level = approval(org.id, 2, 600);
    store.create_approval(&new_approval(two_level.clone(), None), None).await.unwrap();
    let now = T0.plus_seconds(10);

    let mut escalated = two_level.clone();
    let level1 = decided(1, Verdict::Approved, "alice", now);
    escalated.level = 2;
    escalated.decisions.push(level1.clone());
    let step = transition(&two_level, now, escalated.clone(), Some(level1), ActivityType::ApprovalEscalated);
    assert!(store.transition_approval(&step).await.unwrap());
    assert!(!store.transition_approval(&step).await.unwrap(), "the level moved on");
    assert_eq!(store.approval(org.id, two_level.id).await.unwrap(), Some(escalated.clone()));

    let mut denied = escalated.clone();
    // A dashboard user's decision keeps its kind.
    let level2 =
        LevelDecision { decider: Some(Decider { kind: ActorKind::User, id: "acc_bob".into() }), ..decided(2, Verdict::Denied, "bob", now) };
    denied.status = ApprovalStatus::Denied;
    denied.decided_at = Some(now);
    denied.decided_by = Some("bob".into());
    denied.note.clone_from(&level2.note);
    denied.decisions.push(level2.clone());
    assert!(
        store.transition_approval(&transition(&escalated, now, denied.clone(), Some(level2), ActivityType::ApprovalDecided)).await.unwrap()
    );
    assert_eq!(store.approval(org.id, two_level.id).await.unwrap(), Some(denied.clone()));
    let mut cancelled = denied.clone();
    cancelled.status = ApprovalStatus::Cancelled;
    assert!(!store.transition_approval(&transition(&denied, now, cancelled, None, ActivityType::ApprovalCancelled)).await.unwrap());

    // Deadline: no decision at or after it; expiry only at or after it.
    let short = approval(org.id, 1, 60);
    store.create_approval(&new_approval(short.clone(), None), None).await.unwrap();
    let deadline = short.expires_at;
    let mut approved = short.clone();
    approved.status = ApprovalStatus::Approved;
    approved.decided_at = Some(deadline);
    let decision = decided(1, Verdict::Approved, "alice", deadline);
    assert!(
        !store.transition_approval(&transition(&short, deadline, approved, Some(decision), ActivityType::ApprovalDecided)).await.unwrap()
    );
    let mut expired = short.clone();
    expired.status = ApprovalStatus::Expired;
    expired.decided_at = Some(deadline);
    let early = transition(&short, deadline.plus_seconds(-1), expired.clone(), None, ActivityType::ApprovalExpired);
    assert!(!store.transition_approval(&early).await.unwrap(), "not expired before the deadline");
    let on_time = transition(&short, deadline, expired.clone(), None, ActivityType::ApprovalExpired);
    assert!(store.transition_approval(&on_time).await.unwrap());
    assert!(!store.transition_approval(&on_time).await.unwrap(), "expired once");
    assert_eq!(store.approval(org.id, short.id).await.unwrap(), Some(expired));
    assert_eq!(count(store.as_ref(), org.id, ActivityType::ApprovalExpired).await, 1);

    let ghost = transition(&approval(OrgId::generate(), 1, 60), now, approval(org.id, 1, 60), None, ActivityType::ApprovalCancelled);
    assert!(!store.transition_approval(&ghost).await.unwrap());
    assert_eq!(store.verify_chain(org.id).await.unwrap().first_broken, None);
}

/// Listing filters see deadlines as of `now`; due approvals span orgs, oldest deadline first.
pub async fn approval_listing_and_expiry(store: Arc<dyn Store>) {
    let a = new_org(store.as_ref(), "l1@example.com").await;
    let b = new_org(store.as_ref(), "l2@example.com").await;
    let soon = approval(a.id, 1, 60);
    let later = approval(a.id, 1, 600);
    let mut other_tool = approval(a.id, 1, 600);
    other_tool.tool = "deploy".into();
    other_tool.tenant = None;
    let in_b = approval(b.id, 1, 120);
    for item in [&soon, &later, &other_tool, &in_b] {
        store.create_approval(&new_approval(item.clone(), None), None).await.unwrap();
    }
    let list = |status, tool: Option<&str>, before, limit, now| {
        let store = store.clone();
        let filter = ApprovalFilter { status, tool: tool.map(Into::into), tenant: None, before, limit, now };
        async move { store.list_approvals(a.id, &filter).await.unwrap().into_iter().map(|x| x.id).collect::<Vec<_>>() }
    };
    assert_eq!(list(None, None, None, 10, T0).await, vec![other_tool.id, later.id, soon.id], "newest first");
    assert_eq!(list(None, None, Some(other_tool.id), 1, T0).await, vec![later.id]);
    assert_eq!(list(Some(ApprovalStatus::Pending), Some("refund"), None, 10, T0).await, vec![later.id, soon.id]);
    let after_soon = soon.expires_at;
    assert_eq!(list(Some(ApprovalStatus::Pending), None, None, 10, after_soon).await, vec![other_tool.id, later.id]);
    assert_eq!(list(Some(ApprovalStatus::Expired), None, None, 10, after_soon).await, vec![soon.id]);
    let tenant_filter = ApprovalFilter { status: None, tool: None, tenant: Some("acme".into()), before: None, limit: 10, now: T0 };
    assert_eq!(store.list_approvals(a.id, &tenant_filter).await.unwrap().len(), 2);

    let due: Vec<_> = store.due_approvals(T0.plus_seconds(130), 10).await.unwrap().into_iter().map(|x| x.id).collect();
    assert_eq!(due, vec![soon.id, in_b.id]);
    assert_eq!(store.due_approvals(T0.plus_seconds(130), 1).await.unwrap().len(), 1);
    assert!(store.due_approvals(T0, 10).await.unwrap().is_empty());
}

/// A new claim of deliveries, lasting until `until`.
fn lease(until: Timestamp) -> DeliveryLease {
    DeliveryLease { id: LeaseId::generate(), until }
}

/// An attempt numbered `n`, answered with `code` (or failing to connect).
fn attempt(n: u32, code: Option<u16>) -> DeliveryAttempt {
    DeliveryAttempt {
        attempt: n,
        at: T0.plus_seconds(i64::from(n)),
        status_code: code,
        latency_ms: 7,
        response_excerpt: code.map(|c| format!("status {c}")),
        error: if code.is_none() { Some("connection refused".into()) } else { None },
    }
}

/// Deliveries are claimed under a lease, retried on schedule, listed with every attempt.
pub async fn webhook_deliveries(store: Arc<dyn Store>) {
    let org = new_org(store.as_ref(), "d@example.com").await;
    store.set_webhook_secret(org.id, "whsec_abc", record(org.id, ActivityType::ConfigChanged)).await.unwrap();
    let item = outbox(org.id, "webhook.test", Some("https://h.example.com/x"));
    store.enqueue_webhook(&item).await.unwrap();
    store.enqueue_webhook(&outbox(org.id, "approval.created", None)).await.unwrap();
    let delivery_id = item.delivery.as_ref().unwrap().id;

    let first = lease(T0.plus_seconds(30));
    let claimed = store.claim_deliveries(T0, first, ClaimLimit::total(10)).await.unwrap();
    assert_eq!(claimed.len(), 1, "events without a destination are not delivered");
    assert_eq!((claimed[0].payload.as_str(), claimed[0].secret.as_deref()), (item.event.payload.as_str(), Some("whsec_abc")));
    assert_eq!((claimed[0].delivery.event_id, claimed[0].delivery.attempts), (item.event.id, 0));
    assert!(
        store.claim_deliveries(T0.plus_seconds(1), lease(T0.plus_seconds(31)), ClaimLimit::total(10)).await.unwrap().is_empty(),
        "leased"
    );
    let taken_over = lease(first.until.plus_seconds(30));
    assert_eq!(store.claim_deliveries(first.until, taken_over, ClaimLimit::total(10)).await.unwrap().len(), 1, "an abandoned lease ends");

    let retry_at = T0.plus_seconds(100);
    assert!(store.finish_attempt(delivery_id, taken_over.id, &attempt(1, None), AttemptResult::RetryAt(retry_at)).await.unwrap());
    assert!(
        store
            .claim_deliveries(retry_at.plus_seconds(-1), lease(retry_at.plus_seconds(30)), ClaimLimit::total(10))
            .await
            .unwrap()
            .is_empty()
    );
    let second = lease(retry_at.plus_seconds(30));
    let claimed = store.claim_deliveries(retry_at, second, ClaimLimit::total(10)).await.unwrap();
    assert_eq!((claimed[0].delivery.attempts, claimed[0].delivery.round_attempts), (1, 1));
    assert!(store.finish_attempt(delivery_id, second.id, &attempt(2, Some(500)), AttemptResult::Failed).await.unwrap());
    assert!(
        store
            .claim_deliveries(T0.plus_seconds(1_000_000), lease(T0.plus_seconds(1_000_030)), ClaimLimit::total(10))
            .await
            .unwrap()
            .is_empty()
    );

    let filter = DeliveryFilter { status: None, before: None, limit: 10 };
    let listed = store.list_deliveries(org.id, &filter).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].status, listed[0].attempts, listed[0].last_status), (DeliveryStatus::Failed, 2, Some(500)));
    assert_eq!(listed[0].attempt_log, vec![attempt(1, None), attempt(2, Some(500))]);
    assert_eq!(listed[0].event_type, "webhook.test");

    let other = new_org(store.as_ref(), "d2@example.com").await;
    assert_eq!(store.retry_delivery(other.id, delivery_id, T0).await, Err(StoreError::NotFound));
    assert!(store.list_deliveries(other.id, &filter).await.unwrap().is_empty());
    let again = store.retry_delivery(org.id, delivery_id, retry_at).await.unwrap();
    assert_eq!((again.status, again.round_attempts, again.next_attempt_at), (DeliveryStatus::Pending, 0, Some(retry_at)));
    let third = lease(retry_at.plus_seconds(30));
    let claimed = store.claim_deliveries(retry_at, third, ClaimLimit::total(10)).await.unwrap();
    assert_eq!(claimed[0].delivery.attempts, 2);
    assert!(store.finish_attempt(delivery_id, third.id, &attempt(3, Some(204)), AttemptResult::Delivered).await.unwrap());
    let listed =
        store.list_deliveries(org.id, &DeliveryFilter { status: Some(DeliveryStatus::Delivered), before: None, limit: 10 }).await.unwrap();
    assert_eq!((listed[0].attempts, listed[0].delivered_at), (3, Some(attempt(3, None).at)));
}

/// Only the newest claim of a delivery records its attempt, once: a worker whose lease ran out
/// cannot overwrite the outcome of the claim that replaced it. A manual retry leaves a claim in
/// flight alone (its attempt is the redelivery); after its lease, the retry is due at once.
pub async fn delivery_leases(store: Arc<dyn Store>) {
    let org = new_org(store.as_ref(), "lease@example.com").await;
    let item = outbox(org.id, "webhook.test", Some("https://h.example.com/x"));
    store.enqueue_webhook(&item).await.unwrap();
    let id = item.delivery.as_ref().unwrap().id;
    let filter = DeliveryFilter { status: None, before: None, limit: 10 };

    let first = lease(T0.plus_seconds(30));
    assert_eq!(store.claim_deliveries(T0, first, ClaimLimit::total(10)).await.unwrap().len(), 1);
    let retried = store.retry_delivery(org.id, id, T0.plus_seconds(1)).await.unwrap();
    assert_eq!(retried.next_attempt_at, Some(first.until), "a retry leaves the claim in flight alone");
    assert!(store.claim_deliveries(T0.plus_seconds(1), lease(T0.plus_seconds(60)), ClaimLimit::total(10)).await.unwrap().is_empty());

    let second = lease(first.until.plus_seconds(30));
    assert_eq!(store.claim_deliveries(first.until, second, ClaimLimit::total(10)).await.unwrap().len(), 1, "the first lease ran out");
    assert!(!store.finish_attempt(id, first.id, &attempt(1, Some(204)), AttemptResult::Delivered).await.unwrap(), "a stale claim");
    let retry_at = T0.plus_seconds(500);
    assert!(store.finish_attempt(id, second.id, &attempt(1, Some(503)), AttemptResult::RetryAt(retry_at)).await.unwrap());
    assert!(!store.finish_attempt(id, second.id, &attempt(2, Some(204)), AttemptResult::Delivered).await.unwrap(), "recorded once");
    let listed = store.list_deliveries(org.id, &filter).await.unwrap();
    assert_eq!((listed[0].status, listed[0].attempts, listed[0].next_attempt_at), (DeliveryStatus::Pending, 1, Some(retry_at)));
    assert_eq!(listed[0].attempt_log, vec![attempt(1, Some(503))]);
    assert!(!store.finish_attempt(id, LeaseId::generate(), &attempt(2, None), AttemptResult::Failed).await.unwrap(), "never claimed");

    // A claim whose lease ran out with no one taking over does not delay a manual retry.
    let third = lease(retry_at.plus_seconds(30));
    assert_eq!(store.claim_deliveries(retry_at, third, ClaimLimit::total(10)).await.unwrap().len(), 1);
    let now = third.until.plus_seconds(1);
    assert_eq!(store.retry_delivery(org.id, id, now).await.unwrap().next_attempt_at, Some(now));
    assert!(!store.finish_attempt(id, third.id, &attempt(2, Some(204)), AttemptResult::Delivered).await.unwrap(), "the retry ended it");
    assert_eq!(store.claim_deliveries(now, lease(now.plus_seconds(30)), ClaimLimit::total(10)).await.unwrap().len(), 1);
}

/// One org cannot take every claim: a claim takes at most `per_org` deliveries of an org,
/// counting those of its deliveries another claim still holds, so another org's deliveries go
/// out while a slow receiver holds the first org's.
pub async fn deliveries_are_shared_between_orgs(store: Arc<dyn Store>) {
    let busy = new_org(store.as_ref(), "busy@example.com").await;
    let quiet = new_org(store.as_ref(), "quiet@example.com").await;
    for _ in 0..5 {
        store.enqueue_webhook(&outbox(busy.id, "webhook.test", Some("https://slow.example.com/x"))).await.unwrap();
    }
    let limit = ClaimLimit { total: 3, per_org: 2 };
    let orgs = |claimed: &[crate::ClaimedDelivery]| claimed.iter().map(|c| c.delivery.org_id).collect::<Vec<_>>();
    let first_claim = lease(T0.plus_seconds(60));
    let first = store.claim_deliveries(T0, first_claim, limit).await.unwrap();
    assert_eq!(orgs(&first), [busy.id, busy.id], "at most two of one org");
    store.enqueue_webhook(&outbox(quiet.id, "webhook.test", Some("https://quick.example.com/x"))).await.unwrap();
    let second = store.claim_deliveries(T0, lease(T0.plus_seconds(60)), limit).await.unwrap();
    assert_eq!(orgs(&second), [quiet.id], "the busy org's claims in flight count against it");
    assert!(store.finish_attempt(first[0].delivery.id, first_claim.id, &attempt(1, Some(204)), AttemptResult::Delivered).await.unwrap());
    let third = store.claim_deliveries(T0, lease(T0.plus_seconds(60)), limit).await.unwrap();
    assert_eq!(orgs(&third), [busy.id], "a finished attempt frees its org's share");
    let later = T0.plus_seconds(61);
    let all = store.claim_deliveries(later, lease(later.plus_seconds(60)), ClaimLimit::total(10)).await.unwrap();
    assert_eq!(all.len(), 5, "every claim whose lease ran out is due again, and the one never claimed");
}

/// A claim takes the earliest due deliveries across orgs, each org within its share, and none
/// that is not due yet.
pub async fn claims_take_the_earliest_due_first(store: Arc<dyn Store>) {
    let first = new_org(store.as_ref(), "early@example.com").await;
    let second = new_org(store.as_ref(), "late@example.com").await;
    let due_at = |org: OrgId, at: Timestamp| {
        let mut item = outbox(org, "webhook.test", Some("https://h.example.com/x"));
        item.delivery.as_mut().expect("a delivery").next_attempt_at = at;
        item
    };
    let mut ids = Vec::new();
    for (org, seconds) in [(first.id, -3), (second.id, -2), (first.id, -1), (second.id, 0), (first.id, 5)] {
        let item = due_at(org, T0.plus_seconds(seconds));
        ids.push(item.delivery.as_ref().expect("a delivery").id);
        store.enqueue_webhook(&item).await.unwrap();
    }
    let taken = |claimed: Vec<crate::ClaimedDelivery>| claimed.iter().map(|c| c.delivery.id).collect::<Vec<_>>();
    let claim = store.claim_deliveries(T0, lease(T0.plus_seconds(60)), ClaimLimit { total: 2, per_org: 5 }).await.unwrap();
    assert_eq!(taken(claim), [ids[0], ids[1]], "the two earliest, whichever org they belong to");
    let claim = store.claim_deliveries(T0, lease(T0.plus_seconds(60)), ClaimLimit { total: 5, per_org: 2 }).await.unwrap();
    assert_eq!(taken(claim), [ids[2], ids[3]], "each org's share counts its deliveries in flight; the future one waits");
}

/// The export reads the chain oldest first, from a position.
pub async fn activity_in_ascending_order(store: Arc<dyn Store>) {
    let org = new_org(store.as_ref(), "asc@example.com").await;
    let batch: Vec<_> = (0..5).map(|n| checked(org.id, "t", n)).collect();
    store.commit_unbilled(&batch).await.unwrap();
    let filter = ActivityFilter { ascending: true, after_seq: Some(2), limit: 2, ..Default::default() };
    let seqs: Vec<u64> = store.list_activity(org.id, &filter).await.unwrap().iter().map(|e| e.seq).collect();
    assert_eq!(seqs, vec![3, 4]);
}

/// The deployment's numbers count every org and account: pending approvals, queued deliveries,
/// and accounts holding credit whose live balance is below the threshold (expired credit does
/// not count; an account that never held credit is not counted).
pub async fn deployment_counts_cover_every_org(store: Arc<dyn Store>) {
    use oakallow_domain::billing::{CreditKind, PRICE_MICROUSD};
    use oakallow_domain::id::LedgerId;

    assert_eq!(store.deployment_counts(T0, i64::MAX).await.unwrap(), crate::DeploymentCounts::default());
    let (a, b) = (new_org(store.as_ref(), "a@example.com").await, new_org(store.as_ref(), "b@example.com").await);
    for org in [a.id, a.id, b.id] {
        store.create_approval(&new_approval(approval(org, 1, 3600), None), None).await.unwrap();
    }
    let counts = store.deployment_counts(T0, 0).await.unwrap();
    assert_eq!(counts, crate::DeploymentCounts { pending_approvals: 3, queued_deliveries: 3, low_balance_accounts: 0 });

    let credit = |kind, calls: i64, expires_at| crate::NewCredit {
        id: LedgerId::generate(),
        kind,
        amount: calls * PRICE_MICROUSD,
        expires_at,
        note: None,
        created_at: T0,
    };
    store.add_credit(a.account_id, &credit(CreditKind::Grant, 10, None)).await.unwrap();
    store.add_credit(b.account_id, &credit(CreditKind::Free, 100, Some(T0.plus_seconds(10)))).await.unwrap();
    let threshold = 50 * PRICE_MICROUSD;
    assert_eq!(store.deployment_counts(T0, threshold).await.unwrap().low_balance_accounts, 1, "10 calls is low, 100 is not");
    assert_eq!(
        store.deployment_counts(T0.plus_seconds(20), threshold).await.unwrap().low_balance_accounts,
        2,
        "once expired, nothing is left"
    );
    assert_eq!(store.deployment_counts(T0, 10 * PRICE_MICROUSD).await.unwrap().low_balance_accounts, 0, "below, not at");
}
