//! The broker client: dials the server, relays allowed requests to the agent, and carries the
//! agent's callbacks back out.
//!
//! - [`settings`]: the stock environment variables, validated into a [`ClientConfig`];
//! - [`dial`]: proxy, TLS and websocket handshake;
//! - [`proxy`]: `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY`;
//! - `forward`: tunnel request → filter → agent → `/response-data` stream or ack;
//! - `local`: the local port (`/healthcheck`, `/ready`, `/systemcheck`, callbacks through the
//!   tunnel);
//! - [`Reconnect`]: reconnect delays, drawn by `backon`.
//!
//! The client keeps one tunnel, in the `primary` role.
//! The stock client opens a second, `secondary`, tunnel for the same token, but that is not part
//! of the wire contract: a server serves each request from one ready tunnel of the token (the
//! stock server the one that identified last), answers arrive by their own `/response-data`
//! POST, and the stock server serves a single-tunnel client in full.
//!
//! ```no_run
//! # async fn demo() -> Result<(), cra_broker::Error> {
//! use cra_broker::client::{BrokerClient, Settings};
//! let settings = Settings {
//!     broker_token: Some("0b1d2c3e-aaaa-4bbb-8ccc-000000000001".into()),
//!     broker_server_url: Some("http://127.0.0.1:8000".into()),
//!     cr_agent_url: Some("http://127.0.0.1:17500".into()),
//!     cr_credentials: Some("e30K".into()),
//!     ..Settings::default()
//! };
//! let client = BrokerClient::new(settings.into_config()?)?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:7341").await.map_err(|source| {
//!     cra_broker::Error::Serve { addr: "127.0.0.1:7341".into(), source }
//! })?;
//! client.run(listener).await
//! # }
//! ```

pub mod dial;
mod forward;
mod local;
pub mod proxy;
pub mod settings;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::serve::ListenerExt;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use backon::BackoffBuilder;

pub use forward::CLIENT_URL_HEADER;
pub use proxy::Proxy;
pub use settings::Settings;

use crate::error::Error;
use crate::filter::{Filter, Vars};
use crate::protocol::event::{Event, EventName, Identify, Notification};
use crate::protocol::message::{ClientIdentify, Metadata, POST_STREAMS};
use crate::protocol::CLIENT_VERSION;
use crate::session::{self, Duplex, End, Handle, Role, Timing};
use crate::token::Token;

/// A validated client configuration.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `BROKER_TOKEN`.
    pub token: Token,
    /// `BROKER_SERVER_URL`.
    pub server_url: url::Url,
    /// `BROKER_CLIENT_URL`: sent to the agent as [`CLIENT_URL_HEADER`] with every forwarded
    /// request and with the system check, as the base of its callbacks.
    pub client_url: Option<String>,
    /// The accept rules (built-in container-registry-agent set, or `ACCEPT`).
    pub filter: Filter,
    /// Variables for `${VAR}` substitution in tunnel requests.
    pub vars: Vars,
    /// `/systemcheck` target and credentials.
    pub validation: Option<Validation>,
    /// Primus heartbeat.
    pub timing: Timing,
    /// Reconnect delays.
    pub reconnect: Reconnect,
    /// `SOCKET_CONNECT_TIMEOUT`.
    pub connect_timeout: Duration,
    /// Extra CA certificates (PEM) for the server and the agent.
    pub ca_pem: Option<Vec<u8>>,
    /// The proxies to the server and the agent.
    pub proxy: Proxy,
    /// Largest body answered by acknowledgement (`SOCKET_MAX_RESPONSE_LENGTH`).
    pub max_ack_body: usize,
    /// Largest callback body accepted on the local port.
    pub max_local_body: usize,
    /// Random id of this client process.
    pub client_id: String,
}

/// Reconnect delays: exponential from `min` by a factor of 1.5, as Primus reconnects, capped at
/// `max`, with jitter, and never giving up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reconnect {
    /// The first delay.
    pub min: Duration,
    /// The longest delay (before jitter).
    pub max: Duration,
}

impl Default for Reconnect {
    fn default() -> Self {
        Self {
            min: Duration::from_millis(500),
            max: Duration::from_secs(30),
        }
    }
}

