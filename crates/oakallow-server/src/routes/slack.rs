//! `POST /integrations/slack/{org}/interactions`: the clicks on the buttons of oakallow's Slack
//! messages. Authenticated by Slack's request signature alone (no API key), with the org's
//! signing secret, so, like `POST /webhooks/stripe`, it is not part of the API's OpenAPI
//! document. A verified request gets 200 and an empty body, as Slack expects; whoever clicked is
//! answered through Slack (see `oakallow_service::notify`). An unknown org, or one without
//! Slack, is 404; a missing, stale or wrong signature is 400 and decides nothing.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;

use crate::AppState;
use crate::error::ApiResult;

/// The route, merged beside the API.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/integrations/slack/{org}/interactions", post(interaction))
}

async fn interaction(State(app): State<AppState>, Path(org): Path<String>, headers: HeaderMap, body: Bytes) -> ApiResult<StatusCode> {
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    app.service.slack_interaction(&org, header("x-slack-request-timestamp"), header("x-slack-signature"), &body).await?;
    Ok(StatusCode::OK)
}
