//! The runtime endpoints an agent and a tool server call (standard key; `decide` with the
//! approver key), with their requests and answers as types.

use std::time::Duration;

use oakallow_domain::approval::{ApprovalStatus, Verdict};
use oakallow_domain::execution::ExecutionResult;
use oakallow_domain::permission::{Permission, ResolvedFrom};
use oakallow_domain::token::{Algorithm, Claims};
use oakallow_domain::token_scope::Rejection;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{Client, ClientError};

/// The call a tool is about to make: the tool and, where the call has them, its tenant
/// (external id), resource, method and params (a JSON object).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Call {
    /// Tool name.
    pub tool: String,
    /// Tenant external id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Resource name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// Method name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The params, a JSON object (the server refuses anything else).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub params: Option<Value>,
}

impl Call {
    /// A call of `tool` with nothing else.
    pub fn new(tool: impl Into<String>) -> Self {
        Self { tool: tool.into(), ..Self::default() }
    }

    /// For this tenant.
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// On this resource.
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.resource = Some(resource.into());
        self
    }

    /// With this method.
    pub fn method(mut self, method: impl Into<String>) -> Self {
        self.method = Some(method.into());
        self
    }

    /// With these params (a JSON object).
    pub fn params(mut self, params: Value) -> Self {
        self.params = Some(params);
        self
    }
}

/// Body of `POST /v1/check`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CheckRequest {
    /// The call.
    #[serde(flatten)]
    pub call: Call,
    /// Free-form context, kept with the check.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<Value>,
    /// Your own id for the call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference_id: Option<String>,
    /// Mint the execution token in the same call when the answer is `allowed`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub mint_token: bool,
}

impl From<Call> for CheckRequest {
    fn from(call: Call) -> Self {
        Self { call, ..Self::default() }
    }
}

/// Answer of `POST /v1/check`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// The check's id (`chk_…`), for an approval or a token.
    pub check_id: String,
    /// `allowed`, `requires_approval` or `disabled`.
    pub permission: Permission,
    /// The resolution step that decided.
    pub resolved_from: ResolvedFrom,
    /// The deciding rule, when a rule decided.
    #[serde(default)]
    pub rule_id: Option<String>,
    /// Tool name.
    pub tool: String,
    /// Whether the tool is registered.
    pub tool_registered: bool,
    /// Tenant external id.
    #[serde(default)]
    pub tenant: Option<String>,
    /// Whether the tenant is known.
    pub tenant_known: bool,
    /// Resource name.
    #[serde(default)]
    pub resource: Option<String>,
    /// Method name.
    #[serde(default)]
    pub method: Option<String>,
    /// How long an approval would wait, for `requires_approval`.
    #[serde(default)]
    pub approval_timeout_seconds: Option<u64>,
    /// The execution token, when one was asked for and the call is allowed.
    #[serde(default)]
    pub token: Option<String>,
    /// When it was decided (RFC 3339).
    pub checked_at: String,
}

/// Body of `POST /v1/approvals`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ApprovalRequest {
    /// The call.
    #[serde(flatten)]
    pub call: Call,
    /// Why the agent wants to run it; shown to the approver.
    pub reason: String,
    /// Free-form context.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<Value>,
    /// Your own id for the call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference_id: Option<String>,
    /// The check that answered `requires_approval`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check_id: Option<String>,
    /// How long it may wait for people, in seconds (the tool's or org's default otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
}

/// One level's decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// 1 or 2.
    pub level: u8,
    /// `approved` or `denied`.
    pub decision: Verdict,
    /// The person, as given.
    pub decided_by: String,
    /// The note shown to the agent.
    #[serde(default)]
    pub note: Option<String>,
    /// When (RFC 3339).
    pub decided_at: String,
}

/// An approval as the API answers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Approval {
    /// Its id.
    pub id: String,
    /// `REF-XXXXXXXX-XXXX`, for people.
    pub reference: String,
    /// Where it stands as of the read.
    pub status: ApprovalStatus,
    /// The level awaiting a decision (or the last decided).
    pub level: u8,
    /// 1 or 2.
    pub required_levels: u8,
    /// Tool name.
    pub tool: String,
    /// Tenant external id.
    #[serde(default)]
    pub tenant: Option<String>,
    /// Resource name.
    #[serde(default)]
    pub resource: Option<String>,
    /// Method name.
    #[serde(default)]
    pub method: Option<String>,
    /// The call's params.
    #[serde(default)]
    pub params: Option<Value>,
    /// Why the agent asked.
    pub reason: String,
    /// Free-form context.
    #[serde(default)]
    pub context: Option<Value>,
    /// The caller's own id.
    #[serde(default)]
    pub reference_id: Option<String>,
    /// The check it follows.
    #[serde(default)]
    pub check_id: Option<String>,
    /// When it was asked for.
    pub created_at: String,
    /// When it expires if nobody decides.
    pub expires_at: String,
    /// When it was decided.
    #[serde(default)]
    pub decided_at: Option<String>,
    /// Who decided last.
    #[serde(default)]
    pub decided_by: Option<String>,
    /// The last decision's note (a denial's is what the agent tells the model).
    #[serde(default)]
    pub note: Option<String>,
    /// Each level's decision so far.
    pub decisions: Vec<Decision>,
}

