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
pub mod whiteout;

use std::collections::BTreeMap;
use std::io::{self, BufReader, Read, Seek};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use cra_core::digest::Algorithm;
use cra_core::Digest;

use crate::analyzers::{Analyzer, AnalyzerInput, FileMeta, Findings};
use decompress::{Decoder, DecoderError, UnsupportedCompression};
use hashing::BackgroundHasher;
use whiteout::Marker;

/// A byte budget shared by the layers of one image; reading past it fails the read.
#[derive(Debug, Default)]
pub struct Budget {
    limit: Option<u64>,
    used: AtomicU64,
}

impl Budget {
    /// A budget of `limit` bytes (`None`: unlimited, only counted).
    pub fn new(limit: Option<u64>) -> Self {
        Self {
            limit,
            used: AtomicU64::new(0),
        }
    }

    /// The limit.
    pub fn limit(&self) -> Option<u64> {
        self.limit
    }

    /// Bytes charged so far.
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    fn charge(&self, n: u64) -> bool {
        let total = self.used.fetch_add(n, Ordering::Relaxed) + n;
        self.limit.is_none_or(|limit| total <= limit)
    }

    fn exceeded(&self) -> bool {
        self.limit.is_some_and(|limit| self.used() > limit)
    }
}

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
#[derive(Debug, Clone)]
pub struct AnalyzedFile {
    /// The analyzer's id.
    pub analyzer: &'static str,
    /// Its findings.
    pub findings: Findings,
}

/// The result of walking one layer.
#[derive(Debug, Default)]
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

/// A reader that hashes (on a thread of its own), counts and charges a budget.
struct Measured<'a, R> {
    inner: R,
    hasher: Option<BackgroundHasher>,
    count: u64,
    budget: &'a Budget,
    on_bytes: Option<&'a (dyn Fn(u64) + Sync)>,
}

impl<'a, R: Read> Measured<'a, R> {
    fn new(inner: R, algorithm: Option<Algorithm>, budget: &'a Budget) -> Self {
        Self {
            inner,
            hasher: algorithm.map(BackgroundHasher::new),
            count: 0,
            budget,
            on_bytes: None,
        }
    }

    /// The digest (if one was asked for) and the byte count.
    fn finish(self) -> io::Result<(Option<Digest>, u64)> {
        let digest = self.hasher.map(BackgroundHasher::finish).transpose()?;
        Ok((digest, self.count))
    }
}

impl<R: Read> Read for Measured<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 {
            if let Some(h) = &mut self.hasher {
                h.update(&buf[..n])?;
            }
            self.count += n as u64;
            if let Some(cb) = self.on_bytes {
                cb(n as u64);
            }
            if !self.budget.charge(n as u64) {
                return Err(io::Error::other("byte budget exceeded"));
            }
        }
        Ok(n)
    }
}

/// Remembers whether the tar reader met the end of the stream (instead of an end-of-archive
/// block).
struct EndTracker<R> {
    inner: R,
    hit_eof: bool,
    read_any: bool,
}

impl<R: Read> Read for EndTracker<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            self.hit_eof = true;
        }
        self.read_any |= n > 0;
        Ok(n)
    }
}

/// Counts the bytes read through it.
struct Counted<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

/// Bytes of uncompressed tar read ahead of the tar parser.
const TAR_BUFFER: usize = 256 * 1024;

/// Walks one layer blob read from `raw`.
pub fn walk<R: Read>(raw: R, w: &Walk<'_>) -> Result<LayerFindings, LayerError> {
    let result = walk_inner(raw, w);
    // A budget overrun surfaces as some read error deep in the decoder or tar parser; name it.
    if result.is_err() {
        if let Some(limit) = w.unpacked.limit().filter(|_| w.unpacked.exceeded()) {
            return Err(LayerError::UnpackedTooLarge { limit });
        }
        if let Some(limit) = w.compressed.limit().filter(|_| w.compressed.exceeded()) {
            return Err(LayerError::CompressedTooLarge { limit });
        }
    }
    result
}

