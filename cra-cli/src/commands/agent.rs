//! `cra agent`: the service the broker client forwards to.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use cra_registries::signatures::{default_location, TrustConfig};
use cra_registries::ConnectOptions;
use tracing::info;

use crate::agent::settings::DEFAULT_MAX_IMAGE_SIZE;
use crate::agent::RetryPolicy;
use crate::agent::Settings;

/// Arguments of `cra agent`; every one can also come from the environment variable named.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The port to listen on.
    #[arg(long, env = "SNYK_PORT", default_value_t = 17500)]
    pub port: u16,
    /// The address to listen on.
    #[arg(long, env = "SNYK_BIND_ADDRESS", default_value_t = IpAddr::V4(Ipv4Addr::UNSPECIFIED))]
    pub bind: IpAddr,
    /// Images larger than this (per their manifest) are refused before any layer is pulled.
    #[arg(long, env = "SNYK_MAX_IMAGE_SIZE_IN_BYTES", default_value_t = DEFAULT_MAX_IMAGE_SIZE)]
    pub max_image_size: u64,
    /// How many scans run at once.
    #[arg(long, env = "MAX_ACTIVE_OPERATIONS", default_value_t = 1)]
    pub max_active_operations: usize,
    /// How many accepted scans may wait; beyond it `/scan` answers 429.
    #[arg(long, env = "MAX_QUEUED_OPERATIONS", default_value_t = 100)]
    pub max_queued_operations: usize,
    /// The broker client's URL, where scan results are posted.
    #[arg(long, env = "BROKER_CLIENT_URL")]
    pub broker_client_url: Option<String>,
    /// A PEM certificate chain: serve HTTPS (needs `--https-key`).
    #[arg(long, env = "HTTPS_CERT")]
    pub https_cert: Option<PathBuf>,
    /// The PEM private key of `--https-cert`.
    #[arg(long, env = "HTTPS_KEY")]
    pub https_key: Option<PathBuf>,
    /// Extra trusted CA certificates (PEM) for registries and the broker client.
    #[arg(long, env = "CA_CERT")]
    pub ca_cert: Option<PathBuf>,
    /// Seconds one registry call of a synchronous route may take.
    #[arg(long, env = "REGISTRY_TIMEOUT_SECONDS", default_value_t = 120)]
    pub registry_timeout: u64,
    /// Seconds one scan may take once started, before it is cut and reported as failed.
    #[arg(long, env = "SCAN_TIMEOUT_SECONDS", default_value_t = 3600)]
    pub scan_timeout: u64,
    /// The first wait before retrying a callback, in milliseconds; it doubles up to
    /// `--callback-max-backoff-ms`.
    #[arg(long, env = "CALLBACK_INITIAL_BACKOFF_MS", default_value_t = 500)]
    pub callback_initial_backoff_ms: u64,
    /// The longest wait between two attempts of a callback, in milliseconds.
    #[arg(long, env = "CALLBACK_MAX_BACKOFF_MS", default_value_t = 60_000)]
    pub callback_max_backoff_ms: u64,
    /// Where finished scans' callbacks wait until the broker client takes them; they survive a
    /// restart there. Default: `$XDG_STATE_HOME/cra`, else `$HOME/.local/state/cra`.
    #[arg(long, env = "CRA_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// The most bytes of callbacks the state directory holds; beyond it the oldest are dropped.
    #[arg(long, env = "CALLBACK_MAX_BYTES", default_value_t = 512 * 1024 * 1024)]
    pub callback_max_bytes: u64,
    /// Hours a callback is retried before it is dropped undelivered.
    #[arg(long, env = "CALLBACK_MAX_AGE_HOURS", default_value_t = 24)]
    pub callback_max_age_hours: u64,
    /// Seconds running scans get to finish after SIGTERM before they are cut and reported
    /// (below Kubernetes' default 30 s termination grace).
    #[arg(long, env = "SHUTDOWN_GRACE_SECONDS", default_value_t = 25)]
    pub shutdown_grace: u64,
    /// The vulnerability database that scans requested with `vulns: true` are matched against
    /// (kept by `cra db update`).
    #[command(flatten)]
    pub db: super::db::DbDir,
    /// The analysis cache all scans share (default: `cache` in the state directory).
    #[command(flatten)]
    pub cache: crate::cache::CacheArgs,
    /// A containers-policy.json every scanned image must satisfy: an image it rejects is
    /// reported as failed (`signature_rejected`) and its packages are not sent.
    #[arg(long, env = "CRA_POLICY", value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// The containers-registries.d directory for the policy (lookaside stores,
    /// use-sigstore-attachments); default: `~/.config/containers/registries.d`, else
    /// `/etc/containers/registries.d`.
    #[arg(long = "registries.d", env = "CRA_REGISTRIES_D", value_name = "DIR")]
    pub registries_d: Option<PathBuf>,
}

