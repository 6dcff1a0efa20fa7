//! The durable outbox: finished scans' callbacks, kept on disk until the broker client has them.
//!
//! A scan ends by writing its result to the state directory (`CRA_STATE_DIR`) with `fsync`
//! ([`store`]); its queue slot is free from then on.
//! A sender task per entry, independent of the scan slots, posts the result and then the done
//! notice, in that order, with exponential backoff while the receiver is down; the entry records
//! that the result went through, and is removed once the done notice did.
//! Entries survive restarts: the agent resumes every entry it finds when it starts.
//! An entry older than the age bound is dropped, and when the directory holds more than the
//! size bound the oldest entries are dropped first; both count as expired.
//!
//! Delivery is exactly once per callback when the agent stops in an orderly way (an attempt in
//! flight at shutdown is finished and recorded before the agent exits).
//! After a crash between the receiver's answer and the record on disk, that one callback is sent
//! again: the receiver is expected to treat a second callback with the same `jobId` as the same
//! result (the platform keys imports by job id).

pub mod store;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use crate::agent::callback::{
    self, Attempt, DoneBody, RetryPolicy, Status, V1_RESULT, V2_DONE, V2_RESULT,
};
use crate::agent::metrics::Metrics;
use store::{Header, LoadError, ResultRoute};

/// How many callbacks are in flight at once, whatever the number of pending entries.
const CONCURRENT_ATTEMPTS: usize = 4;

/// Where the outbox lives and how much it may hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxSettings {
    /// The directory; `None` is a private temporary directory removed when the agent is
    /// dropped (nothing survives a restart then).
    pub dir: Option<PathBuf>,
    /// The most bytes the entries may take; beyond it the oldest are dropped.
    pub max_bytes: u64,
    /// The oldest an entry may get before it is dropped undelivered.
    pub max_age: Duration,
    /// The backoff between attempts.
    pub retry: RetryPolicy,
}

impl Default for OutboxSettings {
    fn default() -> Self {
        OutboxSettings {
            dir: None,
            max_bytes: 512 * 1024 * 1024,
            max_age: Duration::from_secs(24 * 3600),
            retry: RetryPolicy::default(),
        }
    }
}

