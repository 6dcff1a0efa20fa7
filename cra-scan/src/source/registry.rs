//! Images in a registry, through the [`cra_core::Registry`] trait.
//!
//! Blobs arrive as an async stream; [`open_blob`] hands them to the blocking tar walk through a
//! bounded channel, [`StreamReader`] and [`SyncIoBridge`], so a slow walk slows the download
//! instead of buffering it.

use std::io;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use cra_core::manifest::Manifest;
use cra_core::{Digest, Reference, Registry, RegistryError};
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio_util::io::{StreamReader, SyncIoBridge};
use tokio_util::task::AbortOnDropHandle;

use super::platform::{candidates, Wanted};
use super::{digest_of, image_info, LayerSource, Resolved, MAX_INDEX_DEPTH, MAX_METADATA_SIZE};
use crate::cache::LayerCache;
use crate::error::ScanError;

/// Chunks buffered between the download and the walk of one layer.
const CHANNEL_CHUNKS: usize = 4;

/// Resolves a registry image.
pub(crate) async fn resolve(
    registry: Arc<dyn Registry>,
    reference: &Reference,
    platform: &Wanted,
    cache: Option<&LayerCache>,
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
                let d = platform.choose(candidates(index.manifests()))?;
                wanted = d.digest().to_string();
            }
            Manifest::Image(manifest) => {
                let config_digest = digest_of(manifest.config().digest())?;
                let cached = match cache {
                    Some(c) => cached_config(c, &config_digest).await,
                    None => None,
                };
                let from_cache = cached.is_some();
                let config = match cached {
                    Some(bytes) => bytes,
                    None => fetch_small(&registry, &repository, &config_digest).await?,
                };
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
                if let (Some(cache), false) = (cache, from_cache) {
                    // `image_info` checked the bytes against the digest.
                    let cache = cache.clone();
                    tokio::task::spawn_blocking(move || cache.put_config(&config_digest, &config))
                        .await
                        .map_err(ScanError::Task)?;
                }
                let layers = info
                    .layers
                    .iter()
                    .map(|_| LayerSource::Registry {
                        registry: registry.clone(),
                        repository: repository.clone(),
                    })
                    .collect();
                return Ok(Resolved::new(info, layers));
            }
        }
    }
    Err(ScanError::Metadata {
        reason: format!("indexes nest deeper than {MAX_INDEX_DEPTH} levels"),
        source: None,
    })
}

/// A config from the cache (checked against its digest there), read on a blocking thread.
async fn cached_config(cache: &LayerCache, digest: &Digest) -> Option<Vec<u8>> {
    let (cache, digest) = (cache.clone(), digest.clone());
    tokio::task::spawn_blocking(move || cache.config(&digest))
        .await
        .ok()
        .flatten()
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

/// The registry error that ended a blob download, kept to report instead of the read error the
/// walk sees.
pub(crate) type FailureSlot = Arc<Mutex<Option<RegistryError>>>;

/// A blocking reader over a registry blob, for the walk on a blocking thread.
pub(crate) type BlobReader =
    SyncIoBridge<StreamReader<BoxStream<'static, io::Result<Bytes>>, Bytes>>;

/// Starts the download of `digest` (capped at `max_size` bytes) and returns a blocking reader
/// over it, with the slot where a registry failure is kept.
///
/// The download runs ahead of the walk by at most [`CHANNEL_CHUNKS`] chunks, on a task that ends
/// when the reader is dropped.
pub(crate) async fn open_blob(
    registry: &Arc<dyn Registry>,
    repository: &str,
    digest: &Digest,
    max_size: Option<u64>,
) -> Result<(BlobReader, FailureSlot), ScanError> {
    let mut stream = registry
        .fetch_blob(repository, digest, max_size)
        .await
        .map_err(|e| {
            ScanError::registry(format!("cannot fetch layer {digest} of {repository}"), e)
        })?;
    let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
    let download = AbortOnDropHandle::new(tokio::spawn(async move {
        while let Some(item) = stream.next().await {
            let failed = item.is_err();
            if tx.send(item).await.is_err() || failed {
                return;
            }
        }
    }));
    let failure: FailureSlot = Arc::new(Mutex::new(None));
    let slot = failure.clone();
    let chunks = futures_util::stream::unfold((rx, download), |(mut rx, download)| async move {
        rx.recv().await.map(|item| (item, (rx, download)))
    })
    .map(move |item| {
        item.map_err(|e| {
            if let Ok(mut slot) = slot.lock() {
                *slot = Some(e);
            }
            io::Error::other("the blob download failed")
        })
    })
    .boxed();
    Ok((SyncIoBridge::new(StreamReader::new(chunks)), failure))
}

/// Takes the registry error that ended a download, if one did.
pub(crate) fn take_failure(failure: &FailureSlot) -> Option<RegistryError> {
    failure.lock().ok().and_then(|mut f| f.take())
}
