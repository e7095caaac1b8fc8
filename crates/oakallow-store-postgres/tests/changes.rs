//! Change announcements between nodes: what one store commits, another store watching the same
//! schema hears about (after a `Resync` once it listens), again after its connection is cut,
//! and until its pool is closed.

#![expect(clippy::unwrap_used, reason = "test helpers: a failed step is a failed test")]

mod common;

use std::sync::Arc;
use std::time::Duration;

use oakallow_domain::Timestamp;
use oakallow_domain::approval::{Approval, ApprovalStatus, new_reference};
use oakallow_domain::audit::{ActivityRecord, ActivityType, Actor, ActorKind};
use oakallow_domain::id::{AccountId, ApprovalId, DeliveryId, EventId, KeyId, OrgId};
use oakallow_domain::keys::KeyTier;
use oakallow_domain::org::{Account, ApiKey, Org};
use oakallow_store::{ApprovalTransition, Change, NewApproval, NewDelivery, NewKey, Outbox, Store, StoreError, WebhookEvent};
use oakallow_store_postgres::PostgresStore;
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

const T0: Timestamp = Timestamp::from_micros(1_790_000_000_000_000);

/// How long an announcement may take to arrive.
const PROMPTLY: Duration = Duration::from_secs(1);
/// How long a (re)connecting listener may take to listen.
const LISTENING: Duration = Duration::from_secs(10);

fn record(org: OrgId, kind: ActivityType) -> ActivityRecord {
    ActivityRecord::new(org, T0, kind, Actor { kind: ActorKind::System, id: "changes".into(), label: "changes".into() })
}

/// Two stores (nodes) on one fresh schema, an org with a key made through the first, and the
/// changes the second hears.
struct Nodes {
    writer: PostgresStore,
    watcher: PostgresStore,
    heard: UnboundedReceiver<Change>,
    org: Org,
    key: KeyId,
    schema: common::Schema,
}

impl Nodes {
    async fn start() -> Self {
        let url = common::test_url();
        let schema = common::Schema::create(&url).await;
        let writer = PostgresStore::connect_with(schema.options(), 4).await.unwrap();
        let watcher = PostgresStore::connect_with(schema.options(), 4).await.unwrap();
        let account = Account { id: AccountId::generate(), email: "changes@example.com".into(), name: "changes".into(), created_at: T0 };
        writer.create_account(&account, None, None).await.unwrap();
        let org = Org::new(account.id, "changes".into(), T0);
        let key = ApiKey {
            id: KeyId::generate(),
            org_id: org.id,
            name: "k".into(),
            tier: KeyTier::Standard,
            prefix: "oak_live_abc".into(),
            created_at: T0,
            revoked_at: None,
        };
        writer.create_org(&org, &[NewKey { key: key.clone(), digest: [7; 32] }], vec![]).await.unwrap();
        let (tell, heard) = unbounded_channel();
        watcher
            .watch_changes(Arc::new(move |change| {
                let _ = tell.send(change);
            }))
            .unwrap();
        Self { writer, watcher, heard, org, key: key.id, schema }
    }

    /// The next change heard, within `wait`.
    async fn next(&mut self, wait: Duration) -> Change {
        tokio::time::timeout(wait, self.heard.recv()).await.expect("a change is heard in time").expect("the watcher is still running")
    }

    /// The process id of the watcher's listening connection.
    async fn listener_pid(&self) -> Option<i32> {
        let listen = format!("LISTEN \"oakallow_changes_{}\"", self.schema.name());
        sqlx::query_scalar("SELECT pid FROM pg_stat_activity WHERE starts_with(query, $1)")
            .bind(listen)
            .fetch_optional(self.writer.pool())
            .await
            .unwrap()
    }

    fn approval(&self) -> Approval {
        Approval {
            id: ApprovalId::generate(),
            org_id: self.org.id,
            reference: new_reference().unwrap(),
            status: ApprovalStatus::Pending,
            level: 1,
            required_levels: 1,
            tool: "refund".into(),
            tenant: None,
            resource: None,
            method: None,
            params: None,
            params_sha256: "cd".repeat(32),
            reason: "changes".into(),
            context: None,
            reference_id: None,
            check_id: None,
            created_at: T0,
            expires_at: T0.plus_seconds(600),
            decided_at: None,
            decided_by: None,
            note: None,
            decisions: vec![],
        }
    }

