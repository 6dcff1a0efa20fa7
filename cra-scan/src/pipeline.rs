//! The scanner: resolve the image, walk its layers concurrently, merge them in order.
//!
//! ```text
//!            ┌─ layer 0: source ─► (bounded channel) ─► spawn_blocking walk ─┐
//!  resolve ──┼─ layer 1: …                                                   ├─► merge ─► Inventory
//!            └─ layer n: …            (at most `layer_concurrency` at once)  ┘
//! ```
//!
//! Memory per layer in flight is the channel's few chunks, the decoder's window, the tar read
//! buffer and the wanted files; results are small and kept in layer order.
//! Scans sharing a [`Scanner`] share its walk slots ([`Scanner::max_walks`]), so the layers in
//! flight are bounded per process rather than per scan.

use std::collections::HashMap;
use std::sync::Arc;

use cra_core::digest::Algorithm;
use cra_core::{Digest, Platform};
use futures_util::{StreamExt, TryStreamExt};
use serde::Serialize;
use tokio::sync::Semaphore;

use crate::analyzers::{self, Analyzer, AnalyzerId};
use crate::cache::{AnalyzerSet, LayerCache};
use crate::error::ScanError;
use crate::inventory::Inventory;
use crate::layer::{self, Budget, LayerError, LayerFindings, Walk};
use crate::merge;
use crate::source::{self, open_file_range, ImageInfo, ImageSource, LayerInfo, LayerSource};

/// Default cap on the bytes an image's layers may unpack to.
pub const DEFAULT_MAX_UNPACKED_SIZE: u64 = 64 * 1024 * 1024 * 1024;

/// How a scan runs.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// The platform to pick from a multi-platform image.
    ///
    /// An image that has only another platform is scanned anyway, with a warning in the
    /// inventory, unless [`ScanOptions::require_platform`] is set.
    pub platform: Platform,
    /// Refuse an image that is not of [`ScanOptions::platform`]
    /// ([`ScanError::PlatformUnavailable`]) instead of scanning its only platform; set when the
    /// platform was asked for explicitly.
    pub require_platform: bool,
    /// Refuse images whose blobs total more bytes than this (checked against the manifest before
    /// any layer is pulled, and enforced while reading).
    pub max_image_size: Option<u64>,
    /// The analyzers to run; `None` runs all of [`analyzers::builtin`].
    pub analyzers: Option<Vec<AnalyzerId>>,
    /// How many layers are fetched and walked at once (at least 1).
    pub layer_concurrency: usize,
    /// Refuse images whose layers unpack to more bytes than this (decompression bombs).
    pub max_unpacked_size: Option<u64>,
    /// The analysis cache: layers found in it are neither pulled nor walked, and configs found
    /// in it are not pulled; `None` (the default) walks every layer.
    /// Layers of a compressed image tar, read in one pass, do not use it.
    pub cache: Option<LayerCache>,
}

impl Default for ScanOptions {
    fn default() -> Self {
        Self {
            platform: Platform::default(),
            require_platform: false,
            max_image_size: None,
            analyzers: None,
            layer_concurrency: 3,
            max_unpacked_size: Some(DEFAULT_MAX_UNPACKED_SIZE),
            cache: None,
        }
    }
}

/// Receives progress events; called from worker threads.
pub trait Progress: Send + Sync {
    /// A layer starts downloading or reading.
    fn layer_started(&self, index: usize, digest: &Digest, size: u64);
    /// `n` more raw bytes of layer `index` were read.
    fn bytes(&self, index: usize, n: u64);
    /// A layer is done.
    fn layer_done(&self, index: usize);
}

/// The result of a scan.
#[derive(Debug, Clone, Serialize)]
pub struct ScanReport {
    /// What the image is.
    pub image: ImageInfo,
    /// What is in it.
    pub inventory: Inventory,
    /// The signature status, when the caller verified signatures (`cra scan --policy/--verify`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature: Option<crate::signature::SignatureStatus>,
}