/// Answer of `POST /v1/tokens`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MintedToken {
    /// The token text, to hand to the tool call.
    pub token: String,
    /// What it says.
    pub claims: Claims,
    /// Expiry (RFC 3339).
    pub expires_at: String,
}

/// Answer of `POST /v1/tokens/verify`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verification {
    /// Genuine, current, matching, and (when consuming) accepted by this call.
    pub valid: bool,
    /// Why not.
    #[serde(default)]
    pub reason: Option<Rejection>,
    /// The claims, when the signature could be checked.
    #[serde(default)]
    pub claims: Option<Claims>,
}

/// Body of `POST /v1/executions`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExecutionLog {
    /// The call that ran (its params are checked against the token's).
    #[serde(flatten)]
    pub call: Call,
    /// The execution token it ran with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// How it went.
    pub result: ExecutionResult,
    /// How long it took.
    pub duration_ms: u64,
    /// What the tool answered (any JSON), when you want it recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    /// The error, for `failed` and `error` (at most 1,000 characters are kept).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Answer of `POST /v1/executions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Execution {
    /// Its id.
    pub id: String,
    /// Whether a valid token came with it.
    pub authorized: bool,
    /// The token's id.
    #[serde(default)]
    pub token_jti: Option<String>,
    /// Tool name.
    pub tool: String,
    /// Outcome.
    pub result: ExecutionResult,
    /// Reported duration.
    pub duration_ms: u64,
    /// When it was logged.
    pub logged_at: String,
}

/// One published Ed25519 key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicKey {
    /// Key id (the token's `kid`).
    pub kid: String,
    /// Always `ed25519`.
    pub alg: Algorithm,
    /// The 32 raw bytes, base64url without padding.
    pub public_key: String,
}

/// Answer of `GET /v1/signing-keys`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningKeys {
    /// The org's Ed25519 public keys.
    pub keys: Vec<PublicKey>,
}

/// Longest `?wait=` the server holds a read for.
pub(crate) const LONGEST_WAIT: Duration = Duration::from_secs(60);

impl Client {
    /// `POST /v1/check` (never retried: each check is recorded and billed).
    pub async fn check(&self, request: &CheckRequest) -> Result<Check, ClientError> {
        self.json(Self::outgoing(Method::POST, self.url(&["v1", "check"], &[])?, Some(request))?).await
    }

    /// `POST /v1/validate`: `params` against the tool's schema.
    pub async fn validate(&self, tool: &str, params: &Value) -> Result<Value, ClientError> {
        let body = json!({ "tool": tool, "params": params });
        self.json(Self::outgoing(Method::POST, self.url(&["v1", "validate"], &[])?, Some(&body))?).await
    }

    /// `POST /v1/tools/discover`: report the tools an upstream lists (`{tools: [statuses]}`).
    pub async fn discover(&self, tenant: Option<&str>, tools: &[Value]) -> Result<Value, ClientError> {
        let body = json!({ "tenant": tenant, "tools": tools });
        self.json(Self::outgoing(Method::POST, self.url(&["v1", "tools", "discover"], &[])?, Some(&body))?).await
    }

    /// `POST /v1/approvals` with an `Idempotency-Key` (`idempotency_key`, or a random one kept
    /// across the retries), so it is retried safely.
    pub async fn request_approval(&self, request: &ApprovalRequest, idempotency_key: Option<&str>) -> Result<Approval, ClientError> {
        let mut outgoing = Self::outgoing(Method::POST, self.url(&["v1", "approvals"], &[])?, Some(request))?;
        let key = match idempotency_key {
            Some(key) => key.to_owned(),
            None => {
                let bytes = oakallow_domain::secret::random_bytes::<16>()
                    .map_err(|_| ClientError::Invalid("no randomness for an idempotency key"))?;
                format!("oakallow-rs-{}", hex::encode(bytes))
            }
        };
        outgoing.idempotency_key = Some(key);
        outgoing.retry = true;
        self.json(outgoing).await
    }

