//! The storage conformance suite: the behaviour every backend must show, written once. A backend
//! runs it with [`conformance_tests!`](crate::conformance_tests), giving a function that makes a
//! fresh, empty store (and a guard that keeps its files or schema alive for the test).

#![expect(clippy::unwrap_used, reason = "a test suite: a failed step is a failed test")]

use std::collections::HashSet;
use std::sync::Arc;

use oakallow_domain::audit::{ActivityRecord, ActivityType, Actor, ActorKind};
use oakallow_domain::canonical::params_sha256;
use oakallow_domain::id::{AccountId, CheckId, KeyId, OrgId};
use oakallow_domain::keys::{KeyTier, RawKey};
use oakallow_domain::org::{Account, ApiKey, Org};
use oakallow_domain::policy::{CategorySpec, NamedSpec, PolicyEdit, PolicyParts, PolicyState, RuleSpec, TenantSpec, ToolSpec};
use oakallow_domain::{Permission, ResolvedFrom, Timestamp};
use serde_json::json;

use crate::{ActivityFilter, CheckRecord, NewKey, RuntimeWrite, Store, StoreError};

/// A store under test and whatever must live as long as it.
pub type TestStore = (Arc<dyn Store>, Box<dyn std::any::Any + Send>);

/// Generates one `#[tokio::test]` per conformance case, each with a fresh store from `$make`
/// (an async fn returning a [`TestStore`]). Attributes given after the maker are put on every
/// case, e.g. `#[cfg_attr(not(postgres_tests), ignore = "…")]` for a backend whose database is
/// not configured on this machine, so its cases count as ignored rather than passed.
#[macro_export]
macro_rules! conformance_tests {
    ($make:path $(, #[$attr:meta])* $(,)?) => {
        $crate::conformance_tests!(@cases $make; [$(#[$attr])*];
            accounts_and_orgs, org_isolation, keys, policy_round_trip, policy_version_conflict,
            policy_constraints, runtime_chain, activity_queries, concurrent_runtime_commits,
            policy_activity_joins_chain, webhook_secrets, signing_keys, tokens_mint_once_and_consume_once,
            concurrent_consumption, executions_once_per_token, numbers_are_kept_exactly_or_refused, approvals_create_and_idempotency,
            approval_transitions, approval_listing_and_expiry, webhook_deliveries, delivery_leases, deliveries_are_shared_between_orgs, claims_take_the_earliest_due_first, activity_in_ascending_order, deployment_counts_cover_every_org,
            charges_stop_at_zero, only_written_entries_are_paid, spending_order_and_expiry, set_balance_exactly,
            usage_when_billing_is_off, concurrent_charges_are_exact, purchases_are_credited_once, concurrent_purchases_are_exact, refunds_take_unspent_credit_back_once, approvals_are_charged_once, versions_and_revocations,
            accounts_have_names_and_passwords, operator_is_claimed_once, sessions_are_found_listed_and_revoked,
            memberships_list_change_and_remove, invites_work_once, sign_in_failures_are_counted_in_their_window,
            disabled_accounts_cannot_sign_in, erased_accounts_keep_no_personal_data,
            email_codes_work_once, email_codes_are_spent_once_under_a_race,
            totp_steps_are_used_once_and_removal_is_whole, a_reset_removes_passkeys_too, recovery_codes_work_once, pending_sign_ins_finish_once_and_sessions_keep_their_check,
            passkeys_are_kept_per_account, passkey_ceremonies_are_single_use, notification_channels_are_kept_per_org);
    };
    (@cases $make:path; $attrs:tt; $($case:ident),* $(,)?) => {$(
        $crate::conformance_tests!(@case $make; $attrs; $case);
    )*};
    (@case $make:path; [$(#[$attr:meta])*]; $case:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        $(#[$attr])*
        async fn $case() {
            let (store, _guard) = $make().await;
            $crate::conformance::cases::$case(store).await;
        }
    };
}

mod billing;
mod email_codes;
mod lifecycle;
mod notifications;
mod passkeys;
mod people;
mod runtime;
mod second_factors;
pub mod undo;

/// Every case, by name.
pub mod cases {
    pub use super::billing::*;
    pub use super::email_codes::*;
    pub use super::lifecycle::*;
    pub use super::notifications::*;
    pub use super::passkeys::*;
    pub use super::people::*;
    pub use super::runtime::*;
    pub use super::second_factors::*;
    pub use super::{
        accounts_and_orgs, activity_queries, concurrent_runtime_commits, keys, org_isolation, policy_activity_joins_chain,
        policy_constraints, policy_round_trip, policy_version_conflict, runtime_chain,
    };
}

/// `commit_runtime` without charges, answering whether each write applied.
#[async_trait::async_trait]
pub(crate) trait Unbilled {
    async fn commit_unbilled(&self, writes: &[RuntimeWrite]) -> crate::StoreResult<Vec<bool>>;
}

#[async_trait::async_trait]
impl Unbilled for dyn Store {
    async fn commit_unbilled(&self, writes: &[RuntimeWrite]) -> crate::StoreResult<Vec<bool>> {
        let batch: Vec<_> = writes.iter().map(|write| crate::BatchItem { write: write.clone(), charge: None }).collect();
        let outcomes = self.commit_runtime(T0, batch.clone().into()).await?;
        Ok(outcomes.into_iter().map(|o| o == crate::WriteOutcome::Applied).collect())
    }
}

pub(crate) const T0: Timestamp = Timestamp::from_micros(1_790_000_000_000_000);

pub(crate) fn actor() -> Actor {
    Actor { kind: ActorKind::System, id: "conformance".into(), label: "conformance".into() }
}

pub(crate) fn record(org: OrgId, kind: ActivityType) -> ActivityRecord {
    ActivityRecord::new(org, T0, kind, actor())
}

fn new_key(org: OrgId, tier: KeyTier, name: &str) -> (NewKey, RawKey) {
    let raw = RawKey::generate().expect("randomness");
    let key = ApiKey {
        id: KeyId::generate(),
        org_id: org,
        name: name.into(),
        tier,
        prefix: raw.display_prefix(),
        created_at: T0,
        revoked_at: None,
    };
    (NewKey { key, digest: raw.digest() }, raw)
}

/// An account named after its email's local part.
/// `seconds` after [`T0`].
pub(crate) fn t(seconds: i64) -> Timestamp {
    T0.plus_seconds(seconds)
}

/// A stored password hash in the shape argon2id writes (the store never checks it).
pub(crate) const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";

/// A new account, stored without a password.
pub(crate) async fn signed_up(store: &dyn Store, email: &str) -> Account {
    let account = new_account(email);
    store.create_account(&account, None, None).await.unwrap();
    account
}

pub(crate) fn new_account(email: &str) -> Account {
    let name = email.split('@').next().unwrap_or(email).to_uppercase();
    Account { id: AccountId::generate(), email: email.into(), name, created_at: T0 }
}

pub(crate) async fn new_org(store: &dyn Store, email: &str) -> Org {
    let account = new_account(email);
    store.create_account(&account, None, None).await.expect("create account");
    let org = Org::new(account.id, format!("org of {email}"), T0);
    store.create_org(&org, &[], vec![]).await.expect("create org");
    org
}

/// Accounts are unique by email; orgs belong to accounts and keep their settings.
pub async fn accounts_and_orgs(store: Arc<dyn Store>) {
    let account = Account { id: AccountId::generate(), email: "a@example.com".into(), name: "Ann Example".into(), created_at: T0 };
    store.create_account(&account, None, None).await.unwrap();
    assert_eq!(store.account_by_email("a@example.com").await.unwrap(), Some(account.clone()));
    assert_eq!(store.account_by_email("b@example.com").await.unwrap(), None);
    let twin = Account { id: AccountId::generate(), ..account.clone() };
    assert!(matches!(store.create_account(&twin, None, None).await, Err(StoreError::Conflict(_))));

    let (management, _) = new_key(OrgId::generate(), KeyTier::Management, "m");
    let mut org = Org::new(account.id, "first".into(), T0);
    let management = NewKey { key: ApiKey { org_id: org.id, ..management.key }, digest: management.digest };
    store.create_org(&org, std::slice::from_ref(&management), vec![record(org.id, ActivityType::KeyCreated)]).await.unwrap();
    assert_eq!(store.org(org.id).await.unwrap(), Some(org.clone()));
    assert_eq!(store.key_by_digest(&management.digest).await.unwrap(), Some(management.key.clone()));

    org.name = "renamed".into();
    org.webhook_url = Some("https://hooks.example.com/x".into());
    org.webhook_events = Some(vec!["approval.created".into()]);
    org.approval_timeout_seconds = Some(120);
    org.redact_pii = false;
    org.require_second_factor_for_approvers = true;
    org.token_signing = oakallow_domain::org::TokenSigning::Ed25519;
    let read_at = org.updated_at;
    org.updated_at = T0.plus_seconds(1);
    store.update_org(&org, read_at, None, record(org.id, ActivityType::ConfigChanged)).await.unwrap();
    assert_eq!(store.org(org.id).await.unwrap(), Some(org.clone()));

    let second = Org::new(account.id, "second".into(), T0);
    store.create_org(&second, &[], vec![]).await.unwrap();
    let ids: Vec<_> = store.orgs_of_account(account.id).await.unwrap().into_iter().map(|o| o.id).collect();
    assert_eq!(ids, vec![org.id, second.id]);
    assert_eq!(store.org(OrgId::generate()).await.unwrap(), None);
    let ghost = Org::new(account.id, "ghost".into(), T0);
    assert_eq!(store.update_org(&ghost, T0, None, record(ghost.id, ActivityType::ConfigChanged)).await, Err(StoreError::NotFound));

    // A change planned from settings that changed since is not applied, and leaves no trace.
    let all = ActivityFilter { limit: 50, ..Default::default() };
    let before = store.list_activity(org.id, &all).await.unwrap().len();
    let stale = Org { name: "stale".into(), updated_at: T0.plus_seconds(2), ..org.clone() };
    assert_eq!(
        store.update_org(&stale, read_at, None, record(org.id, ActivityType::ConfigChanged)).await,
        Err(StoreError::VersionConflict)
    );
    assert_eq!(store.org(org.id).await.unwrap(), Some(org.clone()));
    assert_eq!(store.list_activity(org.id, &all).await.unwrap().len(), before);
}

/// Nothing of one org is visible or changeable through another org's id.
pub async fn org_isolation(store: Arc<dyn Store>) {
    let a = new_org(store.as_ref(), "a@example.com").await;
    let b = new_org(store.as_ref(), "b@example.com").await;
    let (key, _) = new_key(a.id, KeyTier::Standard, "agent");
    store.create_key(&key, record(a.id, ActivityType::KeyCreated)).await.unwrap();
    assert_eq!(store.key(b.id, key.key.id).await.unwrap(), None);
    assert!(store.list_keys(b.id, None, 50).await.unwrap().is_empty());
    assert_eq!(store.revoke_key(b.id, key.key.id, T0, record(b.id, ActivityType::KeyRevoked)).await, Err(StoreError::NotFound));
    assert_eq!(store.key(a.id, key.key.id).await.unwrap().and_then(|k| k.revoked_at), None);

    let (state, changes) = sample_policy(PolicyState::default());
    store.commit_policy(a.id, 0, &changes, vec![], vec![]).await.unwrap();
    let (version, parts) = store.load_policy(b.id).await.unwrap();
    assert_eq!((version, parts), (0, PolicyParts::default()));
    assert_eq!(store.load_policy(a.id).await.unwrap().1, state.to_parts());

    let check = check_record(a.id, "send_email");
    store
        .commit_unbilled(&[RuntimeWrite::Check {
            check: check.clone(),
            activity: record(a.id, ActivityType::PermissionChecked),
            token: None,
        }])
        .await
        .unwrap();
    assert_eq!(store.check(b.id, check.id).await.unwrap(), None);
    let entries = store.list_activity(a.id, &ActivityFilter { limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(store.activity(b.id, entries[0].record.id).await.unwrap(), None);
    assert!(store.list_activity(b.id, &ActivityFilter { limit: 10, ..Default::default() }).await.unwrap().is_empty());
}

/// Keys are found by digest, listed in pages, and revoked once.
pub async fn keys(store: Arc<dyn Store>) {
    let org = new_org(store.as_ref(), "k@example.com").await;
    let mut made = Vec::new();
    for i in 0..5 {
        let (key, _) = new_key(org.id, if i % 2 == 0 { KeyTier::Standard } else { KeyTier::Approver }, &format!("k{i}"));
        store.create_key(&key, record(org.id, ActivityType::KeyCreated)).await.unwrap();
        made.push(key);
    }
    let first = store.list_keys(org.id, None, 3).await.unwrap();
    let rest = store.list_keys(org.id, first.last().map(|k| k.id), 3).await.unwrap();
    let listed: Vec<_> = first.iter().chain(&rest).map(|k| k.id).collect();
    assert_eq!(listed, made.iter().map(|k| k.key.id).collect::<Vec<_>>());

    let target = &made[1];
    let later = T0.plus_seconds(10);
    let revoked = store.revoke_key(org.id, target.key.id, later, record(org.id, ActivityType::KeyRevoked)).await.unwrap();
    assert_eq!(revoked.revoked_at, Some(later));
    let again = store.revoke_key(org.id, target.key.id, later.plus_seconds(5), record(org.id, ActivityType::KeyRevoked)).await.unwrap();
    assert_eq!(again.revoked_at, Some(later), "the first revocation time stays");
    assert_eq!(store.key_by_digest(&target.digest).await.unwrap().and_then(|k| k.revoked_at), Some(later));
    assert_eq!(store.key_by_digest(&[0u8; 32]).await.unwrap(), None);
    let duplicate = NewKey { key: ApiKey { id: KeyId::generate(), ..made[0].key.clone() }, digest: made[0].digest };
    assert!(matches!(store.create_key(&duplicate, record(org.id, ActivityType::KeyCreated)).await, Err(StoreError::Conflict(_))));
}

fn tool(name: &str, category: Option<&str>) -> ToolSpec {
    ToolSpec {
        name: name.into(),
        description: Some("sends things".into()),
        category: category.map(Into::into),
        risk_level: None,
        parameters_schema: Some(json!({"type": "object", "properties": {"to": {"type": "string"}}})),
        default_permission: Some(Permission::RequiresApproval),
        approved: Some(true),
        enabled: Some(true),
        approval_timeout_seconds: Some(600),
        requires_second_approval: Some(true),
        annotations: Some(oakallow_domain::policy::Annotations {
            read_only: Some(false),
            destructive: Some(true),
            idempotent: None,
            open_world: Some(true),
        }),
        tags: Some(vec!["mail".into(), "external".into()]),
    }
}

/// A policy with one object of every kind and rules at several levels.
fn sample_policy(base: PolicyState) -> (PolicyState, Vec<oakallow_domain::policy::PolicyChange>) {
    let mut edit = PolicyEdit::new(base, T0);
    edit.put_category(
        None,
        CategorySpec { name: "email".into(), description: Some("mail".into()), default_permission: Some(Permission::Allowed) },
    )
    .unwrap();
    edit.put_tool(None, tool("send_email", Some("email"))).unwrap();
    edit.put_tool(None, tool("delete_db", None)).unwrap();
    edit.put_tenant(None, TenantSpec { external_id: "acme".into(), name: Some("Acme, Inc.".into()) }).unwrap();
    edit.put_resource(None, NamedSpec { name: "prod-db".into(), description: None }).unwrap();
    edit.put_method(None, NamedSpec { name: "write".into(), description: Some("writes".into()) }).unwrap();
    let rule = |tenant: Option<&str>, resource: Option<&str>, tool: Option<&str>, method: Option<&str>, permission| RuleSpec {
        tenant: tenant.map(Into::into),
        resource: resource.map(Into::into),
        tool: tool.map(Into::into),
        method: method.map(Into::into),
        permission,
        note: Some("because".into()),
    };
    edit.put_rule(None, rule(Some("acme"), Some("prod-db"), Some("delete_db"), Some("write"), Permission::Disabled)).unwrap();
    edit.put_rule(None, rule(None, None, Some("send_email"), None, Permission::RequiresApproval)).unwrap();
    edit.put_rule(None, rule(None, None, None, None, Permission::Allowed)).unwrap();
    edit.finish()
}

/// A committed policy loads back exactly, and later edits (updates, cascading deletes) too.
pub async fn policy_round_trip(store: Arc<dyn Store>) {
    let org = new_org(store.as_ref(), "p@example.com").await;
    assert_eq!(store.load_policy(org.id).await.unwrap(), (0, PolicyParts::default()));
    let (state, changes) = sample_policy(PolicyState::default());
    let version = store.commit_policy(org.id, 0, &changes, vec![record(org.id, ActivityType::ConfigChanged)], vec![]).await.unwrap();
    assert_eq!(version, 1);
    assert_eq!(store.policy_version(org.id).await.unwrap(), 1);
    let (loaded_version, parts) = store.load_policy(org.id).await.unwrap();
    assert_eq!(loaded_version, 1);
    assert_eq!(parts, state.to_parts());

    // Update a tool, delete the category (tools lose it) and a tool with its rules.
    let mut edit = PolicyEdit::new(state, T0.plus_seconds(1));
    let delete_db = edit.draft().tool_by_name("delete_db").unwrap().id;
    let email = edit.draft().category_by_name("email").unwrap().id;
    let send_email = edit.draft().tool_by_name("send_email").unwrap().id;
    edit.put_tool(Some(send_email), ToolSpec { enabled: Some(false), tags: None, ..tool("send_email", Some("email")) }).unwrap();
    edit.delete_category(email, true).unwrap();
    edit.delete_tool(delete_db, true).unwrap();
    let (state, changes) = edit.finish();
    assert_eq!(store.commit_policy(org.id, 1, &changes, vec![], vec![]).await.unwrap(), 2);
    assert_eq!(store.load_policy(org.id).await.unwrap(), (2, state.to_parts()));
}

/// A commit against a stale version writes nothing.
pub async fn policy_version_conflict(store: Arc<dyn Store>) {
    let org = new_org(store.as_ref(), "v@example.com").await;
    let (state, changes) = sample_policy(PolicyState::default());
    store.commit_policy(org.id, 0, &changes, vec![], vec![]).await.unwrap();
    let mut edit = PolicyEdit::new(state.clone(), T0);
    edit.put_resource(None, NamedSpec { name: "other".into(), description: None }).unwrap();
    let (_, more) = edit.finish();
    let before = store.list_activity(org.id, &ActivityFilter { limit: 50, ..Default::default() }).await.unwrap().len();
    assert_eq!(
        store.commit_policy(org.id, 0, &more, vec![record(org.id, ActivityType::ConfigChanged)], vec![]).await,
        Err(StoreError::VersionConflict)
    );
    assert_eq!(store.load_policy(org.id).await.unwrap(), (1, state.to_parts()));
    let after = store.list_activity(org.id, &ActivityFilter { limit: 50, ..Default::default() }).await.unwrap().len();
    assert_eq!(before, after);
    assert_eq!(store.commit_policy(OrgId::generate(), 0, &more, vec![], vec![]).await, Err(StoreError::NotFound));
}

/// The database itself refuses duplicate names and dangling references, whatever the caller
/// validated, and a refused commit leaves nothing behind.
pub async fn policy_constraints(store: Arc<dyn Store>) {
    let org = new_org(store.as_ref(), "c@example.com").await;
    let (state, changes) = sample_policy(PolicyState::default());
    store.commit_policy(org.id, 0, &changes, vec![], vec![]).await.unwrap();

    let mut twin = state.tool_by_name("send_email").unwrap().clone();
    twin.id = oakallow_domain::id::ToolId::generate();
    let duplicate = [oakallow_domain::policy::PolicyChange::PutTool(twin)];
    assert!(matches!(store.commit_policy(org.id, 1, &duplicate, vec![], vec![]).await, Err(StoreError::Conflict(_))));

    let referenced = state.tool_by_name("delete_db").unwrap().id;
    let dangling = [oakallow_domain::policy::PolicyChange::DeleteTool(referenced)];
    assert!(matches!(store.commit_policy(org.id, 1, &dangling, vec![], vec![]).await, Err(StoreError::Conflict(_))));
    assert_eq!(store.load_policy(org.id).await.unwrap(), (1, state.to_parts()));
}

pub(crate) fn check_record(org: OrgId, tool: &str) -> CheckRecord {
    CheckRecord {
        id: CheckId::generate(),
        org_id: org,
        tool: tool.into(),
        tenant: Some("acme".into()),
        resource: None,
        method: Some("write".into()),
        permission: Permission::Allowed,
        resolved_from: ResolvedFrom::OrgTool,
        params_sha256: params_sha256(Some(&json!({"to": "x"}))),
        created_at: T0,
    }
}

pub(crate) fn checked(org: OrgId, tool: &str, n: u64) -> RuntimeWrite {
    let check = check_record(org, tool);
    let mut activity = record(org, ActivityType::PermissionChecked);
    activity.at = T0.plus_seconds(i64::try_from(n).unwrap_or(0));
    activity.tool = Some(tool.into());
    activity.check_id = Some(check.id);
    activity.permission = Some(Permission::Allowed);
    activity.resolved_from = Some(ResolvedFrom::OrgTool);
    activity.params = Some(json!({"to": "x", "nested": {"b": 1, "a": [1.5, null]}}));
    RuntimeWrite::Check { check, activity, token: None }
}

/// A group commit numbers each org's entries 1, 2, 3… and chains them.
pub async fn runtime_chain(store: Arc<dyn Store>) {
    let a = new_org(store.as_ref(), "r1@example.com").await;
    let b = new_org(store.as_ref(), "r2@example.com").await;
    let batch: Vec<_> = (0..10).map(|n| checked(if n % 3 == 0 { b.id } else { a.id }, "send_email", n)).collect();
    store.commit_unbilled(&batch).await.unwrap();
    store.commit_unbilled(&batch[..0]).await.unwrap();
    store.commit_unbilled(&[checked(a.id, "late", 99)]).await.unwrap();

    let chain_a = store.verify_chain(a.id).await.unwrap();
    assert_eq!((chain_a.entries, chain_a.first_broken), (7, None));
    let chain_b = store.verify_chain(b.id).await.unwrap();
    assert_eq!((chain_b.entries, chain_b.first_broken), (4, None));

    let entries = store.list_activity(a.id, &ActivityFilter { limit: 100, ..Default::default() }).await.unwrap();
    let seqs: Vec<u64> = entries.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, vec![7, 6, 5, 4, 3, 2, 1], "newest first");
    assert_eq!(entries[0].hash, chain_a.head_hash);
    let RuntimeWrite::Check { check, activity, .. } = &batch[1] else { unreachable!() };
    assert_eq!(store.check(a.id, check.id).await.unwrap(), Some(check.clone()));
    let stored = store.activity(a.id, activity.id).await.unwrap().unwrap();
    assert_eq!(&stored.record, activity);
}

/// Activity filters and the seq cursor.
pub async fn activity_queries(store: Arc<dyn Store>) {
    let org = new_org(store.as_ref(), "q@example.com").await;
    let mut batch: Vec<_> = (0..6).map(|n| checked(org.id, if n < 4 { "send_email" } else { "delete_db" }, n)).collect();
    let mut validated = record(org.id, ActivityType::ParamsValidated);
    validated.at = T0.plus_seconds(100);
    validated.result = Some("invalid".into());
    validated.tenant = Some("globex".into());
    batch.push(RuntimeWrite::Activity(validated.clone()));
    store.commit_unbilled(&batch).await.unwrap();

    let query = |filter: ActivityFilter| {
        let store = store.clone();
        async move { store.list_activity(org.id, &ActivityFilter { limit: 100, ..filter }).await.unwrap() }
    };
    assert_eq!(query(ActivityFilter { kind: Some(ActivityType::ParamsValidated), ..Default::default() }).await.len(), 1);
    assert_eq!(query(ActivityFilter { tool: Some("delete_db".into()), ..Default::default() }).await.len(), 2);
    assert_eq!(query(ActivityFilter { tenant: Some("globex".into()), ..Default::default() }).await.len(), 1);
    assert_eq!(query(ActivityFilter { permission: Some(Permission::Allowed), ..Default::default() }).await.len(), 6);
    assert_eq!(query(ActivityFilter { result: Some("invalid".into()), ..Default::default() }).await.len(), 1);
    assert_eq!(query(ActivityFilter { since: Some(T0.plus_seconds(4)), ..Default::default() }).await.len(), 3);
    assert_eq!(query(ActivityFilter { until: Some(T0.plus_seconds(2)), ..Default::default() }).await.len(), 2);
    let page = store.list_activity(org.id, &ActivityFilter { limit: 3, ..Default::default() }).await.unwrap();
    assert_eq!(page.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![7, 6, 5]);
    let next = query(ActivityFilter { before_seq: Some(5), ..Default::default() }).await;
    assert_eq!(next.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![4, 3, 2, 1]);
}

/// Many concurrent group commits for the same orgs still produce one unbroken chain per org.
pub async fn concurrent_runtime_commits(store: Arc<dyn Store>) {
    let a = new_org(store.as_ref(), "cc1@example.com").await;
    let b = new_org(store.as_ref(), "cc2@example.com").await;
    let commits = (0..16u64).map(|i| {
        let store = store.clone();
        async move {
            let batch: Vec<_> = (0..5).map(|n| checked(if (i + n) % 2 == 0 { a.id } else { b.id }, "t", n)).collect();
            store.commit_unbilled(&batch).await
        }
    });
    for result in futures_util::future::join_all(commits).await {
        result.unwrap();
    }
    let total = store.verify_chain(a.id).await.unwrap().entries + store.verify_chain(b.id).await.unwrap().entries;
    assert_eq!(total, 80);
    for org in [a.id, b.id] {
        let check = store.verify_chain(org).await.unwrap();
        assert_eq!(check.first_broken, None);
        let entries = store.list_activity(org, &ActivityFilter { limit: 500, ..Default::default() }).await.unwrap();
        let seqs: HashSet<u64> = entries.iter().map(|e| e.seq).collect();
        assert_eq!(seqs.len() as u64, check.entries);
    }
}

/// Management changes land in the same chain as runtime entries.
pub async fn policy_activity_joins_chain(store: Arc<dyn Store>) {
    let org = new_org(store.as_ref(), "j@example.com").await;
    store.commit_unbilled(&[checked(org.id, "x", 0)]).await.unwrap();
    let (_, changes) = sample_policy(PolicyState::default());
    let mut change = record(org.id, ActivityType::ConfigChanged);
    change.details = Some(json!({"action": "create", "kind": "tool"}));
    store.commit_policy(org.id, 0, &changes, vec![change.clone()], vec![]).await.unwrap();
    let (key, _) = new_key(org.id, KeyTier::Standard, "s");
    store.create_key(&key, record(org.id, ActivityType::KeyCreated)).await.unwrap();
    store.commit_unbilled(&[checked(org.id, "y", 1)]).await.unwrap();
    let check = store.verify_chain(org.id).await.unwrap();
    assert_eq!((check.entries, check.first_broken), (4, None));
    let entries = store.list_activity(org.id, &ActivityFilter { limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(entries[2].record, change);
}
