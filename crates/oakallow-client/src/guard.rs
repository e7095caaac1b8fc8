//! [`Guard`]: the whole loop around one tool call, in the order oakallow expects it. Check (a
//! token minted inline when allowed); when approval is required, ask for it, wait for people
//! (up to the approval's timeout or your `max_wait`), and mint the token from it; run the tool
//! with the token; log the execution with its duration and outcome. A disabled tool and a
//! refused approval are errors that carry the reason and the approval's reference, and the tool
//! never runs.

use std::fmt::Display;
use std::future::Future;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::runtime::{Approval, ApprovalRequest, Call, CheckRequest, ExecutionLog};
use crate::{ApprovalStatus, Client, ClientError, ExecutionResult, Permission};

/// The most of an error's text an execution record keeps.
const ERROR_TEXT_LIMIT: usize = 1000;

/// What the guard obtained for one call: hand `token` to the tool.
#[derive(Debug, Clone, PartialEq)]
pub struct Authorization {
    /// The call authorized.
    pub call: Call,
    /// The check that started it.
    pub check_id: String,
    /// The single-use execution token.
    pub token: String,
    /// The approval, when people approved it.
    pub approval: Option<Approval>,
}

/// Why a guarded call did not run, or what it did when it ran.
#[derive(Debug, thiserror::Error)]
pub enum GuardError<E> {
    /// The tool is disabled; it did not run.
    #[error("tool {tool:?} is disabled (check {check_id})")]
    Disabled {
        /// The tool.
        tool: String,
        /// The check that said so.
        check_id: String,
    },
    /// The approval ended other than `approved` (denied, expired, cancelled), or the guard gave
    /// up waiting (`timed_out`, and the guard cancelled it); the tool did not run. A denial's
    /// note is in `approval.note`.
    #[error("{}", refusal(approval, *timed_out))]
    Refused {
        /// The approval as it ended.
        approval: Box<Approval>,
        /// The guard stopped waiting before people decided.
        timed_out: bool,
    },
    /// oakallow could not be asked, or refused the request; the tool did not run.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The tool ran and failed with this error (logged as `failed`).
    #[error("the tool failed: {0}")]
    Tool(E),
}

fn refusal(approval: &Approval, timed_out: bool) -> String {
    let note = approval.note.as_deref().map(|note| format!(": {note}")).unwrap_or_default();
    let waited = if timed_out { " (the wait ran out)" } else { "" };
    format!("approval {} for {:?} is {}{waited}{note}", approval.reference, approval.tool, approval.status.as_str())
}

impl GuardError<std::convert::Infallible> {
    /// The same error for a guard whose tool fails with `E`.
    fn widen<E>(self) -> GuardError<E> {
        match self {
            Self::Disabled { tool, check_id } => GuardError::Disabled { tool, check_id },
            Self::Refused { approval, timed_out } => GuardError::Refused { approval, timed_out },
            Self::Client(error) => GuardError::Client(error),
            Self::Tool(never) => match never {},
        }
    }
}

/// The loop around one call; from [`Client::guard`].
pub struct Guard<'c> {
    client: &'c Client,
    call: Call,
    reason: Option<String>,
    context: Option<Value>,
    reference_id: Option<String>,
    max_wait: Option<Duration>,
    approval_timeout_seconds: Option<u64>,
    on_approval: Option<OnApproval<'c>>,
}

/// What [`Guard::on_approval`] calls.
type OnApproval<'c> = Box<dyn Fn(&Approval) + Send + Sync + 'c>;

impl std::fmt::Debug for Guard<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard").field("call", &self.call).field("max_wait", &self.max_wait).finish_non_exhaustive()
    }
}

impl Client {
    /// A guard for `call`: `client.guard(call).run(|auth| async { … }).await`.
    pub fn guard(&self, call: Call) -> Guard<'_> {
        Guard {
            client: self,
            call,
            reason: None,
            context: None,
            reference_id: None,
            max_wait: None,
            approval_timeout_seconds: None,
            on_approval: None,
        }
    }
}

impl<'c> Guard<'c> {
    /// Why the agent wants to run it, shown to approvers (default: "The agent asks to run the
    /// tool …").
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// Free-form context kept with the check and the approval.
    pub fn context(mut self, context: Value) -> Self {
        self.context = Some(context);
        self
    }

    /// Your own id for the call.
    pub fn reference_id(mut self, id: impl Into<String>) -> Self {
        self.reference_id = Some(id.into());
        self
    }

    /// Wait at most this long for people; then the approval is cancelled and the call refused
    /// (default: until the approval expires on the server).
    pub fn max_wait(mut self, wait: Duration) -> Self {
        self.max_wait = Some(wait);
        self
    }

    /// The approval's own timeout on the server, in seconds.
    pub fn approval_timeout_seconds(mut self, seconds: u64) -> Self {
        self.approval_timeout_seconds = Some(seconds);
        self
    }

