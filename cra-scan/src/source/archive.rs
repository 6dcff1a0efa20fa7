//! Local blob stores: a layout directory, an index of the entries of an image tar, or a
//! compressed image tar read as a stream (see `stream.rs`).
//!
//! A plain image tar is read once to record where each regular file's bytes sit (offset and
//! size); blobs are then read straight from those ranges, in any order, without extracting
//! anything.
//! Symlinked entries (a legacy docker-archive links identical `layer.tar` files) are resolved
//! inside the archive only.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::ScanError;
use crate::layer::decompress::{Compression, MAGIC_LEN};
use crate::layer::path;

use super::stream::StreamIndex;
use super::{open_file_range, LayerSource};

/// How many symlinks one lookup may follow.
const MAX_LINKS: usize = 8;

/// The symlinks and hardlinks of an image tar, by normalised name (no leading `/`).
#[derive(Debug, Default)]
pub(crate) struct Links(HashMap<String, String>);

impl Links {
    pub(crate) fn insert(&mut self, name: String, target: String) {
        self.0.insert(name, target);
    }

    /// The regular file `name` leads to, following at most [`MAX_LINKS`] links.
    pub(crate) fn follow(&self, name: &str, is_file: impl Fn(&str) -> bool) -> Option<String> {
        let mut name = name.trim_start_matches("./").to_owned();
        for _ in 0..=MAX_LINKS {
            if is_file(&name) {
                return Some(name);
            }
            name = self.0.get(&name)?.clone();
        }
        None
    }
}

/// Where the link entry `name` points, normalised inside the archive; `None` when it leaves
/// the archive's root or has no target.
pub(crate) fn link_target<R: Read>(name: &str, entry: &tar::Entry<'_, R>) -> Option<String> {
    let kind = entry.header().entry_type();
    let target = entry.link_name_bytes()?;
    let target = String::from_utf8_lossy(&target).into_owned();
    let resolved = if kind.is_symlink() && !target.starts_with('/') {
        let parent = path::parent(&format!("/{name}")).to_owned();
        format!("{parent}/{target}")
    } else {
        target
    };
    path::normalize(resolved.as_bytes())
        .ok()
        .map(|t| t.trim_start_matches('/').to_owned())
}