impl Reconnect {
    /// The delays from the first one on; start again with a new iterator after a connection.
    pub fn delays(&self) -> impl Iterator<Item = Duration> {
        backon::ExponentialBuilder::default()
            .with_min_delay(self.min)
            .with_max_delay(self.max)
            .with_factor(1.5)
            .with_jitter()
            .without_max_times()
            .build()
    }
}

/// `BROKER_CLIENT_VALIDATION_URL` and the credential sent to it.
#[derive(Clone)]
pub struct Validation {
    /// The URL, as configured.
    pub url: String,
    /// The `Authorization` value.
    pub authorization: Option<String>,
    /// `BROKER_CLIENT_VALIDATION_TIMEOUT_MS`.
    pub timeout: Duration,
}

impl std::fmt::Debug for Validation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Validation")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// A running (or ready to run) broker client.
#[derive(Debug, Clone)]
pub struct BrokerClient {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    config: ClientConfig,
    http: reqwest::Client,
    tls: Arc<rustls::ClientConfig>,
    tunnel: RwLock<Option<Tunnel>>,
    /// Tunnel requests refused for asking for a secret outside the `Authorization` header.
    refused_secret_requests: AtomicU64,
}

#[derive(Debug, Clone)]
struct Tunnel {
    handle: Handle,
}

impl BrokerClient {
    /// Builds a client.
    pub fn new(config: ClientConfig) -> Result<Self, Error> {
        let tls = dial::tls_config(config.ca_pem.as_deref()).map_err(|source| Error::Tls {
            path: "CA_CERT".into(),
            source: Box::new(source),
        })?;
        let builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .tcp_nodelay(true);
        let mut http = config.proxy.apply(builder)?;
        if let Some(pem) = &config.ca_pem {
            for cert in reqwest::Certificate::from_pem_bundle(pem).map_err(Error::Http)? {
                http = http.add_root_certificate(cert);
            }
        }
        Ok(Self {
            shared: Arc::new(Shared {
                config,
                http: http.build().map_err(Error::Http)?,
                tls: Arc::new(tls),
                tunnel: RwLock::new(None),
                refused_secret_requests: AtomicU64::new(0),
            }),
        })
    }

    /// The local HTTP routes (healthcheck, readiness, systemcheck, callbacks).
    pub fn router(&self) -> axum::Router {
        local::router(self.shared.clone())
    }

    /// How many tunnel requests were refused because they asked for a secret variable outside
    /// the `Authorization` header.
    pub fn refused_secret_requests(&self) -> u64 {
        self.shared.refused_secret_requests.load(Ordering::Relaxed)
    }

    /// Serves the local port and keeps the tunnel up, forever.
    pub async fn run(self, listener: tokio::net::TcpListener) -> Result<(), Error> {
        let addr = listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let _tunnel = AbortOnDrop(tokio::spawn(tunnel_loop(self.shared.clone())));
        // Small writes (a response head, then its body) must not wait for delayed ACKs.
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let served = axum::serve(listener, self.router()).await;
        served.map_err(|source| Error::Serve { addr, source })
    }

    /// Keeps the tunnel up, forever, without a local port.
    pub async fn run_tunnel(self) {
        tunnel_loop(self.shared).await;
    }
}

impl Shared {
    fn tunnel(&self) -> Option<Tunnel> {
        self.tunnel
            .read()
            .ok()?
            .clone()
            .filter(|t| t.handle.is_open())
    }

    fn set_tunnel(&self, tunnel: Option<Tunnel>) {
        if let Ok(mut slot) = self.tunnel.write() {
            *slot = tunnel;
        }
    }
}

async fn tunnel_loop(shared: Arc<Shared>) {
    let reconnect = shared.config.reconnect;
    let mut delays = reconnect.delays();
    let mut attempt = 0u32;
    let server = shared.config.server_url.as_str().to_owned();
    loop {
        match dial::dial(&shared.config, &shared.tls).await {
            Ok(socket) => {
                tracing::info!(server, token = %shared.config.token, "tunnel open");
                delays = reconnect.delays();
                attempt = 0;
                let end = serve_tunnel(shared.clone(), socket).await;
                shared.set_tunnel(None);
                match end {
                    End::ServerClose => tracing::error!(
                        server,
                        "the server closed the tunnel and asked not to reconnect; retrying anyway"
                    ),
                    end => tracing::warn!(server, ?end, "tunnel closed"),
                }
            }
            Err(e) => {
                tracing::warn!(server, error = %e, cause = ?std::error::Error::source(&e).map(ToString::to_string), "cannot open the tunnel")
            }
        }
        let delay = delays.next().unwrap_or(reconnect.max);
        attempt = attempt.saturating_add(1);
        tracing::info!(attempt, delay_ms = delay.as_millis() as u64, "reconnecting");
        tokio::time::sleep(delay).await;
    }
}

