//! `/v1/tokens`, `/v1/signing-keys`, `/v1/executions`: proof of authorization and its use.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use oakallow_service::executions::{ExecutionRequest, ExecutionView};
use oakallow_service::tokens::{MintRequest, MintedTokenView, SigningKeyList, Verification, VerifyRequest};

use utoipa::openapi::schema::{AllOfBuilder, ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::{Ref, RefOr};

use crate::AppState;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{JsonBody, ReaderKey, StandardKey};

/// The body of `POST /v1/tokens` as documented: [`MintRequest`] with exactly one of `check_id`
/// and `approval_id`, a rule its derived schema cannot say.
pub struct MintBody;

impl utoipa::PartialSchema for MintBody {
    fn schema() -> RefOr<Schema> {
        let source = |field: &str| ObjectBuilder::new().property(field, ObjectBuilder::new().schema_type(Type::String)).required(field);
        let exactly_one = OneOfBuilder::new().item(source("check_id")).item(source("approval_id"));
        let fields = Ref::from_schema_name(<MintRequest as utoipa::ToSchema>::name());
        AllOfBuilder::new().item(fields).item(exactly_one).description(Some("Exactly one of `check_id` and `approval_id`.")).into()
    }
}

impl utoipa::ToSchema for MintBody {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((<MintRequest as utoipa::ToSchema>::name().into_owned(), <MintRequest as utoipa::PartialSchema>::schema()));
        <MintRequest as utoipa::ToSchema>::schemas(schemas);
    }
}

/// Mints a single-use token from an allowed check or an approved approval.
#[utoipa::path(post, path = "/v1/tokens", operation_id = "mint_token", tag = "tokens", request_body = MintBody, security(("api_key" = ["standard"]), ("bearer" = ["standard"])),
    responses((status = 201, body = MintedTokenView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 402, body = ErrorBody, description = "insufficient_credits: the account's credit is used up; nothing was done"), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "not_authorized, with details.reason")))]
pub async fn mint(
    State(app): State<AppState>,
    StandardKey(caller): StandardKey,
    JsonBody(request): JsonBody<MintRequest>,
) -> ApiResult<(StatusCode, Json<MintedTokenView>)> {
    Ok((StatusCode::CREATED, Json(app.service.mint_token(&caller, request).await?)))
}

/// The same as `POST /v1/tokens`.
#[utoipa::path(post, path = "/v1/tokens/mint", operation_id = "mint_token_alias", tag = "tokens", request_body = MintBody, security(("api_key" = ["standard"]), ("bearer" = ["standard"])),
    responses((status = 201, body = MintedTokenView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 402, body = ErrorBody, description = "insufficient_credits: the account's credit is used up; nothing was done"), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn mint_alias(
    state: State<AppState>,
    caller: StandardKey,
    body: JsonBody<MintRequest>,
) -> ApiResult<(StatusCode, Json<MintedTokenView>)> {
    mint(state, caller, body).await
}

/// Verifies a token and (by default) accepts it, once, across all nodes.
#[utoipa::path(post, path = "/v1/tokens/verify", operation_id = "verify_token", tag = "tokens", request_body = VerifyRequest, security(("api_key" = ["standard"]), ("bearer" = ["standard"])),
    responses((status = 200, body = Verification), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 402, body = ErrorBody, description = "insufficient_credits: the account's credit is used up; nothing was done"), (status = 403, body = ErrorBody)))]
pub async fn verify(
    State(app): State<AppState>,
    StandardKey(caller): StandardKey,
    JsonBody(request): JsonBody<VerifyRequest>,
) -> ApiResult<Json<Verification>> {
    Ok(Json(app.service.verify_token(&caller, request).await?))
}

/// The org's Ed25519 public keys, to check tokens offline.
#[utoipa::path(get, path = "/v1/signing-keys", operation_id = "list_signing_keys", tag = "tokens", security(("api_key" = ["management", "standard"]), ("bearer" = ["management", "standard"])),
    responses((status = 200, body = SigningKeyList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn signing_keys(State(app): State<AppState>, ReaderKey(caller): ReaderKey) -> ApiResult<Json<SigningKeyList>> {
    Ok(Json(app.service.signing_keys(&caller).await?))
}

/// Logs what happened when the agent ran a tool.
#[utoipa::path(post, path = "/v1/executions", operation_id = "log_execution", tag = "executions", request_body = ExecutionRequest, security(("api_key" = ["standard"]), ("bearer" = ["standard"])),
    responses((status = 201, body = ExecutionView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 402, body = ErrorBody, description = "insufficient_credits: the account's credit is used up; nothing was done"), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "token_used, or not_authorized with details.reason")))]
pub async fn execution(
    State(app): State<AppState>,
    StandardKey(caller): StandardKey,
    JsonBody(request): JsonBody<ExecutionRequest>,
) -> ApiResult<(StatusCode, Json<ExecutionView>)> {
    Ok((StatusCode::CREATED, Json(app.service.log_execution(&caller, request).await?)))
}
