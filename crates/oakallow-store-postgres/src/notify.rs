//! Change announcements between nodes, through PostgreSQL's LISTEN/NOTIFY. A transaction that
//! changes something other nodes cache calls [`Channel::announce`]; PostgreSQL delivers the
//! announcement when (and only if) it commits. [`watch`] follows the channel from a background
//! task with a connection of its own. Announcements are best effort (a listener that loses its
//! connection misses those made meanwhile), so every (re)connection is announced as
//! [`Change::Resync`]: check everything cached.
//!
//! The channel is per schema (`oakallow_changes_<schema>`), so deployments, or tests, that
//! share a database in different schemas do not hear each other. Payloads are short text:
//! `policy:<org>:<version>`, `org:<org>`, `key:<key>`, `approval:<approval>`, `webhooks`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use oakallow_domain::id::OrgId;
use oakallow_store::{Change, ChangeSink, StoreError, StoreResult};
use sqlx::pool::CloseEvent;
use sqlx::postgres::{PgListener, PgPoolOptions};
use sqlx::{PgConnection, PgPool};

use crate::error::map_error;

/// The channel name's prefix; the schema follows.
const PREFIX: &str = "oakallow_changes_";
/// PostgreSQL's longest identifier, in bytes (a longer channel name is refused).
const MAX_CHANNEL_LEN: usize = 63;
/// The first wait before listening again after a failure; it doubles up to [`MAX_RETRY`].
const FIRST_RETRY: Duration = Duration::from_millis(500);
/// The longest wait between attempts to listen.
const MAX_RETRY: Duration = Duration::from_secs(5);
/// How long a stopping watcher waits for its connection to close.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// The notification channel of one schema.
#[derive(Debug, Clone)]
pub(crate) struct Channel {
    name: Arc<str>,
}

impl Channel {
    /// The channel of the schema the pool's connections work in (`current_schema()`).
    pub(crate) async fn of_pool(pool: &PgPool) -> StoreResult<Self> {
        let schema: Option<String> = sqlx::query_scalar("SELECT current_schema()").fetch_one(pool).await.map_err(map_error)?;
        Ok(Self::for_schema(schema.as_deref().unwrap_or_default()))
    }

    /// `oakallow_changes_<schema>`; a name that would be too long keeps the start of the schema
    /// and ends with a hash of all of it.
    fn for_schema(schema: &str) -> Self {
        let mut name = format!("{PREFIX}{schema}");
        if name.len() > MAX_CHANNEL_LEN {
            let hash = format!("_{:016x}", fnv1a(schema.as_bytes()));
            let mut keep = MAX_CHANNEL_LEN - hash.len();
            while !name.is_char_boundary(keep) {
                keep -= 1;
            }
            name.truncate(keep);
            name.push_str(&hash);
        }
        Self { name: name.into() }
    }

    /// The channel's name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Announces `change` when the current transaction commits (nothing if it rolls back).
    pub(crate) async fn announce(&self, conn: &mut PgConnection, change: &Change) -> StoreResult<()> {
        let Some(payload) = payload(change) else { return Ok(()) };
        sqlx::query("SELECT pg_notify($1, $2)").bind(self.name()).bind(payload).execute(conn).await.map_err(map_error)?;
        Ok(())
    }
}

/// FNV-1a, 64 bits: a stable hash for shortening long channel names.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3))
}

/// The payload announcing `change`; none for [`Change::Resync`], which is never sent.
fn payload(change: &Change) -> Option<String> {
    match change {
        Change::Policy(org, version) => Some(format!("policy:{org}:{version}")),
        Change::Org(org) => Some(format!("org:{org}")),
        Change::KeyRevoked(key) => Some(format!("key:{key}")),
        Change::Approval(approval) => Some(format!("approval:{approval}")),
        Change::Webhooks => Some("webhooks".into()),
        Change::Resync => None,
    }
}

/// The change a payload announces; `None` for one this version does not know.
fn parse(payload: &str) -> Option<Change> {
    if payload == "webhooks" {
        return Some(Change::Webhooks);
    }
    let (kind, rest) = payload.split_once(':')?;
    match kind {
        "policy" => {
            let (org, version) = rest.split_once(':')?;
            Some(Change::Policy(OrgId::parse(org)?, version.parse().ok()?))
        }
        "org" => Some(Change::Org(rest.parse().ok()?)),
        "key" => Some(Change::KeyRevoked(rest.parse().ok()?)),
        "approval" => Some(Change::Approval(rest.parse().ok()?)),
        _ => None,
    }
}

