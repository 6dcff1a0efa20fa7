//! The agent service that the broker client forwards to, as a library.
//!
//! Its routes are exactly the container-registry-agent accept rules, plus `/systemcheck`,
//! `/ready` and `/metrics`; `openapi.yaml` in this crate documents every body.
//! Registry credentials arrive on every request in `Authorization` (base64 `CR_CREDENTIALS`) and
//! are never kept.
//! Scans are queued (`jobs`), run by an [`Engine`] over the registry a [`Connector`] builds, and
//! reported to the broker client through a durable outbox ([`outbox`]).
//!
//! The module is self-contained: it has its own [`Settings`] and errors ([`AgentError`] when it
//! cannot start, typed JSON errors for requests) and uses nothing else of the `cra` binary, so
//! another Rust tool can embed it:
//!
//! ```no_run
//! use cra_cli::agent::{Agent, Settings};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let settings = Settings {
//!     broker_client_url: Some("http://127.0.0.1:7341".parse()?),
//!     ..Settings::default()
//! };
//! let agent = Agent::builder(settings.validate()?).build()?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:17500").await?;
//! agent.serve(listener, async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(())
//! # }
//! ```
//!
//! [`Agent::router`] gives the routes alone, to mount inside another axum application (its
//! queue then runs until the process ends).

pub mod callback;
pub mod connect;
pub mod cursor;
pub mod engine;
pub mod error;
pub mod image;
pub mod jobs;
pub mod journal;
pub mod metrics;
pub mod outbox;
mod resume;
mod router;
pub mod routes;
pub mod scan;
mod server;
pub mod settings;
pub mod state;

#[cfg(test)]
mod tests;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;

pub use callback::RetryPolicy;
pub use connect::Connector;
pub use engine::Engine;
pub use error::{AgentError, ApiError};
pub use settings::{Settings, SettingsError, TlsFiles};
pub use state::AppState;

/// A configured agent, ready to serve; built with [`Agent::builder`].
#[derive(Debug, Clone)]
pub struct Agent {
    state: AppState,
}

/// Builds an [`Agent`]: settings, and optionally the registry connector and scan engine (the real
/// ones, `cra_registries::connect` and `cra_scan::Scanner`, by default).
#[derive(Debug)]
pub struct AgentBuilder {
    settings: Settings,
    connector: Option<Arc<dyn Connector>>,
    engine: Option<Arc<dyn Engine>>,
}

impl AgentBuilder {
    /// Replaces how registry clients are built from a request's credentials.
    pub fn connector(mut self, connector: Arc<dyn Connector>) -> Self {
        self.connector = Some(connector);
        self
    }

    /// Replaces the scanner.
    pub fn engine(mut self, engine: Arc<dyn Engine>) -> Self {
        self.engine = Some(engine);
        self
    }

    /// The agent; fails when the CA bundle cannot be read or the HTTP client cannot be built.
    pub fn build(self) -> Result<Agent, AgentError> {
        let connector = self
            .connector
            .unwrap_or_else(|| Arc::new(connect::Registries::new(&self.settings)));
        let engine = self
            .engine
            .unwrap_or_else(|| Arc::new(engine::ScanEngine::new(&self.settings)));
        Ok(Agent {
            state: AppState::new(self.settings, connector, engine)?,
        })
    }
}

impl Agent {
    /// A builder over validated `settings` (see [`Settings::validate`]).
    pub fn builder(settings: Settings) -> AgentBuilder {
        AgentBuilder {
            settings,
            connector: None,
            engine: None,
        }
    }

    /// The agent's routes, for mounting in another application.
    pub fn router(&self) -> Router {
        router::router(self.state.clone())
    }

    /// Serves on `listener` until `shutdown` resolves; then stops accepting work, abandons (and
    /// reports) queued scans, lets running scans finish within the grace period, cuts and
    /// reports the rest, and returns.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), AgentError> {
        server::serve_with(listener, self.state, shutdown).await
    }
}

/// Serves the agent with the real registry adapters and scanner until `shutdown` resolves; the
/// short form of [`Agent::builder`], [`AgentBuilder::build`] and [`Agent::serve`].
pub async fn serve(
    listener: TcpListener,
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), AgentError> {
    Agent::builder(settings)
        .build()?
        .serve(listener, shutdown)
        .await
}
