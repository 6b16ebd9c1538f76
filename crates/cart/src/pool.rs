//! A worker pool for one batch of jobs: at most `workers` jobs run at once, results come back in input
//! order, and the batch ends — every job finished or stopped — before `map` returns.
//!
//! How it works. `map` puts the inputs, numbered, in a shared queue, and spawns
//! `min(workers, inputs)` worker tasks into a [`JoinSet`] that `map` owns. A worker takes the next
//! input from the queue, awaits its job, keeps the result, and takes another, until the queue is
//! empty or its job fails; then it returns what it has. `map` joins the workers one by one and puts
//! every result in its input's place.
//!
//! Guarantees, and what they rest on:
//! - **Bounded**: only the worker tasks run jobs, one job each at a time, and there are at most
//!   `workers` of them.
//! - **Input order**: each result carries its input's index; `map` writes it to that slot. Completion
//!   order does not matter.
//! - **First error wins, the rest is cancelled**: a worker whose job fails returns at once with the
//!   error; `map` sees it when it joins that worker and then shuts the set down — aborting every other
//!   worker, and with it the job it was awaiting — and returns the error. Inputs still queued are
//!   never started.
//! - **Nothing outlives the call**: `map` returns only after every worker was joined, or aborted *and*
//!   joined (`JoinSet::shutdown` waits for aborted tasks to end). If the caller drops `map`'s future
//!   instead (its own call was cancelled), the `JoinSet` is dropped with it, which aborts every worker.
//! - **A panic is an error, not a hang**: a panicking job ends its worker's task; the join reports the
//!   panic, which `map` turns into [`PoolError::Panicked`] after shutting the rest down.
//! - **In the caller's span**: each worker runs within the span current when `map` is called, so a
//!   job's log lines name the request and its spans (cart's calls to product-service) are children
//!   of the request's in its trace. A spawned task would otherwise start with no span at all.
//! - **No deadlock**: the queue's lock is a std mutex held only to pop one input, never across an
//!   `.await`; workers share nothing else, and `map` waits only on the `JoinSet`, which every worker
//!   task reaches by returning, panicking or being aborted.
use std::future::Future;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use tokio::task::JoinSet;
use tracing::Instrument as _;

/// A batch of jobs could not complete.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PoolError<E> {
    /// A job failed; the others were cancelled.
    #[error("a job failed")]
    Job(E),
    /// A job panicked; the others were cancelled.
    #[error("a job panicked: {0}")]
    Panicked(String),
}

/// Runs batches of jobs on at most `workers` tasks at a time.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WorkerPool {
    workers: NonZeroUsize,
}

impl WorkerPool {
    pub(crate) fn new(workers: NonZeroUsize) -> Self {
        Self { workers }
    }

