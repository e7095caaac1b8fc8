//! `POST /webhooks/stripe`: Stripe's events about Checkout Sessions. Authenticated by the
//! `Stripe-Signature` header alone (no API key), so it is not part of the API's OpenAPI document;
//! a bad or stale signature is a 400 and credits nothing, as Stripe expects.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use oakallow_service::purchases::StripeOutcome;
use serde::Serialize;

use crate::AppState;
use crate::error::ApiResult;

/// The answer Stripe gets (it only reads the status).
#[derive(Debug, Serialize)]
pub struct Received {
    /// Always true: the event was read.
    pub received: bool,
    /// What it led to.
    pub outcome: StripeOutcome,
}

/// The route, merged beside the API.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/webhooks/stripe", post(receive))
}

async fn receive(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> ApiResult<Json<Received>> {
    let signature = headers.get("stripe-signature").and_then(|value| value.to_str().ok());
    let outcome = app.service.stripe_event(signature, &body).await?;
    Ok(Json(Received { received: true, outcome }))
}
