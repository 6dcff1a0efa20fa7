//! SQLite `rpmdb.sqlite` (Fedora ≥ 33, RHEL 9+, Amazon Linux 2023, Azure Linux).
//!
//! Only the `Packages(hnum, blob)` table is read; the other tables are indexes rpm rebuilds.
//! SQLite needs a file, so the database streams into a private temporary file that is removed
//! when reading ends, and is opened read-only and immutable (no journal, no locks).

use std::path::Path;

/// Returns every header blob of the database in memory (tests and fixtures).
#[cfg(test)]
pub(crate) fn blobs(bytes: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let (file, _) =
        crate::spool::to_named_file(bytes).map_err(|e| format!("temporary file: {e}"))?;
    blobs_in(file.path())
}

/// Returns every header blob of the database file at `path`.
pub(crate) fn blobs_in(path: &Path) -> Result<Vec<Vec<u8>>, String> {
    let path = path.to_string_lossy().into_owned();
    let uri = format!("file:{}?immutable=1", escape_uri_path(&path));
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
        | rusqlite::OpenFlags::SQLITE_OPEN_URI
        | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = rusqlite::Connection::open_with_flags(uri, flags).map_err(|e| e.to_string())?;
    let mut stmt = conn
        .prepare("SELECT blob FROM Packages")
        .map_err(|e| e.to_string())?;
    let rows = stmt
        .query_map([], |row| row.get::<_, Vec<u8>>(0))
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for row in rows {
        out.push(row.map_err(|e| e.to_string())?);
    }
    Ok(out)
}

/// Percent-encodes the characters that would end the path part of a SQLite URI.
fn escape_uri_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        match c {
            '?' | '#' | '%' => out.push_str(&format!("%{:02X}", c as u32)),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_blobs_of_the_fixture() {
        let found = blobs(crate::analyzers::rpm::tests::SQLITE_DB).unwrap();
        assert_eq!(found.len(), 2);
        assert!(blobs(b"SQLite format 3\0garbage").is_err());
        assert_eq!(escape_uri_path("/t/a?b#c%"), "/t/a%3Fb%23c%25");
    }
}
