//! The state every route shares.

use std::sync::Arc;
use std::time::Duration;

use crate::agent::callback::Callbacks;
use crate::agent::connect::Connector;
use crate::agent::engine::Engine;
use crate::agent::error::AgentError;
use crate::agent::jobs::JobQueue;
use crate::agent::metrics::Metrics;
use crate::agent::settings::Settings;

/// Settings, the registry connector, the scanner, the queue, callbacks and metrics.
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
    /// The callback sender.
    pub callbacks: Callbacks,
    /// The counters behind `/metrics`.
    pub metrics: Arc<Metrics>,
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
        let callbacks = Callbacks::new(
            client,
            settings.broker_client_url.clone(),
            settings.callback_retry,
            metrics.clone(),
        );
        Ok(AppState {
            queue: JobQueue::new(
                settings.max_active_operations,
                settings.max_queued_operations,
            ),
            settings: Arc::new(settings),
            connector,
            engine,
            callbacks,
            metrics,
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
