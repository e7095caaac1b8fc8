//! PostgreSQL for tests: each test gets its own new schema in the database named by
//! `OAKALLOW_TEST_POSTGRES_URL`, so tests run in parallel without seeing each other.

use std::sync::Arc;

use oakallow_store::Store;
use oakallow_store_postgres::PostgresStore;
use sqlx::Connection;

/// The message of a PostgreSQL test compiled as ignored (see the package's `build.rs`).
pub const NO_POSTGRES: &str = "needs PostgreSQL: set OAKALLOW_TEST_POSTGRES_URL when building the tests";

/// The URL of the test database. PostgreSQL tests are compiled as ignored when it is not set at
/// build time (`build.rs`), so a test that runs and finds it missing fails: it was required.
pub fn postgres_url() -> String {
    match std::env::var("OAKALLOW_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => panic!("OAKALLOW_TEST_POSTGRES_URL is not set, but this PostgreSQL test was built to run"),
    }
}

/// Creates a new schema and answers a URL whose connections use it.
pub async fn new_schema_url() -> String {
    let url = postgres_url();
    let schema = format!("oak_t_{}", oakallow_domain::id::ActivityId::generate().to_string().trim_start_matches("act_"));
    let mut admin = sqlx::PgConnection::connect(&url).await.expect("connect to OAKALLOW_TEST_POSTGRES_URL");
    // The schema name is made of an id body: lowercase letters and digits only.
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}"))).execute(&mut admin).await.expect("create a test schema");
    admin.close().await.ok();
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}options=-c%20search_path%3D{schema}")
}

/// A migrated store on a new schema, and a guard to keep with it.
pub async fn postgres_store() -> (Arc<dyn Store>, Box<dyn std::any::Any + Send>) {
    let url = new_schema_url().await;
    let store = PostgresStore::connect(&url).await.expect("connect the PostgreSQL store");
    (Arc::new(store), Box::new(url))
}
