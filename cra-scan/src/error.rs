//! The error a scan returns.

use std::io;
use std::path::PathBuf;

use cra_core::{Digest, ErrorKind, Platform, RegistryError};

use crate::layer::LayerError;

/// Why a scan (or an inspection, or rendering a report) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScanError {
    /// The registry failed; [`ScanError::registry_kind`] says how.
    #[error("{context}")]
    Registry {
        /// What was being done (`fetching manifest of library/debian:12`).
        context: String,
        /// The registry's error.
        #[source]
        source: RegistryError,
    },
    /// The manifest declares more bytes than allowed; nothing was pulled.
    #[error("image is {size} bytes, more than the limit of {limit} bytes")]
    ImageTooLarge {
        /// The declared (or, for a stream that lied, the read) size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The layers unpack to more bytes than allowed (a decompression bomb); the walk was cut off
    /// in the named layer.
    #[error("{layer} unpacks past the limit of {limit} bytes")]
    UnpackedTooLarge {
        /// The layer, `layer <index> (<digest>)`.
        layer: String,
        /// The limit.
        limit: u64,
    },
    /// Content does not hash to its digest.
    #[error("digest mismatch for {what}: expected {expected}, got {actual}")]
    DigestMismatch {
        /// What was checked (`layer 1 (sha256:…)`, `diff_id of layer 0 (…)`, `config`).
        what: String,
        /// The declared digest.
        expected: Digest,
        /// The digest of the bytes.
        actual: Digest,
    },
    /// Content has a different size than its descriptor declares.
    #[error("size mismatch for {what}: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        /// What was checked.
        what: String,
        /// The declared size.
        expected: u64,
        /// The actual size.
        actual: u64,
    },
    /// A layer could not be read as a tar stream.
    #[error("bad layer {index} ({digest})")]
    Layer {
        /// The layer's index, base layer = 0.
        index: usize,
        /// The layer's digest.
        digest: Digest,
        /// What is wrong with it.
        #[source]
        source: LayerError,
    },
    /// An image archive or layout is malformed.
    #[error("bad image archive {path}: {reason}")]
    Archive {
        /// The archive or layout directory.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A manifest, index or config is malformed.
    #[error("bad image metadata: {reason}")]
    Metadata {
        /// What is wrong.
        reason: String,
        /// The parse error, if any.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// A manifest, config or layer has a media type we do not read.
    #[error("unsupported media type {media_type:?}")]
    UnsupportedMediaType {
        /// The media type.
        media_type: String,
    },
    /// A tag, platform or blob is not in the image source.
    #[error("not found: {what}")]
    NotFound {
        /// What is missing.
        what: String,
    },
    /// The image is not of the platform that was asked for: an index without it (or with
    /// several others when none was asked for), or a single-platform image of another one when a
    /// platform was required.
    #[error(
        "the image has no platform {requested}; available: {}",
        platform_list(available)
    )]
    PlatformUnavailable {
        /// The platform asked for.
        requested: Platform,
        /// The platforms the image has (attestations not counted).
        available: Vec<Platform>,
    },
    /// The image source string is not one of the local transports.
    #[error("invalid image source {input:?}: {reason}")]
    InvalidSource {
        /// The input.
        input: String,
        /// What is wrong.
        reason: String,
    },
    /// A local file could not be read.
    #[error("cannot read {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The report could not be written.
    #[error("cannot write the report")]
    Output(#[source] io::Error),
    /// A scan task panicked or was cancelled.
    #[error("a scan task failed")]
    Task(#[source] tokio::task::JoinError),
}

fn platform_list(platforms: &[Platform]) -> String {
    if platforms.is_empty() {
        return "none".to_owned();
    }
    let names: Vec<String> = platforms.iter().map(Platform::to_string).collect();
    names.join(", ")
}

impl ScanError {
    /// The registry error kind, when the registry failed.
    pub fn registry_kind(&self) -> Option<ErrorKind> {
        match self {
            ScanError::Registry { source, .. } => Some(source.kind()),
            _ => None,
        }
    }

    pub(crate) fn registry(context: impl Into<String>, source: RegistryError) -> Self {
        ScanError::Registry {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn metadata(
        reason: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        ScanError::Metadata {
            reason: reason.into(),
            source: Some(source.into()),
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        ScanError::Io {
            path: path.into(),
            source,
        }
    }
}