    fn outbox(&self) -> Outbox {
        let event = WebhookEvent {
            id: EventId::generate(),
            org_id: self.org.id,
            kind: "webhook.test".into(),
            payload: "{}".into(),
            created_at: T0,
        };
        Outbox {
            event,
            delivery: Some(NewDelivery {
                id: DeliveryId::generate(),
                channel: oakallow_store::DeliveryChannel::Webhook,
                url: "https://h.example.com".into(),
                next_attempt_at: T0,
            }),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(postgres_tests), ignore = "needs PostgreSQL: set OAKALLOW_TEST_POSTGRES_URL when building the tests")]
async fn another_node_hears_every_change() {
    let mut nodes = Nodes::start().await;
    let pending = nodes.approval();
    let new = NewApproval {
        approval: pending.clone(),
        idempotency: None,
        activity: record(nodes.org.id, ActivityType::ApprovalCreated),
        outbox: vec![],
    };
    nodes.writer.create_approval(&new, None).await.unwrap();
    assert_eq!(nodes.next(LISTENING).await, Change::Resync, "a resync first, once listening");

    let version = nodes.writer.commit_policy(nodes.org.id, 0, &[], vec![], vec![]).await.unwrap();
    assert_eq!(nodes.next(PROMPTLY).await, Change::Policy(nodes.org.id, version));

    let mut renamed = nodes.org.clone();
    renamed.name = "renamed".into();
    nodes.writer.update_org(&renamed, nodes.org.updated_at, None, record(nodes.org.id, ActivityType::ConfigChanged)).await.unwrap();
    assert_eq!(nodes.next(PROMPTLY).await, Change::Org(nodes.org.id));

    nodes.writer.revoke_key(nodes.org.id, nodes.key, T0, record(nodes.org.id, ActivityType::KeyRevoked)).await.unwrap();
    assert_eq!(nodes.next(PROMPTLY).await, Change::KeyRevoked(nodes.key));

    let mut approved = pending.clone();
    approved.status = ApprovalStatus::Approved;
    approved.decided_at = Some(T0.plus_seconds(1));
    let transition = ApprovalTransition {
        org_id: nodes.org.id,
        id: pending.id,
        expected_level: 1,
        now: T0.plus_seconds(1),
        after: approved,
        decision: None,
        activity: record(nodes.org.id, ActivityType::ApprovalDecided),
        outbox: vec![],
    };
    assert!(nodes.writer.transition_approval(&transition).await.unwrap());
    assert_eq!(nodes.next(PROMPTLY).await, Change::Approval(pending.id));
    assert!(!nodes.writer.transition_approval(&transition).await.unwrap(), "a transition that does not apply is not announced");

    nodes.writer.enqueue_webhook(&nodes.outbox()).await.unwrap();
    assert_eq!(nodes.next(PROMPTLY).await, Change::Webhooks);

    let stale = nodes.writer.commit_policy(nodes.org.id, 0, &[], vec![], vec![]).await;
    assert_eq!(stale, Err(StoreError::VersionConflict));
    let ghost = Org::new(nodes.org.account_id, "ghost".into(), T0);
    assert_eq!(nodes.writer.update_org(&ghost, T0, None, record(ghost.id, ActivityType::ConfigChanged)).await, Err(StoreError::NotFound));
    let quiet = tokio::time::timeout(Duration::from_millis(300), nodes.heard.recv()).await;
    assert!(quiet.is_err(), "failed changes are not announced");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(postgres_tests), ignore = "needs PostgreSQL: set OAKALLOW_TEST_POSTGRES_URL when building the tests")]
async fn a_lost_connection_is_a_resync_and_closing_the_pool_stops_watching() {
    let mut nodes = Nodes::start().await;
    assert_eq!(nodes.next(LISTENING).await, Change::Resync);
    let pid = nodes.listener_pid().await.expect("the watcher listens");
    let terminated: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)").bind(pid).fetch_one(nodes.writer.pool()).await.unwrap();
    assert!(terminated);
    assert_eq!(nodes.next(LISTENING).await, Change::Resync, "announcements may have been missed meanwhile");
    nodes.writer.commit_policy(nodes.org.id, 0, &[], vec![], vec![]).await.unwrap();
    assert_eq!(nodes.next(PROMPTLY).await, Change::Policy(nodes.org.id, 1), "listening again");

    let pid = nodes.listener_pid().await.expect("the watcher listens again");
    nodes.watcher.pool().close().await;
    let gone = "SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)";
    let mut waited = Duration::ZERO;
    while !sqlx::query_scalar::<_, bool>(gone).bind(pid).fetch_one(nodes.writer.pool()).await.unwrap() {
        assert!(waited < LISTENING, "the listening connection closes with the pool");
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += Duration::from_millis(50);
    }
    assert!(nodes.heard.recv().await.is_none(), "the watcher stopped (and dropped its sink)");
}
