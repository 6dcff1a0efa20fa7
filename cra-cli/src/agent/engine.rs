//! What the agent asks of the scanner: an image's metadata without pulling layers, and a full
//! scan rendered as the platform's scan results.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use axum::http::StatusCode;
use cra_core::{ErrorKind, Platform, Reference, Registry, RegistryError};
use cra_registries::signatures::TrustConfig;
use cra_scan::signature::SignatureStatus;
use serde::Serialize;

use crate::agent::error::{status_of, ApiError};

/// An image's metadata, read from its manifest and config only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageMetadata {
    /// The repository path.
    pub repository: String,
    /// The tag asked for, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// The digest of the platform's image manifest.
    pub digest: String,
    /// The digest of the image config (the image id).
    pub config_digest: String,
    /// `os/architecture[/variant]`.
    pub platform: String,
    /// The config's `created` time, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// The sum of the layer sizes as the manifest declares them.
    pub size: u64,
    /// The layers, base first.
    pub layers: Vec<LayerMetadata>,
}

/// One layer of [`ImageMetadata`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LayerMetadata {
    /// The blob digest.
    pub digest: String,
    /// The uncompressed digest from the config, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff_id: Option<String>,
    /// The blob size.
    pub size: u64,
    /// The blob media type.
    pub media_type: String,
}

/// A finished scan.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanOutput {
    /// The digest of the scanned image manifest.
    pub digest: Option<String>,
    /// The snyk-docker-plugin scan results.
    pub scan_results: cra_scan::sbom::ScanResults,
    /// The vulnerability findings and grade, when the request asked for them.
    pub vulns: Option<cra_scan::vulns::VulnReport>,
}

/// What kind of failure a scan or inspection met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The registry failed in this way.
    Registry(ErrorKind),
    /// The image is larger than `SNYK_MAX_IMAGE_SIZE_IN_BYTES`.
    TooLarge,
    /// The image content is malformed or hostile.
    InvalidImage,
    /// The agent stopped before the scan could finish.
    ShuttingDown,
    /// The scan took longer than the agent allows.
    TimedOut,
    /// The vulnerability database asked for is missing or unreadable.
    VulnDb,
    /// The agent died during the scan as often as a scan may start.
    Interrupted,
    /// The agent's signature policy rejects the image.
    SignatureRejected,
    /// Anything else.
    Internal,
}

/// A failed scan or inspection, with a message fit for the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct EngineError {
    /// What failed.
    pub kind: FailureKind,
    /// Why, without secrets.
    pub message: String,
}

impl EngineError {
    /// An error of `kind`.
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// The stable code used in HTTP errors and failed callbacks.
    pub fn code(&self) -> &'static str {
        self.status_and_code().1
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self.kind {
            FailureKind::Registry(kind) => status_of(kind),
            FailureKind::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "image_too_large"),
            FailureKind::InvalidImage => (StatusCode::BAD_GATEWAY, "invalid_image"),
            FailureKind::ShuttingDown => (StatusCode::SERVICE_UNAVAILABLE, "shutting_down"),
            FailureKind::TimedOut => (StatusCode::GATEWAY_TIMEOUT, "scan_timeout"),
            FailureKind::VulnDb => (StatusCode::NOT_IMPLEMENTED, "vulns_unavailable"),
            FailureKind::Interrupted => (StatusCode::INTERNAL_SERVER_ERROR, "scan_interrupted"),
            FailureKind::SignatureRejected => (StatusCode::FORBIDDEN, "signature_rejected"),
            FailureKind::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "scan_failed"),
        }
    }
}

impl From<RegistryError> for EngineError {
    fn from(err: RegistryError) -> Self {
        let kind = match err.kind() {
            ErrorKind::TooLarge => FailureKind::TooLarge,
            other => FailureKind::Registry(other),
        };
        EngineError::new(kind, err.to_string())
    }
}

impl From<EngineError> for ApiError {
    fn from(err: EngineError) -> Self {
        let (status, code) = err.status_and_code();
        ApiError::new(status, code, err.message)
    }
}

/// The scanner as the agent uses it.
#[async_trait]
pub trait Engine: Send + Sync + fmt::Debug {
    /// The metadata of `reference`, for `platform` (default `linux/amd64`); no layer is pulled.
    async fn inspect(
        &self,
        registry: Arc<dyn Registry>,
        reference: Reference,
        platform: Option<Platform>,
    ) -> Result<ImageMetadata, EngineError>;

    /// Scans `reference`, and matches its packages against the vulnerability database in
    /// `vuln_db` when one is given; an image larger than the agent's limit is refused before
    /// any layer is pulled.
    async fn scan(
        &self,
        registry: Arc<dyn Registry>,
        reference: Reference,
        platform: Option<Platform>,
        vuln_db: Option<PathBuf>,
    ) -> Result<ScanOutput, EngineError>;
}

/// The real engine: `cra_scan::Scanner` with the agent's size limit, results rendered with
/// `cra_scan::sbom::snyk_scan_results`; with a signature policy, each image is verified first
/// and an accepted one's results carry the `imageSignature` fact.
#[derive(Debug, Clone)]
pub struct ScanEngine {
    max_image_size: u64,
    cache: Option<cra_scan::LayerCache>,
    trust: Option<TrustConfig>,
    /// The walk slots every job's scanner shares, so concurrent jobs together walk at most
    /// [`cra_scan::Scanner::max_walks`] layers at once.
    walks: cra_scan::Scanner,
}