/// Opens an image tar: indexed for random access when plain, read as a stream when gzip- or
/// zstd-compressed.
pub(crate) fn open(path: &Path) -> Result<Store, ScanError> {
    let mut file = std::fs::File::open(path).map_err(|e| ScanError::io(path, e))?;
    let mut magic = [0u8; MAGIC_LEN];
    let mut got = 0;
    while got < MAGIC_LEN {
        match file.read(&mut magic[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(ScanError::io(path, e)),
        }
    }
    match Compression::detect(&magic[..got]) {
        Ok(Compression::None) => Ok(Store::Tar(TarIndex::open(path)?)),
        Ok(Compression::Gzip | Compression::Zstd) => Ok(Store::Stream(StreamIndex::open(path)?)),
        Err(unsupported) => Err(ScanError::Archive {
            path: path.to_owned(),
            reason: unsupported.to_string(),
        }),
    }
}

/// An index of the regular files and symlinks of a plain tar.
#[derive(Debug)]
pub(crate) struct TarIndex {
    path: PathBuf,
    files: HashMap<String, (u64, u64)>,
    links: Links,
}

impl TarIndex {
    /// Reads the entry headers of the tar at `path`.
    pub(crate) fn open(path: &Path) -> Result<TarIndex, ScanError> {
        let bad = |reason: String| ScanError::Archive {
            path: path.to_owned(),
            reason,
        };
        let file = std::fs::File::open(path).map_err(|e| ScanError::io(path, e))?;
        let mut archive = tar::Archive::new(file);
        let mut files = HashMap::new();
        let mut links = Links::default();
        let entries = archive
            .entries_with_seek()
            .map_err(|e| bad(format!("not a tar file: {e}")))?;
        for entry in entries {
            let entry = entry.map_err(|e| bad(format!("unreadable tar entry: {e}")))?;
            let Ok(name) = path::normalize(&entry.path_bytes()) else {
                continue;
            };
            let name = name.trim_start_matches('/').to_owned();
            let kind = entry.header().entry_type();
            if kind.is_file() || kind.is_contiguous() {
                files.insert(name, (entry.raw_file_position(), entry.size()));
            } else if kind.is_symlink() || kind.is_hard_link() {
                if let Some(target) = link_target(&name, &entry) {
                    links.insert(name, target);
                }
            }
        }
        Ok(TarIndex {
            path: path.to_owned(),
            files,
            links,
        })
    }

    /// The offset and size of `name`, following links inside the archive.
    pub(crate) fn locate(&self, name: &str) -> Option<(u64, u64)> {
        let real = self.links.follow(name, |n| self.files.contains_key(n))?;
        self.files.get(&real).copied()
    }
}

/// Where a local image keeps its files.
#[derive(Debug)]
pub(crate) enum Store {
    /// A directory.
    Dir(PathBuf),
    /// An indexed tar.
    Tar(TarIndex),
    /// A compressed tar, read as a stream.
    Stream(StreamIndex),
}

impl Store {
    /// The directory or archive path, for messages.
    pub(crate) fn path(&self) -> &Path {
        match self {
            Store::Dir(p) => p,
            Store::Tar(t) => &t.path,
            Store::Stream(s) => &s.path,
        }
    }

    /// Whether the store holds the file `name`.
    pub(crate) fn contains(&self, name: &str) -> Result<bool, ScanError> {
        Ok(match self {
            Store::Stream(s) => s.resolve(name).is_some(),
            _ => self.locate(name)?.is_some(),
        })
    }

    /// Where `name` is: (file, offset, size), or `None` when absent.
    pub(crate) fn locate(&self, name: &str) -> Result<Option<(PathBuf, u64, u64)>, ScanError> {
        match self {
            Store::Dir(dir) => {
                let path = dir.join(name);
                match std::fs::metadata(&path) {
                    Ok(m) if m.is_file() => Ok(Some((path, 0, m.len()))),
                    Ok(_) => Ok(None),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(ScanError::io(path, e)),
                }
            }
            Store::Tar(t) => Ok(t.locate(name).map(|(o, s)| (t.path.clone(), o, s))),
            // A stream has no ranges; its files are read by name.
            Store::Stream(_) => Ok(None),
        }
    }

    /// Reads a small file whole; `None` when absent.
    pub(crate) fn read_small(&self, name: &str) -> Result<Option<Vec<u8>>, ScanError> {
        if let Store::Stream(s) = self {
            if let Some(bytes) = s.kept(name) {
                return Ok(Some(bytes.to_vec()));
            }
            return match s.size(name) {
                None => Ok(None),
                Some((_, size)) => Err(ScanError::Archive {
                    path: self.path().to_owned(),
                    reason: format!("{name} ({size} bytes) is not JSON image metadata"),
                }),
            };
        }
        let Some((path, offset, size)) = self.locate(name)? else {
            return Ok(None);
        };
        if size > super::MAX_METADATA_SIZE {
            return Err(ScanError::Archive {
                path: self.path().to_owned(),
                reason: format!("{name} is {size} bytes, too large for image metadata"),
            });
        }
        let mut bytes = Vec::with_capacity(size as usize);
        open_file_range(&path, offset, size)?
            .read_to_end(&mut bytes)
            .map_err(|e| ScanError::io(&path, e))?;
        Ok(Some(bytes))
    }

    /// A layer blob as a [`LayerSource`], checking the declared size; `None` when absent.
    pub(crate) fn layer(
        &self,
        name: &str,
        declared_size: Option<u64>,
        verify: Option<cra_core::Digest>,
    ) -> Result<Option<LayerSource>, ScanError> {
        if let Store::Stream(s) = self {
            let Some((entry, size)) = s.size(name) else {
                return Ok(None);
            };
            check_size(name, declared_size, size)?;
            return Ok(Some(LayerSource::ArchiveEntry {
                archive: s.path.clone(),
                entry,
                size,
                verify,
            }));
        }
        let Some((path, offset, size)) = self.locate(name)? else {
            return Ok(None);
        };
        check_size(name, declared_size, size)?;
        Ok(Some(LayerSource::File {
            path,
            offset,
            size,
            verify,
        }))
    }
}

fn check_size(name: &str, declared: Option<u64>, size: u64) -> Result<(), ScanError> {
    match declared.filter(|d| *d != size) {
        Some(expected) => Err(ScanError::SizeMismatch {
            what: format!("blob {name}"),
            expected,
            actual: size,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{tar, Item};

    #[test]
    fn links_resolve_inside_the_archive_and_loops_and_escapes_end() {
        let chain: Vec<(String, String)> = (0..10)
            .map(|i| {
                let target = if i == 9 {
                    "blobs/real".to_owned()
                } else {
                    format!("c{}", i + 1)
                };
                (format!("c{i}"), target)
            })
            .collect();
        let mut items = vec![
            Item::File("blobs/real", b"content"),
            Item::Symlink("one", "blobs/real"),
            Item::Symlink("blobs/two", "../one"),
            Item::Symlink("loop-a", "loop-b"),
            Item::Symlink("loop-b", "loop-a"),
            Item::Symlink("self", "self"),
            Item::Symlink("escape", "../../../blobs/real"),
            Item::Symlink("absolute", "/etc/passwd"),
        ];
        items.extend(chain.iter().map(|(n, t)| Item::Symlink(n, t)));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("image.tar");
        std::fs::write(&path, tar(&items)).unwrap();
        let index = TarIndex::open(&path).unwrap();

        let real = index.locate("blobs/real").unwrap();
        assert_eq!(real.1, 7);
        assert_eq!(index.locate("one"), Some(real));
        assert_eq!(index.locate("blobs/two"), Some(real));
        // Loops end after MAX_LINKS steps; a link that leaves the archive's root is dropped; an
        // absolute link names an entry of the archive, not of the host.
        assert_eq!(index.locate("loop-a"), None);
        assert_eq!(index.locate("self"), None);
        assert_eq!(index.locate("escape"), None);
        assert_eq!(index.locate("absolute"), None);
        // Ten links are more than MAX_LINKS; the last seven are not.
        assert_eq!(index.locate("c0"), None);
        assert_eq!(index.locate("c3"), Some(real));
    }
}
