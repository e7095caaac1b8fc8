//! Test support: [`TestApp`] starts the real HTTP server on `127.0.0.1:0` over a fresh database
//! (a temporary SQLite file, or a new PostgreSQL schema when `OAKALLOW_TEST_POSTGRES_URL` is set),
//! bootstraps an org with one key of each tier, and stops the server when dropped. [`Browser`]
//! drives headless Chromium against it.

#![expect(clippy::unwrap_used, reason = "test support: a failed setup step is a failed test")]
#![expect(clippy::missing_panics_doc, reason = "test support")]

pub mod browser;
pub mod hooked;
mod postgres;
pub mod receiver;
pub mod slack;
pub mod smtp;
pub mod stripe;
pub mod web;

use std::sync::Arc;

use oakallow_domain::{Clock, ManualClock, SystemClock, Timestamp};
use oakallow_server::ConnectionLimits;
use oakallow_service::bootstrap::Bootstrapped;
use oakallow_service::config::ServiceConfig;
use oakallow_service::{Service, ServiceTasks};
use oakallow_store::Store;
use oakallow_store_sqlite::SqliteStore;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub use browser::{Appears, Browser, NO_BROWSER};
pub use hooked::{Held, HookedStore, SeenBatch, StoreHooks};
pub use postgres::{NO_POSTGRES, new_schema_url, postgres_store, postgres_url};
pub use web::{WebClient, WebPage};

/// One org's ids and keys.
#[derive(Debug, Clone)]
pub struct OrgKeys {
    /// Org id.
    pub org_id: String,
    /// Account id.
    pub account_id: String,
    /// Management key.
    pub management: String,
    /// Standard key.
    pub standard: String,
    /// Approver key.
    pub approver: String,
}

impl From<Bootstrapped> for OrgKeys {
    fn from(b: Bootstrapped) -> Self {
        Self {
            org_id: b.org_id.to_string(),
            account_id: b.account_id.to_string(),
            management: b.management_key,
            standard: b.standard_key,
            approver: b.approver_key,
        }
    }
}

/// A running server for one test.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The bootstrapped org.
    pub keys: OrgKeys,
    /// The store the server uses (for checks that go behind the API).
    pub store: Arc<dyn Store>,
    /// The service the server uses.
    pub service: Arc<Service>,
    /// The clock, when the test controls time.
    pub clock: Option<ManualClock>,
    /// The database.
    pub database: Arc<Database>,
    options: TestOptions,
    http: reqwest::Client,
    /// Dropping it (with the app) shuts the server down.
    shutdown: Option<oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<()>>,
    tasks: Option<ServiceTasks>,
}

/// Which database a test app runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A temporary SQLite file.
    Sqlite,
    /// A fresh schema in the PostgreSQL of `OAKALLOW_TEST_POSTGRES_URL`.
    Postgres,
}

/// A test's database, kept for as long as any app on it.
pub enum Database {
    /// A SQLite file in a temporary directory.
    Sqlite(tempfile::TempDir),
    /// A PostgreSQL URL selecting the test's own schema.
    Postgres(String),
}

impl Database {
    /// The SQLite file, for tests that edit it behind the server's back.
    pub fn sqlite_file(&self) -> Option<std::path::PathBuf> {
        match self {
            Self::Sqlite(dir) => Some(dir.path().join(oakallow_store_sqlite::DATABASE_FILE)),
            Self::Postgres(_) => None,
        }
    }

    /// The PostgreSQL URL of the test's schema.
    pub fn postgres_url(&self) -> Option<&str> {
        match self {
            Self::Sqlite(_) => None,
            Self::Postgres(url) => Some(url),
        }
    }

    async fn open(&self) -> Arc<dyn Store> {
        match self {
            Self::Sqlite(dir) => Arc::new(SqliteStore::open_dir(dir.path()).unwrap()),
            Self::Postgres(url) => Arc::new(oakallow_store_postgres::PostgresStore::connect(url).await.unwrap()),
        }
    }
}

