//! Request extractors: the API key (as a tier-typed caller), JSON bodies (1 MiB, unknown fields
//! refused) and query strings (unknown parameters refused), each failing with the error envelope.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use oakallow_service::auth::{Approver, Caller, Management, Reader, Standard};
use serde::de::DeserializeOwned;

use crate::AppState;
use crate::error::ApiError;

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The key presented in `X-API-Key` or `Authorization: Bearer`.
fn presented_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(key) = headers.get("x-api-key") {
        return key.to_str().ok();
    }
    let authorization = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = authorization.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Any authenticated key.
pub struct AnyKey(pub Caller);

impl FromRequestParts<AppState> for AnyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let key = presented_key(&parts.headers).ok_or(oakallow_service::ServiceError::Unauthenticated)?;
        Ok(Self(state.service.authenticate(key).await?))
    }
}

macro_rules! tier_extractor {
    ($(#[$doc:meta])* $name:ident, $caller:ty, $method:ident) => {
        $(#[$doc])*
        pub struct $name(pub $caller);

        impl FromRequestParts<AppState> for $name {
            type Rejection = ApiError;

            async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
                let AnyKey(caller) = AnyKey::from_request_parts(parts, state).await?;
                Ok(Self(caller.$method()?))
            }
        }
    };
}

tier_extractor!(/// A management key.
    ManagementKey, Management, management);
tier_extractor!(/// A standard key.
    StandardKey, Standard, standard);
tier_extractor!(/// An approver key.
    ApproverKey, Approver, approver);
tier_extractor!(/// A management or standard key, for reads.
    ReaderKey, Reader, reader);

/// Reads the body, enforcing [`MAX_BODY_BYTES`].
async fn body_bytes(request: Request, state: &AppState) -> Result<Bytes, ApiError> {
    Bytes::from_request(request, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large()
        } else {
            ApiError::invalid("the request body could not be read")
        }
    })
}

/// Parses JSON text into `T`, describing where it fails.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.is_empty() {
        return Err(ApiError::invalid("a JSON body is required"));
    }
    serde_json::from_slice(bytes).map_err(|e| ApiError::invalid(format!("invalid JSON body: {e}")))
}

/// A JSON body of type `T`.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let bytes = body_bytes(request, state).await?;
        parse_json(&bytes).map(Self)
    }
}

/// A body in JSON or, with a YAML content type, YAML (policy documents).
pub struct JsonOrYaml<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonOrYaml<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let content_type = request.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
        let bytes = body_bytes(request, state).await?;
        if content_type.contains("yaml") {
            // Through JSON's data model, so that a YAML document means exactly what the same JSON
            // document means: a YAML `false` where text is expected is refused, not read as "false".
            // YAML's own tree first, which refuses a key given twice.
            let invalid = |e: &dyn std::fmt::Display| ApiError::invalid(format!("invalid YAML body: {e}"));
            let tree: serde_norway::Value = serde_norway::from_slice(&bytes).map_err(|e| invalid(&e))?;
            let value = serde_json::to_value(tree).map_err(|e| invalid(&e))?;
            return serde_json::from_value(value).map(Self).map_err(|e| invalid(&e));
        }
        parse_json(&bytes).map(Self)
    }
}

/// Query parameters of type `T` (whose unknown fields are refused).
pub struct QueryParams<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(value)| Self(value))
            .map_err(|rejection| ApiError::invalid(rejection.body_text()))
    }
}
