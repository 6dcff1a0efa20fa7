//! The broker server: accepts tunnels from clients and relays `/broker/<token>/*` through them.
//!
//! - `transport`: engine.io v4 over long-polling and websocket (stock clients poll first);
//! - `connections`: the live tunnels, by token, newest first;
//! - `ingress`: `/broker/<token>/*`, filtered by the `public` rules;
//! - `response_data`: `POST /response-data/<token>/<id>` streams, matched to waiting callers;
//! - `upstream`: requests the clients send through the tunnel, filtered by the `private` rules.
//!
//! ```no_run
//! # async fn demo() -> Result<(), cra_broker::Error> {
//! use cra_broker::server::{BrokerServer, ServerConfig};
//! let server = BrokerServer::new(ServerConfig::default())?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|source| {
//!     cra_broker::Error::Serve { addr: "127.0.0.1:0".into(), source }
//! })?;
//! server.serve(listener).await
//! # }
//! ```

mod connections;
mod ingress;
mod response_data;
mod transport;
mod upstream;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::serve::ListenerExt;
use axum::{Json, Router};
use serde_json::json;

use crate::error::Error;
use crate::filter::{Filter, Vars};
use crate::session::Timing;
use crate::token::Token;

/// The version the server reports on `/healthcheck`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Default accept rules of a server: every `/broker` request may go to the client, and nothing
/// the client sends is relayed anywhere.
pub const DEFAULT_ACCEPT: &str = r#"{"public":[{"method":"any","path":"/*"}],"private":[]}"#;

/// What the server needs to run.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// `public` filters `/broker` requests; `private` filters and routes client requests.
    pub filter: Filter,
    /// engine.io heartbeat.
    pub timing: Timing,
    /// How long a caller waits for the client to start its response.
    pub response_timeout: Duration,
    /// Largest request body relayed to a client (it travels inside one websocket message).
    pub max_request_body: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            filter: Filter::from_json(DEFAULT_ACCEPT, &Vars::new())
                .expect("the default accept file is a valid constant"),
            timing: Timing::SERVER,
            response_timeout: Duration::from_secs(600),
            max_request_body: 20 * 1024 * 1024,
        }
    }
}

/// The shared state of a running server.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: ServerConfig,
    pub(crate) connections: connections::Connections,
    pub(crate) sockets: transport::Sockets,
    pub(crate) in_flight: response_data::InFlight,
    pub(crate) http: reqwest::Client,
    pub(crate) shutdown: tokio_util::sync::CancellationToken,
}

/// A broker server.
#[derive(Debug, Clone)]
pub struct BrokerServer {
    shared: Arc<Shared>,
}

impl BrokerServer {
    /// Builds a server.
    pub fn new(config: ServerConfig) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(Error::Http)?;
        Ok(Self {
            shared: Arc::new(Shared {
                config,
                connections: connections::Connections::default(),
                sockets: transport::Sockets::default(),
                in_flight: response_data::InFlight::default(),
                http,
                shutdown: tokio_util::sync::CancellationToken::new(),
            }),
        })
    }

    /// The HTTP routes.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/", get(healthcheck))
            .route("/healthcheck", get(healthcheck))
            .route("/connection-status/{token}", get(connection_status))
            .route("/primus/{token}", any(transport::primus))
            .route("/primus/{token}/", any(transport::primus))
            .route("/broker/{token}", any(ingress::relay))
            .route("/broker/{token}/", any(ingress::relay))
            .route("/broker/{token}/{*rest}", any(ingress::relay))
            .route("/response-data/{token}/{id}", post(response_data::receive))
            .with_state(self.shared.clone())
    }

    /// Serves on a bound listener until [`Self::shutdown`] is called.
    pub async fn serve(self, listener: tokio::net::TcpListener) -> Result<(), Error> {
        let addr = listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let stop = self.shared.shutdown.clone().cancelled_owned();
        // Small writes (a response head, then its body) must not wait for delayed ACKs.
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        axum::serve(listener, self.router())
            .with_graceful_shutdown(stop)
            .await
            .map_err(|source| Error::Serve { addr, source })
    }

    /// Stops accepting, and drops every tunnel, as a stopped process would.
    pub fn shutdown(&self) {
        self.shared.shutdown.cancel();
    }

    /// How many clients are connected for a token.
    pub fn client_count(&self, token: &str) -> usize {
        self.shared.connections.all(&Token::new(token)).len()
    }
}

async fn healthcheck() -> Json<serde_json::Value> {
    Json(json!({"ok": true, "version": VERSION}))
}

async fn connection_status(
    State(shared): State<Arc<Shared>>,
    Path(token): Path<String>,
) -> Response {
    let clients = shared.connections.all(&Token::new(&token));
    if clients.is_empty() {
        return no_connection();
    }
    let clients: Vec<_> = clients
        .iter()
        .map(|c| json!({"version": c.metadata.version, "filters": c.metadata.filters}))
        .collect();
    Json(json!({"ok": true, "clients": clients})).into_response()
}

/// The stock answer when no client is connected for a token.
pub(crate) fn no_connection() -> Response {
    (
        http::StatusCode::NOT_FOUND,
        [("x-broker-failure", "no-connection")],
        Json(json!({"ok": false})),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_accept_file_loads() {
        Filter::from_json(DEFAULT_ACCEPT, &Vars::new()).unwrap();
    }
}
