//! `cra client`: the broker client, a drop-in for the stock container-registry-agent broker.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use cra_broker::client::{BrokerClient, Settings};
use cra_core::{CredentialsError, RegistryVariables, Secret};

/// Arguments of `cra client`, boxed: they are many, and the command enum stays small.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The settings.
    #[command(flatten)]
    pub settings: Box<ClientArgs>,
}

/// The settings of `cra client`; each also comes from the stock environment variable named.
#[derive(clap::Args)]
pub struct ClientArgs {
    /// The broker token.
    #[arg(long, env = "BROKER_TOKEN", hide_env_values = true)]
    pub broker_token: Option<String>,
    /// The broker server to dial.
    #[arg(long, env = "BROKER_SERVER_URL", default_value = cra_broker::client::settings::DEFAULT_SERVER_URL)]
    pub broker_server_url: String,
    /// The URL the agent uses to reach this client.
    #[arg(long, env = "BROKER_CLIENT_URL")]
    pub broker_client_url: Option<String>,
    /// The agent's base URL.
    #[arg(long, env = "CR_AGENT_URL")]
    pub cr_agent_url: Option<String>,
    /// Registry type (`docker-hub`, `ecr`, `harbor-cr`, …).
    #[arg(long, env = "CR_TYPE")]
    pub cr_type: Option<String>,
    /// Registry host.
    #[arg(long, env = "CR_BASE")]
    pub cr_base: Option<String>,
    /// Registry user.
    #[arg(long, env = "CR_USERNAME", hide_env_values = true)]
    pub cr_username: Option<String>,
    /// Registry password.
    #[arg(long, env = "CR_PASSWORD", hide_env_values = true)]
    pub cr_password: Option<String>,
    /// Registry token (DigitalOcean).
    #[arg(long, env = "CR_TOKEN", hide_env_values = true)]
    pub cr_token: Option<String>,
    /// Role to assume (ECR).
    #[arg(long, env = "CR_ROLE_ARN")]
    pub cr_role_arn: Option<String>,
    /// Region (ECR).
    #[arg(long, env = "CR_REGION")]
    pub cr_region: Option<String>,
    /// External id of the role (ECR).
    #[arg(long, env = "CR_EXTERNAL_ID", hide_env_values = true)]
    pub cr_external_id: Option<String>,
    /// Ready-made credentials; built from the `CR_*` variables when absent.
    #[arg(long, env = "CR_CREDENTIALS", hide_env_values = true)]
    pub cr_credentials: Option<String>,
    /// The local port for the agent's callbacks and the health checks.
    #[arg(long, env = "PORT", default_value_t = 7341)]
    pub port: u16,
    /// The address to listen on.
    #[arg(long, env = "BROKER_CLIENT_BIND_ADDRESS", default_value_t = IpAddr::V4(Ipv4Addr::UNSPECIFIED))]
    pub bind: IpAddr,
    /// What `/systemcheck` calls; by default the agent's `/systemcheck`, as in the stock image.
    #[arg(
        long,
        env = "BROKER_CLIENT_VALIDATION_URL",
        default_value = "$CR_AGENT_URL/systemcheck"
    )]
    pub validation_url: Option<String>,
    /// The `Authorization` value `/systemcheck` sends (default: the credentials).
    #[arg(
        long,
        env = "BROKER_CLIENT_VALIDATION_AUTHORIZATION_HEADER",
        hide_env_values = true
    )]
    pub validation_authorization: Option<String>,
    /// `/systemcheck` timeout in milliseconds.
    #[arg(long, env = "BROKER_CLIENT_VALIDATION_TIMEOUT_MS")]
    pub validation_timeout_ms: Option<u64>,
    /// An accept.json replacing the built-in container-registry-agent rules.
    #[arg(long, env = "ACCEPT")]
    pub accept: Option<String>,
    /// Extra trusted CA certificates (PEM) for the server and the agent.
    #[arg(long, env = "CA_CERT")]
    pub ca_cert: Option<String>,
    /// Primus ping interval, in milliseconds.
    #[arg(long, env = "SOCKET_PING_INTERVAL")]
    pub ping_interval_ms: Option<u64>,
    /// Primus pong timeout, in milliseconds.
    #[arg(long, env = "SOCKET_PONG_TIMEOUT")]
    pub pong_timeout_ms: Option<u64>,
    /// Largest response body answered over the websocket.
    #[arg(long, env = "SOCKET_MAX_RESPONSE_LENGTH")]
    pub max_response_length: Option<usize>,
    /// A PEM certificate chain: serve the local port over HTTPS (needs `--https-key`).
    #[arg(long, env = "HTTPS_CERT")]
    pub https_cert: Option<PathBuf>,
    /// The PEM private key of `--https-cert`.
    #[arg(long, env = "HTTPS_KEY")]
    pub https_key: Option<PathBuf>,
    /// The proxy to `https` servers and agents (also `https_proxy`).
    #[arg(long, env = "HTTPS_PROXY", hide_env_values = true)]
    pub https_proxy: Option<String>,
    /// The proxy to `http` servers and agents (also `http_proxy`).
    #[arg(long, env = "HTTP_PROXY", hide_env_values = true)]
    pub http_proxy: Option<String>,
    /// Hosts reached without a proxy (also `no_proxy`).
    #[arg(long, env = "NO_PROXY")]
    pub no_proxy: Option<String>,
}

