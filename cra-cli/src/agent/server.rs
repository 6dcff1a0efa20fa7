//! Serving the agent on a listener, over HTTP or HTTPS, and its orderly shutdown.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::agent::error::AgentError;
use crate::agent::router::router;
use crate::agent::settings::TlsFiles;
use crate::agent::state::AppState;

/// How long stopped scans get to send their failure callbacks after the grace period.
const REPORT_AFTER_CUT: Duration = Duration::from_secs(30);

/// Serves `state` on `listener` until `shutdown` resolves; then stops accepting work, abandons
/// (and reports) queued scans, lets running scans finish within the grace period, cuts and
/// reports the rest, and returns.
pub(crate) async fn serve_with(
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