fn walk_inner<R: Read>(raw: R, w: &Walk<'_>) -> Result<LayerFindings, LayerError> {
    let mut measured_raw = Measured::new(raw, w.blob_algorithm, w.compressed);
    measured_raw.on_bytes = Some(w.on_bytes);
    let decoder = Decoder::new(&mut measured_raw).map_err(|e| match e {
        DecoderError::Io(e) => LayerError::Corrupt(e),
        DecoderError::Unsupported(u) => LayerError::Compression(u),
    })?;
    let unpacked = Measured::new(decoder, Some(Algorithm::Sha256), w.unpacked);
    let tracker = EndTracker {
        inner: BufReader::with_capacity(TAR_BUFFER, unpacked),
        hit_eof: false,
        read_any: false,
    };
    let mut archive = tar::Archive::new(tracker);
    let mut out = LayerFindings::default();
    walk_entries(&mut archive, w, &mut out)?;

    let mut tracker = archive.into_inner();
    if tracker.hit_eof && tracker.read_any {
        out.warnings.push(format!(
            "{}: tar stream ends without end-of-archive blocks",
            w.label
        ));
    }
    // Drain what follows the end-of-archive blocks (padding, compression trailers) so that the
    // digests cover the whole blob. Bytes the decoder read ahead were hashed on their way in.
    io::copy(&mut tracker.inner, &mut io::sink()).map_err(LayerError::Corrupt)?;
    let (diff_id, uncompressed_size) = tracker
        .inner
        .into_inner()
        .finish()
        .map_err(LayerError::Corrupt)?;
    io::copy(&mut measured_raw, &mut io::sink()).map_err(LayerError::Corrupt)?;
    let (blob_digest, compressed_size) = measured_raw.finish().map_err(LayerError::Corrupt)?;
    out.diff_id = diff_id;
    out.uncompressed_size = uncompressed_size;
    out.blob_digest = blob_digest;
    out.compressed_size = compressed_size;
    Ok(out)
}

fn walk_entries<R: Read>(
    archive: &mut tar::Archive<R>,
    w: &Walk<'_>,
    out: &mut LayerFindings,
) -> Result<(), LayerError> {
    for entry in archive.entries().map_err(LayerError::Corrupt)? {
        let mut entry = entry.map_err(LayerError::Corrupt)?;
        let path = match path::normalize(&entry.path_bytes()) {
            Ok(p) => p,
            Err(e) => {
                out.warnings
                    .push(format!("{}: {e}; entry skipped", w.label));
                continue;
            }
        };
        match whiteout::classify(&path) {
            Marker::Whiteout(target) => {
                out.whiteouts.push(target);
                continue;
            }
            Marker::Opaque(dir) => {
                out.opaque_dirs.push(dir);
                continue;
            }
            Marker::AufsMeta => continue,
            Marker::None => {}
        }
        let header = entry.header();
        let kind = header.entry_type();
        if kind.is_gnu_sparse() {
            out.warnings.push(format!(
                "{}: {path} is a sparse file; its content is read as stored",
                w.label
            ));
        }
        let meta = FileMeta {
            size: entry.size(),
            mode: header.mode().unwrap_or(0),
        };
        let wanting: Vec<&Arc<dyn Analyzer>> = w
            .analyzers
            .iter()
            .filter(|a| a.wants(&path, &meta))
            .collect();
        if wanting.is_empty() {
            continue;
        }
        if !(kind.is_file() || kind.is_contiguous() || kind.is_gnu_sparse()) {
            if kind.is_hard_link() {
                out.warnings.push(format!(
                    "{}: {path} is a hardlink; its content is not analyzed",
                    w.label
                ));
            }
            out.files.remove(&path);
            out.replaced.push(path);
            continue;
        }
        let analyzed = analyze_entry(&mut entry, &path, meta, &wanting, w, out)?;
        out.files.insert(path, analyzed);
    }
    Ok(())
}