impl std::fmt::Debug for ClientArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientArgs")
            .field("broker_server_url", &self.broker_server_url)
            .field("cr_agent_url", &self.cr_agent_url)
            .field("cr_type", &self.cr_type)
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl ClientArgs {
    /// The `CR_*` settings.
    pub fn registry_variables(&self) -> RegistryVariables {
        RegistryVariables {
            kind: self.cr_type.clone(),
            base: self.cr_base.clone(),
            username: self.cr_username.clone(),
            password: self.cr_password.clone().map(Secret::new),
            token: self.cr_token.clone().map(Secret::new),
            role_arn: self.cr_role_arn.clone(),
            region: self.cr_region.clone(),
            external_id: self.cr_external_id.clone().map(Secret::new),
        }
    }

    /// The broker settings these arguments describe: `CR_CREDENTIALS` as given, else built
    /// from the `CR_*` settings with cra-core's types, which the broker also gets by name.
    pub fn settings(&self) -> Result<Settings, CredentialsError> {
        let variables = self.registry_variables();
        let given = self
            .cr_credentials
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty());
        let credentials = match given {
            Some(given) => given.to_owned(),
            None => variables.credentials()?.to_base64(),
        };
        Ok(Settings {
            broker_token: self.broker_token.clone(),
            broker_server_url: Some(self.broker_server_url.clone()),
            broker_client_url: self.broker_client_url.clone(),
            cr_agent_url: self.cr_agent_url.clone(),
            cr_credentials: Some(credentials),
            registry_variables: variables
                .by_name()
                .into_iter()
                .map(|(name, value)| (name.to_owned(), value))
                .collect(),
            accept: self.accept.clone(),
            validation_url: self.validation_url.clone(),
            validation_authorization: self.validation_authorization.clone(),
            validation_timeout_ms: self.validation_timeout_ms,
            ca_cert: self.ca_cert.clone(),
            ping_interval_ms: self.ping_interval_ms,
            pong_timeout_ms: self.pong_timeout_ms,
            max_response_length: self.max_response_length,
            http_proxy: self.http_proxy.clone().or_else(|| lower_env("http_proxy")),
            https_proxy: self
                .https_proxy
                .clone()
                .or_else(|| lower_env("https_proxy")),
            no_proxy: self.no_proxy.clone().or_else(|| lower_env("no_proxy")),
        })
    }
}

/// The lower-case spelling of a proxy variable, which curl and Node honour too.
fn lower_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Runs `cra client` until it fails.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let args = args.settings;
    let config = args
        .settings()
        .context("invalid broker client settings: CR_CREDENTIALS")?
        .into_config()
        .context("invalid broker client settings")?;
    let addr = SocketAddr::new(args.bind, args.port);
    tracing::info!(%addr, server = %config.server_url, token = %config.token, "starting the broker client");
    let client = BrokerClient::new(config)?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    match tls_files(args.https_cert.as_deref(), args.https_key.as_deref())? {
        None => client.run(listener).await?,
        Some((cert, key)) => {
            let tls = rustls_config(cert, key)?;
            let router = client.router();
            let tunnel = tokio::spawn(client.run_tunnel());
            let served = axum_server::from_tcp_rustls(listener.into_std()?, tls)
                .serve(router.into_make_service())
                .await;
            tunnel.abort();
            served?;
        }
    }
    Ok(())
}

