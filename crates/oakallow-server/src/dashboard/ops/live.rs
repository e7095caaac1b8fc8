//! `GET /orgs/{org}/approvals/live`: the pending approvals as server-sent events. Each event
//! (type `approvals`) carries the whole pending list, rendered by the template the page uses,
//! and `app.js` swaps it in. One is sent at once, then one whenever an approval of the org
//! changes on this node, and one every [`REFRESH`] anyway (changes on other nodes, expiries).
//!
//! The session is checked when the stream opens and again before every event: a session that
//! was signed out, expired or left the org ends its stream. The stream also ends when the
//! client goes away (the response is dropped) and when the server begins stopping.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use oakallow_domain::id::OrgId;
use oakallow_service::ServiceError;
use oakallow_service::error::ServiceResult;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::sync::watch;
use tokio::time::{Instant, Interval, MissedTickBehavior};

use super::pending::PendingList;
use crate::AppState;
use crate::dashboard::pages::ErrorPage;
use crate::dashboard::web::{SESSION_COOKIE, Visitor, cookie};

/// How often the list is sent even when nothing changed on this node.
const REFRESH: Duration = Duration::from_secs(15);
/// How often a comment keeps a quiet connection open through proxies.
const KEEP_ALIVE: Duration = Duration::from_secs(10);

/// One browser's stream.
struct Feed {
    state: AppState,
    /// The session cookie, to re-check before every event.
    secret: String,
    org: OrgId,
    csrf: String,
    changes: broadcast::Receiver<OrgId>,
    stopping: watch::Receiver<bool>,
    refresh: Interval,
    started: bool,
}

/// `GET /orgs/{org}/approvals/live`.
pub(super) async fn live(State(state): State<AppState>, visitor: Visitor, headers: HeaderMap, Path(org): Path<String>) -> Response {
    let member = match state.service.member(&visitor.signed_in, &org).await {
        Ok(member) => member,
        Err(error) => return ErrorPage::from_service(&error).into_response(),
    };
    let Some(secret) = cookie(&headers, SESSION_COOKIE) else {
        return ErrorPage::from_service(&ServiceError::Unauthenticated).into_response();
    };
    let mut refresh = tokio::time::interval_at(Instant::now() + REFRESH, REFRESH);
    refresh.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let feed = Feed {
        // Subscribed before the first render, so that no change falls between the two.
        changes: state.service.approval_changes(),
        stopping: state.service.stopping(),
        secret: secret.to_owned(),
        org: member.org_id(),
        csrf: visitor.csrf(),
        refresh,
        started: false,
        state,
    };
    let events = futures_util::stream::unfold(feed, Feed::next);
    let mut response = Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // Tells a buffering proxy (nginx) to pass each event on at once.
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

impl Feed {
    /// The next event, or the end of the stream.
    async fn next(mut self) -> Option<(Result<Event, Infallible>, Self)> {
        loop {
            if std::mem::replace(&mut self.started, true) {
                self.wait().await?;
            }
            match self.render().await {
                Ok(Some(html)) => return Some((Ok(Event::default().event("approvals").data(html)), self)),
                Ok(None) => return None,
                // The database is away for a moment: try again at the next change or refresh.
                Err(error) => tracing::warn!(%error, "the live approvals could not be read"),
            }
        }
    }

    /// Waits for a change of this org's approvals or the refresh; `None` once the server stops.
    async fn wait(&mut self) -> Option<()> {
        loop {
            tokio::select! {
                changed = self.changes.recv() => match changed {
                    Ok(org) if org == self.org => break,
                    Ok(_) => {}
                    // Missed some: one of them may have been this org's.
                    Err(RecvError::Lagged(_)) => break,
                    Err(RecvError::Closed) => return None,
                },
                _ = self.refresh.tick() => break,
                _ = self.stopping.wait_for(|stopping| *stopping) => return None,
            }
        }
        // A burst of changes needs one render, not one each.
        while let Ok(_) | Err(broadcast::error::TryRecvError::Lagged(_)) = self.changes.try_recv() {}
        self.refresh.reset();
        Some(())
    }

    /// The pending list as the visitor may see it now; `None` if the session no longer signs
    /// anyone in or the account left the org.
    async fn render(&self) -> ServiceResult<Option<String>> {
        let service = &self.state.service;
        let signed_in = match service.signed_in(&self.secret).await {
            Ok(signed_in) => signed_in,
            Err(ServiceError::Unauthenticated) => return Ok(None),
            Err(error) => return Err(error),
        };
        let member = match service.member(&signed_in, &self.org.to_string()).await {
            Ok(member) => member,
            Err(ServiceError::NotFound { .. }) => return Ok(None),
            Err(error) => return Err(error),
        };
        Ok(Some(PendingList::load(service, &member, self.csrf.clone()).await?.html()))
    }
}