fn analyze_entry<R: Read>(
    entry: &mut tar::Entry<'_, R>,
    path: &str,
    meta: FileMeta,
    wanting: &[&Arc<dyn Analyzer>],
    w: &Walk<'_>,
    out: &mut LayerFindings,
) -> Result<Vec<AnalyzedFile>, LayerError> {
    let fitting: Vec<&Arc<dyn Analyzer>> = wanting
        .iter()
        .copied()
        .filter(|a| {
            let fits = meta.size <= a.max_size();
            if !fits {
                out.warnings.push(format!(
                    "{}: {path} is {} bytes, more than the {} analyzer reads ({}); skipped",
                    w.label,
                    meta.size,
                    a.id(),
                    a.max_size()
                ));
            }
            fits
        })
        .collect();
    if fitting.is_empty() {
        return Ok(Vec::new());
    }
    if let [analyzer] = fitting[..] {
        // One reader: the entry streams straight into the analyzer, nothing is buffered here.
        let mut counted = Counted {
            inner: entry.take(meta.size),
            count: 0,
        };
        let result = analyzer.analyze(AnalyzerInput {
            path,
            meta,
            reader: &mut counted,
            spooled: None,
        });
        // Consume what the analyzer left unread, so that a short entry is noticed.
        io::copy(&mut counted, &mut io::sink()).map_err(LayerError::Corrupt)?;
        if counted.count != meta.size {
            return Err(LayerError::Truncated {
                path: path.to_owned(),
                expected: meta.size,
                got: counted.count,
            });
        }
        return Ok(match result {
            Ok(findings) => vec![AnalyzedFile {
                analyzer: analyzer.id(),
                findings,
            }],
            Err(e) => {
                out.warnings.push(format!("{}: {e}", w.label));
                Vec::new()
            }
        });
    }
    // Several readers: each gets the content from the start, from memory or, when it is large,
    // from a temporary file.
    let content = Content::read(entry.take(meta.size), meta.size, path)?;
    if content.len() != meta.size {
        return Err(LayerError::Truncated {
            path: path.to_owned(),
            expected: meta.size,
            got: content.len(),
        });
    }
    let mut analyzed = Vec::with_capacity(fitting.len());
    for analyzer in fitting {
        let result = match &content {
            Content::Memory(bytes) => analyzer.analyze(AnalyzerInput {
                path,
                meta,
                reader: &mut &bytes[..],
                spooled: None,
            }),
            Content::File(file, _) => {
                let mut reader = io::BufReader::new(file);
                reader
                    .seek(io::SeekFrom::Start(0))
                    .map_err(LayerError::Corrupt)?;
                analyzer.analyze(AnalyzerInput {
                    path,
                    meta,
                    reader: &mut reader,
                    spooled: Some(file),
                })
            }
        };
        match result {
            Ok(findings) => analyzed.push(AnalyzedFile {
                analyzer: analyzer.id(),
                findings,
            }),
            Err(e) => out.warnings.push(format!("{}: {e}", w.label)),
        }
    }
    Ok(analyzed)
}

/// Entries larger than this, wanted by several analyzers, are spooled to a temporary file.
const SPOOL_ABOVE: u64 = 1024 * 1024;
/// Bytes per write when spooling.
const SPOOL_BUFFER: usize = 256 * 1024;

/// One entry's content, read once for several analyzers.
enum Content {
    Memory(Vec<u8>),
    File(std::fs::File, u64),
}

impl Content {
    fn read(mut from: impl Read, size: u64, path: &str) -> Result<Content, LayerError> {
        if size <= SPOOL_ABOVE {
            let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
            from.read_to_end(&mut bytes).map_err(LayerError::Corrupt)?;
            return Ok(Content::Memory(bytes));
        }
        let spool_error = |source| LayerError::Spool {
            path: path.to_owned(),
            source,
        };
        let mut file =
            io::BufWriter::with_capacity(SPOOL_BUFFER, tempfile::tempfile().map_err(spool_error)?);
        // Errors here are mostly the layer's; a full disk reads as a corrupt layer.
        let len = io::copy(&mut from, &mut file).map_err(LayerError::Corrupt)?;
        let file = file.into_inner().map_err(|e| spool_error(e.into_error()))?;
        Ok(Content::File(file, len))
    }

