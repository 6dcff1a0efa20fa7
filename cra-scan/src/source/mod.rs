//! Where images come from: a registry through the [`cra_core::Registry`] trait, or a local OCI
//! layout, oci-archive or docker-archive.
//!
//! Resolving a source reads the manifest (selecting a platform from an index, by the rules of
//! `platform.rs`), the config, and the list of layers; it pulls no layer.
//! Each layer then becomes a `LayerSource` that the pipeline opens as a blocking reader.

mod archive;
mod docker_archive;
mod oci_layout;
mod platform;
mod registry;
mod stream;

use std::fmt;
use std::io::Read;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use cra_core::manifest::media_type;
use cra_core::{Digest, Platform, Reference, Registry};
use oci_spec::image::ImageManifest;
use serde::Serialize;

use crate::cache::LayerCache;
use crate::error::ScanError;

pub(crate) use platform::Wanted;
pub(crate) use registry::{open_blob, take_failure};
pub(crate) use stream::for_each_file;

/// An image to scan.
#[derive(Clone)]
pub enum ImageSource {
    /// An image in a registry.
    Registry {
        /// The registry client.
        registry: Arc<dyn Registry>,
        /// The image reference; its repository and tag or digest are used.
        reference: Reference,
    },
    /// An OCI image layout directory (`oci:<dir>[:tag]`).
    OciLayout {
        /// The directory holding `oci-layout`, `index.json` and `blobs/`.
        path: PathBuf,
        /// The `org.opencontainers.image.ref.name` to select; `None` takes the only image.
        tag: Option<String>,
    },
    /// A tar of an OCI image layout (`oci-archive:<file>[:tag]`).
    OciArchive {
        /// The tar file.
        path: PathBuf,
        /// The tag to select.
        tag: Option<String>,
    },
    /// A `docker save` tar (`docker-archive:<file>`), legacy or OCI-inside.
    DockerArchive {
        /// The tar file.
        path: PathBuf,
    },
}

impl fmt::Debug for ImageSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageSource::Registry { reference, .. } => write!(f, "Registry({reference})"),
            ImageSource::OciLayout { path, tag } => write!(f, "OciLayout({path:?}, {tag:?})"),
            ImageSource::OciArchive { path, tag } => write!(f, "OciArchive({path:?}, {tag:?})"),
            ImageSource::DockerArchive { path } => write!(f, "DockerArchive({path:?})"),
        }
    }
}

impl FromStr for ImageSource {
    type Err = ScanError;

    /// Parses the local transports: `oci:<dir>[:tag]`, `oci-archive:<file>[:tag]`,
    /// `docker-archive:<file>`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = |reason: &str| ScanError::InvalidSource {
            input: s.to_owned(),
            reason: reason.to_owned(),
        };
        let (transport, rest) = s
            .split_once(':')
            .ok_or_else(|| invalid("expected oci:, oci-archive: or docker-archive:"))?;
        if rest.is_empty() {
            return Err(invalid("the path is empty"));
        }
        let split_tag = |rest: &str| match rest.rsplit_once(':') {
            Some((path, tag)) if !tag.is_empty() && !tag.contains('/') && !path.is_empty() => {
                (PathBuf::from(path), Some(tag.to_owned()))
            }
            _ => (PathBuf::from(rest), None),
        };
        match transport {
            "oci" => {
                let (path, tag) = split_tag(rest);
                Ok(ImageSource::OciLayout { path, tag })
            }
            "oci-archive" => {
                let (path, tag) = split_tag(rest);
                Ok(ImageSource::OciArchive { path, tag })
            }
            "docker-archive" => Ok(ImageSource::DockerArchive {
                path: PathBuf::from(rest),
            }),
            _ => Err(invalid(
                "unknown transport; expected oci:, oci-archive: or docker-archive:",
            )),
        }
    }
}

/// One layer of an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LayerInfo {
    /// The blob digest (for a legacy docker-archive, which has none, the diff_id).
    pub digest: Digest,
    /// The uncompressed digest from the config's `rootfs.diff_ids`.
    pub diff_id: Option<Digest>,
    /// The blob size in bytes.
    pub size: u64,
    /// The declared media type.
    pub media_type: String,
    /// The layer's file name inside a legacy docker-archive (`<id>/layer.tar`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archive_path: Option<String>,
}

