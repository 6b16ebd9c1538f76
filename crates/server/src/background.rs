//! The tasks a server runs beside what it serves (loms's auto-cancel and relay, the notifier's
//! consumer): each starts when the server runs, sees `true` on its receiver once shutdown has begun,
//! and is awaited before the server's `run_until` returns, so nothing a service started outlives it.
use std::future::Future;
use std::pin::Pin;

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
        for (name, task) in self.0 {
            if let Err(error) = task.await {
                tracing::error!(task = name, %error, "background task failed");
            }
        }
    }
}