/// What [`Scanner::scan_if_changed`] did.
#[derive(Debug, Clone)]
pub enum Rescan {
    /// The manifest digest is the known one; no layer was read.
    Unchanged(Box<ImageInfo>),
    /// The image changed (or was not known) and was scanned.
    Scanned(Box<ScanReport>),
}

/// Scans images; clones share their limit on layers walked at once.
#[derive(Debug, Clone)]
pub struct Scanner {
    options: ScanOptions,
    /// Layer walks in flight across every scan of this scanner (see [`walk_slots`]).
    walks: Arc<Semaphore>,
    max_walks: usize,
}

impl Default for Scanner {
    fn default() -> Self {
        Self::new(ScanOptions::default())
    }
}

/// How many layers the scans of one scanner walk at once: a scan's own
/// [`ScanOptions::layer_concurrency`], or twice the cores when that is more.
///
/// Scans running at once (`cra scan-registry --concurrency`, the agent's jobs) share these slots,
/// so the buffers of layers in flight, and the threads that hold them, stop growing with the
/// number of scans once the cores are busy: a walk inflates, hashes and parses, and more walks
/// than cores only wait for each other.
/// A layer takes its slot before its blob is requested, so no download stalls while it waits.
fn walk_slots(options: &ScanOptions) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    options.layer_concurrency.max(1).max(2 * cores)
}

struct LayerJob {
    index: usize,
    info: LayerInfo,
    source: LayerSource,
}

struct Shared {
    analyzers: Vec<Arc<dyn Analyzer>>,
    compressed: Budget,
    unpacked: Budget,
    progress: Option<Arc<dyn Progress>>,
    /// The cache and the key part of the analyzers in use.
    cache: Option<(LayerCache, AnalyzerSet)>,
    /// The scanner's walk slots.
    walks: Arc<Semaphore>,
}

impl Scanner {
    /// A scanner with `options`.
    pub fn new(options: ScanOptions) -> Self {
        let max_walks = walk_slots(&options);
        Self {
            options,
            walks: Arc::new(Semaphore::new(max_walks)),
            max_walks,
        }
    }

    /// A scanner with `options` of its own that shares this one's walk slots, so scans that
    /// need options each (the agent's jobs, each with its platform) still walk at most
    /// [`Scanner::max_walks`] layers at once between them.
    pub fn with_options(&self, options: ScanOptions) -> Self {
        Self {
            options,
            walks: self.walks.clone(),
            max_walks: self.max_walks,
        }
    }

    /// How many layers this scanner's scans, together, walk at most at once: the scan's
    /// [`ScanOptions::layer_concurrency`], or twice the cores when that is more.
    pub fn max_walks(&self) -> usize {
        self.max_walks
    }

    /// The options.
    pub fn options(&self) -> &ScanOptions {
        &self.options
    }

    /// Resolves the manifest (selecting the platform) and the config; pulls no layer.
    pub async fn inspect(&self, source: &ImageSource) -> Result<ImageInfo, ScanError> {
        Ok(
            source::resolve(source, &self.wanted(), self.options.cache.as_ref())
                .await?
                .info,
        )
    }

    /// Scans an image.
    pub async fn scan(
        &self,
        source: &ImageSource,
        progress: Option<Arc<dyn Progress>>,
    ) -> Result<ScanReport, ScanError> {
        let resolved = source::resolve(source, &self.wanted(), self.options.cache.as_ref()).await?;
        self.scan_resolved(resolved, progress).await
    }

    /// Scans an image unless its manifest digest is `known`, in which case only its manifest
    /// (and its config, unless the cache has it) were read.
    pub async fn scan_if_changed(
        &self,
        source: &ImageSource,
        known: Option<&Digest>,
        progress: Option<Arc<dyn Progress>>,
    ) -> Result<Rescan, ScanError> {
        let resolved = source::resolve(source, &self.wanted(), self.options.cache.as_ref()).await?;
        if known == Some(&resolved.info.manifest_digest) {
            return Ok(Rescan::Unchanged(Box::new(resolved.info)));
        }
        Ok(Rescan::Scanned(Box::new(
            self.scan_resolved(resolved, progress).await?,
        )))
    }

