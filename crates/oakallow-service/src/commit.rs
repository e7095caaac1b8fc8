//! Group commit for runtime writes. Each request hands its write (and, for a billable call, its
//! charge) to one committer task and waits; the committer takes everything that queued up while
//! the previous transaction was syncing, commits it as one transaction, and then answers every
//! waiting request. Durability costs one sync per batch instead of one per call, and no request
//! is answered before its write (and its debit) is committed.

use std::sync::Arc;

use oakallow_domain::Clock;
use oakallow_store::{BatchItem, Charge, RuntimeWrite, Store, StoreError, WriteOutcome};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::error::{ServiceError, ServiceResult};

/// Most writes in one transaction.
pub const MAX_BATCH: usize = 1024;
/// Writes that may wait for the committer before callers are held back.
const QUEUE_DEPTH: usize = 16 * MAX_BATCH;

type Reply = oneshot::Sender<Result<WriteOutcome, StoreError>>;

/// Handle to the committer task; cloning shares the task.
#[derive(Clone)]
pub struct Committer {
    queue: mpsc::Sender<(BatchItem, Reply)>,
}

impl Committer {
    /// Starts the committer. It stops after the last handle is dropped and every queued write
    /// has been committed (or failed); await the returned handle to wait for that.
    pub fn start(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> (Self, JoinHandle<()>) {
        let (queue, receiver) = mpsc::channel(QUEUE_DEPTH);
        let task = tokio::spawn(run(store, clock, receiver));
        (Self { queue }, task)
    }

    /// Commits `write` (charging `charge`, if any) with whatever else is waiting; returns once
    /// it is durable. `Ok(true)` if it applied, `Ok(false)` if a conditional write did not;
    /// 402 if the account cannot pay.
    pub async fn commit(&self, write: RuntimeWrite, charge: Option<Charge>) -> ServiceResult<bool> {
        let (reply, answer) = oneshot::channel();
        self.queue.send((BatchItem { write, charge }, reply)).await.map_err(|_| ServiceError::Unavailable)?;
        match answer.await {
            Ok(Ok(WriteOutcome::Applied)) => Ok(true),
            Ok(Ok(WriteOutcome::NotApplied)) => Ok(false),
            Ok(Ok(WriteOutcome::InsufficientCredits)) => Err(ServiceError::InsufficientCredits),
            Ok(Err(error)) => Err(error.into()),
            Err(_) => Err(ServiceError::Unavailable),
        }
    }
}

async fn run(store: Arc<dyn Store>, clock: Arc<dyn Clock>, mut receiver: mpsc::Receiver<(BatchItem, Reply)>) {
    let mut items = Vec::with_capacity(MAX_BATCH);
    let mut replies = Vec::with_capacity(MAX_BATCH);
    let mut incoming = Vec::with_capacity(MAX_BATCH);
    while receiver.recv_many(&mut incoming, MAX_BATCH).await > 0 {
        for (item, reply) in incoming.drain(..) {
            items.push(item);
            replies.push(reply);
        }
        match store.commit_runtime(clock.now(), std::mem::take(&mut items)).await {
            Ok(outcomes) => {
                for (reply, outcome) in replies.drain(..).zip(outcomes) {
                    // A caller that went away still had its write committed; nothing to tell it.
                    let _ = reply.send(Ok(outcome));
                }
            }
            Err(error) => {
                tracing::error!(%error, batch = items.len(), "group commit failed; every write in it is refused");
                for reply in replies.drain(..) {
                    let _ = reply.send(Err(error.clone()));
                }
            }
        }
        // Replies left over (fewer outcomes than writes would be a store bug) are dropped, and
        // their callers get an error: never a success that was not committed.
        replies.clear();
        items = Vec::with_capacity(MAX_BATCH);
    }
}
