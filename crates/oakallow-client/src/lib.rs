//! A typed Rust client for oakallow's HTTP API: the runtime calls an agent makes (check,
//! approvals, tokens, executions), the management collections, policy, org and activity, a
//! [`Guard`] that runs the whole check → approval → token → run → log loop around a tool call,
//! and [`offline`] token verification for tool servers. The CLI and the MCP gateway use it.
//!
//! Errors keep the server's envelope (`code`, `message`, `details`). Only requests that are safe
//! to send twice are retried (GET, DELETE, `PUT /v1/policy`, and approval requests, which carry
//! one `Idempotency-Key` across their attempts); `check`, `mint_token`, `log_execution` and
//! `decide` never are.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use oakallow_client::{Call, Client};
//! let client = Client::new("http://127.0.0.1:8080", "oak_std_…");
//! let call = Call::new("refund").tenant("acme").params(serde_json::json!({ "amount": 20 }));
//! let done = client.guard(call).run(|auth| async move { Ok::<_, std::io::Error>(auth.token.len()) }).await?;
//! # Ok(()) }
//! ```

mod guard;
mod manage;
pub mod offline;
mod runtime;

use std::time::Duration;

pub use guard::{Authorization, Guard, GuardError};
pub use manage::{ActivityQuery, ApprovalQuery, ChainVerification, Collection, Page};
pub use oakallow_domain::approval::{ApprovalStatus, Verdict};
pub use oakallow_domain::execution::ExecutionResult;
pub use oakallow_domain::permission::{Permission, ResolvedFrom};
pub use oakallow_domain::token::{Algorithm, Claims};
pub use oakallow_domain::token_scope::Rejection;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode, Url};
pub use runtime::{
    Approval, ApprovalRequest, Call, Check, CheckRequest, Decision, Execution, ExecutionLog, MintedToken, PublicKey, SigningKeys,
    Verification,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server could not be reached or the answer could not be read.
    #[error("request failed: {0}")]
    Transport(#[from] reqwest::Error),
    /// The server answered with an error envelope.
    #[error("{status} {code}: {message}")]
    Api {
        /// HTTP status.
        status: StatusCode,
        /// Stable error code (`forbidden_tier`, `not_found`, `insufficient_credits`, …).
        code: String,
        /// Explanation.
        message: String,
        /// Structured details.
        details: Value,
        /// How long the server asked to wait (`Retry-After`, on 429 and 503).
        retry_after: Option<Duration>,
    },
    /// The arguments cannot make a valid request (nothing was sent).
    #[error("invalid request: {0}")]
    Invalid(&'static str),
}

impl ClientError {
    /// The envelope's error code, for an error the server answered.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The HTTP status, for an error the server answered.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether sending the same safe request again may succeed: the server could not be
    /// reached, or it answered 429, 502, 503 or 504.
    fn transient(&self) -> bool {
        match self {
            Self::Transport(_) => true,
            Self::Api { status, .. } => matches!(status.as_u16(), 429 | 502 | 503 | 504),
            Self::Invalid(_) => false,
        }
    }
}

/// When and how often safe requests are sent again: exponential backoff with full jitter
/// (attempt `n` waits a random time up to `min(max_delay, base_delay × 2ⁿ)`), or what the
/// server's `Retry-After` says (at most `4 × max_delay`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts after the first.
    pub max_retries: u32,
    /// The first backoff's ceiling.
    pub base_delay: Duration,
    /// The ceiling of any backoff.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { max_retries: 3, base_delay: Duration::from_millis(250), max_delay: Duration::from_secs(8) }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn never() -> Self {
        Self { max_retries: 0, ..Self::default() }
    }

    fn delay(&self, attempt: u32, error: &ClientError) -> Duration {
        if let ClientError::Api { retry_after: Some(wait), .. } = error {
            return (*wait).min(self.max_delay * 4);
        }
        let ceiling = self.base_delay.saturating_mul(2u32.saturating_pow(attempt)).min(self.max_delay);
        // Full jitter; without randomness the ceiling itself is a safe wait.
        let fraction = oakallow_domain::secret::random_bytes::<4>().map_or(1.0, |b| f64::from(u32::from_le_bytes(b)) / f64::from(u32::MAX));
        ceiling.mul_f64(fraction)
    }
}

/// A client bound to one server and one API key.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    key: String,
    retry: RetryPolicy,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("base", &self.base.as_str()).finish_non_exhaustive()
    }
}

/// One request as data, so it can be sent again.
struct Outgoing {
    method: Method,
    url: Url,
    body: Option<Vec<u8>>,
    idempotency_key: Option<String>,
    /// Safe to send twice.
    retry: bool,
    timeout: Option<Duration>,
}

impl Client {
    /// A client for the server at `base` (e.g. `http://127.0.0.1:8080`, optionally with a path
    /// prefix) using `key`. A `base` that is not a URL makes every call fail with
    /// [`ClientError::Invalid`].
    pub fn new(base: &str, key: &str) -> Self {
        let base = Url::parse(base.trim_end_matches('/')).unwrap_or_else(|_| Url::parse("invalid:").expect("a fixed URL parses"));
        let http = reqwest::Client::builder().connect_timeout(Duration::from_secs(10)).build().unwrap_or_default();
        Self { http, base, key: key.to_owned(), retry: RetryPolicy::default() }
    }