/// What an image is, from its manifest and config.
#[derive(Debug, Clone, Serialize)]
pub struct ImageInfo {
    /// The digest of the manifest bytes (the repo digest).
    pub manifest_digest: Digest,
    /// The manifest's media type.
    pub manifest_media_type: String,
    /// The digest of the config bytes (the image id).
    pub config_digest: Digest,
    /// The platform, from the config.
    pub platform: Platform,
    /// The config's `created` time (RFC 3339).
    pub created: Option<String>,
    /// The layers, base first.
    pub layers: Vec<LayerInfo>,
    /// Names the image is known by (`repo:tag`, `repo@digest`).
    pub names: Vec<String>,
    /// The config size plus every layer's size.
    pub total_size: u64,
    /// The image config as JSON.
    pub config: serde_json::Value,
}

/// How the pipeline reads one layer.
pub(crate) enum LayerSource {
    /// A byte range of a local file.
    File {
        path: PathBuf,
        offset: u64,
        size: u64,
        /// The blob digest to verify, when the source names one.
        verify: Option<Digest>,
    },
    /// A regular file of a compressed image tar, read when the archive's stream reaches it.
    ArchiveEntry {
        archive: PathBuf,
        /// The entry's name, links resolved.
        entry: String,
        size: u64,
        /// The blob digest to verify, when the source names one.
        verify: Option<Digest>,
    },
    /// A registry blob (verified by the registry client as it streams).
    Registry {
        registry: Arc<dyn Registry>,
        repository: String,
    },
    /// A layer that is not available (a foreign layer missing from an archive); skipped with a
    /// warning.
    Missing { reason: String },
}

/// A resolved image: its facts, and where each layer is.
pub(crate) struct Resolved {
    pub(crate) info: ImageInfo,
    pub(crate) layers: Vec<LayerSource>,
    /// What the scan should warn about (an image of another platform than the default).
    pub(crate) warnings: Vec<String>,
}

impl Resolved {
    pub(crate) fn new(info: ImageInfo, layers: Vec<LayerSource>) -> Resolved {
        Resolved {
            info,
            layers,
            warnings: Vec::new(),
        }
    }
}

/// Resolves a source to its manifest, config and layer locations, and checks its platform.
pub(crate) async fn resolve(
    source: &ImageSource,
    wanted: &Wanted,
    cache: Option<&LayerCache>,
) -> Result<Resolved, ScanError> {
    let mut resolved = resolve_transport(source, wanted, cache).await?;
    if let Some(warning) = wanted.check(&resolved.info.platform)? {
        resolved.warnings.push(warning);
    }
    Ok(resolved)
}

async fn resolve_transport(
    source: &ImageSource,
    platform: &Wanted,
    cache: Option<&LayerCache>,
) -> Result<Resolved, ScanError> {
    match source {
        ImageSource::Registry {
            registry,
            reference,
        } => registry::resolve(registry.clone(), reference, platform, cache).await,
        ImageSource::OciLayout { path, tag } => {
            let (path, tag, platform) = (path.clone(), tag.clone(), platform.clone());
            blocking(move || oci_layout::resolve_dir(&path, tag.as_deref(), &platform)).await
        }
        ImageSource::OciArchive { path, tag } => {
            let (path, tag, platform) = (path.clone(), tag.clone(), platform.clone());
            blocking(move || oci_layout::resolve_archive(&path, tag.as_deref(), &platform)).await
        }
        ImageSource::DockerArchive { path } => {
            let (path, platform) = (path.clone(), platform.clone());
            blocking(move || docker_archive::resolve(&path, &platform)).await
        }
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ScanError> + Send + 'static,
) -> Result<T, ScanError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ScanError::Task)?
}

/// Opens a local layer range as a reader.
pub(crate) fn open_file_range(
    path: &std::path::Path,
    offset: u64,
    size: u64,
) -> Result<impl Read + Send, ScanError> {
    use std::io::{Seek, SeekFrom};
    let mut file = std::fs::File::open(path).map_err(|e| ScanError::io(path, e))?;
    file.seek(SeekFrom::Start(offset))
        .map_err(|e| ScanError::io(path, e))?;
    Ok(file.take(size))
}

/// The most bytes a manifest, index or config may have.
pub(crate) const MAX_METADATA_SIZE: u64 = 4 * 1024 * 1024;

/// How deep indexes may nest.
pub(crate) const MAX_INDEX_DEPTH: usize = 4;

/// Checks that `bytes` hash to `digest`.
pub(crate) fn verify_bytes(what: &str, digest: &Digest, bytes: &[u8]) -> Result<(), ScanError> {
    let mut h = digest.hasher();
    h.update(bytes);
    let actual = h.finish();
    if &actual == digest {
        Ok(())
    } else {
        Err(ScanError::DigestMismatch {
            what: what.to_owned(),
            expected: digest.clone(),
            actual,
        })
    }
}

/// Converts an oci-spec digest.
pub(crate) fn digest_of(d: &oci_spec::image::Digest) -> Result<Digest, ScanError> {
    d.to_string()
        .parse()
        .map_err(|e| ScanError::metadata(format!("invalid digest {d}"), e))
}

