//! The reader wrappers of the walk: hashing and budget accounting, end-of-stream tracking,
//! byte counting.

use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};

use cra_core::digest::Algorithm;
use cra_core::Digest;

use super::hashing::BackgroundHasher;

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

    pub(super) fn charge(&self, n: u64) -> bool {
        let total = self.used.fetch_add(n, Ordering::Relaxed) + n;
        self.limit.is_none_or(|limit| total <= limit)
    }

    pub(super) fn exceeded(&self) -> bool {
        self.limit.is_some_and(|limit| self.used() > limit)
    }
}

/// A reader that hashes (on a thread of its own), counts and charges a budget.
pub(super) struct Measured<'a, R> {
    inner: R,
    hasher: Option<BackgroundHasher>,
    count: u64,
    budget: &'a Budget,
    pub(super) on_bytes: Option<&'a (dyn Fn(u64) + Sync)>,
}

impl<'a, R: Read> Measured<'a, R> {
    pub(super) fn new(inner: R, algorithm: Option<Algorithm>, budget: &'a Budget) -> Self {
        Self {
            inner,
            hasher: algorithm.map(BackgroundHasher::new),
            count: 0,
            budget,
            on_bytes: None,
        }
    }

    /// The digest (if one was asked for) and the byte count.
    pub(super) fn finish(self) -> io::Result<(Option<Digest>, u64)> {
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
pub(super) struct EndTracker<R> {
    pub(super) inner: R,
    pub(super) hit_eof: bool,
    pub(super) read_any: bool,
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
pub(super) struct Counted<R> {
    pub(super) inner: R,
    pub(super) count: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}
