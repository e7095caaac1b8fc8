//! The domain crate stays pure: nothing in its dependency tree does async I/O or talks to a
//! database or the network.

#[test]
fn no_runtime_database_or_http_crates_in_the_tree() {
    let output = std::process::Command::new(env!("CARGO"))
        .args(["tree", "-p", "oakallow-domain", "--edges", "normal", "--prefix", "none", "--all-features", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let tree = String::from_utf8_lossy(&output.stdout);
    for forbidden in ["tokio ", "sqlx", "axum", "hyper ", "reqwest", "rusqlite", "mio "] {
        assert!(!tree.lines().any(|line| line.starts_with(forbidden)), "oakallow-domain depends on {forbidden}");
    }
    assert!(tree.lines().any(|line| line.starts_with("serde ")), "the tree was read");
}