/// The parts of an image config the scanner uses.
pub(crate) struct ConfigFacts {
    pub(crate) value: serde_json::Value,
    pub(crate) platform: Platform,
    pub(crate) created: Option<String>,
    pub(crate) diff_ids: Vec<Digest>,
}

/// Parses a config leniently: only `rootfs.diff_ids` must be well-formed.
pub(crate) fn parse_config(bytes: &[u8]) -> Result<ConfigFacts, ScanError> {
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| ScanError::metadata("image config is not valid JSON", e))?;
    let text = |k: &str| value.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    let platform = Platform::new(
        text("os").as_deref().unwrap_or("linux"),
        text("architecture").as_deref().unwrap_or("amd64"),
        text("variant").as_deref(),
    );
    let mut diff_ids = Vec::new();
    let ids = value
        .pointer("/rootfs/diff_ids")
        .and_then(|v| v.as_array())
        .map(Vec::as_slice)
        .unwrap_or_default();
    for id in ids {
        let s = id.as_str().unwrap_or_default();
        diff_ids.push(
            s.parse()
                .map_err(|e| ScanError::metadata(format!("invalid diff_id {s:?}"), e))?,
        );
    }
    Ok(ConfigFacts {
        platform,
        created: text("created"),
        diff_ids,
        value,
    })
}

/// Builds the image facts from a parsed manifest and its config.
pub(crate) fn image_info(
    manifest_digest: Digest,
    manifest_media_type: String,
    manifest: &ImageManifest,
    config_bytes: &[u8],
    names: Vec<String>,
) -> Result<ImageInfo, ScanError> {
    let config_desc = manifest.config();
    let config_type = config_desc.media_type().to_string();
    if config_type != media_type::OCI_CONFIG && config_type != media_type::DOCKER_CONFIG {
        return Err(ScanError::UnsupportedMediaType {
            media_type: config_type,
        });
    }
    let config_digest = digest_of(config_desc.digest())?;
    verify_bytes("config", &config_digest, config_bytes)?;
    let facts = parse_config(config_bytes)?;
    if facts.diff_ids.len() != manifest.layers().len() {
        return Err(ScanError::Metadata {
            reason: format!(
                "manifest lists {} layers but the config lists {} diff_ids",
                manifest.layers().len(),
                facts.diff_ids.len()
            ),
            source: None,
        });
    }
    let mut layers = Vec::with_capacity(manifest.layers().len());
    for (d, diff_id) in manifest.layers().iter().zip(&facts.diff_ids) {
        layers.push(LayerInfo {
            digest: digest_of(d.digest())?,
            diff_id: Some(diff_id.clone()),
            size: d.size(),
            media_type: d.media_type().to_string(),
            archive_path: None,
        });
    }
    let total_size = config_desc.size() + layers.iter().map(|l| l.size).sum::<u64>();
    Ok(ImageInfo {
        manifest_digest,
        manifest_media_type,
        config_digest,
        platform: facts.platform,
        created: facts.created,
        layers,
        names,
        total_size,
        config: facts.value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_local_transports() {
        let cases = [
            ("oci:images/demo", "OciLayout(\"images/demo\", None)"),
            (
                "oci:images/demo:v1",
                "OciLayout(\"images/demo\", Some(\"v1\"))",
            ),
            ("oci:./a:b/c", "OciLayout(\"./a:b/c\", None)"),
            (
                "oci-archive:x.tar:12",
                "OciArchive(\"x.tar\", Some(\"12\"))",
            ),
            ("docker-archive:x.tar", "DockerArchive(\"x.tar\")"),
        ];
        for (input, want) in cases {
            let got: ImageSource = input.parse().unwrap();
            assert_eq!(format!("{got:?}"), want, "{input}");
        }
        for bad in ["nginx:latest", "oci:", "docker.io/library/debian", "oci"] {
            assert!(bad.parse::<ImageSource>().is_err(), "{bad}");
        }
    }

    #[test]
    fn config_is_read_leniently() {
        let facts = parse_config(
            br#"{"architecture":"arm64","os":"linux","created":"2024-01-01T00:00:00Z",
                "config":{"Env":null},"rootfs":{"type":"layers","diff_ids":[]}}"#,
        )
        .unwrap();
        assert_eq!(facts.platform.to_string(), "linux/arm64/v8");
        assert_eq!(facts.created.as_deref(), Some("2024-01-01T00:00:00Z"));
        assert!(parse_config(br#"{"rootfs":{"diff_ids":["sha256:zz"]}}"#).is_err());
        assert!(parse_config(b"[").is_err());
    }
}
