//! The agent's validated settings, built by `commands/agent.rs` from flags and environment.

use std::path::PathBuf;
use std::time::Duration;

use url::Url;

use crate::agent::callback::RetryPolicy;
use crate::agent::outbox::OutboxSettings;

/// The product's default image size limit: 2 GiB.
pub const DEFAULT_MAX_IMAGE_SIZE: u64 = 2_147_483_648;

/// Everything the agent needs once the listener is bound.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Images whose manifest declares more bytes than this are refused before any layer is pulled.
    pub max_image_size: u64,
    /// How many scans run at once (`MAX_ACTIVE_OPERATIONS`).
    pub max_active_operations: usize,
    /// How many accepted scans may wait for a free slot; beyond it, `/scan` answers 429.
    pub max_queued_operations: usize,
    /// The `Retry-After` the agent sends with a 429 when its queue is full.
    pub queue_retry_after: Duration,
    /// The broker client's base URL, where scan results are posted (`BROKER_CLIENT_URL`).
    pub broker_client_url: Option<Url>,
    /// The certificate and key to serve HTTPS with; plain HTTP when absent.
    pub tls: Option<TlsFiles>,
    /// Extra trusted CA certificates (PEM) for registries and callbacks.
    pub ca_bundle: Option<PathBuf>,
    /// How long one registry operation of a synchronous route may take before it fails with 502.
    pub registry_timeout: Duration,
    /// How long one scan may take, queueing excluded, before it is cut and reported as failed.
    pub scan_timeout: Duration,
    /// How callbacks are retried when the broker client is down.
    pub callback_retry: RetryPolicy,
    /// Where finished scans' callbacks wait for delivery (`CRA_STATE_DIR`); `None` is a private
    /// temporary directory, removed with the agent, so nothing survives a restart.
    pub state_dir: Option<PathBuf>,
    /// The most bytes of callbacks the state directory may hold; the oldest go first beyond it.
    pub outbox_max_bytes: u64,
    /// How long a callback is retried before it is dropped undelivered.
    pub outbox_max_age: Duration,
    /// How long, after SIGTERM, running scans may take to finish before they are cut and reported.
    pub shutdown_grace: Duration,
    /// The vulnerability database directory (`CRA_DB_DIR`) that scans asked for with
    /// `vulns: true` are matched against; `None`: such requests are refused.
    pub vuln_db: Option<PathBuf>,
    /// The analysis cache every scan shares (`CRA_CACHE_DIR`): layers and configs found in it
    /// are not pulled, so a rescan of an unchanged image costs its manifest requests; `None`
    /// walks every layer.
    pub cache: Option<cra_scan::LayerCache>,
    /// The signature policy every scanned image must satisfy (`CRA_POLICY`, with
    /// `CRA_REGISTRIES_D`); an image it rejects is reported as failed and its packages are not
    /// sent. `None`: no verification.
    pub trust: Option<cra_registries::signatures::TrustConfig>,
}

/// A certificate chain and its private key, both PEM files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain (leaf first).
    pub cert: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_image_size: DEFAULT_MAX_IMAGE_SIZE,
            max_active_operations: 1,
            max_queued_operations: 100,
            queue_retry_after: Duration::from_secs(30),
            broker_client_url: None,
            tls: None,
            ca_bundle: None,
            registry_timeout: Duration::from_secs(120),
            scan_timeout: Duration::from_secs(3600),
            callback_retry: RetryPolicy::default(),
            state_dir: None,
            outbox_max_bytes: OutboxSettings::default().max_bytes,
            outbox_max_age: OutboxSettings::default().max_age,
            // Kubernetes gives a pod 30 s between SIGTERM and SIGKILL by default.
            shutdown_grace: Duration::from_secs(25),
            vuln_db: None,
            cache: None,
            trust: None,
        }
    }
}

/// A setting that cannot work.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// `MAX_ACTIVE_OPERATIONS` is zero.
    #[error("MAX_ACTIVE_OPERATIONS must be at least 1")]
    NoActiveOperations,
    /// `MAX_QUEUED_OPERATIONS` is zero.
    #[error("MAX_QUEUED_OPERATIONS must be at least 1")]
    NoQueue,
    /// `SNYK_MAX_IMAGE_SIZE_IN_BYTES` is zero.
    #[error("SNYK_MAX_IMAGE_SIZE_IN_BYTES must be at least 1")]
    NoImageSize,
    /// `BROKER_CLIENT_URL` is not an absolute http(s) URL.
    #[error("BROKER_CLIENT_URL {0:?} is not an absolute http:// or https:// URL")]
    CallbackUrl(String),
    /// Only one of the certificate and the key was given.
    #[error("HTTPS needs both HTTPS_CERT and HTTPS_KEY")]
    HalfTls,
    /// A configured file does not exist.
    #[error("{what} {path:?} does not exist")]
    MissingFile {
        /// Which setting names the file.
        what: &'static str,
        /// The path given.
        path: PathBuf,
    },
}

