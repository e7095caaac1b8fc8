//! Group commit for runtime writes. Each request hands its write to one committer task and
//! waits; the committer takes everything that queued up while the previous transaction was
//! syncing, commits it as one transaction, and then answers every waiting request. Durability
//! costs one sync per batch instead of one per call, and no request is answered before its
//! write is committed.

use std::sync::Arc;

use oakallow_store::{RuntimeWrite, Store, StoreError};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::error::{ServiceError, ServiceResult};

/// Most writes in one transaction.
pub const MAX_BATCH: usize = 1024;
/// Writes that may wait for the committer before callers are held back.
const QUEUE_DEPTH: usize = 16 * MAX_BATCH;

type Reply = oneshot::Sender<Result<bool, StoreError>>;

/// Handle to the committer task; cloning shares the task.
#[derive(Clone)]
pub struct Committer {
    queue: mpsc::Sender<(RuntimeWrite, Reply)>,
}

impl Committer {
    /// Starts the committer. It stops after the last handle is dropped and every queued write
    /// has been committed (or failed); await the returned handle to wait for that.
    pub fn start(store: Arc<dyn Store>) -> (Self, JoinHandle<()>) {
        let (queue, receiver) = mpsc::channel(QUEUE_DEPTH);
        let task = tokio::spawn(run(store, receiver));
        (Self { queue }, task)
    }

    /// Commits `write` with whatever else is waiting; returns once it is durable, answering
    /// whether a conditional write applied (always `true` for unconditional ones).
    pub async fn commit(&self, write: RuntimeWrite) -> ServiceResult<bool> {
        let (reply, answer) = oneshot::channel();
        self.queue.send((write, reply)).await.map_err(|_| ServiceError::Unavailable)?;
        match answer.await {
            Ok(result) => result.map_err(ServiceError::from),
            Err(_) => Err(ServiceError::Unavailable),
        }
    }
}

async fn run(store: Arc<dyn Store>, mut receiver: mpsc::Receiver<(RuntimeWrite, Reply)>) {
    let mut writes = Vec::with_capacity(MAX_BATCH);
    let mut replies = Vec::with_capacity(MAX_BATCH);
    let mut incoming = Vec::with_capacity(MAX_BATCH);
    while receiver.recv_many(&mut incoming, MAX_BATCH).await > 0 {
        for (write, reply) in incoming.drain(..) {
            writes.push(write);
            replies.push(reply);
        }
        match store.commit_runtime(&writes).await {
            Ok(applied) => {
                for (reply, applied) in replies.drain(..).zip(applied) {
                    // A caller that went away still had its write committed; nothing to tell it.
                    let _ = reply.send(Ok(applied));
                }
            }
            Err(error) => {
                tracing::error!(%error, batch = writes.len(), "group commit failed; every write in it is refused");
                for reply in replies.drain(..) {
                    let _ = reply.send(Err(error.clone()));
                }
            }
        }
        writes.clear();
    }
}