/// Both TLS files, or neither.
pub(crate) fn tls_files<'a>(
    cert: Option<&'a Path>,
    key: Option<&'a Path>,
) -> anyhow::Result<Option<(&'a Path, &'a Path)>> {
    match (cert, key) {
        (Some(cert), Some(key)) => Ok(Some((cert, key))),
        (None, None) => Ok(None),
        _ => anyhow::bail!("HTTPS_CERT and HTTPS_KEY go together"),
    }
}

/// The TLS settings of a local HTTPS port, from PEM files.
pub(crate) fn rustls_config(
    cert: &Path,
    key: &Path,
) -> anyhow::Result<axum_server::tls_rustls::RustlsConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("cannot read HTTPS_CERT {}", cert.display()))?;
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("cannot read HTTPS_KEY {}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("HTTPS_CERT and HTTPS_KEY do not make a TLS identity")?;
    Ok(axum_server::tls_rustls::RustlsConfig::from_config(
        Arc::new(config),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: ClientArgs,
    }

    /// As documented, without `BROKER_CLIENT_VALIDATION_URL`, `/systemcheck` calls the agent's.
    #[test]
    fn systemcheck_calls_the_agent_by_default() {
        let cli = Cli::try_parse_from([
            "client",
            "--broker-token",
            "tok",
            "--cr-agent-url",
            "http://agent.internal:8081/",
            "--cr-type",
            "harbor-cr",
            "--cr-base",
            "harbor.internal",
            "--cr-username",
            "u",
            "--cr-password",
            "p",
        ])
        .unwrap();
        let config = cli
            .args
            .settings()
            .unwrap()
            .into_config_with(|_| None)
            .unwrap();
        let validation = config.validation.unwrap();
        assert_eq!(validation.url, "http://agent.internal:8081/systemcheck");

        let cli = Cli::try_parse_from([
            "client",
            "--broker-token",
            "tok",
            "--cr-credentials",
            "e30K",
            "--validation-url",
            "http://elsewhere.internal/check",
        ])
        .unwrap();
        assert_eq!(
            cli.args.settings().unwrap().validation_url.as_deref(),
            Some("http://elsewhere.internal/check")
        );
    }

    /// The client builds `CR_CREDENTIALS` with cra-core's types and gives the broker the
    /// settings by name; a given `CR_CREDENTIALS` wins.
    #[test]
    fn credentials_are_built_with_the_core_types() {
        let args = [
            "client",
            "--broker-token",
            "tok",
            "--cr-type",
            "ElasticCR",
            "--cr-role-arn",
            "arn:aws:iam::123456789012:role/cra",
            "--cr-region",
            "eu-west-1",
        ];
        let cli = Cli::try_parse_from(args).unwrap();
        let settings = cli.args.settings().unwrap();
        let credentials = settings.cr_credentials.clone().unwrap();
        let parsed = cra_core::RegistryCredentials::from_base64(&credentials).unwrap();
        assert!(matches!(
            parsed,
            cra_core::RegistryCredentials::Ecr {
                external_id: None,
                ..
            }
        ));
        let config = settings.into_config_with(|_| None).unwrap();
        assert_eq!(
            config.vars.get("CR_CREDENTIALS"),
            Some(credentials.as_str())
        );
        assert_eq!(config.vars.get("CR_REGION"), Some("eu-west-1"));

        let cli =
            Cli::try_parse_from([&args[..3], &["--cr-credentials", "e30K"]].concat()).unwrap();
        assert_eq!(
            cli.args.settings().unwrap().cr_credentials.as_deref(),
            Some("e30K")
        );

        let cli = Cli::try_parse_from(&args[..7]).unwrap();
        assert_eq!(
            cli.args.settings().unwrap_err().to_string(),
            "ecr requires the following parameters: CR_ROLE_ARN and CR_REGION."
        );
    }
}