impl Args {
    /// The validated settings.
    pub fn settings(&self) -> anyhow::Result<Settings> {
        let defaults = Settings::default();
        let state_dir = self
            .state_dir
            .clone()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(default_state_dir);
        let cache = self.cache.open_with(|| Ok(state_dir.join("cache")))?;
        let settings = Settings {
            max_image_size: self.max_image_size,
            max_active_operations: self.max_active_operations,
            max_queued_operations: self.max_queued_operations,
            broker_client_url: Settings::parse_callback_url(self.broker_client_url.as_deref())?,
            tls: Settings::pair_tls(self.https_cert.clone(), self.https_key.clone())?,
            ca_bundle: self.ca_cert.clone().filter(|p| !p.as_os_str().is_empty()),
            registry_timeout: Duration::from_secs(self.registry_timeout.max(1)),
            scan_timeout: Duration::from_secs(self.scan_timeout.max(1)),
            callback_retry: RetryPolicy {
                initial_backoff: Duration::from_millis(self.callback_initial_backoff_ms.max(1)),
                max_backoff: Duration::from_millis(self.callback_max_backoff_ms.max(1)),
                ..defaults.callback_retry
            },
            state_dir: Some(state_dir),
            cache,
            outbox_max_bytes: self.callback_max_bytes.max(1),
            outbox_max_age: Duration::from_secs(self.callback_max_age_hours.max(1) * 3600),
            shutdown_grace: Duration::from_secs(self.shutdown_grace),
            vuln_db: self.db.resolve().ok(),
            trust: self.trust()?,
            ..defaults
        };
        Ok(settings.validate()?)
    }
}

impl Args {
    /// The signature policy, loaded now so that a malformed one stops the agent before it serves.
    fn trust(&self) -> anyhow::Result<Option<TrustConfig>> {
        let nonempty = |p: &Option<PathBuf>| p.clone().filter(|p| !p.as_os_str().is_empty());
        let Some(policy) = nonempty(&self.policy) else {
            return Ok(None);
        };
        let registries_d =
            nonempty(&self.registries_d).or_else(|| default_location("registries.d"));
        let connect = ConnectOptions {
            ca_bundle: nonempty(&self.ca_cert),
            ..ConnectOptions::default()
        };
        let config =
            TrustConfig::load(&policy, registries_d.as_deref(), connect).with_context(|| {
                format!(
                    "cannot load the signature policy CRA_POLICY={}",
                    policy.display()
                )
            })?;
        Ok(Some(config))
    }
}

/// Runs `cra agent` until SIGTERM or Ctrl-C.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let settings = args.settings()?;
    let address = SocketAddr::new(args.bind, args.port);
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address}"))?;
    if settings.broker_client_url.is_none() {
        info!("BROKER_CLIENT_URL is not set: scan results go to the URL the broker client sends");
    }
    crate::agent::serve(listener, settings, shutdown_signal()).await?;
    info!("agent stopped");
    Ok(())
}

/// The state directory when none is configured: `$XDG_STATE_HOME/cra`, else
/// `$HOME/.local/state/cra`, else `cra-state` in the working directory.
fn default_state_dir() -> PathBuf {
    let from = |var: &str| {
        std::env::var_os(var)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    from("XDG_STATE_HOME")
        .map(|d| d.join("cra"))
        .or_else(|| from("HOME").map(|h| h.join(".local/state/cra")))
        .unwrap_or_else(|| PathBuf::from("cra-state"))
}

/// Resolves on the first SIGTERM or Ctrl-C, and ends the process at once on a second one (what
/// scans already reported stays in the state directory).
async fn shutdown_signal() {
    first_signal().await;
    tokio::spawn(async {
        first_signal().await;
        std::process::exit(143);
    });
}

/// Resolves on SIGTERM or Ctrl-C.
async fn first_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => info!("received Ctrl-C"),
        _ = term => info!("received SIGTERM"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    #[test]
    fn defaults_are_the_products() {
        let cli = Cli::try_parse_from(["agent"]).unwrap();
        let s = cli.args.settings().unwrap();
        assert_eq!(cli.args.port, 17500);
        assert_eq!(s.max_image_size, 2_147_483_648);
        assert_eq!(s.max_active_operations, 1);
        assert!(s.tls.is_none());
        assert_eq!(s.shutdown_grace, Duration::from_secs(25));
        assert!(s.state_dir.is_some());
    }

    #[test]
    fn flags_are_validated() {
        let cli = Cli::try_parse_from([
            "agent",
            "--broker-client-url",
            "http://127.0.0.1:7341",
            "--max-active-operations",
            "3",
        ])
        .unwrap();
        let s = cli.args.settings().unwrap();
        assert_eq!(s.max_active_operations, 3);
        assert_eq!(
            s.broker_client_url.map(|u| u.to_string()).as_deref(),
            Some("http://127.0.0.1:7341/")
        );
        let cli = Cli::try_parse_from(["agent", "--max-active-operations", "0"]).unwrap();
        assert!(cli.args.settings().is_err());
        let cli = Cli::try_parse_from(["agent", "--https-cert", "c.pem"]).unwrap();
        assert!(cli.args.settings().is_err());
    }
}
