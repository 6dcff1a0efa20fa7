//! The outbox on disk: one file per finished scan, written durably and replaced atomically.
//!
//! A file is a one-line JSON [`Header`], a newline, then the result body exactly as it is posted.
//! Files are written to `tmp/` first, flushed with `fsync`, renamed into place and the directory
//! flushed too, so that a crash leaves either the whole entry or none of it.
//! Names sort by creation time, so a restart resumes the oldest entries first.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use url::Url;

/// The extension of entry files.
const EXTENSION: &str = "cb";
/// The subdirectory where entries are written before they are renamed into place.
const TMP: &str = "tmp";

/// Which result path a job's first callback goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResultRoute {
    /// `/api/v1/recurring-tests/dependencies` (`/discover`).
    V1,
    /// `/api/v2/import/result` (`/scan`).
    V2,
}

/// What the sender needs to know about one job besides the result body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Header {
    /// The job id.
    pub job_id: String,
    /// The validated image name, as the done notice repeats it.
    pub image: String,
    /// Whether the scan succeeded.
    pub success: bool,
    /// The callback base (it may hold user info: it is never logged).
    #[serde(with = "url_text")]
    pub base: Url,
    /// Where the result goes.
    pub route: ResultRoute,
    /// When the scan finished, in milliseconds since the Unix epoch.
    pub created_ms: u64,
    /// Whether the result step is over (delivered or refused for good).
    #[serde(default)]
    pub result_sent: bool,
    /// Whether the receiver accepted the result.
    #[serde(default)]
    pub result_delivered: bool,
}

/// A URL as its text (the `url` crate is used here without its serde feature).
pub(crate) mod url_text {
    use serde::{Deserialize, Deserializer, Serializer};
    use url::Url;

