//! The shared storage conformance suite, on a fresh PostgreSQL schema per test. Set
//! `OAKALLOW_TEST_POSTGRES_URL` to run it (and `OAKALLOW_REQUIRE_POSTGRES=1` to fail, not skip,
//! without it).

mod common;

use std::sync::Arc;

use oakallow_store::conformance::TestStore;
use oakallow_store_postgres::PostgresStore;

async fn fresh_store() -> Option<TestStore> {
    let url = common::test_url()?;
    let schema = common::Schema::create(&url).await;
    let store = PostgresStore::connect_with(schema.options(), 8).await.expect("connect the PostgreSQL store");
    Some((Arc::new(store), Box::new(schema)))
}

oakallow_store::conformance_tests!(fresh_store);