    /// A client from `OAKALLOW_URL` (default `http://127.0.0.1:8080`) and `OAKALLOW_KEY`.
    pub fn from_env() -> Result<Self, ClientError> {
        let url = std::env::var("OAKALLOW_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".to_owned());
        let key = std::env::var("OAKALLOW_KEY").map_err(|_| ClientError::Invalid("OAKALLOW_KEY is not set"))?;
        Ok(Self::new(&url, &key))
    }

    /// The same client with another retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The same client with another key (e.g. the approver key for `decide`).
    pub fn with_key(&self, key: &str) -> Self {
        Self { key: key.to_owned(), ..self.clone() }
    }

    /// The URL of `/`-joined `segments` (each percent-encoded) with the query pairs that have
    /// a value.
    fn url(&self, segments: &[&str], query: &[(&str, Option<String>)]) -> Result<Url, ClientError> {
        let mut url = self.base.clone();
        url.path_segments_mut().map_err(|()| ClientError::Invalid("the server URL cannot take a path"))?.pop_if_empty().extend(segments);
        let pairs: Vec<_> = query.iter().filter_map(|(name, value)| value.as_ref().map(|value| (*name, value))).collect();
        if !pairs.is_empty() {
            url.query_pairs_mut().extend_pairs(pairs);
        }
        Ok(url)
    }

    /// The URL of a path as written (`/v1/…?…`), for the untyped calls.
    fn url_of(&self, path: &str) -> Result<Url, ClientError> {
        let joined = format!("{}{path}", self.base.as_str().trim_end_matches('/'));
        Url::parse(&joined).map_err(|_| ClientError::Invalid("the path does not make a URL"))
    }

    fn outgoing<B: Serialize + ?Sized>(method: Method, url: Url, body: Option<&B>) -> Result<Outgoing, ClientError> {
        let body = body.map(serde_json::to_vec).transpose().map_err(|_| ClientError::Invalid("the body is not JSON"))?;
        let retry = matches!(method, Method::GET | Method::HEAD | Method::DELETE);
        Ok(Outgoing { method, url, body, idempotency_key: None, retry, timeout: None })
    }

    /// Sends a request, again while it is safe to and the failure may pass; the response if
    /// its status is a success, else the error envelope as [`ClientError::Api`].
    async fn execute(&self, request: &Outgoing) -> Result<reqwest::Response, ClientError> {
        let mut attempt = 0;
        loop {
            match self.once(request).await {
                Err(error) if request.retry && attempt < self.retry.max_retries && error.transient() => {
                    tokio::time::sleep(self.retry.delay(attempt, &error)).await;
                    attempt += 1;
                }
                answer => return answer,
            }
        }
    }

    async fn once(&self, request: &Outgoing) -> Result<reqwest::Response, ClientError> {
        let mut builder = self.http.request(request.method.clone(), request.url.clone()).header("X-API-Key", &self.key);
        if let Some(body) = &request.body {
            builder = builder.header(reqwest::header::CONTENT_TYPE, "application/json").body(body.clone());
        }
        if let Some(key) = &request.idempotency_key {
            builder = builder.header("Idempotency-Key", key);
        }
        if let Some(timeout) = request.timeout {
            builder = builder.timeout(timeout);
        }
        let response = builder.send().await?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let retry_after = retry_after(response.headers());
        let text = response.text().await?;
        let envelope: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let error = &envelope["error"];
        Err(ClientError::Api {
            status,
            code: error["code"].as_str().unwrap_or("unknown").to_owned(),
            message: error["message"].as_str().unwrap_or(&text).to_owned(),
            details: error["details"].clone(),
            retry_after,
        })
    }

    /// Sends a request and decodes its JSON answer (`null` for an empty one).
    async fn json<T: DeserializeOwned>(&self, request: Outgoing) -> Result<T, ClientError> {
        let response = self.execute(&request).await?;
        let status = response.status();
        let text = response.text().await?;
        let text = if text.is_empty() { "null" } else { &text };
        serde_json::from_str(text).map_err(|e| ClientError::Api {
            status,
            code: "invalid_response".into(),
            message: format!("the answer is not the expected JSON: {e}"),
            details: Value::Null,
            retry_after: None,
        })
    }

    /// Calls `method path` (a path as written, with its query) with an optional JSON body and
    /// decodes the JSON answer. GET and DELETE are retried.
    pub async fn call<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T, ClientError> {
        self.json(Self::outgoing(method, self.url_of(path)?, body)?).await
    }

    /// `GET path`, decoded.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.call::<Value, T>(Method::GET, path, None).await
    }

    /// `POST path` with a JSON body, decoded.
    pub async fn post<B: Serialize + ?Sized, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T, ClientError> {
        self.call(Method::POST, path, Some(body)).await
    }

    /// `DELETE path`, decoded.
    pub async fn delete<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.call::<Value, T>(Method::DELETE, path, None).await
    }

    /// `GET path`, its body left to be read as it streams in (an export).
    pub async fn get_stream(&self, path: &str) -> Result<reqwest::Response, ClientError> {
        self.execute(&Self::outgoing::<Value>(Method::GET, self.url_of(path)?, None)?).await
    }

    /// `GET /v1/health`.
    pub async fn health(&self) -> Result<Value, ClientError> {
        self.json(Self::outgoing::<Value>(Method::GET, self.url(&["v1", "health"], &[])?, None)?).await
    }
}

/// `Retry-After` in seconds (the form oakallow sends).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers.get(RETRY_AFTER)?.to_str().ok()?.trim().parse::<u64>().ok().map(Duration::from_secs)
}
