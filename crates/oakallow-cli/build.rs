//! Tells this package's tests what can run here, as cfgs, so that a test that cannot run is
//! compiled as ignored (counted as ignored in the runner's summary, never as passed):
//! - `postgres_tests`: `OAKALLOW_TEST_POSTGRES_URL` is set at build time. With
//!   `OAKALLOW_REQUIRE_POSTGRES=1` (CI) it is set whatever the URL says, so a missing database
//!   fails those tests instead.
//! - `mcp_tests`: Node.js and the npm packages of `tests/mcp` (`npm ci --prefix tests/mcp`) are
//!   installed, for the MCP end-to-end tests. With `OAKALLOW_CI=1` (CI installs them) it is always
//!   set, so a missing package fails those tests.
//! - `python_sdk_tests`: `python3` can import httpx, pytest and cryptography, for the Python SDK's
//!   own tests; `typescript_sdk_tests`: Node.js and `npm ci --prefix sdks/typescript`, for the
//!   TypeScript SDK's. With `OAKALLOW_CI=1` both are set.

use std::path::Path;

/// Written by `npm ci` / `npm install` once the packages are in place.
const NPM_INSTALLED: &str = "../../tests/mcp/node_modules/.package-lock.json";
/// The same for the TypeScript SDK (`npm ci --prefix sdks/typescript`).
const SDK_NPM_INSTALLED: &str = "../../sdks/typescript/node_modules/.package-lock.json";

fn main() {
    println!("cargo::rustc-check-cfg=cfg(postgres_tests)");
    println!("cargo::rerun-if-env-changed=OAKALLOW_TEST_POSTGRES_URL");
    println!("cargo::rerun-if-env-changed=OAKALLOW_REQUIRE_POSTGRES");
    let required = std::env::var("OAKALLOW_REQUIRE_POSTGRES").is_ok_and(|v| v == "1");
    if required || std::env::var_os("OAKALLOW_TEST_POSTGRES_URL").is_some_and(|url| !url.is_empty()) {
        println!("cargo::rustc-cfg=postgres_tests");
    }

    println!("cargo::rustc-check-cfg=cfg(mcp_tests)");
    println!("cargo::rerun-if-env-changed=OAKALLOW_CI");
    println!("cargo::rerun-if-changed={NPM_INSTALLED}");
    let ci = std::env::var("OAKALLOW_CI").is_ok_and(|v| v == "1");
    let node = std::process::Command::new("node").arg("--version").output().is_ok_and(|out| out.status.success());
    if ci || (node && Path::new(NPM_INSTALLED).exists()) {
        println!("cargo::rustc-cfg=mcp_tests");
    }

    println!("cargo::rustc-check-cfg=cfg(typescript_sdk_tests)");
    println!("cargo::rerun-if-changed={SDK_NPM_INSTALLED}");
    if ci || (node && Path::new(SDK_NPM_INSTALLED).exists()) {
        println!("cargo::rustc-cfg=typescript_sdk_tests");
    }

    println!("cargo::rustc-check-cfg=cfg(python_sdk_tests)");
    let imports = std::process::Command::new("python3").args(["-c", "import httpx, pytest, cryptography"]).output();
    if ci || imports.is_ok_and(|out| out.status.success()) {
        println!("cargo::rustc-cfg=python_sdk_tests");
    }
}