    async fn scan_resolved(
        &self,
        resolved: source::Resolved,
        progress: Option<Arc<dyn Progress>>,
    ) -> Result<ScanReport, ScanError> {
        let analyzers = self.analyzers();
        let image = resolved.info;
        let image_warnings = resolved.warnings;
        if let Some(limit) = self.options.max_image_size {
            if image.total_size > limit {
                return Err(ScanError::ImageTooLarge {
                    size: image.total_size,
                    limit,
                });
            }
        }
        for layer in &image.layers {
            if !cra_core::manifest::media_type::is_layer(&layer.media_type) {
                return Err(ScanError::UnsupportedMediaType {
                    media_type: layer.media_type.clone(),
                });
            }
        }
        let cache = self.options.cache.clone().map(|c| {
            let set = AnalyzerSet::new(analyzers.iter().map(|a| (a.id(), a.version())));
            (c, set)
        });
        let shared = Arc::new(Shared {
            analyzers,
            cache,
            compressed: Budget::new(self.options.max_image_size),
            unpacked: Budget::new(self.options.max_unpacked_size),
            progress,
            walks: self.walks.clone(),
        });
        let jobs: Vec<LayerJob> = image
            .layers
            .iter()
            .cloned()
            .zip(resolved.layers)
            .enumerate()
            .map(|(index, (info, source))| LayerJob {
                index,
                info,
                source,
            })
            .collect();
        let in_archive = jobs
            .iter()
            .any(|j| matches!(j.source, LayerSource::ArchiveEntry { .. }));
        let findings: Vec<LayerFindings> = if in_archive {
            // A compressed archive is one stream: its layers are walked as they pass by.
            tokio::task::spawn_blocking(move || walk_archive_in_order(&shared, &jobs))
                .await
                .map_err(ScanError::Task)??
        } else {
            futures_util::stream::iter(jobs)
                .map(|job| scan_layer(shared.clone(), job))
                .buffered(self.options.layer_concurrency.max(1))
                .try_collect()
                .await?
        };
        let mut inventory = Inventory::from_merged(merge::merge(findings), &image.layers);
        inventory.warnings.splice(0..0, image_warnings);
        Ok(ScanReport {
            image,
            inventory,
            signature: None,
        })
    }

    fn wanted(&self) -> source::Wanted {
        source::Wanted {
            platform: self.options.platform.clone(),
            required: self.options.require_platform,
        }
    }

    fn analyzers(&self) -> Vec<Arc<dyn Analyzer>> {
        analyzers::builtin()
            .into_iter()
            .map(Arc::from)
            .filter(|a: &Arc<dyn Analyzer>| {
                self.options
                    .analyzers
                    .as_ref()
                    .is_none_or(|wanted| wanted.contains(&a.id()))
            })
            .collect()
    }
}

