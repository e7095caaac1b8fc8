//! Where each open connection stands, and the table of them. A connection is waiting for a
//! request's header (from the moment it opens, or from the first byte of a later request),
//! idle between requests, or busy with a request in flight. A connection is *waiting on its
//! client* when it is reading a header, idle, or busy but stuck on the client (a request body
//! that has not arrived, a response the client does not read). Such connections are bounded in
//! time ([`Slot::expiry`], and the request body's own deadline), and when the table is full the
//! one that has waited on its client longest makes room for a new connection; connections on
//! which the server itself is working are never evicted.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;
use tokio::time::Instant;

use super::ConnectionLimits;

/// How many waiting or idle connections, oldest first, are compared to pick the one to evict.
const EVICTION_CANDIDATES: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No request yet, or the header of one is arriving.
    ReadingHead,
    /// Between requests, nothing received.
    Idle,
    /// Requests in flight (their responses not yet sent).
    Busy(u32),
    /// Closed to make room for another connection.
    Evicted,
}

#[derive(Debug)]
struct State {
    phase: Phase,
    /// When the phase began.
    since: Instant,
    /// While busy: since when a response has been waiting for the client to read it.
    write_blocked_since: Option<Instant>,
    /// While busy: since when the request's body has been waited for.
    body_awaited_since: Option<Instant>,
}

impl State {
    fn new(phase: Phase) -> Self {
        Self { phase, since: Instant::now(), write_blocked_since: None, body_awaited_since: None }
    }

    /// Since when the connection has been waiting on its client, if it is.
    fn waiting_on_client_since(&self) -> Option<Instant> {
        match self.phase {
            Phase::ReadingHead | Phase::Idle => Some(self.since),
            Phase::Busy(_) => match (self.write_blocked_since, self.body_awaited_since) {
                (Some(write), Some(body)) => Some(write.min(body)),
                (write, body) => write.or(body),
            },
            Phase::Evicted => None,
        }
    }
}

/// Why a connection is closed before the client closes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expiry {
    /// A request's header did not arrive in time.
    SlowHeader,
    /// Idle for too long.
    Idle,
    /// The client stopped reading a response.
    StalledResponse,
    /// Evicted to make room for a new connection.
    Evicted,
}

/// One open connection.
#[derive(Debug)]
pub(crate) struct Slot {
    id: u64,
    state: Mutex<State>,
    changed: Notify,
}

impl Slot {
    fn new(id: u64) -> Self {
        Self { id, state: Mutex::new(State::new(Phase::ReadingHead)), changed: Notify::new() }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // The state is plain data that every step leaves consistent: a panic elsewhere while
        // holding the lock does not make it wrong.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn enter(&self, phase: Phase) {
        let mut state = self.state();
        if state.phase != Phase::Evicted {
            *state = State::new(phase);
        }
        drop(state);
        self.changed.notify_one();
    }

    /// Bytes arrived: on an idle connection, the header of the next request has begun.
    pub(crate) fn received(&self) {
        if self.state().phase == Phase::Idle {
            self.enter(Phase::ReadingHead);
        }
    }

    /// A request's header arrived; the connection is busy until the answer is sent.
    pub(crate) fn request_started(&self) {
        let mut state = self.state();
        state.phase = match state.phase {
            Phase::Busy(requests) => Phase::Busy(requests + 1),
            Phase::Evicted => Phase::Evicted,
            Phase::ReadingHead | Phase::Idle => Phase::Busy(1),
        };
    }

    /// A response was sent (or abandoned).
    pub(crate) fn request_finished(&self) {
        let mut state = self.state();
        match state.phase {
            Phase::Busy(requests) if requests > 1 => state.phase = Phase::Busy(requests - 1),
            Phase::Busy(_) => {
                drop(state);
                self.enter(Phase::Idle);
            }
            Phase::ReadingHead | Phase::Idle | Phase::Evicted => {}
        }
    }

    /// A write could not proceed (`blocked`) or did.
    pub(crate) fn write_blocked(&self, blocked: bool) {
        let mut state = self.state();
        match (blocked, state.write_blocked_since) {
            (true, None) => {
                state.write_blocked_since = Some(Instant::now());
                drop(state);
                self.changed.notify_one();
            }
            (false, Some(_)) => state.write_blocked_since = None,
            _ => {}
        }
    }

    /// The request's body is being waited for (`true`) or has arrived.
    pub(crate) fn body_awaited(&self, awaited: bool) {
        let mut state = self.state();
        match (awaited, state.body_awaited_since) {
            (true, None) => state.body_awaited_since = Some(Instant::now()),
            (false, Some(_)) => state.body_awaited_since = None,
            _ => {}
        }
    }

    /// Whether a request is in flight.
    pub(crate) fn busy(&self) -> bool {
        matches!(self.state().phase, Phase::Busy(_))
    }

