//! Several nodes racing in one database: a token is consumed once, a batch aborted by a
//! deadlock is tried again, a delivery attempt is claimed by one node, an expiry applies once,
//! an idempotency key creates one approval, concurrent creators of a signing key agree on one,
//! charged calls never spend more credit than there is, an invitation is used once, and the
//! instance has one operator.

#![expect(clippy::unwrap_used, reason = "test helpers: a failed step is a failed test")]

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use oakallow_domain::Timestamp;
use oakallow_domain::account::{ApproverLevels, Invite, Role, secret_digest};
use oakallow_domain::approval::{Approval, ApprovalStatus, new_reference};
use oakallow_domain::audit::{ActivityRecord, ActivityType, Actor, ActorKind};
use oakallow_domain::billing::{CreditKind, LedgerKind, PRICE_MICROUSD};
use oakallow_domain::id::{AccountId, ActivityId, ApprovalId, DeliveryId, EventId, InviteId, LeaseId, LedgerId, OrgId};
use oakallow_domain::org::{Account, Org};
use oakallow_domain::token::Algorithm;
use oakallow_store::{
    ActivityFilter, ApprovalTransition, BatchItem, Charge, ClaimLimit, CreateOutcome, DeliveryLease, IdempotencyClaim, MintedToken,
    NewApproval, NewCredit, NewDelivery, Outbox, RuntimeWrite, Store, StoredSigningKey, TokenRecord, WebhookEvent, WriteOutcome,
};
use oakallow_store_postgres::PostgresStore;
use sqlx::{Connection as _, PgConnection};

const T0: Timestamp = Timestamp::from_micros(1_790_000_000_000_000);

/// Writes without charges, for `commit_runtime`.
fn unbilled(writes: impl IntoIterator<Item = RuntimeWrite>) -> Vec<BatchItem> {
    writes.into_iter().map(|write| BatchItem { write, charge: None }).collect()
}

/// Three nodes (each its own pool) on one fresh schema, and an org to work in.
struct Cluster {
    nodes: Vec<Arc<dyn Store>>,
    account: AccountId,
    org: OrgId,
    schema: common::Schema,
}

impl Cluster {
    async fn start() -> Self {
        let url = common::test_url();
        let schema = common::Schema::create(&url).await;
        let mut nodes: Vec<Arc<dyn Store>> = Vec::new();
        for _ in 0..3 {
            nodes.push(Arc::new(PostgresStore::connect_with(schema.options(), 8).await.unwrap()));
        }
        let account = Account { id: AccountId::generate(), email: "races@example.com".into(), name: "races".into(), created_at: T0 };
        nodes[0].create_account(&account, None, None).await.unwrap();
        let org = Org::new(account.id, "races".into(), T0);
        nodes[1].create_org(&org, &[], vec![]).await.unwrap();
        Self { nodes, account: account.id, org: org.id, schema }
    }

    /// `n` new accounts, each made through a different node.
    async fn people(&self, n: usize) -> Vec<AccountId> {
        let mut people = Vec::new();
        for i in 0..n {
            let email = format!("person{i}@example.com");
            let account = Account { id: AccountId::generate(), name: format!("Person {i}"), email, created_at: T0 };
            self.node(i).create_account(&account, None, None).await.unwrap();
            people.push(account.id);
        }
        people
    }

    /// The node for the `i`th task, round robin.
    fn node(&self, i: usize) -> Arc<dyn Store> {
        self.nodes[i % self.nodes.len()].clone()
    }

    fn record(&self, kind: ActivityType) -> ActivityRecord {
        ActivityRecord::new(self.org, T0, kind, Actor { kind: ActorKind::System, id: "races".into(), label: "races".into() })
    }

    async fn count(&self, kind: ActivityType) -> usize {
        let filter = ActivityFilter { kind: Some(kind), limit: 1000, ..Default::default() };
        self.nodes[0].list_activity(self.org, &filter).await.unwrap().len()
    }

    async fn chain_is_intact(&self) -> bool {
        self.nodes[2].verify_chain(self.org).await.unwrap().first_broken.is_none()
    }

    fn mint(&self, jti: &str) -> RuntimeWrite {
        let token = TokenRecord {
            jti: jti.into(),
            org_id: self.org,
            kid: "k_1".into(),
            src: format!("src_{jti}"),
            tool: "refund".into(),
            tenant: None,
            resource: None,
            method: None,
            params_sha256: "ab".repeat(32),
            issued_at: T0,
            expires_at: T0.plus_seconds(300),
            consumed_at: None,
        };
        RuntimeWrite::MintToken(MintedToken { token, activity: self.record(ActivityType::TokenMinted) })
    }