/// Why the outbox cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    /// The state directory cannot be created or read.
    #[error("cannot use the state directory {path:?}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// An entry cannot be written.
    #[error("cannot write the callback of job {job_id} to the state directory")]
    Write {
        /// The job.
        job_id: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// One finished scan to report.
#[derive(Debug)]
pub struct Report {
    /// The header (job, image, outcome, callback base, route).
    pub header: Header,
    /// The serialised result body.
    pub body: Vec<u8>,
}

/// A report on disk whose delivery has not started; [`Kept::send`] starts it (an entry never
/// sent is delivered on the next start).
#[derive(Debug)]
#[must_use = "the report is delivered only once sent"]
pub struct Kept {
    outbox: Outbox,
    name: String,
}

impl Kept {
    /// Starts delivering the report.
    pub fn send(self) {
        self.outbox.spawn(self.name);
    }
}

#[derive(Debug)]
struct Inner {
    dir: PathBuf,
    /// Keeps a private temporary directory alive as long as the outbox.
    _temporary: Option<tempfile::TempDir>,
    settings: OutboxSettings,
    client: reqwest::Client,
    metrics: Arc<Metrics>,
    /// Pending entries by name, with their sizes.
    pending: Mutex<BTreeMap<String, u64>>,
    seq: AtomicU64,
    /// The entries found at open, until [`Outbox::start`] resumes them.
    found: Mutex<Vec<String>>,
    started: AtomicBool,
    stop: CancellationToken,
    tracker: TaskTracker,
    attempts: Semaphore,
}

/// The outbox; cheap to clone.
#[derive(Debug, Clone)]
pub struct Outbox {
    inner: Arc<Inner>,
}

impl Outbox {
    /// Opens (creating it if needed) the outbox directory and lists what a previous run left;
    /// [`Outbox::start`] resumes it.
    pub fn open(
        settings: OutboxSettings,
        client: reqwest::Client,
        metrics: Arc<Metrics>,
    ) -> Result<Outbox, OutboxError> {
        let (dir, temporary) = match &settings.dir {
            Some(dir) => (dir.clone(), None),
            None => {
                let temporary = tempfile::Builder::new()
                    .prefix("cra-agent-")
                    .tempdir()
                    .map_err(|source| OutboxError::Dir {
                        path: std::env::temp_dir(),
                        source,
                    })?;
                (temporary.path().to_owned(), Some(temporary))
            }
        };
        let dir_error = |source| OutboxError::Dir {
            path: dir.clone(),
            source,
        };
        store::prepare(&dir).map_err(dir_error)?;
        let pending = store::list(&dir).map_err(dir_error)?;
        if !pending.is_empty() {
            info!(
                entries = pending.len(),
                "resuming the callbacks of an earlier run"
            );
        }
        Ok(Outbox {
            inner: Arc::new(Inner {
                dir,
                _temporary: temporary,
                settings,
                client,
                metrics,
                found: Mutex::new(pending.iter().map(|(name, _)| name.clone()).collect()),
                pending: Mutex::new(pending.into_iter().collect()),
                seq: AtomicU64::new(0),
                started: AtomicBool::new(false),
                stop: CancellationToken::new(),
                tracker: TaskTracker::new(),
                attempts: Semaphore::new(CONCURRENT_ATTEMPTS),
            }),
        })
    }

    /// Starts delivering the entries found at open; later calls do nothing.
    pub fn start(&self) {
        if self.inner.started.swap(true, Ordering::SeqCst) {
            return;
        }
        // Entries pushed since open are being delivered already.
        let found = std::mem::take(
            &mut *self
                .inner
                .found
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        for name in found {
            self.spawn(name);
        }
    }

    /// The directory the outbox keeps its entries in (the state directory).
    pub fn dir(&self) -> &std::path::Path {
        &self.inner.dir
    }

    /// How many entries wait for delivery.
    pub fn pending(&self) -> usize {
        self.lock().len()
    }

    /// Writes `report` durably and starts delivering it.
    pub async fn push(&self, report: Report) -> Result<(), OutboxError> {
        self.keep(report).await?.send();
        Ok(())
    }

    /// Whether an entry for `job_id` waits for delivery.
    pub fn holds_job(&self, job_id: &str) -> bool {
        self.lock()
            .keys()
            .any(|name| store::job_of(name) == Some(job_id))
    }

    /// Writes `report` durably; its delivery starts when the answer is sent, so that the caller
    /// can first drop what the report replaces (the scan's journal entry).
    pub async fn keep(&self, report: Report) -> Result<Kept, OutboxError> {
        let seq = self.inner.seq.fetch_add(1, Ordering::SeqCst);
        let name = store::file_name(report.header.created_ms, seq, &report.header.job_id);
        let dir = self.inner.dir.clone();
        let job_id = report.header.job_id.clone();
        let file = name.clone();
        let written = tokio::task::spawn_blocking(move || {
            store::write(&dir, &file, &report.header, &report.body)
        })
        .await
        .unwrap_or_else(|join| Err(std::io::Error::other(join)))
        .map_err(|source| OutboxError::Write { job_id, source })?;
        self.lock().insert(name.clone(), written);
        self.evict_beyond_size().await;
        Ok(Kept {
            outbox: self.clone(),
            name,
        })
    }

    /// Waits until every entry has been delivered or dropped, at most `limit`; returns whether
    /// the outbox is empty.
    pub async fn flush(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        while self.pending() > 0 {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        true
    }

    /// Stops the senders: waiting ones at once, one in flight once its attempt ended (at most
    /// `wait`). Undelivered entries stay on disk for the next start.
    pub async fn stop(&self, wait: Duration) -> bool {
        self.inner.stop.cancel();
        self.inner.tracker.close();
        tokio::time::timeout(wait, self.inner.tracker.wait())
            .await
            .is_ok()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, u64>> {
        // A panic while holding the lock leaves a map that is still consistent.
        self.inner
            .pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn spawn(&self, name: String) {
        let outbox = self.clone();
        self.inner
            .tracker
            .spawn(async move { outbox.deliver(name).await });
    }

    /// Drops the oldest entries while the outbox holds more than its size bound (the newest
    /// entry always stays).
    async fn evict_beyond_size(&self) {
        let victims: Vec<String> = {
            let pending = self.lock();
            let mut total: u64 = pending.values().sum();
            let mut victims = Vec::new();
            for (name, size) in pending.iter().take(pending.len().saturating_sub(1)) {
                if total <= self.inner.settings.max_bytes {
                    break;
                }
                total -= size;
                victims.push(name.clone());
            }
            victims
        };
        for name in victims {
            warn!("the outbox is full: dropping its oldest callback");
            self.drop_entry(&name, true).await;
        }
    }

    /// Removes an entry; `expired` counts it as dropped undelivered.
    async fn drop_entry(&self, name: &str, expired: bool) {
        let dir = self.inner.dir.clone();
        let file = name.to_owned();
        let removed = tokio::task::spawn_blocking(move || store::remove(&dir, &file)).await;
        if !matches!(removed, Ok(Ok(()))) {
            warn!(
                path = %store::path(&self.inner.dir, name).display(),
                "cannot remove a callback entry"
            );
        }
        if self.lock().remove(name).is_some() && expired {
            self.inner.metrics.callback_expired();
        }
    }

    async fn load(&self, name: &str) -> Result<store::Entry, LoadError> {
        let dir = self.inner.dir.clone();
        let file = name.to_owned();
        tokio::task::spawn_blocking(move || store::load(&dir, &file))
            .await
            .unwrap_or_else(|join| Err(LoadError::Io(std::io::Error::other(join))))
    }

    async fn rewrite(&self, name: &str, header: &Header) -> std::io::Result<()> {
        let dir = self.inner.dir.clone();
        let file = name.to_owned();
        let header = header.clone();
        let size = tokio::task::spawn_blocking(move || store::write(&dir, &file, &header, &[]))
            .await
            .unwrap_or_else(|join| Err(std::io::Error::other(join)))?;
        if let Some(entry) = self.lock().get_mut(name) {
            *entry = size;
        }
        Ok(())
    }

    /// Delivers one entry: the result, then the done notice, each retried until delivered,
    /// refused, expired or stopped.
    async fn deliver(&self, name: String) {
        let mut waits = self.inner.settings.retry.backoff();
        loop {
            if self.inner.stop.is_cancelled() {
                return;
            }
            let entry = match self.load(&name).await {
                Ok(entry) => entry,
                Err(LoadError::Gone) => {
                    self.lock().remove(&name);
                    return;
                }
                Err(err) => {
                    warn!(error = %err, "dropping a callback entry that cannot be read");
                    self.drop_entry(&name, true).await;
                    return;
                }
            };
            let mut header = entry.header;
            let age = store::now_ms().saturating_sub(header.created_ms);
            if u128::from(age) > self.inner.settings.max_age.as_millis() {
                warn!(job = %header.job_id, "a callback expired undelivered");
                self.drop_entry(&name, true).await;
                return;
            }
            let (path, body) = if header.result_sent {
                (V2_DONE, done_body(&header))
            } else {
                (result_path(header.route), Bytes::from(entry.body))
            };
            let outcome = {
                let _permit = self.inner.attempts.acquire().await;
                if self.inner.stop.is_cancelled() {
                    return;
                }
                callback::attempt(
                    &self.inner.client,
                    &header.base,
                    path,
                    body,
                    self.inner.settings.retry.request_timeout,
                )
                .await
            };
            match outcome {
                Attempt::Retry { reason, asked } => {
                    self.inner.metrics.callback_retry();
                    let wait = asked
                        .unwrap_or_else(|| waits.next().unwrap_or(Duration::from_secs(60)))
                        .min(self.inner.settings.retry.max_backoff);
                    debug!(job = %header.job_id, path, reason = %reason, wait_ms = wait.as_millis() as u64, "callback failed; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = self.inner.stop.cancelled() => return,
                    }
                    continue;
                }
                Attempt::Delivered => {
                    self.inner.metrics.callback(true);
                    debug!(job = %header.job_id, path, "callback delivered");
                }
                Attempt::Refused(status) => {
                    self.inner.metrics.callback(false);
                    warn!(job = %header.job_id, path, status, "callback refused; not retrying");
                }
            }
            if header.result_sent {
                self.drop_entry(&name, false).await;
                return;
            }
            header.result_sent = true;
            header.result_delivered = matches!(outcome, Attempt::Delivered);
            if let Err(err) = self.rewrite(&name, &header).await {
                warn!(job = %header.job_id, error = %err, "cannot record a delivered result");
            }
            waits = self.inner.settings.retry.backoff();
        }
    }
}

fn result_path(route: ResultRoute) -> &'static str {
    match route {
        ResultRoute::V1 => V1_RESULT,
        ResultRoute::V2 => V2_RESULT,
    }
}

fn done_body(header: &Header) -> Bytes {
    let body = DoneBody {
        job_id: &header.job_id,
        image: &header.image,
        status: if header.success {
            Status::Success
        } else {
            Status::Failed
        },
        result_delivered: header.result_delivered,
    };
    Bytes::from(serde_json::to_vec(&body).unwrap_or_default())
}
