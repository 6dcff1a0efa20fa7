//! The state every route shares.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::agent::connect::Connector;
use crate::agent::engine::Engine;
use crate::agent::error::AgentError;
use crate::agent::jobs::JobQueue;
use crate::agent::journal::Journal;
use crate::agent::metrics::Metrics;
use crate::agent::outbox::{Outbox, OutboxSettings};
use crate::agent::settings::Settings;

/// Settings, the registry connector, the scanner, the queue, the outbox and metrics.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The validated settings.
    pub settings: Arc<Settings>,
    /// Builds a registry client per request.
    pub connector: Arc<dyn Connector>,
    /// Inspects and scans images.
    pub engine: Arc<dyn Engine>,
    /// The bounded scan queue.
    pub queue: JobQueue,
    /// Finished scans' callbacks until they are delivered.
    pub outbox: Outbox,
    /// Accepted scans until their outcome is in the outbox.
    pub journal: Journal,
    /// The counters behind `/metrics`.
    pub metrics: Arc<Metrics>,
    /// The job ids queued or running now.
    jobs: Arc<Mutex<HashSet<String>>>,
}

/// A job id in use; it is released when dropped.
#[derive(Debug)]
pub struct JobClaim {
    id: String,
    jobs: Arc<Mutex<HashSet<String>>>,
}

impl Drop for JobClaim {
    fn drop(&mut self) {
        self.jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id);
    }
}

impl AppState {
    /// State from settings and the two seams (real ones in `serve`, doubles in unit tests).
    pub fn new(
        settings: Settings,
        connector: Arc<dyn Connector>,
        engine: Arc<dyn Engine>,
    ) -> Result<Self, AgentError> {
        let metrics = Arc::new(Metrics::default());
        let client = callback_client(&settings)?;
        let outbox = Outbox::open(
            OutboxSettings {
                dir: settings.state_dir.clone(),
                max_bytes: settings.outbox_max_bytes,
                max_age: settings.outbox_max_age,
                retry: settings.callback_retry,
            },
            client,
            metrics.clone(),
        )?;
        let journal = Journal::open(outbox.dir()).map_err(AgentError::Journal)?;
        Ok(AppState {
            queue: JobQueue::new(
                settings.max_active_operations,
                settings.max_queued_operations,
            ),
            settings: Arc::new(settings),
            connector,
            engine,
            outbox,
            journal,
            metrics,
            jobs: Arc::default(),
        })
    }

    /// Claims `id` for a new scan; `None` while a scan with that id is queued or running.
    pub fn claim_job(&self, id: &str) -> Option<JobClaim> {
        let mut jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        jobs.insert(id.to_owned()).then(|| JobClaim {
            id: id.to_owned(),
            jobs: self.jobs.clone(),
        })
    }
}

/// The HTTP client for callbacks: honours the proxy variables and the extra CA bundle.
fn callback_client(settings: &Settings) -> Result<reqwest::Client, AgentError> {
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("cra-agent/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10));
    if let Some(path) = &settings.ca_bundle {
        let pem = std::fs::read(path).map_err(|source| AgentError::CaBundle {
            path: path.clone(),
            source: Box::new(source),
        })?;
        let certs =
            reqwest::Certificate::from_pem_bundle(&pem).map_err(|source| AgentError::CaBundle {
                path: path.clone(),
                source: Box::new(source),
            })?;
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    builder.build().map_err(AgentError::HttpClient)
}
