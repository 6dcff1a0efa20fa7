//! Images in a registry, through the [`cra_core::Registry`] trait.
//!
//! Blobs arrive as an async stream; [`BlobReader`] hands them to the blocking tar walk through
//! a bounded channel, so a slow walk slows the download instead of buffering it.

use std::io::{self, Read};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use cra_core::manifest::{select_platform, Manifest};
use cra_core::{Digest, Platform, Reference, Registry, RegistryError};
use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::{digest_of, image_info, LayerSource, Resolved, MAX_INDEX_DEPTH, MAX_METADATA_SIZE};
use crate::error::ScanError;

/// Chunks buffered between the download and the walk of one layer.
const CHANNEL_CHUNKS: usize = 4;

/// Resolves a registry image.
pub(crate) async fn resolve(
    registry: Arc<dyn Registry>,
    reference: &Reference,
    platform: &Platform,
) -> Result<Resolved, ScanError> {
    let repository = reference.repository().to_owned();
    let mut wanted = reference.manifest_reference();
    for _ in 0..MAX_INDEX_DEPTH {
        let fetched = registry
            .fetch_manifest(&repository, &wanted)
            .await
            .map_err(|e| ScanError::registry(format!("cannot fetch manifest of {reference}"), e))?;
        let parsed = Manifest::parse(&fetched.media_type, &fetched.bytes).map_err(|e| {
            if e.kind() == cra_core::ErrorKind::Unsupported {
                ScanError::UnsupportedMediaType {
                    media_type: fetched.media_type.clone(),
                }
            } else {
                ScanError::metadata(format!("cannot parse the manifest of {reference}"), e)
            }
        })?;
        match parsed {
            Manifest::Index(index) => {
                let d = select_platform(&index, platform).map_err(|e| ScanError::NotFound {
                    what: format!("{reference}: {}", e.message()),
                })?;
                wanted = d.digest().to_string();
            }
            Manifest::Image(manifest) => {
                let config_digest = digest_of(manifest.config().digest())?;
                let config = fetch_small(&registry, &repository, &config_digest).await?;
                let names = vec![
                    reference.to_string(),
                    format!("{}/{}@{}", reference.registry(), repository, fetched.digest),
                ];
                let info = image_info(
                    fetched.digest.clone(),
                    fetched.media_type.clone(),
                    &manifest,
                    &config,
                    names,
                )?;
                let layers = info
                    .layers
                    .iter()
                    .map(|_| LayerSource::Registry {
                        registry: registry.clone(),
                        repository: repository.clone(),
                    })
                    .collect();
                return Ok(Resolved { info, layers });
            }
        }
    }
    Err(ScanError::Metadata {
        reason: format!("indexes nest deeper than {MAX_INDEX_DEPTH} levels"),
        source: None,
    })
}

async fn fetch_small(
    registry: &Arc<dyn Registry>,
    repository: &str,
    digest: &Digest,
) -> Result<Vec<u8>, ScanError> {
    let context = || format!("cannot fetch blob {digest} of {repository}");
    let mut stream = registry
        .fetch_blob(repository, digest, Some(MAX_METADATA_SIZE))
        .await
        .map_err(|e| ScanError::registry(context(), e))?;
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        bytes.extend_from_slice(&chunk.map_err(|e| ScanError::registry(context(), e))?);
    }
    Ok(bytes)
}

/// A blocking reader over a registry blob stream.
pub(crate) struct BlobReader {
    rx: mpsc::Receiver<Bytes>,
    current: Bytes,
    failure: Arc<Mutex<Option<RegistryError>>>,
    task: tokio::task::JoinHandle<()>,
}

impl BlobReader {
    /// Starts the download of `digest` (capped at `max_size` bytes).
    pub(crate) async fn open(
        registry: &Arc<dyn Registry>,
        repository: &str,
        digest: &Digest,
        max_size: Option<u64>,
    ) -> Result<BlobReader, ScanError> {
        let mut stream = registry
            .fetch_blob(repository, digest, max_size)
            .await
            .map_err(|e| {
                ScanError::registry(format!("cannot fetch layer {digest} of {repository}"), e)
            })?;
        let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
        let failure = Arc::new(Mutex::new(None));
        let slot = failure.clone();
        let task = tokio::spawn(async move {
            while let Some(item) = stream.next().await {
                match item {
                    Ok(chunk) => {
                        if tx.send(chunk).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        if let Ok(mut slot) = slot.lock() {
                            *slot = Some(e);
                        }
                        return;
                    }
                }
            }
        });
        Ok(BlobReader {
            rx,
            current: Bytes::new(),
            failure,
            task,
        })
    }

    /// The registry error that ended the stream, if one did.
    pub(crate) fn failure(failure: &Arc<Mutex<Option<RegistryError>>>) -> Option<RegistryError> {
        failure.lock().ok().and_then(|mut f| f.take())
    }

    /// A handle on the failure slot, to read after the reader is gone.
    pub(crate) fn failure_slot(&self) -> Arc<Mutex<Option<RegistryError>>> {
        self.failure.clone()
    }
}

impl Drop for BlobReader {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Read for BlobReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(chunk) => self.current = chunk,
                None => {
                    let failed = self.failure.lock().map(|f| f.is_some()).unwrap_or(true);
                    return if failed {
                        Err(io::Error::other("the blob download failed"))
                    } else {
                        Ok(0)
                    };
                }
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}