/// Starts a task that tells `sink` every change announced on `channel`, from a connection of
/// its own (made with the pool's options), until `pool` is closed. Returns at once.
pub(crate) fn watch(pool: &PgPool, channel: &Channel, sink: ChangeSink) -> StoreResult<()> {
    let runtime =
        tokio::runtime::Handle::try_current().map_err(|_| StoreError::Unavailable("watching for changes needs a Tokio runtime".into()))?;
    let options = (*pool.connect_options()).clone();
    let own = PgPoolOptions::new().max_connections(1).min_connections(0).idle_timeout(None).max_lifetime(None).connect_lazy_with(options);
    runtime.spawn(follow(pool.close_event(), own, channel.clone(), sink));
    Ok(())
}

/// Listens, and listens again after each failure (waiting longer each time, up to
/// [`MAX_RETRY`]), until the store's pool closes; then closes its own connection.
async fn follow(mut closed: CloseEvent, own: PgPool, channel: Channel, sink: ChangeSink) {
    let mut retry = FIRST_RETRY;
    loop {
        let Ok(Err(error)) = closed.do_until(listen(&own, &channel, &sink, &mut retry)).await else { break };
        tracing::warn!(%error, retry_in_ms = retry.as_millis(), "lost the PostgreSQL change announcements; listening again soon");
        if closed.do_until(tokio::time::sleep(retry)).await.is_err() {
            break;
        }
        retry = (retry * 2).min(MAX_RETRY);
    }
    tracing::debug!("stopped following PostgreSQL change announcements");
    if tokio::time::timeout(CLOSE_TIMEOUT, own.close()).await.is_err() {
        tracing::debug!("the change listener's connection did not close in time");
    }
}

/// Listens on one connection until it fails: announces [`Change::Resync`] once listening, and
/// again whenever the listener had to reconnect, and every change it hears in between.
async fn listen(own: &PgPool, channel: &Channel, sink: &ChangeSink, retry: &mut Duration) -> Result<Infallible, sqlx::Error> {
    let mut listener = PgListener::connect_with(own).await?;
    listener.listen(channel.name()).await?;
    *retry = FIRST_RETRY;
    sink(Change::Resync);
    loop {
        match listener.try_recv().await? {
            Some(notification) => match parse(notification.payload()) {
                Some(change) => sink(change),
                None => tracing::debug!("ignored an unknown change announcement"),
            },
            // The connection was lost and made again (listening again): some may be missed.
            None => sink(Change::Resync),
        }
    }
}

#[cfg(test)]
mod tests {
    use oakallow_domain::id::{ApprovalId, KeyId};

    use super::*;

    #[test]
    fn payloads_read_back_as_the_change() {
        let changes = [
            Change::Policy(OrgId::generate(), 42),
            Change::Org(OrgId::generate()),
            Change::KeyRevoked(KeyId::generate()),
            Change::Approval(ApprovalId::generate()),
            Change::Webhooks,
        ];
        for change in changes {
            let text = payload(&change).expect("announced");
            assert_eq!(parse(&text), Some(change));
        }
        assert_eq!(payload(&Change::Resync), None);
        for unknown in ["", "nonsense", "org:", "org:key_x", "policy:org_x", "key:org_01", "future:thing"] {
            assert_eq!(parse(unknown), None, "{unknown}");
        }
    }

    #[test]
    fn channel_names_fit_an_identifier() {
        assert_eq!(Channel::for_schema("oak_t_abc").name(), "oakallow_changes_oak_t_abc");
        let long = "s".repeat(80);
        let name = Channel::for_schema(&long);
        assert_eq!(name.name().len(), MAX_CHANNEL_LEN);
        assert_ne!(name.name(), Channel::for_schema(&"s".repeat(81)).name(), "the hash tells long names apart");
        let wide = "é".repeat(40);
        assert!(Channel::for_schema(&wide).name().len() <= MAX_CHANNEL_LEN);
    }
}
