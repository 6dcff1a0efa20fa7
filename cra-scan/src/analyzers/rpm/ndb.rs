//! NDB `Packages.db` (SUSE: SLES 15, BCI, openSUSE). All integers little-endian.
//!
//! A 32-byte file header (`RpmP`, version 0, generation, slot page count) shares slot page 0 with
//! the slots: 16 bytes each (`Slot`, package index, block offset, block count). A slot's blob sits
//! at `blkoff × 16`: `BlbS`, package index, checksum, length, then the header blob.
//! The slot page count is capped (2048, as other readers do) and every blob is bounds-checked
//! against the file and its slot's block count.

use std::fmt;

const MAGIC_FILE: &[u8; 4] = b"RpmP";
const MAGIC_SLOT: &[u8; 4] = b"Slot";
const MAGIC_BLOB: &[u8; 4] = b"BlbS";
const SLOT_PAGE: usize = 4096;
const MAX_SLOT_PAGES: usize = 2048;
const BLOCK: usize = 16;

/// Why an NDB file cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NdbError {
    /// Bad magic, version or slot page count.
    BadHeader(&'static str),
}

impl fmt::Display for NdbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NdbError::BadHeader(why) => write!(f, "ndb header: {why}"),
        }
    }
}

fn le32(bytes: &[u8], at: usize) -> Option<u32> {
    let b: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_le_bytes(b))
}

/// Returns every header blob the slots point at; slots with broken blobs are skipped.
pub(crate) fn blobs(bytes: &[u8]) -> Result<Vec<Vec<u8>>, NdbError> {
    if !bytes.starts_with(MAGIC_FILE) {
        return Err(NdbError::BadHeader("magic"));
    }
    if le32(bytes, 4) != Some(0) {
        return Err(NdbError::BadHeader("version"));
    }
    let npages = le32(bytes, 12).ok_or(NdbError::BadHeader("truncated"))? as usize;
    if npages == 0 || npages > MAX_SLOT_PAGES {
        return Err(NdbError::BadHeader("slot page count"));
    }
    let slots_end = (npages * SLOT_PAGE).min(bytes.len() / BLOCK * BLOCK);
    let mut out = Vec::new();
    // The first two slot positions hold the file header.
    for at in (2 * BLOCK..slots_end).step_by(BLOCK) {
        if bytes.get(at..at + 4) != Some(MAGIC_SLOT.as_slice()) {
            continue;
        }
        let (Some(pkgidx), Some(blkoff), Some(blkcnt)) = (
            le32(bytes, at + 4),
            le32(bytes, at + 8),
            le32(bytes, at + 12),
        ) else {
            continue;
        };
        if pkgidx == 0 {
            continue;
        }
        if let Some(blob) = blob_at(bytes, pkgidx, blkoff as usize, blkcnt as usize) {
            out.push(blob.to_vec());
        }
    }
    Ok(out)
}

fn blob_at(bytes: &[u8], pkgidx: u32, blkoff: usize, blkcnt: usize) -> Option<&[u8]> {
    let start = blkoff.checked_mul(BLOCK)?;
    let room = blkcnt.checked_mul(BLOCK)?;
    if bytes.get(start..start.checked_add(4)?)? != MAGIC_BLOB.as_slice() {
        return None;
    }
    if le32(bytes, start + 4)? != pkgidx {
        return None;
    }
    let len = le32(bytes, start + 12)? as usize;
    if len.checked_add(16)? > room {
        return None;
    }
    bytes.get(start + 16..start.checked_add(16)?.checked_add(len)?)
}

/// Writes NDB files for tests.
#[cfg(test)]
pub(crate) mod build {
    use super::*;

    pub(crate) fn ndb(blobs: &[Vec<u8>]) -> Vec<u8> {
        let mut file = vec![0u8; SLOT_PAGE];
        file[0..4].copy_from_slice(MAGIC_FILE);
        file[8..12].copy_from_slice(&1u32.to_le_bytes());
        file[12..16].copy_from_slice(&1u32.to_le_bytes());
        for (i, blob) in blobs.iter().enumerate() {
            let pkgidx = i as u32 + 1;
            let blkoff = file.len() / BLOCK;
            let mut record = Vec::new();
            record.extend_from_slice(MAGIC_BLOB);
            record.extend_from_slice(&pkgidx.to_le_bytes());
            record.extend_from_slice(&0u32.to_le_bytes());
            record.extend_from_slice(&(blob.len() as u32).to_le_bytes());
            record.extend_from_slice(blob);
            record.extend_from_slice(&[0; 12]); // tail
            while record.len() % BLOCK != 0 {
                record.push(0);
            }
            let blkcnt = record.len() / BLOCK;
            file.extend_from_slice(&record);
            let slot = (2 + i) * BLOCK;
            file[slot..slot + 4].copy_from_slice(MAGIC_SLOT);
            file[slot + 4..slot + 8].copy_from_slice(&pkgidx.to_le_bytes());
            file[slot + 8..slot + 12].copy_from_slice(&(blkoff as u32).to_le_bytes());
            file[slot + 12..slot + 16].copy_from_slice(&(blkcnt as u32).to_le_bytes());
        }
        file
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyzers::rpm::tests::{assert_demo_packages, run, SQLITE_DB};

    #[test]
    fn reads_slots_and_blobs() {
        let real = crate::analyzers::rpm::sqlite::blobs(SQLITE_DB).unwrap();
        let db = build::ndb(&real);
        assert_eq!(blobs(&db).unwrap(), real);
        let f = run("/usr/lib/sysimage/rpm/Packages.db", &db).unwrap();
        assert_demo_packages(&f);
    }

    #[test]
    fn hostile_files_end_without_panic() {
        let real = crate::analyzers::rpm::sqlite::blobs(SQLITE_DB).unwrap();
        let db = build::ndb(&real);
        let mut huge = db.clone();
        huge[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(blobs(&huge).is_err());
        let mut wrong_len = db.clone();
        let first_blob = SLOT_PAGE;
        wrong_len[first_blob + 12..first_blob + 16].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(blobs(&wrong_len).unwrap().len(), 1);
        assert!(blobs(b"RpmX").is_err());
        let mut state = 0x1234_5678_9ABC_DEF1u64;
        for _ in 0..3000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let mut m = db.clone();
            let at = (state as usize) % m.len();
            m[at] = (state >> 40) as u8;
            if let Ok(found) = blobs(&m) {
                for b in found {
                    let _ = crate::analyzers::rpm::package_from_header(&b, "/x");
                }
            }
        }
    }
}