    fn len(&self) -> u64 {
        match self {
            Content::Memory(bytes) => bytes.len() as u64,
            Content::File(_, len) => *len,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyzers::java::JavaAnalyzer;
    use crate::analyzers::{builtin, AnalyzerError};
    use crate::testutil::{gzip, mutate, tar, Item};

    const STATUS: &[u8] =
        b"Package: bash\nStatus: install ok installed\nVersion: 5.2-1\nArchitecture: amd64\n";

    fn run(blob: &[u8], unpacked_limit: Option<u64>) -> Result<LayerFindings, LayerError> {
        let analyzers: Vec<Arc<dyn Analyzer>> = builtin().into_iter().map(Arc::from).collect();
        let compressed = Budget::new(None);
        let unpacked = Budget::new(unpacked_limit);
        let seen = AtomicU64::new(0);
        let on_bytes = |n: u64| {
            seen.fetch_add(n, Ordering::Relaxed);
        };
        let out = walk(
            blob,
            &Walk {
                label: "layer 0 (test)",
                analyzers: &analyzers,
                blob_algorithm: Some(Algorithm::Sha256),
                compressed: &compressed,
                unpacked: &unpacked,
                on_bytes: &on_bytes,
            },
        );
        if out.is_ok() {
            assert_eq!(seen.load(Ordering::Relaxed), blob.len() as u64);
        }
        out
    }

    #[test]
    fn finds_wanted_files_and_markers_and_hashes_both_sides() {
        let raw = tar(&[
            Item::Dir("./var/lib/dpkg/"),
            Item::File("./var/lib/dpkg/status", STATUS),
            Item::File("./usr/bin/bash", b"ELF"),
            Item::File("./etc/.wh.os-release", b""),
            Item::File("./opt/.wh..wh..opq", b""),
            Item::Symlink("./usr/lib/os-release", "../../etc/os-release"),
        ]);
        let blob = gzip(&raw);
        let f = run(&blob, None).unwrap();
        assert_eq!(f.files.keys().collect::<Vec<_>>(), ["/var/lib/dpkg/status"]);
        assert_eq!(f.whiteouts, ["/etc/os-release"]);
        assert_eq!(f.opaque_dirs, ["/opt"]);
        assert_eq!(f.replaced, ["/usr/lib/os-release"]);
        assert_eq!(f.diff_id, Some(Digest::sha256_of(&raw)));
        assert_eq!(f.blob_digest, Some(Digest::sha256_of(&blob)));
        assert_eq!(f.uncompressed_size, raw.len() as u64);
        assert!(f.warnings.is_empty(), "{:?}", f.warnings);
        let pkgs = &f.files["/var/lib/dpkg/status"][0].findings.packages;
        assert_eq!(pkgs[0].name, "bash");
    }

    /// Links are recorded, never followed: loops, self-links and links out of the root cost
    /// nothing, and a wanted path that is a link is not read through it.
    #[test]
    fn symlink_loops_and_escapes_are_not_followed() {
        let raw = tar(&[
            Item::Symlink("./a", "b"),
            Item::Symlink("./b", "a"),
            Item::Symlink("./self", "self"),
            Item::Symlink("./etc/os-release", "../../../../proc/self/environ"),
            Item::Symlink("./var/lib/dpkg/status", "/var/lib/dpkg/status"),
            Item::File("./lib/apk/db/installed", b"P:musl\nV:1.2.4-r2\n\n"),
        ]);
        let f = run(&raw, None).unwrap();
        assert_eq!(
            f.files.keys().collect::<Vec<_>>(),
            ["/lib/apk/db/installed"]
        );
        assert_eq!(f.replaced, ["/etc/os-release", "/var/lib/dpkg/status"]);
        assert!(f.warnings.is_empty(), "{:?}", f.warnings);
    }

    #[test]
    fn zstd_and_plain_layers() {
        let raw = tar(&[Item::File("var/lib/dpkg/status", STATUS)]);
        for blob in [zstd::encode_all(&raw[..], 3).unwrap(), raw.clone()] {
            let f = run(&blob, None).unwrap();
            assert_eq!(f.files.len(), 1);
            assert_eq!(f.diff_id, Some(Digest::sha256_of(&raw)));
        }
    }

    #[test]
    fn hostile_names_are_skipped_with_a_warning() {
        let raw = tar(&[
            Item::File("../var/lib/dpkg/status", STATUS),
            Item::File("etc/ok", b"x"),
        ]);
        let f = run(&raw, None).unwrap();
        assert!(f.files.is_empty());
        assert!(
            f.warnings[0].contains("layer 0 (test)") && f.warnings[0].contains("escapes"),
            "{:?}",
            f.warnings
        );
    }

    #[test]
    fn missing_end_blocks_warn_and_empty_layers_do_not() {
        let raw = tar(&[Item::File("var/lib/dpkg/status", STATUS)]);
        let without_end = &raw[..raw.len() - 1024];
        let f = run(without_end, None).unwrap();
        assert_eq!(f.files.len(), 1);
        assert!(f.warnings[0].contains("end-of-archive"), "{:?}", f.warnings);
        let f = run(b"", None).unwrap();
        assert!(f.warnings.is_empty() && f.files.is_empty());
        let f = run(&gzip(&tar(&[])), None).unwrap();
        assert!(f.warnings.is_empty());
    }

    #[test]
    fn entry_cut_mid_way_is_an_error() {
        let big = vec![b'x'; 4096];
        let raw = tar(&[
            Item::File("var/lib/dpkg/status", STATUS),
            Item::File("usr/share/big", &big),
        ]);
        // Cut inside the unwanted entry's data, and inside the wanted entry's data.
        for cut in [512 + 512 + 512 + 100, 512 + 20] {
            let err = run(&raw[..cut], None).unwrap_err();
            assert!(
                matches!(err, LayerError::Corrupt(_) | LayerError::Truncated { .. }),
                "{err:?}"
            );
        }
        let err = run(&gzip(&raw)[..100], None).unwrap_err();
        assert!(matches!(err, LayerError::Corrupt(_)), "{err:?}");
    }

    /// The Java analyzer, noting how many uncompressed bytes the walk had read when it was called.
    struct Probe {
        unpacked: Arc<Budget>,
        read_before: Arc<AtomicU64>,
        partial: bool,
    }

    impl Analyzer for Probe {
        fn id(&self) -> &'static str {
            "probe"
        }
        fn version(&self) -> u32 {
            1
        }
        fn max_size(&self) -> u64 {
            JavaAnalyzer.max_size()
        }
        fn wants(&self, path: &str, meta: &FileMeta) -> bool {
            JavaAnalyzer.wants(path, meta)
        }
        fn analyze(&self, input: AnalyzerInput<'_>) -> Result<Findings, AnalyzerError> {
            self.read_before
                .store(self.unpacked.used(), Ordering::Relaxed);
            if self.partial {
                let mut head = [0u8; 4];
                input.reader.read_exact(&mut head).unwrap();
                return Ok(Findings::default());
            }
            JavaAnalyzer.analyze(input)
        }
    }

    fn big_jar() -> Vec<u8> {
        use std::io::Write;
        let mut state = 7u64;
        let noise: Vec<u8> = (0..(17 << 20))
            .map(|_| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
                (state >> 56) as u8
            })
            .collect();
        let mut z = zip::ZipWriter::new(io::Cursor::new(Vec::new()));
        let stored = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        z.start_file("META-INF/maven/a/big/pom.properties", stored)
            .unwrap();
        z.write_all(b"groupId=a\nartifactId=big\nversion=1\n")
            .unwrap();
        z.start_file("blob.bin", stored).unwrap();
        z.write_all(&noise).unwrap();
        z.finish().unwrap().into_inner()
    }

