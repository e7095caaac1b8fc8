//! Test support: [`TestApp`] starts the real HTTP server on `127.0.0.1:0` over a fresh database
//! (a temporary SQLite file, or a new PostgreSQL schema when `OAKALLOW_TEST_POSTGRES_URL` is set),
//! bootstraps an org with one key of each tier, and stops the server when dropped.

#![expect(clippy::unwrap_used, reason = "test support: a failed setup step is a failed test")]
#![expect(clippy::missing_panics_doc, reason = "test support")]

mod postgres;

use std::sync::Arc;

use oakallow_domain::{Clock, ManualClock, SystemClock, Timestamp};
use oakallow_service::Service;
use oakallow_service::bootstrap::Bootstrapped;
use oakallow_store::Store;
use oakallow_store_sqlite::SqliteStore;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub use postgres::{new_schema_url, postgres_store, postgres_url};

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
    http: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    _guard: Box<dyn std::any::Any + Send>,
}

/// Which database a test app runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A temporary SQLite file.
    Sqlite,
    /// A fresh schema in the PostgreSQL of `OAKALLOW_TEST_POSTGRES_URL`.
    Postgres,
}

impl TestApp {
    /// A server on a fresh SQLite database, on the system clock.
    pub async fn sqlite() -> Self {
        Self::start(Backend::Sqlite, false).await.unwrap()
    }

    /// A server on a fresh PostgreSQL schema, or `None` when PostgreSQL tests are not
    /// configured (and not required) on this machine.
    pub async fn postgres() -> Option<Self> {
        Self::start(Backend::Postgres, false).await
    }

    /// A server on `backend`; with `manual_clock`, time stands still until the test moves it.
    pub async fn start(backend: Backend, manual_clock: bool) -> Option<Self> {
        let (store, guard): (Arc<dyn Store>, Box<dyn std::any::Any + Send>) = match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                (Arc::new(SqliteStore::open_dir(dir.path()).unwrap()), Box::new(dir))
            }
            Backend::Postgres => postgres_store().await?,
        };
        let manual = manual_clock.then(|| ManualClock::new(SystemClock.now()));
        let clock: Arc<dyn Clock> = match &manual {
            Some(clock) => Arc::new(clock.clone()),
            None => Arc::new(SystemClock),
        };
        let (service, _tasks) = Service::start(Arc::clone(&store), clock);
        let keys = service.bootstrap("owner@example.com", "Test org").await.unwrap().into();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (shutdown, stop) = oneshot::channel::<()>();
        let served = Arc::clone(&service);
        tokio::spawn(async move {
            let _ = oakallow_server::serve(listener, served, async move {
                let _ = stop.await;
            })
            .await;
        });
        Some(Self { base, keys, store, service, clock: manual, http: reqwest::Client::new(), shutdown: Some(shutdown), _guard: guard })
    }

    /// Bootstraps another account with its own org and keys on the same server.
    pub async fn another_org(&self, email: &str) -> OrgKeys {
        self.service.bootstrap(email, "Other org").await.unwrap().into()
    }

    /// Sends a request with an optional key (as `X-API-Key`) and JSON body; answers the status
    /// and the JSON body (`Value::Null` when empty).
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
    pub async fn get(&self, path: &str, key: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(key), None).await
    }

    /// `POST` JSON with a key.
    pub async fn post(&self, path: &str, key: &str, body: &Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(key), Some(body)).await
    }

    /// `PATCH` JSON with a key.
    pub async fn patch(&self, path: &str, key: &str, body: &Value) -> (StatusCode, Value) {
        self.call(Method::PATCH, path, Some(key), Some(body)).await
    }

    /// `PUT` JSON with a key.
    pub async fn put(&self, path: &str, key: &str, body: &Value) -> (StatusCode, Value) {
        self.call(Method::PUT, path, Some(key), Some(body)).await
    }

    /// `DELETE` with a key.
    pub async fn delete(&self, path: &str, key: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, Some(key), None).await
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

    /// The manual clock's time (or the system time).
    pub fn now(&self) -> Timestamp {
        self.clock.as_ref().map_or_else(|| SystemClock.now(), Clock::now)
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

impl TestApp {
    /// The status of a minimal check made with `key`.
    pub async fn check_with(&self, key: &str) -> StatusCode {
        self.post("/v1/check", key, &serde_json::json!({"tool": "anything"})).await.0
    }
}
