//! Group commit for runtime writes. Each request hands its write (and, for a billable call, its
//! charge) to one committer task and waits; the committer takes everything that queued up while
//! the previous transaction was syncing, commits it as one transaction, and then answers every
//! waiting request. Durability costs one sync per batch instead of one per call, and no request
//! is answered before its write (and its debit) is committed.
//!
//! One bad write must not fail the unrelated writes it shares a batch with: when the store
//! refuses a batch for a reason a single write can cause, the batch is split in halves and each
//! half committed on its own, down to the write at fault, which alone gets the error. A store
//! transaction is all or nothing, so retrying the parts of a refused batch writes each entry
//! once, in batch order, and the hash chain stays exact. An unreachable database is not split:
//! every write of the batch fails at once.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use oakallow_domain::Clock;
use oakallow_store::{BatchItem, Charge, RuntimeWrite, Store, StoreError, WriteOutcome};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::error::{ServiceError, ServiceResult};
use crate::metrics::Metrics;

/// Most writes in one transaction.
pub const MAX_BATCH: usize = 1024;
/// Writes that may wait for the committer before callers are held back.
const QUEUE_DEPTH: usize = 16 * MAX_BATCH;

type Reply = oneshot::Sender<Result<WriteOutcome, StoreError>>;

/// Handle to the committer task; cloning shares the task.
#[derive(Clone)]
pub struct Committer {
    queue: mpsc::Sender<(BatchItem, Reply)>,
    metrics: Arc<Metrics>,
}

impl Committer {
    /// Starts the committer. It stops after the last handle is dropped and every queued write
    /// has been committed (or failed); await the returned handle to wait for that.
    /// Each transaction is counted in `metrics`.
    pub fn start(store: Arc<dyn Store>, clock: Arc<dyn Clock>, metrics: Arc<Metrics>) -> (Self, JoinHandle<()>) {
        let (queue, receiver) = mpsc::channel(QUEUE_DEPTH);
        let task = tokio::spawn(run(store, clock, Arc::clone(&metrics), receiver));
        (Self { queue, metrics }, task)
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
            Ok(Ok(WriteOutcome::InsufficientCredits)) => {
                self.metrics.credit_refused();
                Err(ServiceError::InsufficientCredits)
            }
            Ok(Err(error)) => Err(error.into()),
            Err(_) => Err(ServiceError::Unavailable),
        }
    }

    /// Writes waiting for the committer (not yet in a transaction).
    pub fn queued(&self) -> usize {
        self.queue.max_capacity() - self.queue.capacity()
    }
}

async fn run(store: Arc<dyn Store>, clock: Arc<dyn Clock>, metrics: Arc<Metrics>, mut receiver: mpsc::Receiver<(BatchItem, Reply)>) {
    let mut incoming = Vec::with_capacity(MAX_BATCH);
    while receiver.recv_many(&mut incoming, MAX_BATCH).await > 0 {
        let (items, replies): (Vec<BatchItem>, Vec<Reply>) = incoming.drain(..).unzip();
        let started = Instant::now();
        let writes = items.len();
        let results = commit_isolating(store.as_ref(), clock.as_ref(), items.into()).await;
        metrics.batch_committed(writes, started.elapsed(), results.len() < writes || results.iter().any(Result::is_err));
        // Every reply gets the result of its own write; a store answering fewer outcomes than
        // writes (a bug) leaves the rest without one, and their callers get an error: never a
        // success that was not committed. A caller that went away still had its write
        // committed; nothing to tell it.
        for (reply, result) in replies.into_iter().zip(results) {
            let _ = reply.send(result);
        }
    }
}

/// Commits `batch`, splitting it when the store refuses it, so that only the writes at fault
/// fail. Answers one result per write, in batch order.
async fn commit_isolating(store: &dyn Store, clock: &dyn Clock, batch: Arc<[BatchItem]>) -> Vec<Result<WriteOutcome, StoreError>> {
    let mut results = Vec::with_capacity(batch.len());
    let mut parts = VecDeque::from([batch]);
    while let Some(part) = parts.pop_front() {
        match store.commit_runtime(clock.now(), Arc::clone(&part)).await {
            Ok(outcomes) if outcomes.len() == part.len() => results.extend(outcomes.into_iter().map(Ok)),
            Ok(outcomes) => {
                tracing::error!(writes = part.len(), outcomes = outcomes.len(), "the store answered a batch incompletely");
                return results;
            }
            Err(error) if part.len() > 1 && one_write_can_cause(&error) => {
                tracing::warn!(%error, writes = part.len(), "group commit refused; committing its halves separately");
                let (left, right) = part.split_at(part.len() / 2);
                parts.push_front(right.into());
                parts.push_front(left.into());
            }
            Err(error) => {
                tracing::error!(%error, writes = part.len(), "group commit failed; its writes are refused");
                results.extend(std::iter::repeat_n(Err(error), part.len()));
            }
        }
    }
    results
}

/// Whether a refused batch may succeed without one of its writes. An unreachable database
/// fails every write alike (and may not even say whether the commit happened), so it is
/// answered at once instead of being retried in parts.
fn one_write_can_cause(error: &StoreError) -> bool {
    !matches!(error, StoreError::Unavailable(_))
}