    fn walk_with_probe(raw: &[u8], partial: bool) -> (LayerFindings, u64) {
        let unpacked = Arc::new(Budget::new(None));
        let read_before = Arc::new(AtomicU64::new(0));
        let analyzers: Vec<Arc<dyn Analyzer>> = vec![Arc::new(Probe {
            unpacked: Arc::clone(&unpacked),
            read_before: Arc::clone(&read_before),
            partial,
        })];
        let f = walk(
            raw,
            &Walk {
                label: "layer 0 (test)",
                analyzers: &analyzers,
                blob_algorithm: Some(Algorithm::Sha256),
                compressed: &Budget::new(None),
                unpacked: &unpacked,
                on_bytes: &|_| {},
            },
        )
        .unwrap();
        (f, read_before.load(Ordering::Relaxed))
    }

    #[test]
    fn a_large_jar_streams_into_its_one_analyzer() {
        let jar = big_jar();
        assert!(jar.len() > 16 << 20);
        let raw = tar(&[
            Item::File("opt/app/big-1.jar", &jar),
            Item::File("var/lib/dpkg/status", STATUS),
        ]);
        for partial in [false, true] {
            let (f, read_before) = walk_with_probe(&raw, partial);
            // Had the walker buffered the jar, all of it would have been read before the call.
            assert!(
                read_before < (1 << 20),
                "{read_before} bytes read before the analyzer ran"
            );
            // Bytes the analyzer left unread are still hashed.
            assert_eq!(f.diff_id, Some(Digest::sha256_of(&raw)));
            assert_eq!(f.uncompressed_size, raw.len() as u64);
            assert!(f.warnings.is_empty(), "{:?}", f.warnings);
            let found = &f.files["/opt/app/big-1.jar"][0].findings.packages;
            if partial {
                assert!(found.is_empty());
            } else {
                assert_eq!(found[0].purl, "pkg:maven/a/big@1");
            }
        }
        // Through the built-in set, where only the Java analyzer wants a jar.
        let f = run(&raw, None).unwrap();
        let found = &f.files["/opt/app/big-1.jar"][0].findings.packages;
        assert_eq!(found[0].purl, "pkg:maven/a/big@1");
        assert_eq!(
            f.files["/var/lib/dpkg/status"][0].findings.packages.len(),
            1
        );
    }