    /// `GET /v1/approvals/{id}`; with `wait` (whole seconds, rounded up; at most 60) the server
    /// holds the read until the approval leaves `pending`.
    pub async fn get_approval(&self, id: &str, wait: Option<Duration>) -> Result<Approval, ClientError> {
        let wait = wait.map(|wait| wait.min(LONGEST_WAIT).as_millis().div_ceil(1000) as u64).filter(|seconds| *seconds > 0);
        let mut outgoing =
            Self::outgoing::<Value>(Method::GET, self.url(&["v1", "approvals", id], &[("wait", wait.map(|w| w.to_string()))])?, None)?;
        outgoing.timeout = wait.map(|seconds| Duration::from_secs(seconds + 30));
        self.json(outgoing).await
    }

    /// Reads the approval until it is no longer `pending` or `within` has passed (`None`: until
    /// the server expires it), long-polling so that each read waits up to 60 s on the server.
    pub async fn wait_for_approval(&self, id: &str, within: Option<Duration>) -> Result<Approval, ClientError> {
        let deadline = within.map(|within| tokio::time::Instant::now() + within);
        loop {
            let left = deadline.map_or(LONGEST_WAIT, |deadline| deadline.saturating_duration_since(tokio::time::Instant::now()));
            let approval = self.get_approval(id, Some(left.min(LONGEST_WAIT))).await?;
            let out_of_time = deadline.is_some_and(|deadline| tokio::time::Instant::now() >= deadline);
            if approval.status != ApprovalStatus::Pending || out_of_time || left.is_zero() {
                return Ok(approval);
            }
        }
    }

    /// `POST /v1/approvals/{id}/decide` with the approver key, saying who decides (never
    /// retried).
    pub async fn decide(&self, id: &str, decision: Verdict, decided_by: &str, note: Option<&str>) -> Result<Approval, ClientError> {
        let mut body = json!({ "decision": decision, "decided_by": decided_by });
        if let Some(note) = note {
            body["note"] = json!(note);
        }
        self.json(Self::outgoing(Method::POST, self.url(&["v1", "approvals", id, "decide"], &[])?, Some(&body))?).await
    }

    /// `POST /v1/approvals/{id}/cancel`: nobody waits for it any more.
    pub async fn cancel_approval(&self, id: &str) -> Result<Approval, ClientError> {
        self.json(Self::outgoing(Method::POST, self.url(&["v1", "approvals", id, "cancel"], &[])?, Some(&json!({})))?).await
    }

    /// `POST /v1/tokens` from an allowed check.
    pub async fn mint_token_for_check(&self, check_id: &str, ttl_seconds: Option<u32>) -> Result<MintedToken, ClientError> {
        self.mint(json!({ "check_id": check_id, "ttl_seconds": ttl_seconds })).await
    }

    /// `POST /v1/tokens` from an approved approval.
    pub async fn mint_token_for_approval(&self, approval_id: &str, ttl_seconds: Option<u32>) -> Result<MintedToken, ClientError> {
        self.mint(json!({ "approval_id": approval_id, "ttl_seconds": ttl_seconds })).await
    }

    async fn mint(&self, body: Value) -> Result<MintedToken, ClientError> {
        self.json(Self::outgoing(Method::POST, self.url(&["v1", "tokens"], &[])?, Some(&body))?).await
    }

    /// `POST /v1/tokens/verify` for exactly `call`: genuine, current, minted for this call, and
    /// (with `consume`) accepted now so it can never be accepted again.
    pub async fn verify_token(&self, token: &str, call: &Call, consume: bool) -> Result<Verification, ClientError> {
        let mut body = serde_json::to_value(call).map_err(|_| ClientError::Invalid("the call is not JSON"))?;
        body["token"] = json!(token);
        body["consume"] = json!(consume);
        self.json(Self::outgoing(Method::POST, self.url(&["v1", "tokens", "verify"], &[])?, Some(&body))?).await
    }

    /// `POST /v1/executions` (never retried).
    pub async fn log_execution(&self, log: &ExecutionLog) -> Result<Execution, ClientError> {
        self.json(Self::outgoing(Method::POST, self.url(&["v1", "executions"], &[])?, Some(log))?).await
    }

    /// `GET /v1/signing-keys`: the org's Ed25519 public keys, for [`crate::offline::verify`].
    pub async fn signing_keys(&self) -> Result<SigningKeys, ClientError> {
        self.json(Self::outgoing::<Value>(Method::GET, self.url(&["v1", "signing-keys"], &[])?, None)?).await
    }
}