impl Settings {
    /// Parses `BROKER_CLIENT_URL`; an empty value means none.
    pub fn parse_callback_url(value: Option<&str>) -> Result<Option<Url>, SettingsError> {
        let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
            return Ok(None);
        };
        let url = Url::parse(value).map_err(|_| SettingsError::CallbackUrl(redact_url(value)))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(SettingsError::CallbackUrl(redact_url(value)));
        }
        Ok(Some(url))
    }

    /// Pairs the HTTPS certificate and key; both or neither.
    pub fn pair_tls(
        cert: Option<PathBuf>,
        key: Option<PathBuf>,
    ) -> Result<Option<TlsFiles>, SettingsError> {
        match (cert, key) {
            (None, None) => Ok(None),
            (Some(cert), Some(key)) => Ok(Some(TlsFiles { cert, key })),
            _ => Err(SettingsError::HalfTls),
        }
    }

    /// Checks the settings that can be checked before serving.
    pub fn validate(self) -> Result<Settings, SettingsError> {
        if self.max_active_operations == 0 {
            return Err(SettingsError::NoActiveOperations);
        }
        if self.max_queued_operations == 0 {
            return Err(SettingsError::NoQueue);
        }
        if self.max_image_size == 0 {
            return Err(SettingsError::NoImageSize);
        }
        let mut files: Vec<(&'static str, &PathBuf)> = Vec::new();
        if let Some(tls) = &self.tls {
            files.push(("HTTPS_CERT", &tls.cert));
            files.push(("HTTPS_KEY", &tls.key));
        }
        if let Some(ca) = &self.ca_bundle {
            files.push(("CA_CERT", ca));
        }
        if let Some((what, path)) = files.into_iter().find(|(_, p)| !p.exists()) {
            return Err(SettingsError::MissingFile {
                what,
                path: path.clone(),
            });
        }
        Ok(self)
    }
}

/// Whether a registry base (`host[:port][/path]`, optionally with a scheme) holds user info
/// (`user:password@`).
pub fn has_user_info(base: &str) -> bool {
    let rest = base.split_once("://").map_or(base, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    authority.contains('@')
}

/// A URL for messages: user info and query are dropped, so that no secret they carry is shown.
pub fn redact_url(value: &str) -> String {
    match Url::parse(value) {
        Ok(mut url) => {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.set_query(None);
            url.to_string()
        }
        Err(_) => "<not a URL>".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_url_rules() {
        assert_eq!(Settings::parse_callback_url(None).unwrap(), None);
        assert_eq!(Settings::parse_callback_url(Some("  ")).unwrap(), None);
        let url = Settings::parse_callback_url(Some("http://127.0.0.1:7341"))
            .unwrap()
            .unwrap();
        assert_eq!(url.as_str(), "http://127.0.0.1:7341/");
        for bad in ["127.0.0.1:7341", "ftp://x/", "http://", "https://user:pw@"] {
            let err = Settings::parse_callback_url(Some(bad)).unwrap_err();
            assert!(
                err.to_string().contains("BROKER_CLIENT_URL"),
                "{bad}: {err}"
            );
            assert!(!err.to_string().contains("pw"), "{err}");
        }
    }

    #[test]
    fn validation() {
        assert!(Settings::default().validate().is_ok());
        let zero = Settings {
            max_active_operations: 0,
            ..Settings::default()
        };
        assert!(matches!(
            zero.validate(),
            Err(SettingsError::NoActiveOperations)
        ));
        let no_queue = Settings {
            max_queued_operations: 0,
            ..Settings::default()
        };
        assert!(matches!(no_queue.validate(), Err(SettingsError::NoQueue)));
        assert!(matches!(
            Settings::pair_tls(Some("c".into()), None),
            Err(SettingsError::HalfTls)
        ));
        let missing = Settings {
            tls: Settings::pair_tls(
                Some("/nonexistent/cert.pem".into()),
                Some("/nonexistent/key.pem".into()),
            )
            .unwrap(),
            ..Settings::default()
        };
        let err = missing.validate().unwrap_err().to_string();
        assert!(err.contains("HTTPS_CERT"), "{err}");
    }

    #[test]
    fn user_info_in_registry_bases() {
        for with in [
            "u:p@registry.local",
            "https://u:p@registry.local:5000/v2",
            "http://token@r.local",
        ] {
            assert!(has_user_info(with), "{with}");
        }
        for without in [
            "registry.local",
            "https://registry.local/artifactory/api/docker/repo",
            "r.local/path@x",
        ] {
            assert!(!has_user_info(without), "{without}");
        }
    }

    #[test]
    fn redacts_user_info_and_query() {
        assert_eq!(
            redact_url("https://u:secret@client.local:7341/x?token=abc"),
            "https://client.local:7341/x"
        );
    }
}
