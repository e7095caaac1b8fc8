//! Test databases: each test gets a new, empty schema `oak_t_<random>` in the database named by
//! `OAKALLOW_TEST_POSTGRES_URL`, dropped (best effort) when its guard goes.

use std::str::FromStr;
use std::time::Duration;

use oakallow_domain::id::OrgId;
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};

/// The database to test against. The tests are compiled as ignored when it is not set at build
/// time (`build.rs`), so a test that runs and finds it missing fails: it was required.
pub fn test_url() -> String {
    match std::env::var("OAKALLOW_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => panic!("OAKALLOW_TEST_POSTGRES_URL is not set, but this PostgreSQL test was built to run"),
    }
}

/// A schema created for one test; dropping it drops the schema.
pub struct Schema {
    url: String,
    name: String,
}

impl Schema {
    /// Creates a new empty schema with a random name.
    pub async fn create(url: &str) -> Self {
        let body = OrgId::generate().to_string().trim_start_matches("org_").to_owned();
        let name = format!("oak_t_{body}");
        let mut admin = PgConnection::connect(url).await.expect("connect to the test database");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}"))).execute(&mut admin).await.expect("create the test schema");
        admin.close().await.expect("close the admin connection");
        Self { url: url.to_owned(), name }
    }

    /// The schema's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Connect options whose `search_path` selects this schema.
    pub fn options(&self) -> PgConnectOptions {
        PgConnectOptions::from_str(&self.url).expect("a valid test URL").options([("search_path", self.name())])
    }
}

impl Drop for Schema {
    /// Drops the schema from a thread with its own runtime (the test's runtime may be
    /// finishing), giving up after a few seconds rather than hang on a lock.
    fn drop(&mut self) {
        let (url, name) = (self.url.clone(), self.name.clone());
        let dropper = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            runtime.block_on(async {
                let drop_schema = async {
                    let mut admin = PgConnection::connect(&url).await?;
                    sqlx::raw_sql("SET lock_timeout = '3s'").execute(&mut admin).await?;
                    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS {name} CASCADE"))).execute(&mut admin).await?;
                    admin.close().await
                };
                if let Ok(Err(error)) = tokio::time::timeout(Duration::from_secs(5), drop_schema).await {
                    eprintln!("could not drop test schema {name}: {error}");
                }
            });
        });
        let _ = dropper.join();
    }
}
