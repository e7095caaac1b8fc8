//! A small typed client for oakallow's HTTP API, used by the CLI and tests. Errors keep the
//! server's error envelope (`code`, `message`, `details`).

use reqwest::{Method, StatusCode};
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
        /// Stable error code.
        code: String,
        /// Explanation.
        message: String,
        /// Structured details.
        details: Value,
    },
}

/// A client bound to one server and one API key.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("base", &self.base).finish_non_exhaustive()
    }
}

impl Client {
    /// A client for the server at `base` (e.g. `http://127.0.0.1:8080`) using `key`.
    pub fn new(base: &str, key: &str) -> Self {
        Self { http: reqwest::Client::new(), base: base.trim_end_matches('/').to_owned(), key: key.to_owned() }
    }

    /// Sends `method path` with an optional JSON body; the response if its status is a
    /// success, else the error envelope as [`ClientError::Api`].
    async fn send<B: Serialize + ?Sized>(&self, method: Method, path: &str, body: Option<&B>) -> Result<reqwest::Response, ClientError> {
        let mut request = self.http.request(method, format!("{}{path}", self.base)).header("X-API-Key", &self.key);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let text = response.text().await?;
        let envelope: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let error = &envelope["error"];
        Err(ClientError::Api {
            status,
            code: error["code"].as_str().unwrap_or("unknown").to_owned(),
            message: error["message"].as_str().unwrap_or(&text).to_owned(),
            details: error["details"].clone(),
        })
    }

    /// Calls `method path` with an optional JSON body and decodes the JSON answer.
    pub async fn call<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T, ClientError> {
        let response = self.send(method, path, body).await?;
        let status = response.status();
        let text = response.text().await?;
        let text = if text.is_empty() { "null" } else { &text };
        serde_json::from_str(text).map_err(|e| ClientError::Api {
            status,
            code: "invalid_response".into(),
            message: format!("the answer is not the expected JSON: {e}"),
            details: Value::Null,
        })
    }

    /// `PUT /v1/policy` with a policy document; answers `{applied, diff}`.
    pub async fn apply_policy(&self, document: &Value, dry_run: bool) -> Result<Value, ClientError> {
        let path = if dry_run { "/v1/policy?dry_run=true" } else { "/v1/policy" };
        self.call(Method::PUT, path, Some(document)).await
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
        self.send::<Value>(Method::GET, path, None).await
    }

    /// `POST /v1/check`.
    pub async fn check(&self, request: &Value) -> Result<Value, ClientError> {
        self.call(Method::POST, "/v1/check", Some(request)).await
    }
}
