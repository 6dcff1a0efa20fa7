//! Building a new database from OSV `all.zip` archives.
//!
//! Each archive is read entry by entry (a zip needs its central directory, so the archive is a
//! file on disk, never held in memory), each entry bounded in size. The new database is written
//! to a temporary file in the database directory and renamed over the old one only when every
//! archive has been read; ecosystems not being updated are copied over from the old database.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection};
use serde::Serialize;

use super::{index_name, path_in, schema, DbError};
use crate::vulns::osv::Record;

/// The largest advisory entry read; real records are a few kilobytes, the largest a few hundred.
pub const MAX_RECORD_BYTES: u64 = 16 * 1024 * 1024;

/// One archive to import.
#[derive(Debug, Clone)]
pub struct Archive {
    /// The OSV ecosystem it holds (`Debian`, `PyPI`).
    pub ecosystem: String,
    /// The zip file on disk.
    pub path: PathBuf,
    /// Where it came from, recorded for `db status` (a URL or a path).
    pub origin: String,
}

/// What one archive contributed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Imported {
    /// The ecosystem.
    pub ecosystem: String,
    /// Advisories stored.
    pub records: u64,
    /// Withdrawn advisories left out.
    pub withdrawn: u64,
    /// Entries that were not valid OSV records, left out.
    pub skipped: u64,
    /// The newest `modified` time among the records.
    pub newest_modified: Option<String>,
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> DbError + 'a {
    move |source| DbError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// Builds a new database in `dir` from `archives`, keeping the other ecosystems of the existing
/// database, and moves it into place atomically. On any error the old database is untouched.
pub fn build(dir: &Path, archives: &[Archive], now: &str) -> Result<Vec<Imported>, DbError> {
    std::fs::create_dir_all(dir).map_err(io("creating", dir))?;
    let target = path_in(dir);
    let tmp = tempfile::Builder::new()
        .prefix(".osv-")
        .suffix(".sqlite.tmp")
        .tempfile_in(dir)
        .map_err(io("creating a temporary file in", dir))?;
    let tmp_path = tmp.path().to_path_buf();
    let sqlite = |source| DbError::Sqlite {
        path: tmp_path.clone(),
        source,
    };
    let mut conn = Connection::open(&tmp_path).map_err(sqlite)?;
    conn.execute_batch("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;")
        .map_err(sqlite)?;
    conn.execute_batch(schema::CREATE).map_err(sqlite)?;

    let updating: BTreeSet<&str> = archives.iter().map(|a| a.ecosystem.as_str()).collect();
    if target.is_file() {
        copy_other_sources(&conn, &target, &updating).map_err(sqlite)?;
    }

    let mut summaries = Vec::with_capacity(archives.len());
    for archive in archives {
        let tx = conn.transaction().map_err(sqlite)?;
        let summary = import_archive(&tx, archive, now).map_err(|e| match e {
            ImportError::Db(source) => sqlite(source),
            ImportError::Other(e) => e,
        })?;
        tx.commit().map_err(sqlite)?;
        summaries.push(summary);
    }

    conn.execute_batch(schema::INDEX).map_err(sqlite)?;
    conn.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema', ?1), ('updated_at', ?2)",
        params![schema::VERSION.to_string(), now],
    )
    .map_err(sqlite)?;
    conn.execute_batch("ANALYZE;").map_err(sqlite)?;
    conn.close().map_err(|(_, e)| sqlite(e))?;
    tmp.persist(&target).map_err(|e| DbError::Io {
        action: "moving the new database into place at",
        path: target.clone(),
        source: e.error,
    })?;
    Ok(summaries)
}

