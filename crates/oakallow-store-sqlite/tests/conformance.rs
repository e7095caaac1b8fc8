//! The shared storage conformance suite, on a fresh SQLite file per test.

use std::sync::Arc;

use oakallow_store::conformance::TestStore;
use oakallow_store_sqlite::SqliteStore;

async fn fresh_store() -> TestStore {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = SqliteStore::open_dir(dir.path()).expect("open SQLite store");
    (Arc::new(store), Box::new(dir))
}

oakallow_store::conformance_tests!(fresh_store);
