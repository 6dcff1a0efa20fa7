//! `cra server`: the broker server that clients dial into.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use cra_broker::filter::{Filter, Vars};
use cra_broker::server::{BrokerServer, ServerConfig, DEFAULT_ACCEPT};
use cra_broker::session::Timing;

/// Arguments of `cra server`; each also comes from the stock environment variable named.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The port to listen on.
    #[arg(long, env = "PORT", default_value_t = 7341)]
    pub port: u16,
    /// The address to listen on.
    #[arg(long, env = "BROKER_SERVER_BIND_ADDRESS", default_value_t = IpAddr::V4(Ipv4Addr::UNSPECIFIED))]
    pub bind: IpAddr,
    /// Accept rules: `public` filters `/broker` requests, `private` routes client requests.
    #[arg(long, env = "ACCEPT")]
    pub accept: Option<String>,
    /// engine.io ping interval, in milliseconds.
    #[arg(long, env = "SOCKET_PING_INTERVAL", default_value_t = 25_000)]
    pub ping_interval_ms: u64,
    /// engine.io ping timeout, in milliseconds.
    #[arg(long, env = "SOCKET_PING_TIMEOUT", default_value_t = 20_000)]
    pub ping_timeout_ms: u64,
    /// How long a caller waits for the client to start answering, in milliseconds.
    #[arg(
        long,
        env = "BROKER_WEBSERVER_REQUEST_TIMEOUT",
        default_value_t = 600_000
    )]
    pub request_timeout_ms: u64,
    /// A PEM certificate chain: serve HTTPS (needs `--https-key`).
    #[arg(long, env = "HTTPS_CERT")]
    pub https_cert: Option<PathBuf>,
    /// The PEM private key of `--https-cert`.
    #[arg(long, env = "HTTPS_KEY")]
    pub https_key: Option<PathBuf>,
}

/// Runs `cra server` until it fails.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let json = match &args.accept {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read ACCEPT file {path}"))?,
        None => DEFAULT_ACCEPT.to_owned(),
    };
    let mut vars = Vars::new();
    for name in Filter::referenced_vars(&json)? {
        if let Ok(value) = std::env::var(&name) {
            vars.insert(name, value);
        }
    }
    let config = ServerConfig {
        filter: Filter::from_json(&json, &vars)?,
        timing: Timing {
            ping_interval: Duration::from_millis(args.ping_interval_ms),
            pong_timeout: Duration::from_millis(args.ping_timeout_ms),
        },
        response_timeout: Duration::from_millis(args.request_timeout_ms),
        ..ServerConfig::default()
    };
    let addr = SocketAddr::new(args.bind, args.port);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    tracing::info!(%addr, "starting the broker server");
    let server = BrokerServer::new(config)?;
    match super::client::tls_files(args.https_cert.as_deref(), args.https_key.as_deref())? {
        None => server.serve(listener).await?,
        Some((cert, key)) => {
            let tls = super::client::rustls_config(cert, key)?;
            axum_server::from_tcp_rustls(listener.into_std()?, tls)
                .serve(server.router().into_make_service())
                .await?;
        }
    }
    Ok(())
}
