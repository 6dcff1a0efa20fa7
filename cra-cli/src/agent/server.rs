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

/// How long scans cut at the end of the grace period get to put their failure in the outbox.
const REPORT_AFTER_CUT: Duration = Duration::from_secs(3);
/// How long open connections get to finish once everything else has stopped.
const CLOSE_CONNECTIONS: Duration = Duration::from_secs(2);

/// Serves `state` on `listener` until `shutdown` resolves; then answers 503 `shutting_down`
/// (but for liveness and metrics), abandons (and reports) queued scans, lets running scans
/// finish within the grace period, cuts and reports the rest, stops the callback senders
/// (undelivered callbacks stay in the state directory), and returns.
pub(crate) async fn serve_with(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), AgentError> {
    // What an earlier run accepted and did not finish is queued first, then delivery resumes.
    crate::agent::resume::resume(&state).await;
    state.outbox.start();
    let app = router(state.clone());
    let local = listener.local_addr()?;
    let close = CancellationToken::new();
    let tls = state
        .settings
        .tls
        .clone()
        .map(|t| tls_config(&t))
        .transpose()?;
    let closed = close.clone();
    let mut server = tokio::spawn(async move {
        match tls {
            None => {
                info!(address = %local, "agent listening (HTTP)");
                axum::serve(listener, app)
                    .with_graceful_shutdown(closed.cancelled_owned())
                    .await
            }
            Some(config) => {
                info!(address = %local, "agent listening (HTTPS)");
                let handle = axum_server::Handle::new();
                let closer = handle.clone();
                tokio::spawn(async move {
                    closed.cancelled().await;
                    closer.graceful_shutdown(Some(CLOSE_CONNECTIONS));
                });
                let std_listener = listener.into_std()?;
                axum_server::from_tcp_rustls(std_listener, config)
                    .handle(handle)
                    .serve(app.into_make_service())
                    .await
            }
        }
    });
    // The server also ends by itself on an accept error: then shut down as well.
    let ended_early = tokio::select! {
        _ = shutdown => None,
        served = &mut server => Some(served),
    };
    info!("shutting down: no new work is accepted");
    state.queue.close();
    let started = tokio::time::Instant::now();
    let grace = state.settings.shutdown_grace;
    let ended = state.queue.drain(grace, REPORT_AFTER_CUT).await;
    if ended {
        info!("every scan has finished or been reported");
    } else {
        warn!("some scans did not report before exit");
    }
    // What is left of the grace period goes to delivering what the scans reported.
    let left = grace
        .saturating_sub(started.elapsed())
        .max(Duration::from_secs(1));
    if !state.outbox.flush(left).await {
        info!(
            pending = state.outbox.pending(),
            "undelivered callbacks stay in the state directory for the next start"
        );
    }
    let in_flight = state.settings.callback_retry.request_timeout + Duration::from_secs(1);
    if !state.outbox.stop(in_flight).await {
        warn!("a callback was still in flight at exit; it is sent again on the next start");
    }
    close.cancel();
    let served = match ended_early {
        Some(served) => served,
        None => match tokio::time::timeout(CLOSE_CONNECTIONS * 2, &mut server).await {
            Ok(served) => served,
            Err(_) => {
                server.abort();
                Ok(Ok(()))
            }
        },
    };
    match served {
        Ok(result) => result.map_err(AgentError::Io),
        Err(join) if join.is_cancelled() => Ok(()),
        Err(join) => Err(AgentError::Io(std::io::Error::other(join))),
    }
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
