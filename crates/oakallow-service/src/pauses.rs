//! Pause points: places in a use case, between a read and the write that depends on it, where a
//! test can hold one task to make a race happen every time instead of once in a while. A point
//! nobody armed costs one atomic load to pass.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

/// A place where a use case can be held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PausePoint {
    /// Authentication read a key from the database and is about to cache it.
    KeyLookedUp,
    /// `PATCH /v1/org` checked the patch (its webhook destination too) and is about to apply it.
    OrgPatchChecked,
    /// This node is about to reload an org that changed elsewhere.
    OrgReload,
    /// A decision was planned from the approval as read and is about to be written.
    DecisionPlanned,
}

/// One armed point: the first task to reach it waits until the pause ends.
struct Gate {
    taken: AtomicBool,
    arrived: watch::Sender<bool>,
    open: watch::Receiver<bool>,
}

/// The armed points of one service.
#[derive(Default)]
pub(crate) struct Pauses {
    any_armed: AtomicBool,
    gates: Mutex<HashMap<PausePoint, Arc<Gate>>>,
}

impl Pauses {
    /// Holds the caller here if a test armed `point` and no task has stopped at it yet.
    pub(crate) async fn pass(&self, point: PausePoint) {
        if !self.any_armed.load(Ordering::Acquire) {
            return;
        }
        let gate = self.gates.lock().ok().and_then(|gates| gates.get(&point).cloned());
        let Some(gate) = gate else { return };
        if gate.taken.swap(true, Ordering::AcqRel) {
            return;
        }
        gate.arrived.send_replace(true);
        let mut open = gate.open.clone();
        // An error means the pause is gone: go on.
        let _ = open.wait_for(|open| *open).await;
    }

    /// Arms `point` until the answer is released or dropped.
    pub(crate) fn arm(self: &Arc<Self>, point: PausePoint) -> Pause {
        let (arrived, arrived_rx) = watch::channel(false);
        let (open, open_rx) = watch::channel(false);
        let gate = Arc::new(Gate { taken: AtomicBool::new(false), arrived, open: open_rx });
        if let Ok(mut gates) = self.gates.lock() {
            gates.insert(point, Arc::clone(&gate));
            self.any_armed.store(true, Ordering::Release);
        }
        Pause { pauses: Arc::clone(self), point, gate, arrived: arrived_rx, open }
    }

    fn disarm(&self, point: PausePoint, gate: &Arc<Gate>) {
        if let Ok(mut gates) = self.gates.lock() {
            if gates.get(&point).is_some_and(|armed| Arc::ptr_eq(armed, gate)) {
                gates.remove(&point);
            }
            self.any_armed.store(!gates.is_empty(), Ordering::Release);
        }
    }
}

/// An armed pause point (for tests): the next task that reaches it stops there until this is
/// released or dropped; tasks after it pass.
pub struct Pause {
    pauses: Arc<Pauses>,
    point: PausePoint,
    gate: Arc<Gate>,
    arrived: watch::Receiver<bool>,
    open: watch::Sender<bool>,
}

impl Pause {
    /// Waits until a task has stopped at the point.
    pub async fn reached(&mut self) {
        // The sender lives as long as this pause, so waiting cannot fail.
        let _ = self.arrived.wait_for(|arrived| *arrived).await;
    }

    /// Lets the held task go on, and disarms the point.
    pub fn release(self) {}
}

impl Drop for Pause {
    fn drop(&mut self) {
        self.pauses.disarm(self.point, &self.gate);
        self.open.send_replace(true);
    }
}
