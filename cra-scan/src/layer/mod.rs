//! The walk of one layer: blob bytes → digest → decompression → tar entries → analyzers.
//!
//! ```text
//!  raw blob ─► Measured (blob digest, byte count, image size budget, progress)
//!           ─► Decoder (gzip / zstd / plain, by magic)
//!           ─► Measured (diff_id, unpacked size budget) ─► BufReader ─► EndTracker ─► tar
//! ```
//!
//! Everything is synchronous and runs on a blocking thread; the walker writes nothing to disk.
//! Only entries that some analyzer [`wants`](crate::analyzers::Analyzer::wants) are read, and
//! only when they fit the analyzer's [`max_size`](crate::analyzers::Analyzer::max_size).
//! An entry wanted by one analyzer streams straight into it (the Java analyzer spools large
//! archives to a temporary file); one wanted by several is read into a buffer bounded by their
//! caps and handed to each.
//! Whiteouts and opaque directories are recorded, not applied: `merge` applies them across
//! layers in order.
//! After the last tar entry the rest of the stream is drained, so that both digests cover every
//! byte of the blob.

pub mod decompress;
pub mod hashing;
pub mod path;
mod readers;
mod walker;
pub mod whiteout;

use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;

use cra_core::digest::Algorithm;
use cra_core::Digest;

use crate::analyzers::{Analyzer, AnalyzerId, Findings};
use decompress::UnsupportedCompression;

pub use readers::Budget;
pub use walker::walk;

/// Why a layer could not be walked.
#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    /// The layer uses a compression we do not read.
    #[error(transparent)]
    Compression(#[from] UnsupportedCompression),
    /// The compressed or tar stream is corrupt or ends early.
    #[error("layer stream is corrupt or truncated")]
    Corrupt(#[source] io::Error),
    /// A wanted entry has fewer bytes than its header declares.
    #[error("tar entry {path} is cut short: {got} of {expected} bytes")]
    Truncated {
        /// The entry.
        path: String,
        /// The size from the tar header.
        expected: u64,
        /// The bytes present.
        got: u64,
    },
    /// The image's layers unpack to more bytes than allowed (a decompression bomb).
    #[error("layers unpack to more than {limit} bytes")]
    UnpackedTooLarge {
        /// The limit.
        limit: u64,
    },
    /// The image's blobs are larger than allowed.
    #[error("blobs are larger than {limit} bytes")]
    CompressedTooLarge {
        /// The limit.
        limit: u64,
    },
    /// A large file could not be written to a temporary file for the analyzers.
    #[error("cannot write {path} to a temporary file")]
    Spool {
        /// The file in the layer.
        path: String,
        /// The write error.
        #[source]
        source: io::Error,
    },
}

/// What one analyzer found in one file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AnalyzedFile {
    /// The analyzer's id.
    pub analyzer: AnalyzerId,
    /// Its findings.
    pub findings: Findings,
}

/// The result of walking one layer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LayerFindings {
    /// Analyzed files by normalised path; a later entry for the same path replaces an earlier one.
    pub files: BTreeMap<String, Vec<AnalyzedFile>>,
    /// Paths deleted from lower layers by `.wh.<name>` markers.
    pub whiteouts: Vec<String>,
    /// Directories made opaque by `.wh..wh..opq` markers.
    pub opaque_dirs: Vec<String>,
    /// Wanted paths that this layer turns into something other than a regular file (a symlink, a
    /// hardlink, a directory): lower layers' content there no longer counts.
    pub replaced: Vec<String>,
    /// Problems that did not stop the walk, each naming the layer.
    pub warnings: Vec<String>,
    /// The digest of the raw blob, in the requested algorithm.
    pub blob_digest: Option<Digest>,
    /// The sha256 of the uncompressed tar stream.
    pub diff_id: Option<Digest>,
    /// Raw blob bytes read.
    pub compressed_size: u64,
    /// Uncompressed bytes read.
    pub uncompressed_size: u64,
}

/// How to walk one layer.
pub struct Walk<'a> {
    /// How the layer is named in warnings (`layer 1 (sha256:…)`).
    pub label: &'a str,
    /// The analyzers to offer entries to.
    pub analyzers: &'a [Arc<dyn Analyzer>],
    /// The algorithm of the blob digest to compute; `None` skips it (the source verified it).
    pub blob_algorithm: Option<Algorithm>,
    /// The image-wide budget of raw blob bytes.
    pub compressed: &'a Budget,
    /// The image-wide budget of uncompressed bytes.
    pub unpacked: &'a Budget,
    /// Called with the number of raw bytes as they are read.
    pub on_bytes: &'a (dyn Fn(u64) + Sync),
}

impl std::fmt::Debug for Walk<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Walk").field("label", &self.label).finish()
    }
}

#[cfg(test)]
mod tests;