async fn scan_layer(shared: Arc<Shared>, job: LayerJob) -> Result<LayerFindings, ScanError> {
    let LayerJob {
        index,
        info,
        source,
    } = job;
    if let Some(p) = &shared.progress {
        p.layer_started(index, &info.digest, info.size);
    }
    let label = format!("layer {index} ({})", info.digest);
    let cache_key = match (&shared.cache, &source) {
        (Some((_, set)), LayerSource::File { .. } | LayerSource::Registry { .. }) => {
            Some(set.layer_key(&info.digest))
        }
        _ => None,
    };
    // Held until the entry is written, so scans running at once walk a shared layer once.
    let _claim = match (&shared.cache, &cache_key) {
        (Some((cache, _)), Some(key)) => Some(cache.claim(key).await),
        _ => None,
    };
    if let (Some((cache, _)), Some(key)) = (&shared.cache, &cache_key) {
        if let Some(findings) = cached_layer(cache, key, &label).await {
            check_digests(&findings, &info, None, &label)?;
            if let Some(p) = &shared.progress {
                p.bytes(index, info.size);
                p.layer_done(index);
            }
            return Ok(findings);
        }
    }
    // Never closed, so the slot is always granted; it is held until the walk ends.
    let _slot = shared.walks.clone().acquire_owned().await.ok();
    let (reader, verify, failure): (Box<dyn std::io::Read + Send>, _, _) = match source {
        LayerSource::File {
            path,
            offset,
            size,
            verify,
        } => (
            Box::new(open_file_range(&path, offset, size)?),
            verify,
            None,
        ),
        LayerSource::Registry {
            registry,
            repository,
        } => {
            let (reader, slot) =
                source::open_blob(&registry, &repository, &info.digest, Some(info.size)).await?;
            (Box::new(reader), None, Some(slot))
        }
        LayerSource::Missing { reason } => {
            if let Some(p) = &shared.progress {
                p.layer_done(index);
            }
            return Ok(missing(&label, &reason));
        }
        LayerSource::ArchiveEntry { archive, .. } => {
            return Err(ScanError::Archive {
                path: archive,
                reason: "a compressed archive's layers are read in archive order".into(),
            });
        }
    };
    let algorithm: Option<Algorithm> = verify.as_ref().map(Digest::algorithm);
    let walk_shared = shared.clone();
    let walk_label = label.clone();
    let walked = tokio::task::spawn_blocking(move || {
        let s = &walk_shared;
        let on_bytes = |n: u64| {
            if let Some(p) = &s.progress {
                p.bytes(index, n);
            }
        };
        layer::walk(
            reader,
            &Walk {
                label: &walk_label,
                analyzers: &s.analyzers,
                blob_algorithm: algorithm,
                compressed: &s.compressed,
                unpacked: &s.unpacked,
                on_bytes: &on_bytes,
            },
        )
    })
    .await
    .map_err(ScanError::Task)?;
    let findings = match walked {
        Ok(f) => f,
        Err(e) => {
            if let Some(err) = failure.as_ref().and_then(source::take_failure) {
                return Err(ScanError::registry(format!("cannot read {label}"), err));
            }
            return Err(layer_error(e, index, &info, &label, &shared));
        }
    };
    check_digests(&findings, &info, verify.as_ref(), &label)?;
    if let (Some((cache, _)), Some(key)) = (&shared.cache, cache_key) {
        let (cache, stored) = (cache.clone(), findings.clone());
        tokio::task::spawn_blocking(move || cache.put_layer(&key, &stored, &label))
            .await
            .map_err(ScanError::Task)?;
    }
    if let Some(p) = &shared.progress {
        p.layer_done(index);
    }
    Ok(findings)
}

/// Looks a layer up in the cache on a blocking thread.
async fn cached_layer(cache: &LayerCache, key: &str, label: &str) -> Option<LayerFindings> {
    let (cache, key, label) = (cache.clone(), key.to_owned(), label.to_owned());
    tokio::task::spawn_blocking(move || cache.layer(&key, &label))
        .await
        .ok()
        .flatten()
}

fn missing(label: &str, reason: &str) -> LayerFindings {
    LayerFindings {
        warnings: vec![format!("{label}: {reason}; skipped")],
        ..LayerFindings::default()
    }
}

