//! Execution tokens: minting from an allowed check or an approved approval (one token per
//! source), verification with single-use consumption, and the published Ed25519 keys.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use oakallow_domain::Timestamp;
use oakallow_domain::approval::ApprovalStatus;
use oakallow_domain::audit::{ActivityRecord, ActivityType};
use oakallow_domain::canonical::object_sha256;
use oakallow_domain::id::{ApprovalId, CheckId, OrgId};
use oakallow_domain::org::TokenSigning;
use oakallow_domain::permission::Permission;
use oakallow_domain::token::{self, Algorithm, Claims, DEFAULT_TTL_SECONDS, MAX_TTL_SECONDS, MIN_TTL_SECONDS, new_jti};
use oakallow_domain::token_scope::CallScope;
pub use oakallow_domain::token_scope::Rejection;
use oakallow_store::{MintedToken, RuntimeWrite, TokenRecord};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::Service;
use crate::auth::{Caller, Reader, Standard};
use crate::billing::billable;
use crate::error::{ServiceError, ServiceResult};

/// How old a check may be when a token is minted from it, in seconds.
const CHECK_MAX_AGE_SECONDS: i64 = 300;

/// Body of `POST /v1/tokens`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MintRequest {
    /// An `allowed` check of this org, younger than 5 minutes.
    #[serde(default)]
    pub check_id: Option<String>,
    /// An `approved` approval of this org.
    #[serde(default)]
    pub approval_id: Option<String>,
    /// Lifetime, 10–3600 seconds (default 300).
    #[serde(default)]
    #[schema(minimum = 10, maximum = 3600)]
    pub ttl_seconds: Option<u32>,
}

/// A minted token.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MintedTokenView {
    /// The token text, to hand to the tool call.
    pub token: String,
    /// What it says.
    pub claims: Claims,
    /// Expiry.
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: Timestamp,
}

/// Body of `POST /v1/tokens/verify`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    /// The token text.
    pub token: String,
    /// The tool about to run; must match the token's.
    #[serde(default)]
    pub tool: Option<String>,
    /// The tenant (external id) the call is for; must match the token's (which must have one).
    #[serde(default)]
    pub tenant: Option<String>,
    /// The resource the call acts on; must match the token's (which must have one).
    #[serde(default)]
    pub resource: Option<String>,
    /// The call's method; must match the token's (which must have one).
    #[serde(default)]
    pub method: Option<String>,
    /// The params about to be used; must hash to the token's.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub params: Option<Map<String, Value>>,
    /// Accept the token now, so it can never be accepted again (default `true`).
    #[serde(default)]
    pub consume: Option<bool>,
}

/// Answer of `POST /v1/tokens/verify`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Verification {
    /// The token is genuine, current, matches, and (when consuming) was accepted by this call.
    pub valid: bool,
    /// Why not.
    pub reason: Option<Rejection>,
    /// The token's claims, when its signature could be checked.
    pub claims: Option<Claims>,
}

/// Answer of `GET /v1/signing-keys`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SigningKeyList {
    /// The org's Ed25519 public keys.
    pub keys: Vec<PublicKey>,
}

/// One published key.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PublicKey {
    /// Key id (the token's `kid`).
    pub kid: String,
    /// Always `ed25519`.
    pub alg: Algorithm,
    /// The 32 raw bytes, base64url without padding.
    pub public_key: String,
}

/// What a token binds: where it came from and the call it authorizes.
pub(crate) struct TokenSubject<'a> {
    pub(crate) src: String,
    pub(crate) tool: &'a str,
    pub(crate) tenant: Option<&'a str>,
    pub(crate) resource: Option<&'a str>,
    pub(crate) method: Option<&'a str>,
    pub(crate) params_sha256: &'a str,
}

fn algorithm_of(signing: TokenSigning) -> Algorithm {
    match signing {
        TokenSigning::HmacSha256 => Algorithm::HmacSha256,
        TokenSigning::Ed25519 => Algorithm::Ed25519,
    }
}

fn not_authorized(reason: &str, message: &str) -> ServiceError {
    ServiceError::NotAuthorized { reason: reason.to_owned(), message: message.to_owned() }
}

/// Checks `ttl_seconds`.
fn ttl(requested: Option<u32>) -> ServiceResult<u32> {
    let ttl = requested.unwrap_or(DEFAULT_TTL_SECONDS);
    if (MIN_TTL_SECONDS..=MAX_TTL_SECONDS).contains(&ttl) {
        Ok(ttl)
    } else {
        Err(ServiceError::invalid(format!("ttl_seconds must be between {MIN_TTL_SECONDS} and {MAX_TTL_SECONDS}")))
    }
}

