//! A real browser for tests: [`Browser`] runs headless Chromium under its own chromedriver and
//! a fresh profile, drives it over WebDriver (`fantoccini`), and kills both when dropped.
//!
//! Tests that use it need `/usr/bin/chromium` and `/usr/bin/chromedriver`; mark them
//! `#[cfg_attr(not(browser_tests), ignore = "needs chromium and chromedriver")]` (the package's
//! `build.rs` sets `browser_tests` when both exist, and always under `OAKALLOW_CI=1`).
//!
//! Every helper panics with what it was doing when the browser refuses: a failed step is a
//! failed test. [`Browser::client`] gives the whole WebDriver API for anything else.

mod driver;
mod page;
mod screenshot;
mod webauthn;

use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

pub use driver::CHROMEDRIVER;
pub use page::Appears;
pub use screenshot::screenshot_dir;

/// The browser the harness drives.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Why a browser test is compiled as ignored (the `ignore` attribute needs it spelled out).
pub const NO_BROWSER: &str = "needs chromium and chromedriver";

/// Headless Chromium under its own chromedriver, with a profile of its own.
pub struct Browser {
    // Dropped in this order: the session, then the processes, then the profile they wrote to.
    client: Client,
    _driver: driver::Chromedriver,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session with a fresh profile; the window is
    /// 1280 × 900 px until [`Browser::set_viewport`] changes it.
    pub async fn start() -> Self {
        let profile = tempfile::tempdir().expect("a temporary directory for the browser profile");
        let driver = driver::Chromedriver::start().await;
        let Value::Object(capabilities) = capabilities(&profile) else { unreachable!("capabilities are an object") };
        let (mut builder, url) = (ClientBuilder::new(HttpConnector::new()), driver.url());
        let session = builder.capabilities(capabilities).connect(&url);
        let client = match tokio::time::timeout(std::time::Duration::from_secs(60), session).await {
            Ok(Ok(client)) => client,
            Ok(Err(e)) => panic!("start a Chromium session ({CHROMIUM}): {e}"),
            Err(_) => panic!("Chromium did not start a session within 60 s"),
        };
        let browser = Self { client, _driver: driver, _profile: profile };
        browser.set_viewport(1280, 900).await;
        browser
    }

    /// The WebDriver client, for what the helpers do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Sizes the window so that the page itself (the viewport, without the browser's frame) is
    /// `width` × `height` CSS pixels.
    pub async fn set_viewport(&self, width: u32, height: u32) {
        self.set_window(width, height).await;
        let (inner_width, inner_height) = self.viewport().await;
        // The frame's size is only known once the window exists: correct by what is missing.
        if (inner_width, inner_height) != (width, height) {
            self.set_window(width + width.saturating_sub(inner_width), height + height.saturating_sub(inner_height)).await;
        }
    }

    /// The viewport's size in CSS pixels.
    pub async fn viewport(&self) -> (u32, u32) {
        let size = self.run("return [window.innerWidth, window.innerHeight]", vec![]).await;
        let side = |i: usize| size[i].as_u64().and_then(|n| u32::try_from(n).ok()).expect("window sizes are small integers");
        (side(0), side(1))
    }

    /// Loads `url` and waits for the page's load event.
    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap_or_else(|e| panic!("load {url}: {e}"));
    }

    /// The current page's URL.
    pub async fn url(&self) -> String {
        self.client.current_url().await.expect("read the current URL").to_string()
    }

    /// The value of the cookie `name` that the current page's site set, if any (for example, to
    /// see a session id change at sign-in). HttpOnly cookies are included: WebDriver sees them.
    pub async fn cookie(&self, name: &str) -> Option<String> {
        let cookies = self.client.get_all_cookies().await.expect("read the cookies");
        cookies.into_iter().find(|c| c.name() == name).map(|c| c.value().to_owned())
    }

    /// Submits a POST form built on the current page from `fields` only: no CSRF token unless
    /// `fields` has one. The browser sends its cookies as for any form of that page, so from a
    /// page of the app this is a forged same-site request, and from a page of another origin a
    /// cross-site one (where `SameSite=Lax` keeps the session cookie out). Returns once the
    /// submission has started; wait for the answer with [`Browser::wait_for`]. When the status
    /// code matters, send the request with `reqwest` and the value of [`Browser::cookie`].
    pub async fn post_form(&self, action: &str, fields: &[(&str, &str)]) {
        let script = "const [action, fields] = arguments;
            const form = document.createElement('form');
            form.method = 'post';
            form.action = action;
            for (const [name, value] of fields) {
                const input = document.createElement('input');
                input.type = 'hidden';
                input.name = name;
                input.value = value;
                form.appendChild(input);
            }
            document.body.appendChild(form);
            form.submit();";
        self.run(script, vec![json!(action), json!(fields)]).await;
    }

    /// Runs `script` as the body of a function of `args` in the page and answers its value.
    pub async fn run(&self, script: &str, args: Vec<Value>) -> Value {
        self.client.execute(script, args).await.unwrap_or_else(|e| panic!("run a script in the page: {e}\n{script}"))
    }

    async fn set_window(&self, width: u32, height: u32) {
        self.client.set_window_size(width, height).await.unwrap_or_else(|e| panic!("resize the window to {width} × {height}: {e}"));
    }
}

/// The value of a browser step, or a panic saying which step failed and why.
fn done<T, E: std::fmt::Display>(result: Result<T, E>, step: impl FnOnce() -> String) -> T {
    result.unwrap_or_else(|e| panic!("{}: {e}", step()))
}

/// Chromium, headless, quiet (no updates, sync or first-run pages), in `profile`.
fn capabilities(profile: &tempfile::TempDir) -> Value {
    json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": [
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                format!("--user-data-dir={}", profile.path().display()),
            ],
        },
        // A page that hangs fails its test in half a minute, not chromedriver's five.
        "timeouts": { "pageLoad": 30_000, "script": 30_000 },
    })
}
