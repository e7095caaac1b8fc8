//! Several nodes on one database: concurrent starts migrate once without racing, the URL's
//! `options` parameter selects the schema, an upgrade keeps what the database held, and
//! appends from different nodes share one chain.

mod common;

use oakallow_domain::Timestamp;
use oakallow_domain::account::Membership;
use oakallow_domain::audit::{ActivityRecord, ActivityType, Actor, ActorKind, GENESIS_HASH};
use oakallow_domain::id::AccountId;
use oakallow_domain::org::{Account, Org};
use oakallow_store::{AccountStore, BatchItem, RuntimeWrite, Store};
use oakallow_store_postgres::PostgresStore;

const TABLES: [&str; 40] = [
    "accounts",
    "notification_channels",
    "slack_links",
    "slack_messages",
    "passkeys",
    "passkey_ceremonies",
    "purchases",
    "email_codes",
    "orgs",
    "api_keys",
    "categories",
    "tools",
    "tenants",
    "resources",
    "methods",
    "rules",
    "checks",
    "activity",
    "activity_heads",
    "signing_keys",
    "tokens",
    "executions",
    "approvals",
    "approval_decisions",
    "approval_idempotency",
    "webhook_events",
    "webhook_deliveries",
    "webhook_attempts",
    "credit_lots",
    "ledger",
    "instance_operator",
    "sessions",
    "memberships",
    "invites",
    "sign_in_failures",
    "totp_factors",
    "recovery_codes",
    "pending_sign_ins",
    "session_second_factors",
    "schema_migrations",
];

/// `url` with `options=-c search_path=<schema>` added, percent-encoded as libpq expects.
fn url_with_search_path(url: &str, schema: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}options=-c%20search_path%3D{schema}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(postgres_tests), ignore = "needs PostgreSQL: set OAKALLOW_TEST_POSTGRES_URL when building the tests")]
async fn concurrent_starts_migrate_once_into_the_url_schema() {
    let url = common::test_url();
    let schema = common::Schema::create(&url).await;
    let url = url_with_search_path(&url, schema.name());

    let (first, second) = tokio::join!(PostgresStore::connect(&url), PostgresStore::connect(&url));
    let (first, second) = (first.unwrap(), second.unwrap());
    let third = PostgresStore::connect(&url).await.unwrap();

    let current: String = sqlx::query_scalar("SELECT current_schema()").fetch_one(first.pool()).await.unwrap();
    assert_eq!(current, schema.name());
    let tables: Vec<String> = sqlx::query_scalar("SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1")
        .bind(schema.name())
        .fetch_all(second.pool())
        .await
        .unwrap();
    for table in TABLES {
        assert!(tables.iter().any(|t| t == table), "{table} is not in schema {}", schema.name());
    }
    let versions: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM schema_migrations ORDER BY version").fetch_all(third.pool()).await.unwrap();
    assert_eq!(versions, (1..=14).collect::<Vec<i64>>(), "each migration is recorded once");
    assert_eq!(Some(&oakallow_store::conformance::undo::newest()), versions.last(), "the newest migration has its undo for upgrade tests");
    for store in [&first, &second, &third] {
        store.ping().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(postgres_tests), ignore = "needs PostgreSQL: set OAKALLOW_TEST_POSTGRES_URL when building the tests")]
async fn two_nodes_append_to_one_chain() {
    let url = common::test_url();
    let schema = common::Schema::create(&url).await;
    let nodes =
        [PostgresStore::connect_with(schema.options(), 4).await.unwrap(), PostgresStore::connect_with(schema.options(), 4).await.unwrap()];
    let at = Timestamp::from_micros(1_790_000_000_000_000);
    let account = Account { id: AccountId::generate(), email: "nodes@example.com".into(), name: "nodes".into(), created_at: at };
    nodes[0].create_account(&account, None, None).await.unwrap();
    let org = Org::new(account.id, "nodes".into(), at);
    nodes[1].create_org(&org, &[], vec![]).await.unwrap();
    // Before any append the org has no head row; with only the genesis head a node creates
    // when it first appends, the empty chain still verifies.
    assert_eq!(nodes[0].verify_chain(org.id).await.unwrap().first_broken, None);
    sqlx::query("INSERT INTO activity_heads (org_id, seq, id, hash) VALUES ($1, 0, '', $2)")
        .bind(org.id.to_string())
        .bind(GENESIS_HASH)
        .execute(nodes[0].pool())
        .await
        .unwrap();
    let empty = nodes[1].verify_chain(org.id).await.unwrap();
    assert_eq!((empty.entries, empty.first_broken), (0, None));

    let actor = Actor { kind: ActorKind::System, id: "test".into(), label: "test".into() };
    let commits = (0..20).map(|i| {
        let node = nodes[i % 2].clone();
        let entry = || RuntimeWrite::Activity(ActivityRecord::new(org.id, at, ActivityType::ParamsValidated, actor.clone()));
        let batch: Vec<_> = (0..3).map(|_| BatchItem { write: entry(), charge: None }).collect();
        tokio::spawn(async move { node.commit_runtime(at, batch.clone().into()).await })
    });
    for commit in commits.collect::<Vec<_>>() {
        commit.await.unwrap().unwrap();
    }
    let check = nodes[1].verify_chain(org.id).await.unwrap();
    assert_eq!((check.entries, check.first_broken), (60, None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(postgres_tests), ignore = "needs PostgreSQL: set OAKALLOW_TEST_POSTGRES_URL when building the tests")]
async fn an_upgrade_names_accounts_by_email_and_makes_creators_owners() {
    let url = common::test_url();
    let schema = common::Schema::create(&url).await;
    let store = PostgresStore::connect_with(schema.options(), 2).await.unwrap();
    let at = Timestamp::from_micros(1_790_000_000_000_000);
    let account = Account { id: AccountId::generate(), email: "old@example.com".into(), name: "lost".into(), created_at: at };
    store.create_account(&account, None, None).await.unwrap();
    let org = Org::new(account.id, "old".into(), at.plus_seconds(1));
    store.create_org(&org, &[], vec![]).await.unwrap();
    // Back to before version 6 (accounts), the later versions undone first.
    for sql in oakallow_store::conformance::undo::undo_down_to(6) {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(store.pool()).await.unwrap();
    }
    store.pool().close().await;

    let upgraded = PostgresStore::connect_with(schema.options(), 2).await.unwrap();
    assert_eq!(upgraded.account(account.id).await.unwrap().map(|a| a.name), Some("old@example.com".into()));
    assert_eq!(upgraded.membership(org.id, account.id).await.unwrap(), Some(Membership::owner_of(&org)));
}
