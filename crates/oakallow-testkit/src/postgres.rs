//! PostgreSQL for tests: each test gets its own new schema in the database named by
//! `OAKALLOW_TEST_POSTGRES_URL`, so tests run in parallel without seeing each other.

use std::sync::Arc;

use oakallow_store::Store;
use oakallow_store_postgres::PostgresStore;
use sqlx::Connection;

/// The URL of the test database, or `None` when PostgreSQL tests are not configured. With
/// `OAKALLOW_REQUIRE_POSTGRES=1` (as in CI) a missing URL is a failure, not a skip.
pub fn postgres_url() -> Option<String> {
    match std::env::var("OAKALLOW_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("OAKALLOW_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "OAKALLOW_REQUIRE_POSTGRES=1 but OAKALLOW_TEST_POSTGRES_URL is not set"
            );
            eprintln!("OAKALLOW_TEST_POSTGRES_URL is not set: skipping a PostgreSQL test");
            None
        }
    }
}

/// Creates a new schema and answers a URL whose connections use it.
pub async fn new_schema_url() -> Option<String> {
    let url = postgres_url()?;
    let schema = format!("oak_t_{}", oakallow_domain::id::ActivityId::generate().to_string().trim_start_matches("act_"));
    let mut admin = sqlx::PgConnection::connect(&url).await.expect("connect to OAKALLOW_TEST_POSTGRES_URL");
    // The schema name is made of an id body: lowercase letters and digits only.
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}"))).execute(&mut admin).await.expect("create a test schema");
    admin.close().await.ok();
    let separator = if url.contains('?') { '&' } else { '?' };
    Some(format!("{url}{separator}options=-c%20search_path%3D{schema}"))
}

/// A migrated store on a new schema, and a guard to keep with it.
pub async fn postgres_store() -> Option<(Arc<dyn Store>, Box<dyn std::any::Any + Send>)> {
    let url = new_schema_url().await?;
    let store = PostgresStore::connect(&url).await.expect("connect the PostgreSQL store");
    Some((Arc::new(store), Box::new(url)))
}
