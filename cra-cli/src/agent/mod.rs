//! The agent service that the broker client forwards to.
//!
//! Its routes are exactly the container-registry-agent accept rules, plus `/systemcheck` and
//! `/metrics`; `openapi.yaml` in this crate documents every body.
//! Registry credentials arrive on every request in `Authorization` (base64 `CR_CREDENTIALS`) and
//! are never kept.
//! Scans are queued ([`jobs`]), run by the scanner ([`engine`]) and reported to the broker
//! client ([`callback`]).

pub mod callback;
pub mod connect;
pub mod engine;
pub mod error;
pub mod image;
pub mod jobs;
pub mod metrics;
pub mod routes;
pub mod scan;
pub mod settings;
pub mod state;

#[cfg(test)]
mod tests;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

pub use error::ApiError;
pub use settings::{Settings, TlsFiles};
pub use state::AppState;

/// How long stopped scans get to send their failure callbacks after the grace period.
const REPORT_AFTER_CUT: Duration = Duration::from_secs(30);

/// Why the agent could not start or serve.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The CA bundle could not be read or parsed.
    #[error("cannot use the CA bundle {path:?}")]
    CaBundle {
        /// The configured path.
        path: PathBuf,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The HTTPS certificate or key could not be loaded.
    #[error("cannot load the HTTPS certificate and key")]
    Tls(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client")]
    HttpClient(#[source] reqwest::Error),
    /// Serving failed.
    #[error("serving HTTP failed")]
    Io(#[from] std::io::Error),
}

/// The agent's routes over `state`.
pub fn router(state: AppState) -> Router {
    let scans = Router::new()
        .route("/scan", post(scan::scan_v2))
        .route("/discover", post(scan::discover_v1))
        .layer(DefaultBodyLimit::max(scan::MAX_BODY));
    Router::new()
        .route("/healthcheck", get(routes::healthcheck))
        .route("/systemcheck", get(routes::systemcheck))
        .route("/validate-credentials", get(routes::validate_credentials))
        .route("/list", get(routes::list_repositories))
        .route("/list/{*repository}", get(routes::list_tags))
        .route("/list-paginated/{*repository}", get(routes::list_paginated))
        .route(
            "/list-with-metadata/{*repository}",
            get(routes::list_with_metadata),
        )
        .route("/image-metadata/{*image}", get(routes::image_metadata))
        .route("/get-state-identifier", get(routes::state_identifier))
        .route("/metrics", get(routes::metrics))
        .merge(scans)
        .fallback(routes::not_found)
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// Counts and logs every answer, and turns the plain-text errors axum produces itself (wrong
/// method, unreadable path or body) into the agent's JSON errors.
async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let started = Instant::now();
    let mut response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if (status.is_client_error() || status.is_server_error()) && !is_json {
        let mut headers = std::mem::take(response.headers_mut());
        headers.remove(header::CONTENT_TYPE);
        headers.remove(header::CONTENT_LENGTH);
        let body = axum::body::to_bytes(std::mem::take(response.body_mut()), 4096)
            .await
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&body);
        let message = if text.trim().is_empty() {
            status.canonical_reason().unwrap_or("error").to_owned()
        } else {
            text.trim().to_owned()
        };
        response = ApiError::new(status, error::code_of_status(status), message).into_response();
        // Keep what axum said besides the body (`Allow` on a 405, `Retry-After`).
        response.headers_mut().extend(headers);
    }
    state.metrics.request(&method, &route, status.as_u16());
    debug!(
        method,
        route,
        status = status.as_u16(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "request"
    );
    response
}

/// Serves the agent with the real registry adapters and scanner until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), AgentError> {
    let connector = Arc::new(connect::Registries::new(&settings));
    let engine = Arc::new(engine::ScanEngine::new(&settings));
    let state = AppState::new(settings, connector, engine)?;
    serve_with(listener, state, shutdown).await
}

/// Serves `state` on `listener` until `shutdown` resolves; then stops accepting work, abandons
/// (and reports) queued scans, lets running scans finish within the grace period, cuts and
/// reports the rest, and returns.
pub async fn serve_with(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), AgentError> {
    let stop = CancellationToken::new();
    let queue = state.queue.clone();
    let trigger = stop.clone();
    tokio::spawn(async move {
        shutdown.await;
        info!("shutting down: no new scans are accepted");
        queue.close();
        trigger.cancel();
    });
    let app = router(state.clone());
    let local = listener.local_addr()?;
    match state.settings.tls.clone() {
        None => {
            info!(address = %local, "agent listening (HTTP)");
            axum::serve(listener, app)
                .with_graceful_shutdown(stop.clone().cancelled_owned())
                .await?;
        }
        Some(tls) => {
            let config = tls_config(&tls)?;
            info!(address = %local, "agent listening (HTTPS)");
            let handle = axum_server::Handle::new();
            let closer = handle.clone();
            let stopped = stop.clone();
            tokio::spawn(async move {
                stopped.cancelled().await;
                closer.graceful_shutdown(Some(Duration::from_secs(30)));
            });
            let std_listener = listener.into_std()?;
            axum_server::from_tcp_rustls(std_listener, config)
                .handle(handle)
                .serve(app.into_make_service())
                .await?;
        }
    }
    // The server also ends when `shutdown` never fired (an accept error): close the queue anyway.
    state.queue.close();
    let ended = state
        .queue
        .drain(state.settings.shutdown_grace, REPORT_AFTER_CUT)
        .await;
    if ended {
        info!("every scan has finished or been reported");
    } else {
        warn!("some scans did not report before exit");
    }
    Ok(())
}

fn tls_config(tls: &TlsFiles) -> Result<axum_server::tls_rustls::RustlsConfig, AgentError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let boxed = |e: rustls::pki_types::pem::Error| AgentError::Tls(Box::new(e));
    let certs = CertificateDer::pem_file_iter(&tls.cert)
        .map_err(boxed)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(boxed)?;
    let key = PrivateKeyDer::from_pem_file(&tls.key).map_err(boxed)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| AgentError::Tls(Box::new(e)))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| AgentError::Tls(Box::new(e)))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(axum_server::tls_rustls::RustlsConfig::from_config(
        Arc::new(config),
    ))
}
