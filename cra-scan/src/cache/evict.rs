//! Least-recently-used eviction, safe with several processes sharing the directory.
//!
//! Every hit sets the entry's modification time, so the time says when it was last used.
//! An eviction pass holds an exclusive lock on the `lock` file (fs4, advisory); a process that
//! finds it held skips its pass, because the holder is already making room.
//! Readers and writers take no lock: a writer renames a complete file into place, and a reader
//! that opened an entry keeps reading it even if an eviction unlinks it meanwhile; one that
//! comes too late simply misses.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Temporary files older than this are left over from a process that died mid-write.
const STALE_TEMP: Duration = Duration::from_secs(3600);

/// What an eviction pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Evicted {
    /// Bytes held by entries before the pass.
    pub before: u64,
    /// Bytes held after it.
    pub after: u64,
    /// Entries removed.
    pub removed: usize,
    /// Whether another process held the lock, so this pass did nothing.
    pub skipped: bool,
}

struct Item {
    path: PathBuf,
    len: u64,
    used: SystemTime,
}

/// The bytes held by the entries under `entries`.
pub fn total_size(entries: &Path) -> io::Result<u64> {
    Ok(list(entries)?.iter().map(|i| i.len).sum())
}

/// Removes the least recently used entries until at most `target` bytes remain, when more than
/// `max` are held; removes stale temporary files under `temp`.
pub fn run(lock: &Path, entries: &Path, temp: &Path, max: u64, target: u64) -> io::Result<Evicted> {
    let lock_file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(lock)?;
    match fs4::FileExt::try_lock(&lock_file) {
        Ok(()) => {}
        Err(fs4::TryLockError::WouldBlock) => {
            return Ok(Evicted {
                skipped: true,
                ..Evicted::default()
            })
        }
        Err(fs4::TryLockError::Error(e)) => return Err(e),
    }
    let result = evict_locked(entries, temp, max, target);
    // Closing the file releases the lock as well; unlocking first makes it explicit.
    let _ = fs4::FileExt::unlock(&lock_file);
    result
}

fn evict_locked(entries: &Path, temp: &Path, max: u64, target: u64) -> io::Result<Evicted> {
    remove_stale_temp(temp);
    let mut items = list(entries)?;
    let before: u64 = items.iter().map(|i| i.len).sum();
    let mut out = Evicted {
        before,
        after: before,
        ..Evicted::default()
    };
    if before <= max {
        return Ok(out);
    }
    items.sort_by(|a, b| a.used.cmp(&b.used).then_with(|| a.path.cmp(&b.path)));
    for item in items {
        if out.after <= target {
            break;
        }
        match fs::remove_file(&item.path) {
            Ok(()) => {
                out.after -= item.len;
                out.removed += 1;
            }
            // Another process got there first (a corrupt entry discarded on read).
            Err(e) if e.kind() == io::ErrorKind::NotFound => out.after -= item.len,
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

fn list(entries: &Path) -> io::Result<Vec<Item>> {
    let mut items = Vec::new();
    let shards = match fs::read_dir(entries) {
        Ok(s) => s,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(items),
        Err(e) => return Err(e),
    };
    for shard in shards {
        let shard = shard?;
        if !shard.file_type()?.is_dir() {
            continue;
        }
        let files = match fs::read_dir(shard.path()) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for file in files {
            let Ok(file) = file else { continue };
            // An entry removed since the listing is simply not counted.
            let Ok(meta) = file.metadata() else { continue };
            if !meta.is_file() {
                continue;
            }
            items.push(Item {
                path: file.path(),
                len: meta.len(),
                used: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            });
        }
    }
    Ok(items)
}

fn remove_stale_temp(temp: &Path) {
    let Ok(files) = fs::read_dir(temp) else {
        return;
    };
    let now = SystemTime::now();
    for file in files.flatten() {
        let stale = file
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| now.duration_since(t).ok())
            .is_some_and(|age| age > STALE_TEMP);
        if stale {
            let _ = fs::remove_file(file.path());
        }
    }
}
