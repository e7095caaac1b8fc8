//! Tells the tests what this machine can run, as cfgs, so that a test that cannot run here is
//! compiled as ignored (and counted as ignored in the runner's summary), never as passed:
//! - `postgres_tests`: `OAKALLOW_TEST_POSTGRES_URL` is set;
//! - `python_<module>` for each module of [`PYTHON_MODULES`]: `python3` can import it (the
//!   cross-checks against third-party implementations);
//! - `browser_tests`: `/usr/bin/chromium` and `/usr/bin/chromedriver` exist (the browser tests).
//!
//! With `OAKALLOW_CI=1` (CI installs everything) every cfg is set whatever the probe says, and
//! `OAKALLOW_REQUIRE_POSTGRES=1` does the same for PostgreSQL, so a missing database or package
//! fails its tests instead of skipping them.

use std::path::Path;
use std::process::Command;

/// Python packages some tests run, by import name.
const PYTHON_MODULES: [&str; 6] = ["aiosmtpd", "prometheus_client", "pycef", "slack_sdk", "standardwebhooks", "stripe"];

/// The programs the browser tests run.
const BROWSER: [&str; 2] = ["/usr/bin/chromium", "/usr/bin/chromedriver"];

fn main() {
    let ci = std::env::var("OAKALLOW_CI").is_ok_and(|v| v == "1");
    println!("cargo::rerun-if-env-changed=OAKALLOW_CI");
    println!("cargo::rustc-check-cfg=cfg(postgres_tests)");
    println!("cargo::rerun-if-env-changed=OAKALLOW_TEST_POSTGRES_URL");
    println!("cargo::rerun-if-env-changed=OAKALLOW_REQUIRE_POSTGRES");
    let required = ci || std::env::var("OAKALLOW_REQUIRE_POSTGRES").is_ok_and(|v| v == "1");
    if required || std::env::var_os("OAKALLOW_TEST_POSTGRES_URL").is_some_and(|url| !url.is_empty()) {
        println!("cargo::rustc-cfg=postgres_tests");
    }
    println!("cargo::rustc-check-cfg=cfg(browser_tests)");
    if browser_installed() || ci {
        println!("cargo::rustc-cfg=browser_tests");
    }
    let importable = python_modules();
    for module in PYTHON_MODULES {
        println!("cargo::rustc-check-cfg=cfg(python_{module})");
        if ci || importable.iter().any(|m| m == module) {
            println!("cargo::rustc-cfg=python_{module}");
        }
    }
}

/// The modules of [`PYTHON_MODULES`] that `python3` can import, and a rerun of this script
/// whenever a package is installed or removed (the site-packages directories change).
fn python_modules() -> Vec<String> {
    let probe = "import importlib.util, site, sys\n\
                 print(' '.join(m for m in sys.argv[1:] if importlib.util.find_spec(m)))\n\
                 print('\\n'.join(site.getsitepackages() + [site.getusersitepackages()]))";
    let Ok(output) = Command::new("python3").arg("-c").arg(probe).args(PYTHON_MODULES).output() else { return Vec::new() };
    let text = String::from_utf8_lossy(&output.stdout);
    let mut lines = text.lines();
    let found = lines.next().unwrap_or("").split_whitespace().map(str::to_owned).collect();
    for dir in lines.filter(|dir| Path::new(dir).is_dir()) {
        println!("cargo::rerun-if-changed={dir}");
    }
    found
}

/// Whether both [`BROWSER`] programs exist, and a rerun of this script when that may change:
/// when one of them changes or goes, or, while one is missing, when `/usr/bin` changes.
fn browser_installed() -> bool {
    let installed = BROWSER.iter().all(|program| Path::new(program).exists());
    if installed {
        BROWSER.iter().for_each(|program| println!("cargo::rerun-if-changed={program}"));
    } else {
        println!("cargo::rerun-if-changed=/usr/bin");
    }
    installed
}