/// How to start a test app.
#[derive(Debug, Clone)]
pub struct TestOptions {
    /// The database.
    pub backend: Backend,
    /// Time stands still until the test moves it.
    pub manual_clock: bool,
    /// Service settings (webhooks to 127.0.0.1 allowed, fast polling).
    pub config: ServiceConfig,
    /// Hooks into the store (see [`HookedStore`]), when the test pulls them.
    pub hooks: Option<Arc<StoreHooks>>,
    /// Connection limits of the HTTP server.
    pub connections: ConnectionLimits,
    /// Start with no account at all (no bootstrap): the dashboard's first sign-up makes the
    /// operator. `keys` is then empty.
    pub empty: bool,
}

impl TestOptions {
    /// Defaults for tests on `backend`: private webhook targets allowed (the receiver is on
    /// loopback), the worker polls every 20 ms, the sweeper every 50 ms.
    pub fn new(backend: Backend) -> Self {
        let mut config = ServiceConfig::default();
        config.webhooks.allow_private_targets = true;
        config.webhooks.poll_interval = std::time::Duration::from_millis(20);
        config.webhooks.timeout = std::time::Duration::from_secs(2);
        config.sweep_interval = std::time::Duration::from_millis(50);
        Self { backend, manual_clock: false, config, hooks: None, connections: ConnectionLimits::default(), empty: false }
    }

    /// With the store behind `hooks`.
    pub fn hooked(mut self, hooks: &Arc<StoreHooks>) -> Self {
        self.hooks = Some(Arc::clone(hooks));
        self
    }

    /// With a manual clock.
    pub fn manual_clock(mut self) -> Self {
        self.manual_clock = true;
        self
    }

    /// With no account yet (see [`TestOptions::empty`]).
    pub fn empty(mut self) -> Self {
        self.empty = true;
        self
    }
}

impl TestApp {
    /// A server on a fresh SQLite database, on the system clock.
    pub async fn sqlite() -> Self {
        Self::start(Backend::Sqlite, false).await
    }

    /// A server on a fresh PostgreSQL schema (a test calling it is marked
    /// `#[cfg_attr(not(postgres_tests), ignore = ...)]`; see [`NO_POSTGRES`]).
    pub async fn postgres() -> Self {
        Self::start(Backend::Postgres, false).await
    }

    /// A server on `backend`; with `manual_clock`, time stands still until the test moves it.
    pub async fn start(backend: Backend, manual_clock: bool) -> Self {
        let mut options = TestOptions::new(backend);
        options.manual_clock = manual_clock;
        Self::start_with(options).await
    }

    /// A server started with `options`.
    pub async fn start_with(options: TestOptions) -> Self {
        let database = match options.backend {
            Backend::Sqlite => Database::Sqlite(tempfile::tempdir().unwrap()),
            Backend::Postgres => Database::Postgres(new_schema_url().await),
        };
        let clock = options.manual_clock.then(|| ManualClock::new(SystemClock.now()));
        let empty = options.empty;
        let mut app = Self::serve(Arc::new(database), clock, options, None).await;
        if !empty {
            app.keys = app.service.bootstrap("owner@example.com", "Test org").await.unwrap().into();
        }
        app
    }

