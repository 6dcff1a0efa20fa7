//! The local advisory database: one SQLite file, `osv.sqlite`, in the database directory.
//!
//! [`import::build`] writes a complete new file next to the old one from OSV `all.zip` archives
//! and renames it into place, so readers see either the old database or the new one, never a
//! mix; a failed update leaves the old one in use. [`Database`] reads it.

use std::path::{Path, PathBuf};

pub mod import;
mod schema;
mod store;

pub use store::{Database, SourceStatus, Status};

/// The database file's name inside the database directory.
pub const FILE_NAME: &str = "osv.sqlite";

/// The database file inside a directory.
pub fn path_in(dir: &Path) -> PathBuf {
    dir.join(FILE_NAME)
}

/// What can go wrong reading or writing the database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// No database has been built in the directory yet.
    #[error("no vulnerability database in {dir} (run `cra db update`)")]
    Missing {
        /// The directory.
        dir: PathBuf,
    },
    /// A filesystem operation failed.
    #[error("{action} {path}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// SQLite refused an operation.
    #[error("vulnerability database {path}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: rusqlite::Error,
    },
    /// An archive is not a readable zip file (for example, truncated).
    #[error("advisory archive {path} for {ecosystem} is not a readable zip file")]
    Zip {
        /// The archive.
        path: PathBuf,
        /// The ecosystem it was fetched for.
        ecosystem: String,
        /// The cause.
        #[source]
        source: zip::result::ZipError,
    },
    /// An entry of an archive could not be read.
    #[error("entry {entry} of advisory archive {path}")]
    Entry {
        /// The archive.
        path: PathBuf,
        /// The entry's name.
        entry: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The database was written by an incompatible version of cra.
    #[error("vulnerability database {path} has schema {found}, this cra reads {expected} (run `cra db update`)")]
    Schema {
        /// The database file.
        path: PathBuf,
        /// Its schema version.
        found: String,
        /// The version this build reads.
        expected: u32,
    },
}

/// The name of a package as the database indexes it: PyPI names are normalised as PEP 503
/// says, NuGet and Packagist names are case-insensitive; other ecosystems are exact.
pub fn index_name(ecosystem: &str, name: &str) -> String {
    let base = ecosystem.split(':').next().unwrap_or(ecosystem);
    match base {
        "PyPI" => {
            let mut out = String::with_capacity(name.len());
            let mut in_sep = false;
            for c in name.trim().chars() {
                if matches!(c, '-' | '_' | '.') {
                    if !in_sep {
                        out.push('-');
                    }
                    in_sep = true;
                } else {
                    out.extend(c.to_lowercase());
                    in_sep = false;
                }
            }
            out
        }
        "NuGet" | "Packagist" => name.to_lowercase(),
        _ => name.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_normalised_per_ecosystem() {
        assert_eq!(index_name("PyPI", "Foo.Bar__baz"), "foo-bar-baz");
        assert_eq!(index_name("NuGet", "Newtonsoft.Json"), "newtonsoft.json");
        assert_eq!(index_name("npm", "@Scope/Pkg"), "@Scope/Pkg");
        assert_eq!(index_name("Debian:12", "openssl"), "openssl");
    }
}
