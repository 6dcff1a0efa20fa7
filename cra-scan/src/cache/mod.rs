//! The analysis cache: per-layer results and image configs on disk, shared by scans and
//! processes, so a layer seen before is neither pulled nor inflated.
//!
//! ```text
//!  <dir>/entries/<2 hex>/<64 hex key>   one entry: header (format, sha256 of payload) + JSON
//!  <dir>/tmp/                           entries being written
//!  <dir>/lock                           held by an eviction pass
//! ```
//!
//! **Keys.** A layer's result is keyed by the layer's blob digest, the ids and
//! [`version`](crate::analyzers::Analyzer::version)s of the analyzers that ran, and
//! [`FORMAT_VERSION`]. An analyzer's `version` is bumped whenever its output for the same input
//! changes (its `max_size` included); `FORMAT_VERSION` is bumped whenever the walk, the merge
//! inputs ([`LayerFindings`]) or the stored form change. Either bump makes old entries unreachable;
//! eviction removes them in time.
//! An image config is keyed by its digest and checked against it when read.
//! With a warm cache, a rescan of an unchanged image costs its manifest requests only: the
//! manifest digest names the config and the layers, and both come from here.
//!
//! **Integrity.** Entries are written to a temporary file and renamed into place, so a reader
//! sees a whole entry or none. A header carries the sha256 of the payload; an entry that is
//! truncated, corrupt, of another format or unreadable is removed and recomputed, never trusted.
//! Cache failures never fail a scan: they are logged and the layer is walked.
//!
//! **One walk per layer.** Scans of one process that miss the same layer at once walk it once:
//! each holds a [`Claim`] on the key from its lookup until the entry is written, so the others
//! wait and then find the entry (`inflight.rs`).
//! Processes sharing a directory do not coordinate their walks: two of them that miss a layer
//! at the same moment both walk it and write the same entry, and the rename keeps either.
//!
//! **Size.** The entries are bounded by [`LayerCache::max_size`]; see [`evict`] for the
//! least-recently-used policy and how several processes share a directory.

mod entry;
pub mod evict;
mod inflight;
mod key;
mod stored;

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use cra_core::Digest;

use crate::layer::LayerFindings;

pub use entry::EntryError;
pub use inflight::Claim;
pub use key::AnalyzerSet;
use stored::StoredLayer;

/// The version of the walk and of the stored form; see the module docs for when it is bumped.
pub const FORMAT_VERSION: u32 = 1;

/// The default bound on the bytes the entries hold.
pub const DEFAULT_MAX_SIZE: u64 = 1024 * 1024 * 1024;

/// An eviction pass brings the entries down to this share of the bound (in percent), so that
/// a busy cache does not evict on every write.
const LOW_WATER_PERCENT: u64 = 90;

/// A full size count is redone after this many writes, to see other processes' writes.
const RECOUNT_EVERY: u64 = 64;

/// Why the cache could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The directory could not be created.
    #[error("cannot create the cache directory {path}")]
    Create {
        /// The directory.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
}

/// How the cache was used since it was opened, by this process.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Layers found in the cache.
    pub layer_hits: u64,
    /// Layers looked up and not found (or discarded as corrupt).
    pub layer_misses: u64,
    /// Configs found in the cache.
    pub config_hits: u64,
    /// Configs looked up and not found.
    pub config_misses: u64,
    /// Entries discarded because they failed their integrity check.
    pub discarded: u64,
}

impl CacheStats {
    /// The share of layer lookups that hit, from 0 to 1 (0 when there were none).
    pub fn layer_hit_ratio(&self) -> f64 {
        let total = self.layer_hits + self.layer_misses;
        if total == 0 {
            0.0
        } else {
            self.layer_hits as f64 / total as f64
        }
    }
}

/// A cache directory; cheap to clone, and clones share their counters.
#[derive(Debug, Clone)]
pub struct LayerCache {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    dir: PathBuf,
    max_size: u64,
    counters: Counters,
    /// Bytes the entries hold, as last counted plus what this process wrote since, and the
    /// writes since the count; `None` before the first count.
    size: Mutex<Option<(u64, u64)>>,
    /// The layers being walked by this process's scans.
    in_flight: inflight::InFlight,
}

#[derive(Debug, Default)]
struct Counters {
    layer_hits: AtomicU64,
    layer_misses: AtomicU64,
    config_hits: AtomicU64,
    config_misses: AtomicU64,
    discarded: AtomicU64,
}