    /// Completes when the connection must be closed, and says why.
    pub(crate) async fn expiry(&self, limits: &ConnectionLimits) -> Expiry {
        loop {
            let changed = self.changed.notified();
            let (deadline, why) = {
                let state = self.state();
                match (state.phase, state.write_blocked_since) {
                    (Phase::Evicted, _) => return Expiry::Evicted,
                    (Phase::ReadingHead, _) => (Some(state.since + limits.header_read_timeout), Expiry::SlowHeader),
                    (Phase::Idle, _) => (Some(state.since + limits.idle_timeout), Expiry::Idle),
                    (Phase::Busy(_), blocked) => (blocked.map(|since| since + limits.response_write_timeout), Expiry::StalledResponse),
                }
            };
            match deadline {
                Some(deadline) if deadline <= Instant::now() => return why,
                Some(deadline) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(deadline) => {}
                        () = changed => {}
                    }
                }
                None => changed.await,
            }
        }
    }

    /// Since when the connection has been waiting on its client, if it is.
    fn waiting_since(&self) -> Option<Instant> {
        self.state().waiting_on_client_since()
    }

    /// Closes the connection if it is still waiting on its client.
    fn evict(&self) -> bool {
        let mut state = self.state();
        if state.waiting_on_client_since().is_none() {
            return false;
        }
        state.phase = Phase::Evicted;
        drop(state);
        self.changed.notify_one();
        true
    }
}

/// Every open connection, in the order they were accepted.
#[derive(Debug, Default)]
pub(crate) struct Table {
    slots: Mutex<(u64, BTreeMap<u64, Arc<Slot>>)>,
}

/// A connection's place in the [`Table`], given up when dropped.
pub(crate) struct Admitted {
    table: Arc<Table>,
    /// The connection's state.
    pub(crate) slot: Arc<Slot>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.table.slots().1.remove(&self.slot.id);
    }
}

impl Table {
    fn slots(&self) -> MutexGuard<'_, (u64, BTreeMap<u64, Arc<Slot>>)> {
        self.slots.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Open connections.
    pub(crate) fn len(&self) -> usize {
        self.slots().1.len()
    }

    /// A place for a new connection. When `max` are open, the connection that has waited on its
    /// client longest is evicted to make room; when the server is working on every one, the new
    /// connection is refused (`None`).
    pub(crate) fn admit(self: &Arc<Self>, max: usize) -> Option<Admitted> {
        let mut slots = self.slots();
        let (next_id, open) = &mut *slots;
        while open.len() >= max {
            let victim = open
                .values()
                .filter_map(|slot| slot.waiting_since().map(|since| (since, slot)))
                .take(EVICTION_CANDIDATES)
                .min_by_key(|(since, _)| *since)
                .map(|(_, slot)| Arc::clone(slot))?;
            if victim.evict() {
                open.remove(&victim.id);
            }
        }
        *next_id += 1;
        let slot = Arc::new(Slot::new(*next_id));
        open.insert(slot.id, Arc::clone(&slot));
        Some(Admitted { table: Arc::clone(self), slot })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn limits() -> ConnectionLimits {
        ConnectionLimits {
            header_read_timeout: Duration::from_secs(1),
            idle_timeout: Duration::from_secs(10),
            response_write_timeout: Duration::from_secs(3),
            ..ConnectionLimits::default()
        }
    }

    /// Time passes only while every task waits, so `expiry` ends exactly at its deadline.
    async fn expires_after(slot: &Slot) -> (Expiry, Duration) {
        let start = Instant::now();
        let why = slot.expiry(&limits()).await;
        (why, start.elapsed())
    }

    #[tokio::test(start_paused = true)]
    async fn a_header_must_arrive_in_time_from_the_start_and_after_idling() {
        let slot = Slot::new(1);
        assert_eq!(expires_after(&slot).await, (Expiry::SlowHeader, Duration::from_secs(1)));
        let slot = Slot::new(2);
        slot.request_started();
        slot.request_finished();
        assert_eq!(expires_after(&slot).await, (Expiry::Idle, Duration::from_secs(10)), "idle: the longer limit");
        slot.enter(Phase::Idle);
        tokio::time::advance(Duration::from_secs(5)).await;
        slot.received();
        assert_eq!(expires_after(&slot).await, (Expiry::SlowHeader, Duration::from_secs(1)), "counted from the first byte");
    }

    #[tokio::test(start_paused = true)]
    async fn a_busy_connection_expires_only_when_its_client_stops_reading() {
        let slot = Slot::new(1);
        slot.request_started();
        let busy = tokio::time::timeout(Duration::from_secs(3600), slot.expiry(&limits())).await;
        assert!(busy.is_err(), "a request in flight has no deadline here");
        slot.write_blocked(true);
        tokio::time::advance(Duration::from_secs(2)).await;
        slot.write_blocked(false);
        slot.write_blocked(true);
        assert_eq!(expires_after(&slot).await, (Expiry::StalledResponse, Duration::from_secs(3)), "from the last blocked write");
    }

    #[tokio::test]
    async fn a_full_table_evicts_the_connection_waiting_on_its_client_longest_and_refuses_when_none_is() {
        let table = Arc::new(Table::default());
        let first = table.admit(2).expect("room");
        let second = table.admit(2).expect("room");
        second.slot.request_started();
        let third = table.admit(2).expect("the waiting connection makes room");
        assert_eq!(first.slot.expiry(&ConnectionLimits::default()).await, Expiry::Evicted);
        assert_eq!(table.len(), 2);
        third.slot.request_started();
        assert!(table.admit(2).is_none(), "every connection is busy");
        third.slot.body_awaited(true);
        let fourth = table.admit(2).expect("a request waiting for its body makes room");
        assert_eq!(third.slot.expiry(&ConnectionLimits::default()).await, Expiry::Evicted);
        fourth.slot.request_started();
        fourth.slot.write_blocked(true);
        assert!(table.admit(2).is_some(), "so does a response the client does not read");
        drop((first, second, third, fourth));
    }
}
