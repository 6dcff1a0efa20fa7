//! The walk proper: tar entries offered to the analyzers, wanted ones read once.

use std::io::{self, BufReader, Read, Seek};
use std::sync::Arc;

use cra_core::digest::Algorithm;

use super::decompress::{Decoder, DecoderError};
use super::readers::{Counted, EndTracker, Measured};
use super::whiteout::{self, Marker};
use super::{path, AnalyzedFile, LayerError, LayerFindings, Walk};
use crate::analyzers::{Analyzer, AnalyzerInput, FileMeta};
use crate::spool::{SpoolError, Spooled};

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
    let content =
        Spooled::read(entry.take(meta.size), meta.size, SPOOL_ABOVE).map_err(|e| match e {
            // Errors reading are mostly the layer's; a full disk reads as a corrupt layer.
            SpoolError::Read(e) => LayerError::Corrupt(e),
            SpoolError::TempFile(source) => LayerError::Spool {
                path: path.to_owned(),
                source,
            },
        })?;
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
            Spooled::Memory(bytes) => analyzer.analyze(AnalyzerInput {
                path,
                meta,
                reader: &mut &bytes[..],
                spooled: None,
            }),
            Spooled::File(file, _) => {
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
pub(super) const SPOOL_ABOVE: u64 = 1024 * 1024;