async fn serve_tunnel(shared: Arc<Shared>, socket: dial::Socket) -> End {
    let (sink, stream) = socket.split();
    let sink = sink.with(|text: String| {
        futures_util::future::ready(Ok::<_, tokio_tungstenite::tungstenite::Error>(
            Message::Text(text.into()),
        ))
    });
    let stream = stream.filter_map(|message| {
        futures_util::future::ready(match message {
            Ok(Message::Text(text)) => Some(Ok(text.as_str().to_owned())),
            Ok(_) => None,
            Err(e) => Some(Err(e)),
        })
    });
    let io = Duplex::new(Box::pin(sink), Box::pin(stream));
    let (handle, commands) = session::channel();
    let (events_tx, mut events) = mpsc::channel(64);
    let mut session = AbortOnDrop(tokio::spawn(session::run(
        io,
        Role::Client,
        shared.config.timing,
        commands,
        events_tx,
    )));
    let _ = handle
        .emit(Event::Identify(Identify::Client(identify(&shared.config))))
        .await;
    shared.set_tunnel(Some(Tunnel {
        handle: handle.clone(),
    }));
    while let Some(incoming) = events.recv().await {
        match incoming.event {
            Event::Identify(_) => tracing::debug!("server identified"),
            Event::Request(request) => {
                let shared = shared.clone();
                let handle = handle.clone();
                tokio::spawn(async move {
                    forward::handle(&shared, &handle, *request, incoming.ack).await
                });
            }
            Event::Invalid(EventName::Request) => {
                let handle = handle.clone();
                tokio::spawn(async move { forward::invalid(&handle, incoming.ack).await });
            }
            Event::Notification(Notification { level, message }) => tracing::info!(
                level = level.as_deref().unwrap_or("info"),
                message = message.as_deref().unwrap_or_default(),
                "server notification"
            ),
            other => tracing::debug!(event = other.name(), "ignoring event"),
        }
    }
    (&mut session.0).await.unwrap_or(End::Closed)
}

/// Ends a task when its owner is dropped, so that a stopped client leaves no tunnel behind.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn identify(config: &ClientConfig) -> ClientIdentify {
    ClientIdentify {
        token: config.token.expose().to_owned(),
        metadata: Metadata {
            capabilities: vec![POST_STREAMS.to_owned()],
            client_id: Some(config.client_id.clone()),
            identifier: Some(config.token.hashed()),
            preflight_checks: Vec::new(),
            version: Some(CLIENT_VERSION.to_owned()),
            filters: Some(config.filter.source().clone()),
            role: Some("primary".to_owned()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnect_delays_grow_by_half_stay_capped_and_never_end() {
        let reconnect = Reconnect {
            min: Duration::from_millis(100),
            max: Duration::from_secs(2),
        };
        let delays: Vec<f64> = reconnect
            .delays()
            .take(40)
            .map(|d| d.as_secs_f64())
            .collect();
        assert_eq!(delays.len(), 40);
        for (attempt, delay) in delays.iter().enumerate() {
            let base = (0.1 * 1.5f64.powi(attempt as i32)).min(2.0);
            // Jitter adds up to one more base delay (within float rounding).
            assert!(
                *delay >= base * 0.999 && *delay <= 2.0 * base * 1.001,
                "attempt {attempt}: {delay} vs {base}"
            );
        }
        let distinct: std::collections::HashSet<u128> =
            reconnect.delays().take(20).map(|d| d.as_nanos()).collect();
        assert!(distinct.len() > 1, "no jitter");
        assert!(reconnect.delays().next().unwrap() < Duration::from_millis(201));
    }
}