    #[test]
    fn a_large_binary_wanted_twice_is_spooled_and_read_by_both() {
        let bin = crate::analyzers::gobin::tests::inline_binary_padded(SPOOL_ABOVE as usize);
        assert!(bin.len() as u64 > SPOOL_ABOVE);
        let raw = tar(&[Item::Exec("usr/bin/tool", &bin)]);
        let f = run(&raw, None).unwrap();
        assert!(f.warnings.is_empty(), "{:?}", f.warnings);
        let analyzed = &f.files["/usr/bin/tool"];
        let ids: Vec<&str> = analyzed.iter().map(|a| a.analyzer).collect();
        assert_eq!(ids, ["go", "rust"]);
        let go = &analyzed[0].findings.packages;
        assert!(go.iter().any(|p| p.name == "stdlib"), "{go:?}");
        assert!(analyzed[1].findings.packages.is_empty());
        assert_eq!(f.diff_id, Some(Digest::sha256_of(&raw)));
    }

    #[test]
    fn an_entry_wanted_twice_is_buffered_and_given_to_both() {
        let analyzers: Vec<Arc<dyn Analyzer>> = vec![
            Arc::new(crate::analyzers::dpkg::DpkgAnalyzer),
            Arc::new(crate::analyzers::dpkg::DpkgAnalyzer),
        ];
        let raw = tar(&[Item::File("var/lib/dpkg/status", STATUS)]);
        let f = walk(
            &raw[..],
            &Walk {
                label: "layer 0 (test)",
                analyzers: &analyzers,
                blob_algorithm: None,
                compressed: &Budget::new(None),
                unpacked: &Budget::new(None),
                on_bytes: &|_| {},
            },
        )
        .unwrap();
        let both = &f.files["/var/lib/dpkg/status"];
        assert_eq!(both.len(), 2);
        assert!(both.iter().all(|a| a.findings.packages[0].name == "bash"));
        assert_eq!(f.diff_id, Some(Digest::sha256_of(&raw)));
    }