impl Service {
    /// Signs a token for `subject`, answering the text and what to store.
    pub(crate) async fn issue_token(
        &self,
        caller: &Caller,
        subject: TokenSubject<'_>,
        ttl_seconds: u32,
        now: Timestamp,
    ) -> ServiceResult<(String, MintedToken, Claims)> {
        let runtime = self.org_runtime(caller.org_id()).await?;
        let key = self.signing.current(self.store.as_ref(), caller.org_id(), algorithm_of(runtime.org.token_signing), now).await?;
        let claims = Claims {
            v: 1,
            alg: key.algorithm(),
            kid: key.kid().to_owned(),
            jti: new_jti().map_err(|_| ServiceError::Unavailable)?,
            org: caller.org_id().to_string(),
            tool: subject.tool.to_owned(),
            tenant: subject.tenant.map(str::to_owned),
            resource: subject.resource.map(str::to_owned),
            method: subject.method.map(str::to_owned),
            params_sha256: subject.params_sha256.to_owned(),
            src: subject.src,
            iat: now.unix_seconds(),
            exp: now.unix_seconds() + i64::from(ttl_seconds),
        };
        let text = token::encode(&claims, &key);
        let record = TokenRecord {
            jti: claims.jti.clone(),
            org_id: caller.org_id(),
            kid: claims.kid.clone(),
            src: claims.src.clone(),
            tool: claims.tool.clone(),
            tenant: claims.tenant.clone(),
            resource: claims.resource.clone(),
            method: claims.method.clone(),
            params_sha256: claims.params_sha256.clone(),
            issued_at: now,
            expires_at: now.plus_seconds(i64::from(ttl_seconds)),
            consumed_at: None,
        };
        let mut activity = ActivityRecord::new(caller.org_id(), now, ActivityType::TokenMinted, caller.actor());
        activity.tool = Some(claims.tool.clone());
        activity.tenant.clone_from(&claims.tenant);
        activity.resource.clone_from(&claims.resource);
        activity.method.clone_from(&claims.method);
        activity.token_jti = Some(claims.jti.clone());
        activity.check_id = claims.src.parse::<CheckId>().ok();
        activity.approval_id = claims.src.parse::<ApprovalId>().ok();
        activity.details = Some(json!({ "alg": claims.alg, "kid": claims.kid, "expires_at": record.expires_at }));
        Ok((text, MintedToken { token: record, activity }, claims))
    }

    /// Mints a token from an allowed check or an approved approval.
    pub async fn mint_token(&self, caller: &Standard, request: MintRequest) -> ServiceResult<MintedTokenView> {
        let ttl_seconds = ttl(request.ttl_seconds)?;
        let now = self.clock.now();
        let org = caller.org_id();
        let (text, minted, claims) = match (&request.check_id, &request.approval_id) {
            (Some(check_id), None) => {
                let check = match check_id.parse::<CheckId>() {
                    Ok(id) => self.store.check(org, id).await?,
                    Err(_) => None,
                };
                let check = check.ok_or_else(|| not_authorized("unknown_check", "no such check in this org"))?;
                if check.permission != Permission::Allowed {
                    return Err(not_authorized("not_allowed", "the check's answer was not allowed"));
                }
                if now >= check.created_at.plus_seconds(CHECK_MAX_AGE_SECONDS) {
                    return Err(not_authorized("check_expired", "the check is older than 5 minutes"));
                }
                let subject = TokenSubject {
                    src: check.id.to_string(),
                    tool: &check.tool,
                    tenant: check.tenant.as_deref(),
                    resource: check.resource.as_deref(),
                    method: check.method.as_deref(),
                    params_sha256: &check.params_sha256,
                };
                self.issue_token(caller, subject, ttl_seconds, now).await?
            }
            (None, Some(approval_id)) => {
                let approval = match approval_id.parse::<ApprovalId>() {
                    Ok(id) => self.store.approval(org, id).await?,
                    Err(_) => None,
                };
                let approval = approval.ok_or_else(|| not_authorized("unknown_approval", "no such approval in this org"))?;
                match approval.status_at(now) {
                    ApprovalStatus::Approved => {}
                    ApprovalStatus::Expired => return Err(not_authorized("approval_expired", "the approval expired without a decision")),
                    other => return Err(not_authorized("not_approved", &format!("the approval is {}", other.as_str()))),
                }
                let subject = TokenSubject {
                    src: approval.id.to_string(),
                    tool: &approval.tool,
                    tenant: approval.tenant.as_deref(),
                    resource: approval.resource.as_deref(),
                    method: approval.method.as_deref(),
                    params_sha256: &approval.params_sha256,
                };
                self.issue_token(caller, subject, ttl_seconds, now).await?
            }
            _ => return Err(ServiceError::invalid("give exactly one of check_id and approval_id")),
        };
        let expires_at = minted.token.expires_at;
        let charge = self.charge(&self.org_runtime(org).await?.org);
        let minted = MintedToken { activity: billable(minted.activity), ..minted };
        if !self.committer.commit(RuntimeWrite::MintToken(minted), charge).await? {
            return Err(not_authorized("already_used", "a token was already minted from this source"));
        }
        Ok(MintedTokenView { token: text, claims, expires_at })
    }