    async fn serve(database: Arc<Database>, clock: Option<ManualClock>, options: TestOptions, keys: Option<OrgKeys>) -> Self {
        let mut store = database.open().await;
        if let Some(hooks) = &options.hooks {
            store = Arc::new(HookedStore::new(store, Arc::clone(hooks)));
        }
        let time: Arc<dyn Clock> = match &clock {
            Some(clock) => Arc::new(clock.clone()),
            None => Arc::new(SystemClock),
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let mut config = options.config.clone();
        // Browsers use passkeys on a host name, not an IP address: the dashboard's public URL is
        // this server under the name `localhost` (see `TestApp::public_url`).
        config.accounts.public_url = format!("http://localhost:{}", listener.local_addr().unwrap().port()).parse().unwrap();
        let (service, tasks) = Service::start(Arc::clone(&store), time, config);
        let (shutdown, stop) = oneshot::channel::<()>();
        let served = Arc::clone(&service);
        let limits = options.connections.clone();
        let served = tokio::spawn(async move {
            let mcp = (oakallow_mcp::endpoint::PATH, oakallow_mcp::endpoint::router(Arc::clone(&served)));
            oakallow_server::serve(listener, served, vec![mcp], limits, async move {
                let _ = stop.await;
            })
            .await;
        });
        let keys = keys.unwrap_or_else(|| OrgKeys {
            org_id: String::new(),
            account_id: String::new(),
            management: String::new(),
            standard: String::new(),
            approver: String::new(),
        });
        Self {
            base,
            keys,
            store,
            service,
            clock,
            database,
            options,
            http: reqwest::Client::new(),
            shutdown: Some(shutdown),
            served: Some(served),
            tasks: Some(tasks),
        }
    }

    /// The dashboard's public URL, `http://localhost:<port>`: this server under a host name, as a
    /// browser must reach it to use passkeys (WebAuthn refuses IP addresses).
    pub fn public_url(&self) -> String {
        self.base.replacen("127.0.0.1", "localhost", 1)
    }

    /// Stops this server cleanly (every acknowledged write is committed) and starts a new one
    /// on the same database and clock, as after a process restart.
    pub async fn restart(self) -> Self {
        let (database, clock, options, keys) = self.stop().await;
        Self::serve(database, clock, options, Some(keys)).await
    }

    /// Stops the server and the service, and waits until their background work has ended.
    pub async fn stop(self) -> (Arc<Database>, Option<ManualClock>, TestOptions, OrgKeys) {
        let Self { shutdown, served, service, store, tasks, database, clock, options, keys, .. } = self;
        if let Some(shutdown) = shutdown {
            let _ = shutdown.send(());
        }
        if let Some(served) = served {
            let _ = served.await;
        }
        service.stop();
        drop(service);
        drop(store);
        if let Some(tasks) = tasks {
            tasks.finished().await;
        }
        (database, clock, options, keys)
    }

    /// Another node on this app's database (meant for PostgreSQL, where any number of nodes
    /// share one database), with `config` as its service settings, this app's clock and keys.
    pub async fn another_node(&self, config: ServiceConfig) -> Self {
        let options = TestOptions { config, ..self.options.clone() };
        Self::serve(Arc::clone(&self.database), self.clock.clone(), options, Some(self.keys.clone())).await
    }

    /// Bootstraps another account with its own org and keys on the same server.
    pub async fn another_org(&self, email: &str) -> OrgKeys {
        self.service.bootstrap(email, "Other org").await.unwrap().into()
    }

    /// Sends a request with an optional key (as `X-API-Key`) and JSON body; answers the status
    /// and the JSON body (`Value::Null` when empty).
    #[must_use = "check the status: a call whose failure goes unnoticed makes the test prove nothing"]
    pub async fn call(&self, method: Method, path: &str, key: Option<&str>, body: Option<&Value>) -> (StatusCode, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(key) = key {
            request = request.header("X-API-Key", key);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        (status, body)
    }

    /// A raw request builder for cases the helpers do not cover.
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base))
    }

    /// `GET` with a key.
    #[must_use = "check the status: a call whose failure goes unnoticed makes the test prove nothing"]
    pub async fn get(&self, path: &str, key: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(key), None).await
    }

    /// `POST` JSON with a key.
    #[must_use = "check the status: a call whose failure goes unnoticed makes the test prove nothing"]
    pub async fn post(&self, path: &str, key: &str, body: &Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(key), Some(body)).await
    }

    /// `PATCH` JSON with a key.
    #[must_use = "check the status: a call whose failure goes unnoticed makes the test prove nothing"]
    pub async fn patch(&self, path: &str, key: &str, body: &Value) -> (StatusCode, Value) {
        self.call(Method::PATCH, path, Some(key), Some(body)).await
    }

    /// `PUT` JSON with a key.
    #[must_use = "check the status: a call whose failure goes unnoticed makes the test prove nothing"]
    pub async fn put(&self, path: &str, key: &str, body: &Value) -> (StatusCode, Value) {
        self.call(Method::PUT, path, Some(key), Some(body)).await
    }

    /// `DELETE` with a key.
    #[must_use = "check the status: a call whose failure goes unnoticed makes the test prove nothing"]
    pub async fn delete(&self, path: &str, key: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, Some(key), None).await
    }

    /// The id of a key of any org, found by the digest of its raw text (display prefixes are only
    /// 12 characters and may repeat between keys).
    pub async fn key_id(&self, raw: &str) -> String {
        let digest = oakallow_domain::keys::RawKey::parse(raw).expect("a well-formed key").digest();
        self.store.key_by_digest(&digest).await.unwrap().expect("a stored key").id.to_string()
    }

    /// Sends a request like [`TestApp::call`] and answers its JSON body; panics unless the status
    /// is `expected` (for setup calls, whose failure would leave the test proving nothing).
    pub async fn expect(&self, expected: StatusCode, method: Method, path: &str, key: &str, body: Option<&Value>) -> Value {
        let (status, answer) = self.call(method.clone(), path, Some(key), body).await;
        assert_eq!(status, expected, "{method} {path}: {answer}");
        answer
    }

    /// Creates an object with the management key and answers its JSON; panics unless 201.
    pub async fn create(&self, collection: &str, body: Value) -> Value {
        let (status, created) = self.post(collection, &self.keys.management, &body).await;
        assert_eq!(status, StatusCode::CREATED, "creating in {collection}: {created}");
        created
    }

    /// `POST /v1/check` with the standard key; panics unless 200.
    pub async fn check(&self, body: Value) -> Value {
        let (status, answer) = self.post("/v1/check", &self.keys.standard, &body).await;
        assert_eq!(status, StatusCode::OK, "check {body}: {answer}");
        answer
    }

    /// Moves the manual clock forward.
    pub fn advance(&self, seconds: i64) {
        self.clock.as_ref().expect("a manual clock").advance_seconds(seconds);
    }

    /// Waits until at least `n` long-polls are waiting on this server (so a decision made now
    /// wakes them rather than being read at their start); panics after 10 s.
    pub async fn parked_long_polls(&self, n: usize) {
        let mut parked = self.service.parked_long_polls();
        let waiting = parked.wait_for(|parked| *parked >= n);
        match tokio::time::timeout(std::time::Duration::from_secs(10), waiting).await {
            Ok(Ok(_)) => {}
            Ok(Err(_)) => panic!("the service stopped"),
            Err(_) => panic!("{n} long-polls were not waiting within 10 s"),
        }
    }

    /// Waits until the webhook worker has made a whole pass over the due deliveries that began
    /// after this call, so it saw the clock and the outbox as they are now and recorded every
    /// attempt it made; panics if that does not happen within 10 s.
    pub async fn webhook_pass(&self) {
        let mut passes = self.service.webhook_passes();
        // A pass may be under way now (it began before this call): wait for the one after it.
        let started = passes.borrow_and_update().started;
        let done = passes.wait_for(|passes| passes.finished > started);
        match tokio::time::timeout(std::time::Duration::from_secs(10), done).await {
            Ok(Ok(_)) => {}
            Ok(Err(_)) => panic!("the webhook worker stopped"),
            Err(_) => panic!("the webhook worker made no pass within 10 s"),
        }
    }

    /// The manual clock's time (or the system time).
    pub fn now(&self) -> Timestamp {
        self.clock.as_ref().map_or_else(|| SystemClock.now(), Clock::now)
    }
}

impl TestApp {
    /// The status of a minimal check made with `key`.
    pub async fn check_with(&self, key: &str) -> StatusCode {
        self.post("/v1/check", key, &serde_json::json!({"tool": "anything"})).await.0
    }
}

/// Polls `condition` until it holds; panics (naming `what`) if it does not within `within`.
/// For state that has no event to wait on (a queue length, a count).
pub async fn wait_until(what: &str, within: std::time::Duration, mut condition: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + within;
    while !condition().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
}