    #[test]
    fn decompression_bomb_is_cut_off() {
        let zeros = vec![0u8; 4 << 20];
        let raw = tar(&[Item::File("big", &zeros)]);
        let err = run(&gzip(&raw), Some(1 << 20)).unwrap_err();
        assert!(
            matches!(err, LayerError::UnpackedTooLarge { limit } if limit == 1 << 20),
            "{err:?}"
        );
    }

    /// A layer holding a file for every text-format analyzer, then thousands of mutations of it
    /// (bytes flipped in the tar or in its gzip stream, cuts): each walk returns, with findings or
    /// a typed error, and never panics.
    #[test]
    fn mutated_layers_end_in_findings_or_a_typed_error() {
        let raw = tar(&[
            Item::File(
                "./etc/os-release",
                b"ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12\"\n",
            ),
            Item::File("./var/lib/dpkg/status", STATUS),
            Item::File(
                "./lib/apk/db/installed",
                b"P:musl\nV:1.2.4-r2\nA:x86_64\no:musl\n\nP:busybox\nV:1.36.1-r2\n\n",
            ),
            Item::File(
                "./app/node_modules/left-pad/package.json",
                br#"{"name":"left-pad","version":"1.3.0","license":"MIT"}"#,
            ),
            Item::File(
                "./app/package-lock.json",
                br#"{"lockfileVersion":3,"packages":{"":{"name":"app"},"node_modules/left-pad":{"version":"1.3.0"}}}"#,
            ),
            Item::File(
                "./app/yarn.lock",
                b"# yarn lockfile v1\n\nleft-pad@^1.3.0:\n  version \"1.3.0\"\n",
            ),
            Item::File(
                "./app/pnpm-lock.yaml",
                b"lockfileVersion: '9.0'\npackages:\n  left-pad@1.3.0:\n    resolution: {integrity: sha512-x}\n",
            ),
            Item::File(
                "./usr/lib/python3/site-packages/requests-2.31.0.dist-info/METADATA",
                b"Metadata-Version: 2.1\nName: requests\nVersion: 2.31.0\n",
            ),
            Item::File(
                "./usr/lib/ruby/gems/3.1.0/specifications/rake-13.0.6.gemspec",
                b"Gem::Specification.new do |s|\n  s.name = \"rake\"\n  s.version = \"13.0.6\"\nend\n",
            ),
            Item::File(
                "./app/vendor/composer/installed.json",
                br#"{"packages":[{"name":"monolog/monolog","version":"3.5.0"}]}"#,
            ),
            Item::File(
                "./app/app.deps.json",
                br#"{"targets":{".NETCoreApp,Version=v8.0":{"Newtonsoft.Json/13.0.3":{}}},"libraries":{"Newtonsoft.Json/13.0.3":{"type":"package"}}}"#,
            ),
        ]);
        let clean = run(&raw, None).unwrap();
        let analyzers: std::collections::BTreeSet<_> = clean
            .files
            .values()
            .flatten()
            .filter(|f| !f.findings.packages.is_empty() || f.findings.os.is_some())
            .map(|f| f.analyzer)
            .collect();
        assert!(analyzers.len() >= 8, "only {analyzers:?} found something");

        let zipped = gzip(&raw);
        let mut rng = fastrand::Rng::with_seed(11);
        let (mut walked, mut refused) = (0, 0);
        for round in 0..3_000 {
            let mut blob = if round % 4 == 0 {
                zipped.clone()
            } else {
                raw.clone()
            };
            mutate(&mut blob, &mut rng, 6, round % 9 == 0);
            match run(&blob, Some(64 << 20)) {
                Ok(_) => walked += 1,
                Err(_) => refused += 1,
            }
        }
        // Both outcomes occur, so neither path went untested.
        assert!(
            walked > 100 && refused > 100,
            "{walked} walked, {refused} refused"
        );
    }
}