    /// Checks a token for `org` and the call it is about to cover, without consuming it:
    /// everything but single use.
    pub(crate) async fn check_token(
        &self,
        org: OrgId,
        text: &str,
        call: &CallScope<'_>,
        now: Timestamp,
    ) -> ServiceResult<Result<Claims, (Rejection, Option<Claims>)>> {
        let Some(parsed) = token::parse(text) else { return Ok(Err((Rejection::Malformed, None))) };
        if parsed.claims.org != org.to_string() {
            return Ok(Err((Rejection::WrongOrg, None)));
        }
        let key = self.signing.by_kid(self.store.as_ref(), org, &parsed.claims.kid).await?;
        if !key.is_some_and(|key| parsed.signed_by(&key)) {
            return Ok(Err((Rejection::BadSignature, None)));
        }
        let claims = parsed.claims;
        // Expiry is judged last, so that an expired token is known to match in every other way
        // (an execution may still be logged with a token accepted before it expired).
        let rejection = match claims.scope_mismatch(call) {
            Some(mismatch) => Some(Rejection::from(mismatch)),
            None => (now.unix_seconds() >= claims.exp).then_some(Rejection::Expired),
        };
        Ok(match rejection {
            Some(reason) => Err((reason, Some(claims))),
            None => Ok(claims),
        })
    }

    /// Verifies a token and, unless `consume` is false, accepts it for good.
    pub async fn verify_token(&self, caller: &Standard, request: VerifyRequest) -> ServiceResult<Verification> {
        crate::check::check_runtime_object("params", request.params.as_ref())?;
        let now = self.clock.now();
        let org = caller.org_id();
        let consume = request.consume.unwrap_or(true);
        let params_sha256 = request.params.as_ref().map(|params| object_sha256(Some(params)));
        let call = CallScope {
            tool: request.tool.as_deref(),
            tenant: request.tenant.as_deref().map(Some),
            resource: request.resource.as_deref().map(Some),
            method: request.method.as_deref().map(Some),
            params_sha256: params_sha256.as_deref(),
        };
        let checked = self.check_token(org, &request.token, &call, now).await?;
        let entry = |kind, claims: Option<&Claims>, result: &str| {
            let mut record = ActivityRecord::new(org, now, kind, caller.actor());
            if let Some(claims) = claims {
                record.tool = Some(claims.tool.clone());
                record.tenant.clone_from(&claims.tenant);
                record.resource.clone_from(&claims.resource);
                record.method.clone_from(&claims.method);
                record.token_jti = Some(claims.jti.clone());
            }
            record.result = Some(result.to_owned());
            record.details = Some(json!({ "consume": consume }));
            billable(record)
        };
        let charge = self.charge(&self.org_runtime(org).await?.org);
        let claims = match checked {
            Ok(claims) => claims,
            Err((reason, claims)) => {
                self.committer
                    .commit(RuntimeWrite::Activity(entry(ActivityType::TokenRejected, claims.as_ref(), reason.as_str())), charge)
                    .await?;
                return Ok(Verification { valid: false, reason: Some(reason), claims });
            }
        };
        let issued = self.store.token(org, &claims.jti).await?;
        let usable = issued.as_ref().is_some_and(|t| t.consumed_at.is_none());
        let valid = if consume && usable {
            let write = RuntimeWrite::ConsumeToken {
                org_id: org,
                jti: claims.jti.clone(),
                at: now,
                verified: entry(ActivityType::TokenVerified, Some(&claims), "valid"),
                already_used: entry(ActivityType::TokenRejected, Some(&claims), Rejection::Used.as_str()),
            };
            self.committer.commit(write, charge).await?
        } else {
            let (kind, result) =
                if usable { (ActivityType::TokenVerified, "valid") } else { (ActivityType::TokenRejected, Rejection::Used.as_str()) };
            self.committer.commit(RuntimeWrite::Activity(entry(kind, Some(&claims), result)), charge).await?;
            usable
        };
        Ok(Verification { valid, reason: (!valid).then_some(Rejection::Used), claims: Some(claims) })
    }

    /// The org's Ed25519 public keys; an org that signs with Ed25519 gets its key here if it
    /// has none yet, so tool servers can fetch it before the first token.
    pub async fn signing_keys(&self, caller: &Reader) -> ServiceResult<SigningKeyList> {
        let runtime = self.org_runtime(caller.org_id()).await?;
        if runtime.org.token_signing == TokenSigning::Ed25519 {
            self.signing.current(self.store.as_ref(), caller.org_id(), Algorithm::Ed25519, self.clock.now()).await?;
        }
        let keys = self.store.ed25519_keys(caller.org_id()).await?;
        let keys = keys
            .into_iter()
            .filter_map(|stored| {
                let key = oakallow_domain::token::SigningKey::from_parts(stored.algorithm, stored.kid.clone(), stored.secret);
                key.public_key().map(|public| PublicKey {
                    kid: stored.kid,
                    alg: Algorithm::Ed25519,
                    public_key: URL_SAFE_NO_PAD.encode(public),
                })
            })
            .collect();
        Ok(SigningKeyList { keys })
    }
}
