//! Input integrity: what the API accepts is exactly what is stored, hashed and read back, on
//! both backends; what the stores cannot keep is refused with a 4xx; bodies mean one thing only.

/// Runs an async test body `fn(TestApp)` once on SQLite and once on PostgreSQL (the latter
/// compiled as ignored when `OAKALLOW_TEST_POSTGRES_URL` is not set at build time).
macro_rules! on_both_backends {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$body(oakallow_testkit::TestApp::sqlite().await).await;
            }

            #[tokio::test]
            #[cfg_attr(not(postgres_tests), ignore = "needs PostgreSQL: set OAKALLOW_TEST_POSTGRES_URL when building the tests")]
            async fn postgres() {
                super::$body(oakallow_testkit::TestApp::postgres().await).await;
            }
        }
    };
}

mod numbers;
mod parsing;
mod policy_backup;
mod properties;
mod text;
mod tier_first;
