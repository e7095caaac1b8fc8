//! Expensive work that many requests may ask for at once (walking an org's audit chain,
//! probing the database for `/v1/health`), done at most once at a time and shared: a caller
//! gets the result of a run that started after it arrived (or, if the work allows it, one that
//! finished recently) instead of starting its own. Under a flood the work runs back to back
//! at most, never side by side, however many callers there are.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use crate::error::{ServiceError, ServiceResult};

/// The last run's number, end time and result.
type Last<T> = Option<(u64, Instant, T)>;

/// Runs of one piece of work.
pub(crate) struct SharedRuns<T> {
    started: AtomicU64,
    last: Arc<tokio::sync::Mutex<Last<T>>>,
}

impl<T> Default for SharedRuns<T> {
    fn default() -> Self {
        Self { started: AtomicU64::new(0), last: Arc::new(tokio::sync::Mutex::new(None)) }
    }
}

impl<T: Clone + Send + 'static> SharedRuns<T> {
    /// The result of `work`, from a run that started after this call or finished less than
    /// `reuse_for` ago; runs it if there is none. A run goes on to its end on its own task even
    /// if its caller goes away, so callers that disconnect cannot start runs side by side.
    pub(crate) async fn run<W>(&self, reuse_for: Duration, work: W) -> ServiceResult<T>
    where
        W: Future<Output = ServiceResult<T>> + Send + 'static,
    {
        let arrived = self.started.load(Ordering::SeqCst);
        let mut last = Arc::clone(&self.last).lock_owned().await;
        if let Some((number, finished, result)) = &*last
            && (*number > arrived || finished.elapsed() < reuse_for)
        {
            return Ok(result.clone());
        }
        let number = self.started.fetch_add(1, Ordering::SeqCst) + 1;
        let task = tokio::spawn(async move {
            let result = work.await?;
            *last = Some((number, Instant::now(), result.clone()));
            Ok(result)
        });
        task.await.map_err(|error| {
            tracing::error!(%error, "a shared run ended abnormally");
            ServiceError::Internal
        })?
    }

    /// Runs started so far.
    #[cfg(test)]
    pub(crate) fn runs(&self) -> u64 {
        self.started.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn callers_during_a_run_share_the_next_one_and_never_an_older_one() {
        let runs = Arc::new(SharedRuns::<u32>::default());
        let (release, held) = tokio::sync::oneshot::channel::<()>();
        let first = {
            let runs = Arc::clone(&runs);
            tokio::spawn(async move {
                runs.run(Duration::ZERO, async move {
                    let _ = held.await;
                    Ok(1)
                })
                .await
            })
        };
        while runs.runs() == 0 {
            tokio::task::yield_now().await;
        }
        let later = (0..5).map(|n| runs.run(Duration::ZERO, async move { Ok(10 + n) }));
        let (_, later, first) = tokio::join!(async { release.send(()) }, futures_util::future::join_all(later), first);
        assert_eq!(first.unwrap().unwrap(), 1);
        let later: Vec<u32> = later.into_iter().map(Result::unwrap).collect();
        assert_eq!(later, vec![10; 5], "the five waiting callers share one new run, not the one running when they came");
        assert_eq!(runs.runs(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_recent_result_is_reused_within_its_age() {
        let runs = SharedRuns::<u32>::default();
        assert_eq!(runs.run(Duration::from_secs(1), async { Ok(1) }).await, Ok(1));
        assert_eq!(runs.run(Duration::from_secs(1), async { Ok(2) }).await, Ok(1), "fresh enough");
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(runs.run(Duration::from_secs(1), async { Ok(3) }).await, Ok(3), "too old");
        let failed = runs.run(Duration::ZERO, async { Err(ServiceError::Unavailable) }).await;
        assert_eq!(failed, Err(ServiceError::Unavailable), "a failure is not kept");
        assert_eq!(runs.run(Duration::from_secs(1), async { Ok(4) }).await, Ok(3), "the last success is");
    }
}