/// Copies the ecosystems that are not being updated from the old database, when it is readable
/// and of this schema; otherwise they are dropped (the user updates them again).
fn copy_other_sources(
    conn: &Connection,
    old: &Path,
    updating: &BTreeSet<&str>,
) -> Result<(), rusqlite::Error> {
    conn.execute("ATTACH DATABASE ?1 AS old", [old.to_string_lossy()])?;
    let version: Result<String, _> =
        conn.query_row("SELECT value FROM old.meta WHERE key = 'schema'", [], |r| {
            r.get(0)
        });
    if version.ok().as_deref() == Some(&schema::VERSION.to_string()) {
        let list = updating.iter().copied().collect::<Vec<_>>().join("\u{1f}");
        for table in ["sources", "advisories", "affected"] {
            let column = if table == "sources" {
                "ecosystem"
            } else {
                "source"
            };
            conn.execute(
                &format!(
                    "INSERT INTO main.{table} SELECT * FROM old.{table}
                     WHERE instr(char(31) || ?1 || char(31), char(31) || {column} || char(31)) = 0"
                ),
                [&list],
            )?;
        }
    }
    conn.execute("DETACH DATABASE old", [])?;
    Ok(())
}

enum ImportError {
    Db(rusqlite::Error),
    Other(DbError),
}

impl From<rusqlite::Error> for ImportError {
    fn from(e: rusqlite::Error) -> Self {
        ImportError::Db(e)
    }
}

fn import_archive(
    tx: &rusqlite::Transaction<'_>,
    archive: &Archive,
    now: &str,
) -> Result<Imported, ImportError> {
    let file = File::open(&archive.path)
        .map_err(|e| ImportError::Other(io("opening", &archive.path)(e)))?;
    let mut zip = zip::ZipArchive::new(file).map_err(|source| {
        ImportError::Other(DbError::Zip {
            path: archive.path.clone(),
            ecosystem: archive.ecosystem.clone(),
            source,
        })
    })?;
    let mut summary = Imported {
        ecosystem: archive.ecosystem.clone(),
        records: 0,
        withdrawn: 0,
        skipped: 0,
        newest_modified: None,
    };
    let mut insert_advisory =
        tx.prepare("INSERT OR REPLACE INTO advisories (source, id, record) VALUES (?1, ?2, ?3)")?;
    let mut insert_affected =
        tx.prepare("INSERT INTO affected (name, ecosystem, source, id) VALUES (?1, ?2, ?3, ?4)")?;
    let mut buf = Vec::new();
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(|source| {
            ImportError::Other(DbError::Zip {
                path: archive.path.clone(),
                ecosystem: archive.ecosystem.clone(),
                source,
            })
        })?;
        if entry.is_dir() || !entry.name().ends_with(".json") {
            continue;
        }
        if entry.size() > MAX_RECORD_BYTES {
            summary.skipped += 1;
            continue;
        }
        buf.clear();
        let name = entry.name().to_owned();
        (&mut entry)
            .take(MAX_RECORD_BYTES + 1)
            .read_to_end(&mut buf)
            .map_err(|source| {
                ImportError::Other(DbError::Entry {
                    path: archive.path.clone(),
                    entry: name,
                    source,
                })
            })?;
        let Ok(record) = serde_json::from_slice::<Record>(&buf) else {
            summary.skipped += 1;
            continue;
        };
        if record.withdrawn.is_some() {
            summary.withdrawn += 1;
            continue;
        }
        if summary
            .newest_modified
            .as_deref()
            .is_none_or(|m| record.modified.as_str() > m)
        {
            summary.newest_modified = Some(record.modified.clone());
        }
        // Store the record re-serialised from the typed form: only what cra reads, compact.
        let json = serde_json::to_string(&record).map_err(|e| {
            ImportError::Other(DbError::Entry {
                path: archive.path.clone(),
                entry: record.id.clone(),
                source: std::io::Error::other(e),
            })
        })?;
        insert_advisory.execute(params![archive.ecosystem, record.id, json])?;
        let mut seen = BTreeSet::new();
        for affected in &record.affected {
            let key = (
                index_name(&affected.package.ecosystem, &affected.package.name),
                affected.package.ecosystem.as_str(),
            );
            if seen.insert(key.clone()) {
                insert_affected.execute(params![key.0, key.1, archive.ecosystem, record.id])?;
            }
        }
        summary.records += 1;
    }
    drop(insert_advisory);
    drop(insert_affected);
    tx.execute(
        "INSERT OR REPLACE INTO sources
         (ecosystem, records, skipped, newest_modified, imported_at, origin)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            archive.ecosystem,
            summary.records,
            summary.skipped,
            summary.newest_modified,
            now,
            archive.origin
        ],
    )?;
    Ok(summary)
}