impl LayerCache {
    /// Opens (creating it if needed) the cache in `dir`, holding at most `max_size` bytes.
    pub fn open(dir: impl Into<PathBuf>, max_size: u64) -> Result<Self, CacheError> {
        let dir = dir.into();
        for d in [dir.join("entries"), dir.join("tmp")] {
            fs::create_dir_all(&d).map_err(|source| CacheError::Create { path: d, source })?;
        }
        Ok(Self {
            inner: Arc::new(Inner {
                dir,
                max_size,
                counters: Counters::default(),
                size: Mutex::new(None),
                in_flight: inflight::InFlight::default(),
            }),
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// The bound on the bytes the entries hold.
    pub fn max_size(&self) -> u64 {
        self.inner.max_size
    }

    /// How the cache was used by this process.
    pub fn stats(&self) -> CacheStats {
        let c = &self.inner.counters;
        CacheStats {
            layer_hits: c.layer_hits.load(Ordering::Relaxed),
            layer_misses: c.layer_misses.load(Ordering::Relaxed),
            config_hits: c.config_hits.load(Ordering::Relaxed),
            config_misses: c.config_misses.load(Ordering::Relaxed),
            discarded: c.discarded.load(Ordering::Relaxed),
        }
    }

    /// The bytes the entries hold now (all processes' entries).
    pub fn size(&self) -> io::Result<u64> {
        evict::total_size(&self.entries())
    }

    /// Runs an eviction pass now, whatever this process counted.
    pub fn evict(&self) -> io::Result<evict::Evicted> {
        let max = self.inner.max_size;
        let done = evict::run(
            &self.inner.dir.join("lock"),
            &self.entries(),
            &self.inner.dir.join("tmp"),
            max,
            max / 100 * LOW_WATER_PERCENT,
        )?;
        if !done.skipped {
            if let Ok(mut size) = self.inner.size.lock() {
                *size = Some((done.after, 0));
            }
        }
        Ok(done)
    }

    /// Waits until no other scan of this process (sharing this cache or a clone of it) is
    /// computing the entry `key`, then claims it: look the entry up, and compute and store it
    /// when missing, while holding the claim, so a layer shared by scans running at once is
    /// walked once and the others find its entry.
    /// Dropping the claim (the walk ended, failed or was cancelled) lets the next one in.
    pub async fn claim(&self, key: &str) -> Claim {
        self.inner.in_flight.claim(key).await
    }

    /// The cached result of walking the layer `key` names, its warnings labelled `label`.
    pub fn layer(&self, key: &str, label: &str) -> Option<LayerFindings> {
        let c = &self.inner.counters;
        let found = self.read(key).and_then(|payload| {
            match serde_json::from_slice::<StoredLayer>(&payload) {
                Ok(stored) => Some(stored.into_findings(label)),
                Err(e) => {
                    self.discard(key, &e);
                    None
                }
            }
        });
        let counter = if found.is_some() {
            &c.layer_hits
        } else {
            &c.layer_misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Stores the result of walking the layer `key` names, walked under `label`.
    pub fn put_layer(&self, key: &str, findings: &LayerFindings, label: &str) {
        match serde_json::to_vec(&StoredLayer::new(findings, label)) {
            Ok(payload) => self.write(key, &payload),
            Err(e) => tracing::warn!(error = %e, "cannot encode a layer for the cache"),
        }
    }

    /// The config blob `digest` names, checked against it.
    pub fn config(&self, digest: &Digest) -> Option<Vec<u8>> {
        let key = key::config_key(digest);
        let c = &self.inner.counters;
        let found = self.read(&key).and_then(|payload| {
            let mut h = digest.hasher();
            h.update(&payload);
            if &h.finish() == digest {
                Some(payload)
            } else {
                self.discard(&key, &"content does not match its digest");
                None
            }
        });
        let counter = if found.is_some() {
            &c.config_hits
        } else {
            &c.config_misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Stores a config blob already checked against `digest`.
    pub fn put_config(&self, digest: &Digest, bytes: &[u8]) {
        self.write(&key::config_key(digest), bytes);
    }

    fn entries(&self) -> PathBuf {
        self.inner.dir.join("entries")
    }

    fn path(&self, key: &str) -> PathBuf {
        let shard = key.get(..2).unwrap_or("00");
        self.entries().join(shard).join(key)
    }

    /// Reads and checks an entry, marking it used; `None` when absent or discarded.
    fn read(&self, key: &str) -> Option<Vec<u8>> {
        let path = self.path(key);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return None,
            Err(e) => {
                self.discard(key, &e);
                return None;
            }
        };
        match entry::decode(&bytes) {
            Ok(payload) => {
                // Record the use for LRU; a failure only makes the entry look older.
                let _ = fs::File::options()
                    .write(true)
                    .open(&path)
                    .and_then(|f| f.set_modified(SystemTime::now()));
                Some(payload.to_vec())
            }
            Err(e) => {
                self.discard(key, &e);
                None
            }
        }
    }

    fn discard(&self, key: &str, why: &dyn std::fmt::Display) {
        tracing::warn!(entry = key, reason = %why, "discarding a cache entry; it is recomputed");
        self.inner
            .counters
            .discarded
            .fetch_add(1, Ordering::Relaxed);
        let _ = fs::remove_file(self.path(key));
    }

    fn write(&self, key: &str, payload: &[u8]) {
        let bytes = entry::encode(payload);
        let len = bytes.len() as u64;
        if len > self.inner.max_size {
            return;
        }
        if let Err(e) = self.write_atomically(key, &bytes) {
            tracing::warn!(error = %e, dir = %self.inner.dir.display(), "cannot write to the cache");
            return;
        }
        if self.grew_past_bound(len) {
            if let Err(e) = self.evict() {
                tracing::warn!(error = %e, "cache eviction failed");
            }
        }
    }

    fn write_atomically(&self, key: &str, bytes: &[u8]) -> io::Result<()> {
        let path = self.path(key);
        if let Some(shard) = path.parent() {
            fs::create_dir_all(shard)?;
        }
        let mut temp = tempfile::NamedTempFile::new_in(self.inner.dir.join("tmp"))?;
        temp.write_all(bytes)?;
        temp.as_file().sync_data()?;
        temp.persist(&path).map_err(|e| e.error)?;
        Ok(())
    }

    /// Adds `len` written bytes to the count (counting the directory when due) and says whether
    /// the bound is passed.
    fn grew_past_bound(&self, len: u64) -> bool {
        let Ok(mut size) = self.inner.size.lock() else {
            return true;
        };
        let (bytes, writes) = match *size {
            Some((bytes, writes)) if writes < RECOUNT_EVERY => (bytes + len, writes + 1),
            _ => (self.size().unwrap_or(u64::MAX), 0),
        };
        *size = Some((bytes, writes));
        bytes > self.inner.max_size
    }
}

#[cfg(test)]
mod tests;