    pub(crate) fn serialize<S: Serializer>(url: &Url, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(url.as_str())
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Url, D::Error> {
        let text = String::deserialize(deserializer)?;
        Url::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A loaded entry.
#[derive(Debug)]
pub struct Entry {
    /// The header.
    pub header: Header,
    /// The result body (empty once the result step is over).
    pub body: Vec<u8>,
}

/// Why an entry could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file is gone (delivered, expired or evicted meanwhile).
    #[error("the entry is gone")]
    Gone,
    /// The file could not be read.
    #[error("cannot read the entry")]
    Io(#[source] io::Error),
    /// The file is not an entry.
    #[error("the entry is damaged")]
    Damaged(#[source] serde_json::Error),
}

/// Milliseconds since the Unix epoch now.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The file name of an entry: creation time, a per-process sequence number and the job id.
pub fn file_name(created_ms: u64, seq: u64, job_id: &str) -> String {
    format!("{created_ms:013}-{seq:08}-{job_id}.{EXTENSION}")
}

/// The job id an entry file name carries, if it is an entry's name.
pub fn job_of(name: &str) -> Option<&str> {
    let stem = name.strip_suffix(EXTENSION)?.strip_suffix('.')?;
    stem.splitn(3, '-').nth(2)
}

/// Creates the directory and its `tmp/`, and removes what an interrupted write left there.
pub fn prepare(dir: &Path) -> io::Result<()> {
    let tmp = dir.join(TMP);
    fs::create_dir_all(&tmp)?;
    for leftover in fs::read_dir(&tmp)? {
        let _ = fs::remove_file(leftover?.path());
    }
    Ok(())
}

/// The entry files in `dir` with their sizes, oldest first.
pub fn list(dir: &Path) -> io::Result<Vec<(String, u64)>> {
    list_with(dir, EXTENSION)
}

/// The files in `dir` named `*.<extension>`, with their sizes, in name order.
pub(crate) fn list_with(dir: &Path, extension: &str) -> io::Result<Vec<(String, u64)>> {
    let mut entries = Vec::new();
    for item in fs::read_dir(dir)? {
        let item = item?;
        let name = item.file_name().to_string_lossy().into_owned();
        let is_entry = Path::new(&name).extension().is_some_and(|e| e == extension);
        if is_entry && item.file_type()?.is_file() {
            entries.push((name, item.metadata()?.len()));
        }
    }
    entries.sort();
    Ok(entries)
}

/// Writes `header` and `body` as `name` durably; returns the bytes written.
pub fn write(dir: &Path, name: &str, header: &Header, body: &[u8]) -> io::Result<u64> {
    let mut bytes = serde_json::to_vec(header).map_err(io::Error::other)?;
    bytes.push(b'\n');
    bytes.extend_from_slice(body);
    write_durably(dir, name, &bytes)?;
    Ok(bytes.len() as u64)
}

/// Writes `bytes` as `dir/name` so that a crash leaves the old file or the new one, never a
/// part: through `dir/tmp/`, with `fsync` of the file and of the directory. The file is
/// readable by its owner only (journal entries hold registry credentials).
pub(crate) fn write_durably(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    let tmp = dir.join(TMP).join(name);
    {
        let mut options = fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    fs::rename(&tmp, dir.join(name))?;
    sync_dir(dir)
}

/// Reads the entry `name`.
pub fn load(dir: &Path, name: &str) -> Result<Entry, LoadError> {
    let bytes = match fs::read(dir.join(name)) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Err(LoadError::Gone),
        Err(err) => return Err(LoadError::Io(err)),
    };
    let split = bytes
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(bytes.len());
    let header = serde_json::from_slice(&bytes[..split]).map_err(LoadError::Damaged)?;
    let body = bytes.get(split + 1..).unwrap_or_default().to_vec();
    Ok(Entry { header, body })
}

/// Removes the entry `name`; one that is already gone is fine.
pub fn remove(dir: &Path, name: &str) -> io::Result<()> {
    match fs::remove_file(dir.join(name)) {
        Ok(()) => sync_dir(dir),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(err),
    }
}

/// The path of the entry `name`.
pub fn path(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header {
            job_id: "j1".into(),
            image: "team/app:1".into(),
            success: true,
            base: Url::parse("http://127.0.0.1:7341").unwrap(),
            route: ResultRoute::V2,
            created_ms: 5,
            result_sent: false,
            result_delivered: false,
        }
    }

    #[test]
    fn entries_round_trip_in_order_and_leave_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        prepare(dir.path()).unwrap();
        let body = br#"{"jobId":"j1","note":"line\nbreak"}"#;
        let second = file_name(7, 0, "j2");
        let first = file_name(5, 1, "j1");
        write(dir.path(), &second, &header(), b"{}").unwrap();
        let size = write(dir.path(), &first, &header(), body).unwrap();
        let listed = list(dir.path()).unwrap();
        assert_eq!(listed[0], (first.clone(), size));
        assert_eq!(listed[1].0, second);
        let entry = load(dir.path(), &first).unwrap();
        assert_eq!(entry.header, header());
        assert_eq!(entry.body, body);
        assert_eq!(fs::read_dir(dir.path().join(TMP)).unwrap().count(), 0);
        assert_eq!(job_of(&first), Some("j1"));
        assert_eq!(job_of(&file_name(1, 2, "a-b.c")), Some("a-b.c"));
        assert_eq!(job_of("notes.txt"), None);
        remove(dir.path(), &first).unwrap();
        remove(dir.path(), &first).unwrap();
        assert!(matches!(load(dir.path(), &first), Err(LoadError::Gone)));
    }

    #[test]
    fn damaged_entries_and_leftovers() {
        let dir = tempfile::tempdir().unwrap();
        prepare(dir.path()).unwrap();
        fs::write(dir.path().join(TMP).join("half.cb"), b"{").unwrap();
        fs::write(dir.path().join("x.cb"), b"not json\n{}").unwrap();
        fs::write(dir.path().join("other.txt"), b"").unwrap();
        prepare(dir.path()).unwrap();
        assert_eq!(fs::read_dir(dir.path().join(TMP)).unwrap().count(), 0);
        assert_eq!(list(dir.path()).unwrap().len(), 1);
        assert!(matches!(
            load(dir.path(), "x.cb"),
            Err(LoadError::Damaged(_))
        ));
    }
}