    /// Runs `job` on every input, at most `workers` at once, and returns the outputs in input order —
    /// or the first error, once every other job has stopped.
    pub(crate) async fn map<I, T, E, F, Fut>(
        &self,
        inputs: Vec<I>,
        job: F,
    ) -> Result<Vec<T>, PoolError<E>>
    where
        I: Send + 'static,
        T: Send + 'static,
        E: Send + 'static,
        F: Fn(I) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
    {
        let count = inputs.len();
        let queue = Arc::new(Mutex::new(inputs.into_iter().enumerate()));
        let job = Arc::new(job);
        let mut workers = JoinSet::new();
        for _ in 0..self.workers.get().min(count) {
            let (queue, job) = (queue.clone(), job.clone());
            workers.spawn(
                async move {
                    let mut done = Vec::new();
                    loop {
                        // Popped under the lock, awaited outside it.
                        let next = queue.lock().unwrap_or_else(|p| p.into_inner()).next();
                        let Some((index, input)) = next else {
                            return Ok(done);
                        };
                        match job(input).await {
                            Ok(output) => done.push((index, output)),
                            Err(error) => return Err(error),
                        }
                    }
                }
                .in_current_span(),
            );
        }

        let mut slots: Vec<Option<T>> = std::iter::repeat_with(|| None).take(count).collect();
        while let Some(joined) = workers.join_next().await {
            let failure = match joined {
                Ok(Ok(done)) => {
                    for (index, output) in done {
                        slots[index] = Some(output);
                    }
                    continue;
                }
                Ok(Err(error)) => PoolError::Job(error),
                Err(join_error) if join_error.is_panic() => {
                    PoolError::Panicked(panic_message(join_error.into_panic()))
                }
                // Only `map` aborts its workers, and it returns before joining one it aborted.
                Err(join_error) => PoolError::Panicked(join_error.to_string()),
            };
            workers.shutdown().await;
            return Err(failure);
        }
        // Every worker returned Ok, so every input was popped and its output stored.
        Ok(slots.into_iter().flatten().collect())
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    fn pool(workers: usize) -> WorkerPool {
        WorkerPool::new(NonZeroUsize::new(workers).expect("positive"))
    }

    /// Counts jobs that have started and jobs alive (started, not yet dropped).
    #[derive(Clone, Default)]
    struct Census {
        started: Arc<AtomicUsize>,
        alive: Arc<AtomicUsize>,
        peak: Arc<AtomicUsize>,
    }

    struct Alive(Arc<AtomicUsize>);

    impl Drop for Alive {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::SeqCst);
        }
    }

    impl Census {
        fn enter(&self) -> Alive {
            self.started.fetch_add(1, Ordering::SeqCst);
            let now = self.alive.fetch_add(1, Ordering::SeqCst) + 1;
            self.peak.fetch_max(now, Ordering::SeqCst);
            Alive(self.alive.clone())
        }
        fn alive(&self) -> usize {
            self.alive.load(Ordering::SeqCst)
        }
    }

    #[tokio::test(start_paused = true)]
    async fn results_come_in_input_order_with_bounded_concurrency() {
        let census = Census::default();
        let watched = census.clone();
        let inputs: Vec<u64> = (0..20).collect();
        let outputs = pool(3)
            .map(inputs, move |i| {
                let alive = watched.enter();
                async move {
                    // later inputs finish first
                    tokio::time::sleep(Duration::from_millis(100 - i * 5)).await;
                    drop(alive);
                    Ok::<_, ()>(i * 10)
                }
            })
            .await;
        assert_eq!(outputs, Ok((0..20).map(|i| i * 10).collect()));
        assert_eq!(census.peak.load(Ordering::SeqCst), 3);
        assert_eq!(census.alive(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_error_cancels_the_rest_and_nothing_outlives_the_call() {
        let census = Census::default();
        let watched = census.clone();
        let result = pool(4)
            .map((0..100).collect::<Vec<u64>>(), move |i| {
                let alive = watched.enter();
                async move {
                    let _alive = alive;
                    if i == 5 {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        return Err(format!("job {i} failed"));
                    }
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    Ok(i)
                }
            })
            .await;
        assert_eq!(result, Err(PoolError::Job("job 5 failed".to_owned())));
        assert_eq!(census.alive(), 0, "every job stopped before map returned");
        assert!(
            census.started.load(Ordering::SeqCst) < 100,
            "queued inputs were not started"
        );
    }

    /// Caught with its mechanism removed: without `in_current_span`, the jobs see no span.
    #[tokio::test]
    async fn jobs_run_in_the_callers_span() {
        // a subscriber for this thread, which the current-thread runtime's tasks all run on
        let _subscriber = tracing::subscriber::set_default(tracing_subscriber::registry());
        let caller = tracing::info_span!("caller");
        let pool = pool(3);
        let jobs = pool.map((0..10).collect(), |_: usize| async {
            Ok::<_, ()>(tracing::Span::current().id())
        });
        let seen = jobs.instrument(caller.clone()).await.expect("no job fails");
        assert!(caller.id().is_some());
        assert!(seen.iter().all(|span| *span == caller.id()), "{seen:?}");
    }

    #[tokio::test]
    async fn a_panicking_job_is_an_error_not_a_hang() {
        let census = Census::default();
        let watched = census.clone();
        let result = pool(2)
            .map(vec![1, 2, 3, 4], move |i: u32| {
                let alive = watched.enter();
                async move {
                    let _alive = alive;
                    if i == 2 {
                        panic!("job two exploded");
                    }
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    Ok::<_, ()>(i)
                }
            })
            .await;
        assert_eq!(
            result,
            Err(PoolError::Panicked("job two exploded".to_owned()))
        );
        assert_eq!(census.alive(), 0);
    }

    #[tokio::test]
    async fn dropping_the_call_cancels_every_job() {
        let census = Census::default();
        let watched = census.clone();
        let call = tokio::spawn(async move {
            pool(4)
                .map((0..10).collect::<Vec<u32>>(), move |i| {
                    let alive = watched.enter();
                    async move {
                        let _alive = alive;
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                        Ok::<_, ()>(i)
                    }
                })
                .await
        });
        tokio::time::timeout(Duration::from_secs(10), async {
            while census.alive() < 4 {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("four jobs running");
        call.abort();
        let _ = call.await;
        tokio::time::timeout(Duration::from_secs(10), async {
            while census.alive() > 0 {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("every job dropped with the call");
        assert_eq!(
            census.started.load(Ordering::SeqCst),
            4,
            "no job started after the drop"
        );
    }

    #[tokio::test]
    async fn an_empty_batch_is_empty() {
        let outputs = pool(3)
            .map(Vec::<u8>::new(), |i| async move { Ok::<_, ()>(i) })
            .await;
        assert_eq!(outputs, Ok(vec![]));
    }

    mod property {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]

            /// Whatever the latencies, failures and pool size: success returns every output in input
            /// order; any failure returns one of the failing jobs' errors; either way no job is alive
            /// afterwards and never more than `workers` ran at once.
            #[test]
            fn behaves_like_a_bounded_ordered_map(
                jobs in prop::collection::vec((0u64..50, prop::bool::weighted(0.1)), 0..40),
                workers in 1usize..8,
            ) {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_time()
                    .start_paused(true)
                    .build()
                    .expect("runtime");
                let census = Census::default();
                let watched = census.clone();
                let spec = jobs.clone();
                let result = runtime.block_on(pool(workers).map(
                    (0..jobs.len()).collect::<Vec<usize>>(),
                    move |i| {
                        let (latency, fails) = spec[i];
                        let alive = watched.enter();
                        async move {
                            let _alive = alive;
                            tokio::time::sleep(Duration::from_millis(latency)).await;
                            if fails { Err(i) } else { Ok(i * 2) }
                        }
                    },
                ));
                let failing: Vec<usize> = jobs.iter().enumerate().filter(|(_, j)| j.1).map(|(i, _)| i).collect();
                match result {
                    Ok(outputs) => {
                        prop_assert!(failing.is_empty());
                        prop_assert_eq!(outputs, (0..jobs.len()).map(|i| i * 2).collect::<Vec<_>>());
                    }
                    Err(PoolError::Job(i)) => prop_assert!(failing.contains(&i)),
                    Err(other) => prop_assert!(false, "unexpected {:?}", other),
                }
                prop_assert_eq!(census.alive(), 0);
                prop_assert!(census.peak.load(Ordering::SeqCst) <= workers);
            }
        }
    }
}
