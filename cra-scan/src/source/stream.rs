//! Compressed image tars (`docker save IMAGE | gzip`, zstd the same), read as streams.
//!
//! A compressed tar offers no random access, and decompressing it to a temporary copy would
//! cost a second image's worth of disk.
//! Instead the archive is read twice, front to back, without keeping it:
//! - [`StreamIndex::open`] records every entry's name, size and link target, and keeps in memory
//!   the small entries that are JSON (`index.json`, `manifest.json`, manifests and configs), so
//!   the image resolves as from an uncompressed archive;
//! - [`for_each_file`] then hands each regular file to the caller in archive order, and the
//!   pipeline walks the layers as their entries pass by, in whatever order the archive holds
//!   them.
//!
//! Memory is the decompressor's window, the kept metadata (at most [`MAX_KEPT`] bytes) and the
//! walk of one layer at a time.

use std::collections::HashMap;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use super::archive::{link_target, Links};
use super::MAX_METADATA_SIZE;
use crate::error::ScanError;
use crate::layer::decompress::{Decoder, DecoderError};
use crate::layer::path;

/// The most bytes of metadata kept from one archive.
pub(crate) const MAX_KEPT: u64 = 64 * 1024 * 1024;

/// Bytes read from the archive file at a time.
const FILE_BUFFER: usize = 256 * 1024;

/// What the first pass over a compressed archive learnt.
#[derive(Debug)]
pub(crate) struct StreamIndex {
    pub(crate) path: PathBuf,
    kept: HashMap<String, Vec<u8>>,
    sizes: HashMap<String, u64>,
    links: Links,
}

impl StreamIndex {
    /// Reads the archive at `path` once, keeping its small JSON entries.
    pub(crate) fn open(path: &Path) -> Result<StreamIndex, ScanError> {
        let mut index = StreamIndex {
            path: path.to_owned(),
            kept: HashMap::new(),
            sizes: HashMap::new(),
            links: Links::default(),
        };
        let mut kept_bytes = 0u64;
        walk_archive(path, |name, entry| {
            let kind = entry.header().entry_type();
            if kind.is_symlink() || kind.is_hard_link() {
                if let Some(target) = link_target(name, entry) {
                    index.links.insert(name.to_owned(), target);
                }
                return Ok(());
            }
            if !(kind.is_file() || kind.is_contiguous()) {
                return Ok(());
            }
            let size = entry.size();
            index.sizes.insert(name.to_owned(), size);
            if size > MAX_METADATA_SIZE {
                return Ok(());
            }
            let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
            entry
                .read_to_end(&mut bytes)
                .map_err(|e| corrupt(path, &e))?;
            let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
            if matches!(first, Some(b'{' | b'[')) {
                kept_bytes += bytes.len() as u64;
                if kept_bytes > MAX_KEPT {
                    return Err(ScanError::Archive {
                        path: path.to_owned(),
                        reason: format!("more than {MAX_KEPT} bytes of image metadata"),
                    });
                }
                index.kept.insert(name.to_owned(), bytes);
            }
            Ok(())
        })?;
        Ok(index)
    }

    /// The regular file `name` names, following links inside the archive.
    pub(crate) fn resolve(&self, name: &str) -> Option<String> {
        self.links.follow(name, |n| self.sizes.contains_key(n))
    }

    /// The size of the regular file `name` (links followed).
    pub(crate) fn size(&self, name: &str) -> Option<(String, u64)> {
        let real = self.resolve(name)?;
        let size = *self.sizes.get(&real)?;
        Some((real, size))
    }

    /// The content of `name` when it was kept.
    pub(crate) fn kept(&self, name: &str) -> Option<&[u8]> {
        self.kept.get(&self.resolve(name)?).map(Vec::as_slice)
    }
}

fn corrupt(path: &Path, e: &dyn std::fmt::Display) -> ScanError {
    ScanError::Archive {
        path: path.to_owned(),
        reason: format!("the compressed archive is corrupt or truncated: {e}"),
    }
}

/// Calls `visit` with the normalised name (no leading `/`) of every entry of the compressed
/// archive at `path`, in archive order.
fn walk_archive(
    path: &Path,
    mut visit: impl FnMut(
        &str,
        &mut tar::Entry<'_, Decoder<BufReader<std::fs::File>>>,
    ) -> Result<(), ScanError>,
) -> Result<(), ScanError> {
    let file = std::fs::File::open(path).map_err(|e| ScanError::io(path, e))?;
    let decoder =
        Decoder::new(BufReader::with_capacity(FILE_BUFFER, file)).map_err(|e| match e {
            DecoderError::Io(e) => ScanError::io(path, e),
            DecoderError::Unsupported(u) => ScanError::Archive {
                path: path.to_owned(),
                reason: u.to_string(),
            },
        })?;
    let mut archive = tar::Archive::new(decoder);
    let entries = archive.entries().map_err(|e| corrupt(path, &e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| corrupt(path, &e))?;
        let Ok(name) = path::normalize(&entry.path_bytes()) else {
            continue;
        };
        let name = name.trim_start_matches('/').to_owned();
        visit(&name, &mut entry)?;
    }
    Ok(())
}

/// Calls `visit` with the name and content of every regular file of the compressed archive at
/// `path`, in archive order; what `visit` leaves unread is skipped.
pub(crate) fn for_each_file(
    path: &Path,
    mut visit: impl FnMut(&str, &mut dyn Read) -> Result<(), ScanError>,
) -> Result<(), ScanError> {
    walk_archive(path, |name, entry| {
        let kind = entry.header().entry_type();
        if kind.is_file() || kind.is_contiguous() {
            visit(name, entry)
        } else {
            Ok(())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{gzip, tar, Item};

    #[test]
    fn keeps_json_entries_and_follows_links() {
        let big = vec![b'{'; (MAX_METADATA_SIZE + 1) as usize];
        let raw = tar(&[
            Item::File("index.json", b"  {\"schemaVersion\":2}"),
            Item::File("blobs/sha256/aa", b"not json"),
            Item::File("blobs/sha256/bb", &big),
            Item::Symlink("alias.json", "index.json"),
        ]);
        let dir = tempfile::tempdir().unwrap();
        for (name, bytes) in [
            ("a.tar.gz", gzip(&raw)),
            ("a.tar.zst", zstd::encode_all(&raw[..], 3).unwrap()),
        ] {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            let index = StreamIndex::open(&path).unwrap();
            assert_eq!(
                index.kept("index.json"),
                Some(&b"  {\"schemaVersion\":2}"[..])
            );
            assert_eq!(index.kept("alias.json"), index.kept("index.json"));
            assert_eq!(index.kept("blobs/sha256/aa"), None);
            assert_eq!(index.kept("blobs/sha256/bb"), None);
            assert_eq!(
                index.size("blobs/sha256/aa"),
                Some(("blobs/sha256/aa".to_owned(), 8))
            );
            let mut seen = Vec::new();
            for_each_file(&path, |name, r| {
                let mut s = Vec::new();
                r.read_to_end(&mut s).unwrap();
                seen.push((name.to_owned(), s.len()));
                Ok(())
            })
            .unwrap();
            assert_eq!(seen.len(), 3);
            assert_eq!(seen[1], ("blobs/sha256/aa".to_owned(), 8));
        }
        let cut = dir.path().join("cut.tar.gz");
        let zipped = gzip(&raw);
        std::fs::write(&cut, &zipped[..zipped.len() / 2]).unwrap();
        assert!(matches!(
            StreamIndex::open(&cut),
            Err(ScanError::Archive { .. })
        ));
    }
}
