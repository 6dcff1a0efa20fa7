//! Reading the database.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension};
use serde::Serialize;

use super::{index_name, path_in, schema, DbError};
use crate::vulns::osv::Record;

/// An open, read-only database.
#[derive(Debug)]
pub struct Database {
    conn: Connection,
    path: PathBuf,
}

/// What one ecosystem's data holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceStatus {
    /// The OSV ecosystem whose archive was imported (`Debian`, `PyPI`).
    pub ecosystem: String,
    /// Advisories stored (withdrawn ones are not).
    pub records: u64,
    /// Entries skipped because they were not valid OSV records.
    pub skipped: u64,
    /// The newest `modified` time among the records: the data's date.
    pub newest_modified: Option<String>,
    /// When it was imported (RFC 3339).
    pub imported_at: String,
    /// Where it came from (a URL or a path).
    pub origin: String,
}

/// What the whole database holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    /// The database file.
    pub path: PathBuf,
    /// When it was last written (RFC 3339).
    pub updated_at: Option<String>,
    /// Per ecosystem.
    pub sources: Vec<SourceStatus>,
}

impl Database {
    /// Opens the database in `dir` read-only.
    pub fn open(dir: &Path) -> Result<Database, DbError> {
        let path = path_in(dir);
        if !path.is_file() {
            return Err(DbError::Missing {
                dir: dir.to_path_buf(),
            });
        }
        let sqlite = |source| DbError::Sqlite {
            path: path.clone(),
            source,
        };
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(sqlite)?;
        let version: Option<String> = conn
            .query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(sqlite)?;
        if version.as_deref() != Some(&schema::VERSION.to_string()) {
            return Err(DbError::Schema {
                path,
                found: version.unwrap_or_else(|| "none".into()),
                expected: schema::VERSION,
            });
        }
        Ok(Database { conn, path })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn sqlite(&self, source: rusqlite::Error) -> DbError {
        DbError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// The ecosystems and dates the database holds.
    pub fn status(&self) -> Result<Status, DbError> {
        let updated_at = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'updated_at'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.sqlite(e))?;
        let mut stmt = self
            .conn
            .prepare(
                "SELECT ecosystem, records, skipped, newest_modified, imported_at, origin
                 FROM sources ORDER BY ecosystem",
            )
            .map_err(|e| self.sqlite(e))?;
        let sources = stmt
            .query_map([], |r| {
                Ok(SourceStatus {
                    ecosystem: r.get(0)?,
                    records: r.get(1)?,
                    skipped: r.get(2)?,
                    newest_modified: r.get(3)?,
                    imported_at: r.get(4)?,
                    origin: r.get(5)?,
                })
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.sqlite(e))?;
        Ok(Status {
            path: self.path.clone(),
            updated_at,
            sources,
        })
    }

    /// The OSV ecosystems (archive names, `Debian`, `PyPI`) the database has data for.
    pub fn sources(&self) -> Result<Vec<String>, DbError> {
        Ok(self
            .status()?
            .sources
            .into_iter()
            .map(|s| s.ecosystem)
            .collect())
    }

    /// The advisories naming a package, with the exact ecosystem each names it under
    /// (`Debian:12`). `ecosystem` selects the name normalisation; the caller filters releases.
    pub fn advisories_for(
        &self,
        ecosystem: &str,
        name: &str,
    ) -> Result<Vec<(String, Record)>, DbError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT a.ecosystem, v.record FROM affected a
                 JOIN advisories v ON v.source = a.source AND v.id = a.id
                 WHERE a.name = ?1",
            )
            .map_err(|e| self.sqlite(e))?;
        let rows = stmt
            .query_map([index_name(ecosystem, name)], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.sqlite(e))?;
        let mut out = Vec::with_capacity(rows.len());
        for (eco, json) in rows {
            // Records were validated on import; one that no longer reads is skipped.
            if let Ok(record) = serde_json::from_str::<Record>(&json) {
                out.push((eco, record));
            }
        }
        Ok(out)
    }
}
