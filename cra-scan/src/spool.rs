//! Content that must be read out of order, kept in memory when small and in a private temporary
//! file when large.
//!
//! The walk itself never writes layer content to disk; the temporary files made here hold one
//! file of a layer at a time, for the readers that need random access (zip central directories,
//! ELF sections, a second analyzer of the same entry) or a path (SQLite).
//! Anonymous files disappear when closed; named ones when the [`NamedTempFile`] is dropped.

use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, Write};

use tempfile::NamedTempFile;

/// Bytes per write when spooling.
const BUFFER: usize = 256 * 1024;

/// Why content could not be spooled.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SpoolError {
    /// Reading the content failed (often a corrupt or truncated layer).
    #[error("cannot read the content")]
    Read(#[source] io::Error),
    /// The temporary file could not be created or written.
    #[error("cannot write a temporary file")]
    TempFile(#[source] io::Error),
}

impl SpoolError {
    /// The underlying IO error.
    pub(crate) fn into_io(self) -> io::Error {
        match self {
            SpoolError::Read(e) | SpoolError::TempFile(e) => e,
        }
    }
}

/// Content read once, to be read again from the start.
#[derive(Debug)]
pub(crate) enum Spooled {
    /// Small content, in memory.
    Memory(Vec<u8>),
    /// Large content, in an anonymous temporary file positioned at its start, and its length.
    File(File, u64),
}

impl Spooled {
    /// Reads all of `from`: into memory when `size_hint` is at most `in_memory`, else into an
    /// anonymous temporary file.
    pub(crate) fn read(
        mut from: impl Read,
        size_hint: u64,
        in_memory: u64,
    ) -> Result<Spooled, SpoolError> {
        if size_hint <= in_memory {
            let mut bytes = Vec::with_capacity(usize::try_from(size_hint).unwrap_or(0));
            from.read_to_end(&mut bytes).map_err(SpoolError::Read)?;
            return Ok(Spooled::Memory(bytes));
        }
        let (file, len) = to_file(from)?;
        Ok(Spooled::File(file, len))
    }

    /// The number of bytes held.
    pub(crate) fn len(&self) -> u64 {
        match self {
            Spooled::Memory(bytes) => bytes.len() as u64,
            Spooled::File(_, len) => *len,
        }
    }
}

/// Copies `from` into a new anonymous temporary file, returned positioned at its start, with the
/// number of bytes copied.
pub(crate) fn to_file(from: impl Read) -> Result<(File, u64), SpoolError> {
    let file = tempfile::tempfile().map_err(SpoolError::TempFile)?;
    let (mut file, len) = copy_into(from, file)?;
    file.rewind().map_err(SpoolError::TempFile)?;
    Ok((file, len))
}

/// Copies `from` into a new named temporary file (for readers that open a path), with the number
/// of bytes copied.
pub(crate) fn to_named_file(from: impl Read) -> Result<(NamedTempFile, u64), SpoolError> {
    let file = NamedTempFile::new().map_err(SpoolError::TempFile)?;
    copy_into(from, file)
}

fn copy_into<W: Write>(mut from: impl Read, file: W) -> Result<(W, u64), SpoolError> {
    let mut writer = BufWriter::with_capacity(BUFFER, file);
    let mut buf = vec![0u8; BUFFER];
    let mut len = 0u64;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(SpoolError::Read(e)),
        };
        writer.write_all(&buf[..n]).map_err(SpoolError::TempFile)?;
        len += n as u64;
    }
    let file = writer
        .into_inner()
        .map_err(|e| SpoolError::TempFile(e.into_error()))?;
    Ok((file, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Failing;

    impl Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::other("broken"))
        }
    }

    #[test]
    fn small_content_stays_in_memory_and_large_goes_to_a_file() {
        let data: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
        let Spooled::Memory(bytes) = Spooled::read(&data[..], 10_000, 10_000).unwrap() else {
            panic!("expected memory");
        };
        assert_eq!(bytes, data);
        let Spooled::File(mut file, len) = Spooled::read(&data[..], 10_000, 9_999).unwrap() else {
            panic!("expected a file");
        };
        assert_eq!(len, 10_000);
        let mut back = Vec::new();
        file.read_to_end(&mut back).unwrap();
        assert_eq!(back, data);
    }

    #[test]
    fn named_files_hold_the_content_and_read_errors_are_told_apart() {
        let (file, len) = to_named_file(&b"abc"[..]).unwrap();
        assert_eq!(len, 3);
        assert_eq!(std::fs::read(file.path()).unwrap(), b"abc");
        assert!(matches!(to_file(Failing), Err(SpoolError::Read(_))));
        assert!(matches!(
            Spooled::read(Failing, 0, 1),
            Err(SpoolError::Read(_))
        ));
    }
}