impl ScanEngine {
    /// An engine refusing images larger than the settings allow.
    pub fn new(settings: &crate::agent::settings::Settings) -> Self {
        ScanEngine {
            max_image_size: settings.max_image_size,
            cache: settings.cache.clone(),
            trust: settings.trust.clone(),
            walks: cra_scan::Scanner::default(),
        }
    }

    fn scanner(&self, platform: Option<Platform>) -> cra_scan::Scanner {
        self.walks.with_options(cra_scan::ScanOptions {
            require_platform: platform.is_some(),
            platform: platform.unwrap_or_default(),
            max_image_size: Some(self.max_image_size),
            cache: self.cache.clone(),
            ..cra_scan::ScanOptions::default()
        })
    }
}

/// Decides on the image `reference` names with the agent's signature policy, before anything
/// is pulled; a rejection fails the scan with the policy's reason.
async fn verify(
    trust: &TrustConfig,
    registry: &dyn Registry,
    reference: &Reference,
) -> Result<SignatureStatus, EngineError> {
    let (_, verdict) = trust.verify_reference(registry, reference).await?;
    let status = SignatureStatus::of(&verdict, true);
    // The reason quotes the signed identity, which the image's signatures supply.
    let summary = cra_core::text::escape_untrusted(&status.summary()).into_owned();
    if verdict.is_accepted() {
        tracing::info!(image = %reference, "signature {summary}");
        Ok(status)
    } else {
        tracing::warn!(image = %reference, "signature {summary}");
        Err(EngineError::new(
            FailureKind::SignatureRejected,
            format!("the signature policy refuses the image: {summary}"),
        ))
    }
}

/// The message of an error and its causes, joined.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let next = cause.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = cause.source();
    }
    text
}

impl From<cra_scan::ScanError> for EngineError {
    fn from(err: cra_scan::ScanError) -> Self {
        use cra_scan::ScanError as S;
        let kind = match &err {
            S::Registry { source, .. } if source.kind() == ErrorKind::TooLarge => {
                FailureKind::TooLarge
            }
            S::Registry { source, .. } => FailureKind::Registry(source.kind()),
            S::ImageTooLarge { .. } | S::UnpackedTooLarge { .. } => FailureKind::TooLarge,
            S::NotFound { .. } | S::PlatformUnavailable { .. } => {
                FailureKind::Registry(ErrorKind::NotFound)
            }
            S::DigestMismatch { .. } => FailureKind::Registry(ErrorKind::DigestMismatch),
            S::SizeMismatch { .. }
            | S::Layer { .. }
            | S::Metadata { .. }
            | S::UnsupportedMediaType { .. }
            | S::Archive { .. } => FailureKind::InvalidImage,
            _ => FailureKind::Internal,
        };
        EngineError::new(kind, chain(&err))
    }
}

/// Matches `inventory` against the database in `dir`, off the async threads (SQLite blocks).
async fn match_vulns(
    dir: PathBuf,
    inventory: cra_scan::Inventory,
) -> Result<cra_scan::vulns::VulnReport, EngineError> {
    let matched = tokio::task::spawn_blocking(move || {
        let db = cra_scan::vulns::db::Database::open(&dir)?;
        cra_scan::vulns::match_inventory(&db, &inventory, time::OffsetDateTime::now_utc())
    })
    .await
    .map_err(|e| EngineError::new(FailureKind::Internal, chain(&e)))?;
    matched.map_err(|e| EngineError::new(FailureKind::VulnDb, chain(&e)))
}

fn metadata(reference: &Reference, info: cra_scan::ImageInfo) -> ImageMetadata {
    ImageMetadata {
        repository: reference.repository().to_owned(),
        tag: reference.tag().map(str::to_owned),
        digest: info.manifest_digest.to_string(),
        config_digest: info.config_digest.to_string(),
        platform: info.platform.to_string(),
        created: info.created,
        size: info.total_size,
        layers: info
            .layers
            .into_iter()
            .map(|l| LayerMetadata {
                digest: l.digest.to_string(),
                diff_id: l.diff_id.map(|d| d.to_string()),
                size: l.size,
                media_type: l.media_type,
            })
            .collect(),
    }
}

#[async_trait]
impl Engine for ScanEngine {
    async fn inspect(
        &self,
        registry: Arc<dyn Registry>,
        reference: Reference,
        platform: Option<Platform>,
    ) -> Result<ImageMetadata, EngineError> {
        let source = cra_scan::ImageSource::Registry {
            registry,
            reference: reference.clone(),
        };
        let info = self.scanner(platform).inspect(&source).await?;
        Ok(metadata(&reference, info))
    }

    async fn scan(
        &self,
        registry: Arc<dyn Registry>,
        reference: Reference,
        platform: Option<Platform>,
        vuln_db: Option<PathBuf>,
    ) -> Result<ScanOutput, EngineError> {
        let signature = match &self.trust {
            Some(trust) => Some(verify(trust, registry.as_ref(), &reference).await?),
            None => None,
        };
        let source = cra_scan::ImageSource::Registry {
            registry,
            reference,
        };
        let mut report = self.scanner(platform).scan(&source, None).await?;
        report.signature = signature;
        let scan_results = cra_scan::sbom::snyk_scan_results(&report);
        let digest = Some(report.image.manifest_digest.to_string());
        let vulns = match vuln_db {
            Some(dir) => Some(match_vulns(dir, report.inventory).await?),
            None => None,
        };
        Ok(ScanOutput {
            digest,
            scan_results,
            vulns,
        })
    }
}