    fn consume(&self, jti: &str) -> RuntimeWrite {
        RuntimeWrite::ConsumeToken {
            org_id: self.org,
            jti: jti.into(),
            at: T0.plus_seconds(1),
            verified: self.record(ActivityType::TokenVerified),
            already_used: self.record(ActivityType::TokenRejected),
        }
    }

    fn approval(&self, timeout_seconds: i64) -> Approval {
        Approval {
            id: ApprovalId::generate(),
            org_id: self.org,
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
            reason: "race".into(),
            context: None,
            reference_id: None,
            check_id: None,
            created_at: T0,
            expires_at: T0.plus_seconds(timeout_seconds),
            decided_at: None,
            decided_by: None,
            note: None,
            decisions: vec![],
        }
    }

    fn outbox(&self, kind: &str) -> Outbox {
        let event = WebhookEvent { id: EventId::generate(), org_id: self.org, kind: kind.into(), payload: "{}".into(), created_at: T0 };
        let delivery = NewDelivery {
            id: DeliveryId::generate(),
            channel: oakallow_store::DeliveryChannel::Webhook,
            url: "https://h.example.com".into(),
            next_attempt_at: T0,
        };
        Outbox { event, delivery: Some(delivery) }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(not(postgres_tests), ignore = "needs PostgreSQL: set OAKALLOW_TEST_POSTGRES_URL when building the tests")]
async fn a_token_is_consumed_once_across_nodes() {
    let cluster = Cluster::start().await;
    cluster.nodes[0].commit_runtime(T0, unbilled([cluster.mint("j")]).into()).await.unwrap();
    let attempts = (0..30).map(|i| {
        let (node, batch) = (cluster.node(i), unbilled([cluster.consume("j")]));
        tokio::spawn(async move { node.commit_runtime(T0, batch.clone().into()).await.unwrap()[0] })
    });
    let applied = join_all(attempts).await.into_iter().filter(|outcome| *outcome.as_ref().unwrap() == WriteOutcome::Applied).count();
    assert_eq!(applied, 1);
    assert_eq!((cluster.count(ActivityType::TokenVerified).await, cluster.count(ActivityType::TokenRejected).await), (1, 29));
    assert!(cluster.chain_is_intact().await);
}

/// A batch that deadlocks with another transaction (here: one that holds a lock on the batch's
/// second token, then asks for its first) is the one PostgreSQL aborts, having waited longer;
/// it is tried again once the other is done, and commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(not(postgres_tests), ignore = "needs PostgreSQL: set OAKALLOW_TEST_POSTGRES_URL when building the tests")]
async fn a_batch_aborted_by_a_deadlock_is_tried_again() {
    let cluster = Cluster::start().await;
    cluster.nodes[0].commit_runtime(T0, unbilled([cluster.mint("a"), cluster.mint("b")]).into()).await.unwrap();
    let mut other = PgConnection::connect_with(&cluster.schema.options()).await.unwrap();
    // The batch must be the deadlock's victim: it waits first and looks for deadlocks after the
    // default second, long before this connection would.
    sqlx::raw_sql("SET deadlock_timeout = '30s'").execute(&mut other).await.unwrap();
    sqlx::raw_sql("BEGIN").execute(&mut other).await.unwrap();
    sqlx::raw_sql("SELECT 1 FROM tokens WHERE jti = 'b' FOR UPDATE").execute(&mut other).await.unwrap();
    let other_pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()").fetch_one(&mut other).await.unwrap();

    let batch = unbilled([cluster.consume("a"), cluster.consume("b")]);
    let node = cluster.node(1);
    let committed = tokio::spawn(async move { node.commit_runtime(T0, batch.clone().into()).await });
    // Wait until the batch holds `a` and waits for `b`.
    let mut watcher = PgConnection::connect_with(&cluster.schema.options()).await.unwrap();
    let blocked = "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid)))";
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !sqlx::query_scalar::<_, bool>(blocked).bind(other_pid).fetch_one(&mut watcher).await.unwrap() {
        assert!(tokio::time::Instant::now() < deadline, "the batch never waited for the locked row");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    sqlx::raw_sql("SELECT 1 FROM tokens WHERE jti = 'a' FOR UPDATE").execute(&mut other).await.expect("the batch is the victim");
    sqlx::raw_sql("ROLLBACK").execute(&mut other).await.unwrap();

    assert_eq!(committed.await.unwrap().expect("tried again after the deadlock"), vec![WriteOutcome::Applied; 2]);
    assert_eq!(cluster.count(ActivityType::TokenVerified).await, 2, "the aborted try left nothing");
    assert!(cluster.chain_is_intact().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(not(postgres_tests), ignore = "needs PostgreSQL: set OAKALLOW_TEST_POSTGRES_URL when building the tests")]
async fn each_delivery_attempt_is_claimed_by_one_node() {
    let cluster = Cluster::start().await;
    let total = 24;
    for _ in 0..total {
        cluster.nodes[0].enqueue_webhook(&cluster.outbox("webhook.test")).await.unwrap();
    }
    let workers = (0..6).map(|i| {
        let node = cluster.node(i);
        tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let lease = DeliveryLease { id: LeaseId::generate(), until: T0.plus_seconds(30) };
                let claimed = node.claim_deliveries(T0, lease, ClaimLimit::total(2)).await.unwrap();
                if claimed.is_empty() {
                    return mine;
                }
                mine.extend(claimed.into_iter().map(|c| c.delivery.id));
            }
        })
    });
    let claimed: Vec<DeliveryId> = join_all(workers).await.into_iter().flat_map(Result::unwrap).collect();
    let distinct: HashSet<DeliveryId> = claimed.iter().copied().collect();
    assert_eq!((claimed.len(), distinct.len()), (total, total), "every delivery claimed exactly once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(not(postgres_tests), ignore = "needs PostgreSQL: set OAKALLOW_TEST_POSTGRES_URL when building the tests")]
async fn an_expiry_applies_once_across_nodes() {
    let cluster = Cluster::start().await;
    for _ in 0..5 {
        let approval = cluster.approval(60);
        let new = NewApproval { approval, idempotency: None, activity: cluster.record(ActivityType::ApprovalCreated), outbox: vec![] };
        cluster.nodes[0].create_approval(&new, None).await.unwrap();
    }
    let now = T0.plus_seconds(60);
    let sweepers = (0..3).map(|i| {
        let node = cluster.node(i);
        let activity = cluster.record(ActivityType::ApprovalExpired);
        let outbox = cluster.outbox("approval.expired");
        tokio::spawn(async move {
            let mut applied = 0;
            for due in node.due_approvals(now, 10).await.unwrap() {
                let mut after = due.clone();
                after.status = ApprovalStatus::Expired;
                after.decided_at = Some(now);
                let mut outbox = outbox.clone();
                outbox.event.id = EventId::generate();
                outbox.delivery = None;
                let expiry = ApprovalTransition {
                    org_id: due.org_id,
                    id: due.id,
                    expected_level: due.level,
                    now,
                    after,
                    decision: None,
                    activity: ActivityRecord { id: ActivityId::generate(), ..activity.clone() },
                    outbox: vec![outbox],
                };
                applied += usize::from(node.transition_approval(&expiry).await.unwrap());
            }
            applied
        })
    });
    let applied: usize = join_all(sweepers).await.into_iter().map(Result::unwrap).sum();
    assert_eq!(applied, 5);
    assert_eq!(cluster.count(ActivityType::ApprovalExpired).await, 5);
    assert!(cluster.nodes[1].due_approvals(now, 10).await.unwrap().is_empty());
    assert!(cluster.chain_is_intact().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(not(postgres_tests), ignore = "needs PostgreSQL: set OAKALLOW_TEST_POSTGRES_URL when building the tests")]
async fn an_idempotency_key_creates_one_approval_across_nodes() {
    let cluster = Cluster::start().await;
    let requests = (0..6).map(|i| {
        let node = cluster.node(i);
        let new = NewApproval {
            approval: cluster.approval(600),
            idempotency: Some(IdempotencyClaim { key: "same".into(), fingerprint: "f".into(), expires_at: T0.plus_seconds(86_400) }),
            activity: cluster.record(ActivityType::ApprovalCreated),
            outbox: vec![cluster.outbox("approval.created")],
        };
        tokio::spawn(async move { (new.approval.id, node.create_approval(&new, None).await.unwrap()) })
    });
    let outcomes: Vec<_> = join_all(requests).await.into_iter().map(Result::unwrap).collect();
    let created: Vec<ApprovalId> = outcomes.iter().filter(|(_, o)| *o == CreateOutcome::Created).map(|(id, _)| *id).collect();
    assert_eq!(created.len(), 1);
    for (_, outcome) in &outcomes {
        match outcome {
            CreateOutcome::Created => {}
            CreateOutcome::Replayed(approval) => assert_eq!(approval.id, created[0]),
            CreateOutcome::KeyReused | CreateOutcome::InsufficientCredits => panic!("the same request is replayed, not refused"),
        }
    }
    assert_eq!(cluster.count(ActivityType::ApprovalCreated).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(not(postgres_tests), ignore = "needs PostgreSQL: set OAKALLOW_TEST_POSTGRES_URL when building the tests")]
async fn signing_key_creators_agree_across_nodes() {
    let cluster = Cluster::start().await;
    let creators = (0..6u8).map(|i| {
        let node = cluster.node(usize::from(i));
        let key =
            StoredSigningKey { org_id: cluster.org, kid: format!("k_{i}"), algorithm: Algorithm::Ed25519, secret: [i; 32], created_at: T0 };
        tokio::spawn(async move { node.add_signing_key(&key).await.unwrap() })
    });
    let keys: Vec<StoredSigningKey> = join_all(creators).await.into_iter().map(Result::unwrap).collect();
    assert!(keys.iter().all(|key| *key == keys[0]), "one key for everybody");
    assert_eq!(cluster.nodes[2].ed25519_keys(cluster.org).await.unwrap(), vec![keys[0].clone()]);
}

/// Charged calls from two nodes, four times as many as the credit pays for, each in its own
/// group commit: exactly as many as it pays for are made, and the books balance at zero.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(not(postgres_tests), ignore = "needs PostgreSQL: set OAKALLOW_TEST_POSTGRES_URL when building the tests")]
async fn charges_are_exact_across_nodes() {
    let cluster = Cluster::start().await;
    let paid_for: usize = 15;
    let credit = NewCredit {
        id: LedgerId::generate(),
        kind: CreditKind::Grant,
        amount: i64::try_from(paid_for).unwrap() * PRICE_MICROUSD,
        expires_at: None,
        note: None,
        created_at: T0,
    };
    cluster.nodes[0].add_credit(cluster.account, &credit).await.unwrap();
    let charge = Charge { account_id: cluster.account, org_id: cluster.org, price: PRICE_MICROUSD };
    let calls = (0..4 * paid_for).map(|i| {
        let node = cluster.nodes[i % 2].clone();
        let item = BatchItem { write: RuntimeWrite::Activity(cluster.record(ActivityType::ParamsValidated)), charge: Some(charge) };
        tokio::spawn(async move { node.commit_runtime(T0, vec![item].into()).await.unwrap()[0] })
    });
    let outcomes: Vec<WriteOutcome> = join_all(calls).await.into_iter().map(Result::unwrap).collect();
    let applied = outcomes.iter().filter(|o| **o == WriteOutcome::Applied).count();
    let refused = outcomes.iter().filter(|o| **o == WriteOutcome::InsufficientCredits).count();
    assert_eq!((applied, refused), (paid_for, 3 * paid_for));

    let state = cluster.nodes[1].credit_state(cluster.account, T0).await.unwrap();
    let ledger = cluster.nodes[0].ledger(cluster.account, None, 1000).await.unwrap();
    assert_eq!((state.balance, ledger.iter().map(|row| row.amount).sum::<i64>()), (0, 0), "the ledger sums to the balance");
    let debited: u64 = ledger.iter().filter(|row| row.kind == LedgerKind::Debit).map(|row| row.calls).sum();
    assert_eq!(debited, u64::try_from(paid_for).unwrap());
    assert_eq!(cluster.count(ActivityType::ParamsValidated).await, paid_for, "refused calls leave no entry");
    assert!(cluster.chain_is_intact().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(not(postgres_tests), ignore = "needs PostgreSQL: set OAKALLOW_TEST_POSTGRES_URL when building the tests")]
async fn an_invitation_is_used_once_across_nodes() {
    let cluster = Cluster::start().await;
    let people = cluster.people(6).await;
    let invite = Invite {
        id: InviteId::generate(),
        digest: secret_digest("one link"),
        org_id: cluster.org,
        role: Role::Admin,
        approver: ApproverLevels::BOTH,
        created_by: cluster.account,
        created_at: T0,
        expires_at: T0.plus_seconds(3600),
        used_at: None,
        used_by: None,
    };
    cluster.nodes[0].create_invite(&invite).await.unwrap();
    let accepts = people.iter().enumerate().map(|(i, &person)| {
        let node = cluster.node(i);
        tokio::spawn(async move { node.accept_invite(&invite.digest, person, T0.plus_seconds(1)).await.unwrap() })
    });
    let joined: Vec<_> = join_all(accepts).await.into_iter().filter_map(Result::unwrap).collect();
    assert_eq!(joined.len(), 1, "one person joined");
    let used = cluster.nodes[2].invite_by_digest(&invite.digest).await.unwrap().unwrap();
    assert_eq!(used.used_by, Some(joined[0].account_id));
    assert_eq!(cluster.nodes[1].members(cluster.org).await.unwrap().len(), 2, "the owner and the one who joined");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(not(postgres_tests), ignore = "needs PostgreSQL: set OAKALLOW_TEST_POSTGRES_URL when building the tests")]
async fn the_operator_is_claimed_once_across_nodes() {
    let cluster = Cluster::start().await;
    let people = cluster.people(6).await;
    let claims = people.iter().enumerate().map(|(i, &person)| {
        let node = cluster.node(i);
        tokio::spawn(async move { node.claim_operator(person).await.unwrap().then_some(person) })
    });
    let winners: Vec<AccountId> = join_all(claims).await.into_iter().filter_map(Result::unwrap).collect();
    assert_eq!(winners.len(), 1, "one operator");
    assert_eq!(cluster.nodes[2].operator().await.unwrap(), Some(winners[0]));
}