/// Walks the layers of a compressed archive in the order the archive holds them, each as its
/// entry passes by; a blob used by several layers is walked once.
fn walk_archive_in_order(
    shared: &Shared,
    jobs: &[LayerJob],
) -> Result<Vec<LayerFindings>, ScanError> {
    let label = |job: &LayerJob| format!("layer {} ({})", job.index, job.info.digest);
    let mut results: Vec<Option<LayerFindings>> = jobs.iter().map(|_| None).collect();
    let mut wanted: HashMap<&str, Vec<&LayerJob>> = HashMap::new();
    let mut archive = None;
    for job in jobs {
        match &job.source {
            LayerSource::ArchiveEntry {
                archive: path,
                entry,
                ..
            } => {
                archive = Some(path);
                wanted.entry(entry.as_str()).or_default().push(job);
            }
            LayerSource::Missing { reason } => {
                results[job.index] = Some(missing(&label(job), reason));
            }
            LayerSource::File { path, .. } => {
                return Err(ScanError::Archive {
                    path: path.clone(),
                    reason: "layers of one image come from two places".into(),
                })
            }
            LayerSource::Registry { repository, .. } => {
                return Err(ScanError::Metadata {
                    reason: format!("layers of one image come from {repository} and an archive"),
                    source: None,
                })
            }
        }
    }
    let Some(archive) = archive else {
        return Ok(results.into_iter().flatten().collect());
    };
    source::for_each_file(archive, |name, reader| {
        let Some(users) = wanted.remove(name) else {
            return Ok(());
        };
        let Some(first) = users.first() else {
            return Ok(());
        };
        let verify = match &first.source {
            LayerSource::ArchiveEntry { verify, .. } => verify.as_ref(),
            _ => None,
        };
        if let Some(p) = &shared.progress {
            p.layer_started(first.index, &first.info.digest, first.info.size);
        }
        let first_label = label(first);
        let on_bytes = |n: u64| {
            if let Some(p) = &shared.progress {
                p.bytes(first.index, n);
            }
        };
        let findings = layer::walk(
            reader,
            &Walk {
                label: &first_label,
                analyzers: &shared.analyzers,
                blob_algorithm: verify.map(Digest::algorithm),
                compressed: &shared.compressed,
                unpacked: &shared.unpacked,
                on_bytes: &on_bytes,
            },
        )
        .map_err(|e| layer_error(e, first.index, &first.info, &first_label, shared))?;
        for job in users {
            check_digests(&findings, &job.info, verify, &label(job))?;
            if let Some(p) = &shared.progress {
                p.layer_done(job.index);
            }
            results[job.index] = Some(findings.clone());
        }
        Ok(())
    })?;
    if let Some(name) = wanted.keys().next() {
        return Err(ScanError::Archive {
            path: archive.clone(),
            reason: format!("layer {name} is missing from the archive"),
        });
    }
    results
        .into_iter()
        .map(|r| {
            r.ok_or_else(|| ScanError::Archive {
                path: archive.clone(),
                reason: "a layer is missing from the archive".into(),
            })
        })
        .collect()
}

fn layer_error(
    e: LayerError,
    index: usize,
    info: &LayerInfo,
    label: &str,
    shared: &Shared,
) -> ScanError {
    match e {
        LayerError::UnpackedTooLarge { limit } => ScanError::UnpackedTooLarge {
            layer: label.to_owned(),
            limit,
        },
        LayerError::CompressedTooLarge { limit } => ScanError::ImageTooLarge {
            size: shared.compressed.used(),
            limit,
        },
        source => ScanError::Layer {
            index,
            digest: info.digest.clone(),
            source,
        },
    }
}

fn check_digests(
    findings: &LayerFindings,
    info: &LayerInfo,
    verify: Option<&Digest>,
    label: &str,
) -> Result<(), ScanError> {
    if let (Some(expected), Some(actual)) = (verify, &findings.blob_digest) {
        if expected != actual {
            return Err(ScanError::DigestMismatch {
                what: label.to_owned(),
                expected: expected.clone(),
                actual: actual.clone(),
            });
        }
    }
    if let (Some(expected), Some(actual)) = (&info.diff_id, &findings.diff_id) {
        if expected != actual {
            return Err(ScanError::DigestMismatch {
                what: format!("diff_id of {label}"),
                expected: expected.clone(),
                actual: actual.clone(),
            });
        }
    }
    Ok(())
}
