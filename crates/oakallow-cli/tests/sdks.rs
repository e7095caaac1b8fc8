//! The SDKs' own test suites (issue 12, "Must show" 1 and 2) against a real `oakallow serve` on
//! SQLite: pytest in `sdks/python`, node's test runner in `sdks/typescript` (`npm test`: the
//! TypeScript build, then `node --test`). Each suite gets the server's URL and the org's three
//! keys in `OAKALLOW_TEST_*`; the suites are also runnable on their own, starting a server from
//! `OAKALLOW_BIN` (see each SDK's README).

#![expect(clippy::unwrap_used, reason = "tests: a failed step is a failed test")]

mod support;

use std::path::Path;
use std::process::Command;

use support::{Server, bootstrap};

/// Runs `program args` in `dir` (relative to the repository) against a fresh server; fails with
/// the suite's output if it fails.
fn run_suite(dir: &str, program: &str, args: &[&str]) {
    let data = tempfile::tempdir().unwrap();
    let database = ["--data-dir", data.path().to_str().unwrap()];
    let keys = bootstrap(&database, "sdk@example.com");
    let server = Server::start(&database, &[]);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let key = |name: &str| keys[name].as_str().unwrap().to_owned();
    let output = Command::new(program)
        .args(args)
        .current_dir(root.join(dir))
        .env("OAKALLOW_TEST_URL", &server.base)
        .env("OAKALLOW_TEST_MANAGEMENT_KEY", key("management_key"))
        .env("OAKALLOW_TEST_STANDARD_KEY", key("standard_key"))
        .env("OAKALLOW_TEST_APPROVER_KEY", key("approver_key"))
        .env("OAKALLOW_BIN", support::BIN)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    let said = format!("{}\n{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{dir}: {program} {args:?} failed:\n{said}");
    server.stop();
}

#[test]
#[cfg_attr(not(python_sdk_tests), ignore = "needs Python with httpx, pytest and cryptography: pip install httpx pytest cryptography")]
fn the_python_sdk_passes_its_own_tests_against_a_real_server() {
    run_suite("sdks/python", "python3", &["-m", "pytest", "-q", "-p", "no:cacheprovider"]);
}

#[test]
#[cfg_attr(not(typescript_sdk_tests), ignore = "needs Node.js and `npm ci --prefix sdks/typescript`")]
fn the_typescript_sdk_passes_its_own_tests_against_a_real_server() {
    run_suite("sdks/typescript", "npm", &["test", "--silent"]);
}
