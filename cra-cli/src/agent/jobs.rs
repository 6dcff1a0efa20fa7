//! The scan queue: at most `max_active` jobs run at once, at most `max_queued` wait, in order.
//!
//! A job is a closure that receives how it starts: [`Start::Run`] when a slot is free, or
//! [`Start::Abandoned`] when the agent shuts down before it got one, so that it can still report.
//! A running job gets a [`CancellationToken`] that fires when the shutdown grace period is over.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How a queued job starts.
#[derive(Debug, Clone)]
pub enum Start {
    /// A slot is free: run, and stop early when the token fires.
    Run(CancellationToken),
    /// The agent shut down before a slot was free: report and return.
    Abandoned,
}

/// Why a job was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    /// `max_queued` jobs already wait.
    #[error("the scan queue is full")]
    Full,
    /// The agent is shutting down.
    #[error("the agent is shutting down")]
    Closed,
}

/// The queue's gauges at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueSnapshot {
    /// Jobs waiting for a slot.
    pub queued: usize,
    /// Jobs running.
    pub running: usize,
    /// The slot count.
    pub max_active: usize,
    /// The waiting bound.
    pub max_queued: usize,
}

#[derive(Debug)]
struct Inner {
    slots: Arc<Semaphore>,
    max_active: usize,
    max_queued: usize,
    queued: AtomicUsize,
    running: AtomicUsize,
    closed: AtomicBool,
    /// Fires when the agent stops accepting work: waiting jobs are abandoned.
    closing: CancellationToken,
    /// Fires when the grace period is over: running jobs are cut.
    abort: CancellationToken,
    tracker: TaskTracker,
}

/// The bounded scan queue; cheap to clone.
#[derive(Debug, Clone)]
pub struct JobQueue {
    inner: Arc<Inner>,
}

impl JobQueue {
    /// A queue running at most `max_active` jobs (at least one) with at most `max_queued` waiting.
    pub fn new(max_active: usize, max_queued: usize) -> Self {
        let max_active = max_active.max(1);
        JobQueue {
            inner: Arc::new(Inner {
                slots: Arc::new(Semaphore::new(max_active)),
                max_active,
                max_queued,
                queued: AtomicUsize::new(0),
                running: AtomicUsize::new(0),
                closed: AtomicBool::new(false),
                closing: CancellationToken::new(),
                abort: CancellationToken::new(),
                tracker: TaskTracker::new(),
            }),
        }
    }

    /// The gauges now.
    pub fn snapshot(&self) -> QueueSnapshot {
        QueueSnapshot {
            queued: self.inner.queued.load(Ordering::SeqCst),
            running: self.inner.running.load(Ordering::SeqCst),
            max_active: self.inner.max_active,
            max_queued: self.inner.max_queued,
        }
    }

    /// Queues a job; it runs in a task of its own when a slot is free.
    pub fn submit<F, Fut>(&self, job: F) -> Result<(), QueueError>
    where
        F: FnOnce(Start) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let inner = &self.inner;
        if inner.closed.load(Ordering::SeqCst) {
            return Err(QueueError::Closed);
        }
        inner
            .queued
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |q| {
                (q < inner.max_queued).then_some(q + 1)
            })
            .map_err(|_| QueueError::Full)?;
        let inner = self.inner.clone();
        self.inner.tracker.spawn(async move {
            let slot = tokio::select! {
                biased;
                _ = inner.closing.cancelled() => None,
                permit = inner.slots.clone().acquire_owned() => permit.ok(),
            };
            inner.queued.fetch_sub(1, Ordering::SeqCst);
            match slot {
                Some(_permit) => {
                    inner.running.fetch_add(1, Ordering::SeqCst);
                    let _running = RunningGuard(&inner.running);
                    job(Start::Run(inner.abort.child_token())).await;
                }
                None => job(Start::Abandoned).await,
            }
        });
        Ok(())
    }

    /// Stops accepting jobs; waiting jobs start as [`Start::Abandoned`].
    pub fn close(&self) {
        let inner = &self.inner;
        inner.closed.store(true, Ordering::SeqCst);
        inner.closing.cancel();
        inner.tracker.close();
    }

    /// Closes the queue, waits up to `grace` for running jobs to finish, then cuts them and
    /// waits up to `report` more for them to report. Returns whether every job ended.
    pub async fn drain(&self, grace: Duration, report: Duration) -> bool {
        self.close();
        let inner = &self.inner;
        if tokio::time::timeout(grace, inner.tracker.wait())
            .await
            .is_ok()
        {
            return true;
        }
        inner.abort.cancel();
        tokio::time::timeout(report, inner.tracker.wait())
            .await
            .is_ok()
    }

    /// Whether `max_queued` jobs wait already (a submission now would be refused).
    pub fn is_full(&self) -> bool {
        self.inner.queued.load(Ordering::SeqCst) >= self.inner.max_queued
    }

    /// Whether the queue still accepts jobs.
    pub fn is_open(&self) -> bool {
        !self.inner.closed.load(Ordering::SeqCst)
    }
}