    /// Called with the new approval as soon as it exists (e.g. to tell a person its reference).
    pub fn on_approval(mut self, callback: impl Fn(&Approval) + Send + Sync + 'c) -> Self {
        self.on_approval = Some(Box::new(callback));
        self
    }

    /// Authorizes the call, runs `tool` with the token, logs the execution (`success`, or
    /// `failed` with the error's text) and answers what the tool answered. The tool does not
    /// run unless the call is authorized.
    pub async fn run<F, Fut, T, E>(self, tool: F) -> Result<T, GuardError<E>>
    where
        F: FnOnce(Authorization) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: Display,
    {
        let auth = self.authorize().await.map_err(GuardError::widen)?;
        let started = Instant::now();
        let outcome = tool(auth.clone()).await;
        let error = outcome.as_ref().err().map(ToString::to_string);
        self.finish(&auth, started.elapsed(), error, None).await;
        outcome.map_err(GuardError::Tool)
    }

    /// Check, and if needed ask for and wait for an approval; the token to run with. For a
    /// loop of your own: run the tool, then [`Guard::finish`].
    pub async fn authorize(&self) -> Result<Authorization, GuardError<std::convert::Infallible>> {
        let request = CheckRequest {
            call: self.call.clone(),
            context: self.context.clone(),
            reference_id: self.reference_id.clone(),
            mint_token: true,
        };
        let check = self.client.check(&request).await?;
        let check_id = check.check_id;
        match check.permission {
            Permission::Allowed => {
                let token = match check.token {
                    Some(token) => token,
                    None => self.client.mint_token_for_check(&check_id, None).await?.token,
                };
                return Ok(Authorization { call: self.call.clone(), check_id, token, approval: None });
            }
            Permission::Disabled => return Err(GuardError::Disabled { tool: self.call.tool.clone(), check_id }),
            Permission::RequiresApproval => {}
        }
        let request = ApprovalRequest {
            call: self.call.clone(),
            reason: self.reason.clone().unwrap_or_else(|| format!("The agent asks to run the tool {:?}.", self.call.tool)),
            context: self.context.clone(),
            reference_id: self.reference_id.clone(),
            check_id: Some(check_id.clone()),
            timeout_seconds: self.approval_timeout_seconds,
        };
        let approval = self.client.request_approval(&request, None).await?;
        // Should this future be dropped while waiting, nobody waits for the approval any more:
        // it is cancelled, so no person approves a call that will never run.
        let mut waiting = CancelOnDrop { client: self.client.clone(), id: Some(approval.id.clone()) };
        if let Some(callback) = &self.on_approval {
            callback(&approval);
        }
        let waited = self.client.wait_for_approval(&approval.id, self.max_wait).await?;
        waiting.id = None;
        let timed_out = waited.status == ApprovalStatus::Pending;
        let approval = self.settle(waited).await?;
        if approval.status != ApprovalStatus::Approved {
            return Err(GuardError::Refused { approval: Box::new(approval), timed_out });
        }
        let token = self.client.mint_token_for_approval(&approval.id, None).await?.token;
        Ok(Authorization { call: self.call.clone(), check_id, token, approval: Some(approval) })
    }

    /// A still-pending approval is cancelled (nobody will wait for it); decided meanwhile, it
    /// is read again.
    async fn settle(&self, approval: Approval) -> Result<Approval, ClientError> {
        if approval.status != ApprovalStatus::Pending {
            return Ok(approval);
        }
        match self.client.cancel_approval(&approval.id).await {
            Err(error) if error.code() == Some("approval_not_pending") => self.client.get_approval(&approval.id, None).await,
            settled => settled,
        }
    }

    /// Logs the execution of an authorized call: `success`, or `failed` with `error`'s text (at
    /// most 1,000 characters), and `output` when given. A failure to log is reported as a
    /// warning, not an error: the tool has run.
    pub async fn finish(&self, auth: &Authorization, took: Duration, error: Option<String>, output: Option<Value>) {
        let log = ExecutionLog {
            call: auth.call.clone(),
            token: Some(auth.token.clone()),
            result: if error.is_some() { ExecutionResult::Failed } else { ExecutionResult::Success },
            duration_ms: u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
            output: if error.is_some() { None } else { output },
            error: error.map(|text| match text.char_indices().nth(ERROR_TEXT_LIMIT) {
                Some((end, _)) => text[..end].to_owned(),
                None if text.trim().is_empty() => "the tool failed".to_owned(),
                None => text,
            }),
        };
        if let Err(error) = self.client.log_execution(&log).await {
            tracing::warn!(tool = %auth.call.tool, %error, "oakallow: could not log the execution");
        }
    }
}

/// Cancels an approval nobody waits for, when dropped while armed.
struct CancelOnDrop {
    client: Client,
    id: Option<String>,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        let Some(id) = self.id.take() else { return };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let client = self.client.clone();
            runtime.spawn(async move {
                let _ = client.cancel_approval(&id).await;
            });
        }
    }
}
