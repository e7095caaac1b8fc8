//! Request extractors: the API key (as a tier-typed caller, always read first), JSON bodies
//! (1 MiB, one meaning only, unknown fields refused), query strings (unknown parameters and
//! control characters refused) and path ids, each failing with the error envelope.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap, StatusCode};
use oakallow_domain::json;
use oakallow_service::auth::{ApprovalReader, Approver, Caller, Management, Reader, Standard};
use serde::de::DeserializeOwned;

use crate::AppState;
use crate::error::ApiError;

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Largest accepted policy document (`PUT /v1/policy`): twice the largest policy's export, so
/// that every backup re-applies, as exported, pretty-printed or in YAML.
pub const MAX_POLICY_BODY_BYTES: usize = 2 * oakallow_domain::policy::MAX_DOCUMENT_BYTES;

/// The key presented in `X-API-Key` or `Authorization: Bearer`. Every key the request carries
/// must be the same one: a request with two different keys (two headers, or both forms) is
/// refused, since a proxy or log keyed on one header would attribute the call to the other key.
fn presented_key(headers: &HeaderMap) -> Option<&str> {
    let api_keys = headers.get_all("x-api-key").iter().map(|value| value.to_str().ok());
    let bearers = headers.get_all(AUTHORIZATION).iter().filter_map(|value| {
        let (scheme, token) = value.to_str().ok()?.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| Some(token.trim()))
    });
    let mut presented = api_keys.chain(bearers);
    let key = presented.next()??;
    presented.all(|other| other == Some(key)).then_some(key)
}

/// Any authenticated key. Handlers take a tier extractor instead ([`ManagementKey`] and the
/// others): this one does not mark the request as checked for a tier.
pub struct AnyKey(pub Caller);

impl FromRequestParts<AppState> for AnyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let key = presented_key(&parts.headers).ok_or(oakallow_service::ServiceError::Unauthenticated)?;
        Ok(Self(state.service.authenticate(key).await?))
    }
}

/// Set on a request once its key was checked for the endpoint's tier. The extractors that read
/// the rest of the request (path ids, query strings, bodies) insist on it, so a handler that
/// lists them before its tier extractor fails on every call (and in the test that walks every
/// endpoint) instead of answering a wrong tier with 400 or 404: the key always comes first.
#[derive(Debug, Clone, Copy)]
struct TierChecked;

/// Refuses to read a request whose key was not checked for a tier yet.
fn after_tier_check(extensions: &Extensions) -> Result<(), ApiError> {
    if extensions.get::<TierChecked>().is_some() {
        return Ok(());
    }
    tracing::error!("a handler reads the request before checking the key's tier; put the tier extractor first");
    Err(ApiError::internal())
}

macro_rules! tier_extractor {
    ($(#[$doc:meta])* $name:ident, $caller:ty, $method:ident) => {
        $(#[$doc])*
        pub struct $name(pub $caller);

        impl FromRequestParts<AppState> for $name {
            type Rejection = ApiError;

            async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
                let AnyKey(caller) = AnyKey::from_request_parts(parts, state).await?;
                let caller = caller.$method()?;
                parts.extensions.insert(TierChecked);
                Ok(Self(caller))
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
tier_extractor!(/// A standard or approver key, for reading approvals.
    ApprovalReaderKey, ApprovalReader, approval_reader);

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

/// Parses JSON text into `T`, with one meaning only (see [`oakallow_domain::json`]: no member
/// name twice at any depth, objects where objects are specified), describing where it fails.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.is_empty() {
        return Err(ApiError::invalid("a JSON body is required"));
    }
    json::from_slice(bytes).map_err(|e| ApiError::invalid(format!("invalid JSON body: {e}")))
}

/// Parses YAML text into `T` through the same strict reader as JSON: no member name twice,
/// objects where objects are specified, finite numbers, no tags, no alias bombs.
pub fn parse_yaml<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    json::deserialize(serde_norway::Deserializer::from_slice(bytes), bytes.len())
        .map_err(|e| ApiError::invalid(format!("invalid YAML body: {e}")))
}

/// A JSON body of type `T`.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        after_tier_check(request.extensions())?;
        let bytes = body_bytes(request, state).await?;
        parse_json(&bytes).map(Self)
    }
}

/// A body in JSON or, with a YAML content type, YAML (policy documents).
pub struct JsonOrYaml<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonOrYaml<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        after_tier_check(request.extensions())?;
        let content_type = request.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
        let bytes = body_bytes(request, state).await?;
        if content_type.contains("yaml") {
            return parse_yaml(&bytes).map(Self);
        }
        parse_json(&bytes).map(Self)
    }
}

/// Query parameters of type `T` (whose unknown fields are refused). A control character in
/// any name or value is refused too: no stored text has one (PostgreSQL cannot even compare a
/// NUL), so such a filter could only fail differently on each backend.
pub struct QueryParams<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        after_tier_check(&parts.extensions)?;
        let pairs =
            Query::<Vec<(String, String)>>::try_from_uri(&parts.uri).map_err(|rejection| ApiError::invalid(rejection.body_text()))?;
        if pairs.iter().any(|(name, value)| name.chars().chain(value.chars()).any(char::is_control)) {
            return Err(ApiError::invalid("query parameters must not contain control characters"));
        }
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(value)| Self(value))
            .map_err(|rejection| ApiError::invalid(rejection.body_text()))
    }
}

/// The `{id}` of an item's path. An id that is not even valid UTF-8 names nothing: 404 with the
/// error envelope, like any other id that does not exist.
pub struct IdPath(pub String);

impl<S: Send + Sync> FromRequestParts<S> for IdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        after_tier_check(&parts.extensions)?;
        Path::<String>::from_request_parts(parts, state)
            .await
            .map(|Path(id)| Self(id))
            .map_err(|_| ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such object"))
    }
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt as _;

    use super::*;
    use crate::routes::ListQuery;

    /// A handler that reads the query before any key: the guard turns it into a 500 on every
    /// call, so the mistake cannot ship as "a wrong tier gets 400".
    #[tokio::test]
    async fn reading_the_request_before_the_key_fails_closed() {
        async fn misordered(QueryParams(_): QueryParams<ListQuery>, IdPath(_): IdPath) -> &'static str {
            "read before the key"
        }
        let app = Router::new().route("/{id}", get(misordered));
        let request = axum::http::Request::get("/x?limit=1").body(Body::empty()).unwrap();
        let response = app.oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