struct RunningGuard<'a>(&'a AtomicUsize);

impl Drop for RunningGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    use tokio::sync::{mpsc, oneshot};

    #[tokio::test]
    async fn runs_at_most_max_active_and_bounds_the_queue() {
        let queue = JobQueue::new(2, 3);
        let peak = Arc::new(AtomicUsize::new(0));
        let (release_tx, release_rx) = tokio::sync::watch::channel(false);
        let (done_tx, mut done_rx) = mpsc::unbounded_channel();
        let mut accepted = 0;
        let mut full = 0;
        for i in 0..8 {
            let q = queue.clone();
            let peak = peak.clone();
            let mut release = release_rx.clone();
            let done = done_tx.clone();
            match queue.submit(move |start| async move {
                assert!(matches!(start, Start::Run(_)));
                let running = q.snapshot().running;
                peak.fetch_max(running, Ordering::SeqCst);
                let _ = release.wait_for(|r| *r).await;
                let _ = done.send(i);
            }) {
                Ok(()) => accepted += 1,
                Err(QueueError::Full) => full += 1,
                Err(e) => panic!("{e}"),
            }
            tokio::task::yield_now().await;
        }
        // Two run and three wait: five accepted, three refused.
        assert_eq!((accepted, full), (5, 3));
        let snap = queue.snapshot();
        assert_eq!((snap.running, snap.queued), (2, 3));
        release_tx.send(true).unwrap();
        for _ in 0..5 {
            tokio::time::timeout(Duration::from_secs(5), done_rx.recv())
                .await
                .unwrap()
                .unwrap();
        }
        assert_eq!(peak.load(Ordering::SeqCst), 2);
        tokio::time::sleep(Duration::from_millis(10)).await;
        let snap = queue.snapshot();
        assert_eq!((snap.running, snap.queued), (0, 0));
    }

    #[tokio::test]
    async fn jobs_start_in_submission_order() {
        let queue = JobQueue::new(1, 10);
        let order = Arc::new(Mutex::new(Vec::new()));
        let (done_tx, mut done_rx) = mpsc::unbounded_channel();
        for i in 0..6 {
            let order = order.clone();
            let done = done_tx.clone();
            queue
                .submit(move |_| async move {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    order.lock().unwrap().push(i);
                    let _ = done.send(());
                })
                .unwrap();
        }
        for _ in 0..6 {
            tokio::time::timeout(Duration::from_secs(5), done_rx.recv())
                .await
                .unwrap()
                .unwrap();
        }
        assert_eq!(*order.lock().unwrap(), [0, 1, 2, 3, 4, 5]);
    }

    #[tokio::test]
    async fn shutdown_abandons_waiting_jobs_and_cuts_running_ones() {
        let queue = JobQueue::new(1, 10);
        let (tx, mut rx) = mpsc::unbounded_channel::<&'static str>();
        let (started_tx, started_rx) = oneshot::channel();
        let running_tx = tx.clone();
        queue
            .submit(move |start| async move {
                let Start::Run(cancel) = start else {
                    panic!("first job must run")
                };
                let _ = started_tx.send(());
                cancel.cancelled().await;
                let _ = running_tx.send("cut");
            })
            .unwrap();
        started_rx.await.unwrap();
        let waiting_tx = tx.clone();
        queue
            .submit(move |start| async move {
                let _ = waiting_tx.send(match start {
                    Start::Run(_) => "ran",
                    Start::Abandoned => "abandoned",
                });
            })
            .unwrap();
        let ended = queue
            .drain(Duration::from_millis(50), Duration::from_secs(5))
            .await;
        assert!(ended);
        drop(tx);
        let mut events = Vec::new();
        while let Some(e) = rx.recv().await {
            events.push(e);
        }
        events.sort_unstable();
        assert_eq!(events, ["abandoned", "cut"]);
        assert_eq!(queue.submit(|_| async {}), Err(QueueError::Closed));
    }
}
