//! The shared storage conformance suite, on a fresh PostgreSQL schema per test. Set
//! `OAKALLOW_TEST_POSTGRES_URL` to run it; without it the cases are compiled as ignored (and with
//! `OAKALLOW_REQUIRE_POSTGRES=1` they run and fail).

mod common;

use std::sync::Arc;

use oakallow_store::conformance::TestStore;
use oakallow_store_postgres::PostgresStore;

async fn fresh_store() -> TestStore {
    let url = common::test_url();
    let schema = common::Schema::create(&url).await;
    let store = PostgresStore::connect_with(schema.options(), 8).await.expect("connect the PostgreSQL store");
    (Arc::new(store), Box::new(schema))
}

oakallow_store::conformance_tests!(fresh_store,
    #[cfg_attr(not(postgres_tests), ignore = "needs PostgreSQL: set OAKALLOW_TEST_POSTGRES_URL when building the tests")]);
