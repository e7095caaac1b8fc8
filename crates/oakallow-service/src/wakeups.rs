//! Wake-ups for long-polls: a request waiting on an approval subscribes to its id, and every
//! change to that approval on this node (decision, cancellation, expiry) wakes it. Waiters also
//! wake when the service shuts down, so a stopping server does not hold requests for a minute.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use oakallow_domain::id::ApprovalId;
use tokio::sync::{Notify, watch};

/// Subscriptions by approval id.
pub(crate) struct Wakeups {
    waiting: Mutex<HashMap<ApprovalId, Weak<Notify>>>,
    stopping: watch::Receiver<bool>,
    /// How many long-polls are waiting right now (tests wait on it instead of sleeping).
    parked: watch::Sender<usize>,
}

/// Counts a long-poll as waiting for as long as it lives.
struct Parked<'a>(&'a watch::Sender<usize>);

impl Drop for Parked<'_> {
    fn drop(&mut self) {
        self.0.send_modify(|parked| *parked = parked.saturating_sub(1));
    }
}

impl Wakeups {
    pub(crate) fn new(stopping: watch::Receiver<bool>) -> Self {
        Self { waiting: Mutex::new(HashMap::new()), stopping, parked: watch::Sender::new(0) }
    }

    /// How many long-polls are waiting on this node, as it changes.
    pub(crate) fn parked(&self) -> watch::Receiver<usize> {
        self.parked.subscribe()
    }

    /// A handle that [`Wakeups::notify`] wakes for `id`. Create it before reading the state
    /// the wait depends on, so no change can slip between the read and the wait.
    pub(crate) fn subscribe(&self, id: ApprovalId) -> Arc<Notify> {
        let Ok(mut waiting) = self.waiting.lock() else { return Arc::new(Notify::new()) };
        if let Some(existing) = waiting.get(&id).and_then(Weak::upgrade) {
            return existing;
        }
        if waiting.len() > 1024 {
            waiting.retain(|_, notify| notify.strong_count() > 0);
        }
        let notify = Arc::new(Notify::new());
        waiting.insert(id, Arc::downgrade(&notify));
        notify
    }

    /// Wakes every waiter of `id` on this node.
    pub(crate) fn notify(&self, id: ApprovalId) {
        let notify = self.waiting.lock().ok().and_then(|waiting| waiting.get(&id).and_then(Weak::upgrade));
        if let Some(notify) = notify {
            notify.notify_waiters();
        }
    }

    /// Waits until `notify` fires, `timeout` passes or the service stops; answers `false` if it
    /// stopped.
    pub(crate) async fn wait(
        &self,
        notified: std::pin::Pin<&mut tokio::sync::futures::Notified<'_>>,
        timeout: std::time::Duration,
    ) -> bool {
        let mut stopping = self.stopping.clone();
        if *stopping.borrow() {
            return false;
        }
        self.parked.send_modify(|parked| *parked += 1);
        let _parked = Parked(&self.parked);
        tokio::select! {
            () = notified => true,
            () = tokio::time::sleep(timeout) => true,
            _ = stopping.changed() => false,
        }
    }
}
