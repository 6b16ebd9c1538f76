//! The tasks a server runs beside what it serves (loms's auto-cancel and relay, the notifier's
//! consumer): each starts when the server runs, sees `true` on its receiver once shutdown has begun,
//! and is awaited before the server's `run_until` returns, so nothing a service started outlives it.
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

type Task =
    Box<dyn FnOnce(watch::Receiver<bool>) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// Tasks added, not started yet.
#[derive(Default)]
pub(crate) struct Background(Vec<(&'static str, Task)>);

impl Background {
    pub(crate) fn add<F, Fut>(&mut self, name: &'static str, task: F)
    where
        F: FnOnce(watch::Receiver<bool>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.0
            .push((name, Box::new(move |stop| Box::pin(task(stop)))));
    }

    /// Starts every task with its own receiver of `stop`.
    pub(crate) fn spawn(self, stop: &watch::Receiver<bool>) -> Running {
        let tasks = self.0.into_iter();
        Running(
            tasks
                .map(|(name, task)| (name, tokio::spawn(task(stop.clone()))))
                .collect(),
        )
    }
}

/// Tasks started.
pub(crate) struct Running(Vec<(&'static str, JoinHandle<()>)>);

impl Running {
    /// Waits until every task has ended (they were told to stop), logging those that panicked.
    pub(crate) async fn join(self) {
        let never = tokio::time::Instant::now() + Duration::from_secs(365 * 24 * 3600);
        let _ = self.join_until(never).await;
    }

    /// Waits until every task has ended (they were told to stop), logging those that panicked, but
    /// not past `deadline`: the tasks still running then are aborted, and named in the error.
    pub(crate) async fn join_until(
        self,
        deadline: tokio::time::Instant,
    ) -> Result<(), Vec<&'static str>> {
        let mut late = Vec::new();
        for (name, mut task) in self.0 {
            match tokio::time::timeout_at(deadline, &mut task).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => tracing::error!(task = name, %error, "background task failed"),
                Err(_) => {
                    tracing::error!(
                        task = name,
                        "background task still running at the drain deadline; aborted"
                    );
                    task.abort();
                    late.push(name);
                }
            }
        }
        if late.is_empty() {
            Ok(())
        } else {
            Err(late)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A task that ends when told is joined; one that does not is aborted at the deadline and named.
    #[tokio::test(start_paused = true)]
    async fn a_task_still_running_at_the_deadline_is_aborted_and_named() {
        let mut background = Background::default();
        background.add("obedient", |mut stop| async move {
            let _ = stop.wait_for(|stop| *stop).await;
        });
        let (ended, mut has_ended) = tokio::sync::oneshot::channel::<()>();
        background.add("stubborn", move |_stop| async move {
            let _ended = ended; // dropped when the task is
            std::future::pending::<()>().await;
        });
        let (stop, stopped) = watch::channel(false);
        let running = background.spawn(&stopped);
        stop.send_replace(true);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        assert_eq!(running.join_until(deadline).await, Err(vec!["stubborn"]));
        assert_eq!(
            tokio::time::Instant::now(),
            deadline,
            "waited until the deadline"
        );
        tokio::task::yield_now().await;
        let closed = tokio::sync::oneshot::error::TryRecvError::Closed;
        assert_eq!(
            has_ended.try_recv(),
            Err(closed),
            "the stubborn task was aborted"
        );
    }
}
