//! The SQLite schema, in one place.

/// Bumped whenever the tables change; a database of another version is rebuilt by `db update`.
pub(crate) const VERSION: u32 = 1;

/// Creates the tables and indexes in an empty database.
pub(crate) const CREATE: &str = "
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE sources (
    ecosystem TEXT PRIMARY KEY,
    records INTEGER NOT NULL,
    skipped INTEGER NOT NULL,
    newest_modified TEXT,
    imported_at TEXT NOT NULL,
    origin TEXT NOT NULL
);
CREATE TABLE advisories (
    source TEXT NOT NULL,
    id TEXT NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (source, id)
);
CREATE TABLE affected (
    name TEXT NOT NULL,
    ecosystem TEXT NOT NULL,
    source TEXT NOT NULL,
    id TEXT NOT NULL
);
";

/// Indexes, created after the bulk insert (faster than maintaining them row by row).
pub(crate) const INDEX: &str = "
CREATE INDEX affected_by_name ON affected (name, ecosystem);
";
