//! Tells this package's tests whether a PostgreSQL test database is configured: with
//! `OAKALLOW_TEST_POSTGRES_URL` unset at build time, the PostgreSQL tests are compiled as
//! ignored, so the runner's summary counts them as ignored instead of passed. With
//! `OAKALLOW_REQUIRE_POSTGRES=1` (CI) they are compiled in whatever the URL says, so a missing
//! database fails them instead.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(postgres_tests)");
    println!("cargo::rerun-if-env-changed=OAKALLOW_TEST_POSTGRES_URL");
    println!("cargo::rerun-if-env-changed=OAKALLOW_REQUIRE_POSTGRES");
    let required = std::env::var("OAKALLOW_REQUIRE_POSTGRES").is_ok_and(|v| v == "1");
    if required || std::env::var_os("OAKALLOW_TEST_POSTGRES_URL").is_some_and(|url| !url.is_empty()) {
        println!("cargo::rustc-cfg=postgres_tests");
    }
}
