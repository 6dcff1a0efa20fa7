//! Red Hat, Fedora, SUSE, Amazon Linux and Azure Linux packages from the rpm database.
//!
//! - Files: `Packages`, `Packages.db` and `rpmdb.sqlite` under `/var/lib/rpm/`,
//!   `/usr/lib/sysimage/rpm/` and `/usr/share/rpm/`.
//!   The backend is identified by magic, not by name: SQLite (`sqlite.rs`, read with rusqlite from a
//!   temporary file, the one place this analyzer touches the filesystem), Berkeley DB hash
//!   (`bdb.rs`, either byte order) and NDB (`ndb.rs`), both read natively.
//! - Each installed package is one header blob (`header.rs`), parsed with bounds checks on every
//!   offset; a corrupt header is skipped with a warning, a corrupt database is an error for that
//!   file only.
//! - Ecosystem: `rpm`; purl type `rpm`, the epoch in the `epoch` qualifier, the source rpm in
//!   `upstream`, namespace and `distro` from the OS after merge
//!   ([`crate::purl::qualify_os_packages`]).
//! - Reads: name, epoch, version, release (version reported as rpm prints it,
//!   `[epoch:]version-release`), arch, source rpm (source name and version), license,
//!   requires resolved to package names through provides and file paths. `gpg-pubkey` entries
//!   (imported signing keys) are not packages and are skipped.
//! - Known gaps: modularity labels and content-set repositories are not reported; a
//!   `rpmdb.sqlite-wal` beside the database is not applied.

pub(crate) mod bdb;
pub(crate) mod header;
pub(crate) mod ndb;
pub(crate) mod sqlite;

use std::collections::{HashMap, HashSet};
use std::io::Read;

use cra_core::{Ecosystem, Package};

use super::{Analyzer, AnalyzerError, AnalyzerId, AnalyzerInput, FileMeta, Findings};
use crate::purl;
use header::{tag, Header, HeaderError};

const DIRS: [&str; 3] = ["/var/lib/rpm/", "/usr/lib/sysimage/rpm/", "/usr/share/rpm/"];
const FILES: [&str; 3] = ["Packages", "Packages.db", "rpmdb.sqlite"];

/// The rpm database analyzer.
#[derive(Debug, Default)]
pub struct RpmAnalyzer;

impl Analyzer for RpmAnalyzer {
    fn id(&self) -> AnalyzerId {
        AnalyzerId::Rpm
    }

    fn version(&self) -> u32 {
        1
    }

    fn max_size(&self) -> u64 {
        512 * 1024 * 1024
    }

    fn wants(&self, path: &str, _meta: &FileMeta) -> bool {
        DIRS.iter().any(|dir| {
            path.strip_prefix(dir)
                .is_some_and(|file| FILES.contains(&file))
        })
    }

    fn analyze(&self, input: AnalyzerInput<'_>) -> Result<Findings, AnalyzerError> {
        let path = input.path;
        let malformed = |reason: String| AnalyzerError::Malformed {
            format: "rpm database",
            path: path.to_owned(),
            reason,
        };
        let io = |source| AnalyzerError::Io {
            path: path.to_owned(),
            source,
        };
        let mut head = [0u8; SNIFF_LEN];
        let mut got = 0;
        while got < SNIFF_LEN {
            match input.reader.read(&mut head[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io(e)),
            }
        }
        let head = &head[..got];
        let mut rest = head.chain(&mut *input.reader);
        let blobs = match Backend::sniff(head) {
            // SQLite reads a file: the database streams there instead of into memory.
            Some(Backend::Sqlite) => {
                let (file, _) =
                    crate::spool::to_named_file(&mut rest).map_err(|e| io(e.into_io()))?;
                sqlite::blobs_in(file.path()).map_err(malformed)?
            }
            backend => {
                let mut bytes = Vec::new();
                rest.read_to_end(&mut bytes).map_err(io)?;
                match backend {
                    Some(Backend::Bdb) => {
                        bdb::blobs(&bytes).map_err(|e| malformed(e.to_string()))?
                    }
                    Some(Backend::Ndb) => {
                        ndb::blobs(&bytes).map_err(|e| malformed(e.to_string()))?
                    }
                    _ if bytes.is_empty() => Vec::new(),
                    _ => return Err(malformed("unknown database format".to_owned())),
                }
            }
        };
        Ok(packages_from_blobs(&blobs, path))
    }
}

/// Bytes [`Backend::sniff`] needs.
const SNIFF_LEN: usize = 16;

/// The three rpmdb storage formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Bdb,
    Ndb,
}

impl Backend {
    /// Identifies the backend from the first bytes of the file.
    pub(crate) fn sniff(bytes: &[u8]) -> Option<Backend> {
        if bytes.starts_with(b"SQLite format 3\0") {
            Some(Backend::Sqlite)
        } else if bytes.starts_with(b"RpmP") {
            Some(Backend::Ndb)
        } else if bdb::byte_order(bytes).is_some() {
            Some(Backend::Bdb)
        } else {
            None
        }
    }
}

/// What one header yields before cross-package resolution.
struct Parsed {
    package: Package,
    provides: Vec<String>,
    requires: Vec<String>,
    files: Vec<String>,
}

/// Reads one header blob into a package; `Ok(None)` for pseudo-packages (`gpg-pubkey`).
#[cfg(test)]
pub(crate) fn package_from_header(blob: &[u8], path: &str) -> Result<Option<Package>, HeaderError> {
    Ok(parse_header(blob, path)?.map(|p| p.package))
}

fn clean(value: Option<&str>) -> Option<String> {
    value
        .filter(|v| !v.is_empty() && *v != "(none)")
        .map(str::to_owned)
}

fn parse_header(blob: &[u8], path: &str) -> Result<Option<Parsed>, HeaderError> {
    let h = Header::parse(blob)?;
    let Some(name) = h.string(tag::NAME)? else {
        return Err(HeaderError::BadValue { tag: tag::NAME });
    };
    if name == "gpg-pubkey" {
        return Ok(None);
    }
    let version = h.string(tag::VERSION)?.unwrap_or_default();
    let release = h.string(tag::RELEASE)?.unwrap_or_default();
    let epoch = h.int32(tag::EPOCH)?;
    let mut display = match epoch {
        Some(e) => format!("{e}:{version}"),
        None => version.to_owned(),
    };
    if !release.is_empty() {
        display.push('-');
        display.push_str(release);
    }
    let mut pkg = purl::new_package(Ecosystem::Rpm, name, &display, String::new(), path);
    pkg.arch = clean(h.string(tag::ARCH)?);
    pkg.license = clean(h.string(tag::LICENSE)?);
    if let Some(src) = clean(h.string(tag::SOURCERPM)?) {
        if let Some((src_name, src_version)) = split_source_rpm(&src) {
            pkg.source_name = Some(src_name);
            pkg.source_version = Some(src_version);
        }
    }
    let provides = h
        .string_array(tag::PROVIDENAME)?
        .into_iter()
        .map(str::to_owned)
        .collect();
    let requires = h
        .string_array(tag::REQUIRENAME)?
        .into_iter()
        .filter(|r| !r.starts_with("rpmlib("))
        .map(str::to_owned)
        .collect();
    let basenames = h.string_array(tag::BASENAMES)?;
    let dirnames = h.string_array(tag::DIRNAMES)?;
    let dirindexes = h.int32_array(tag::DIRINDEXES)?;
    let files = basenames
        .iter()
        .zip(&dirindexes)
        .filter_map(|(base, &di)| {
            let dir = dirnames.get(di as usize)?;
            Some(format!("{dir}{base}"))
        })
        .collect();
    Ok(Some(Parsed {
        package: pkg,
        provides,
        requires,
        files,
    }))
}

/// `openssl-3.0.7-18.el9.src.rpm` → (`openssl`, `3.0.7-18.el9`).
fn split_source_rpm(src: &str) -> Option<(String, String)> {
    let stem = src
        .strip_suffix(".src.rpm")
        .or_else(|| src.strip_suffix(".nosrc.rpm"))?;
    let (rest, release) = stem.rsplit_once('-')?;
    let (name, version) = rest.rsplit_once('-')?;
    if name.is_empty() || version.is_empty() || release.is_empty() {
        return None;
    }
    Some((name.to_owned(), format!("{version}-{release}")))
}

/// Turns every header of one database into packages and resolves their requirements.
pub(crate) fn packages_from_blobs(blobs: &[Vec<u8>], path: &str) -> Findings {
    let mut parsed = Vec::with_capacity(blobs.len());
    let mut warnings = Vec::new();
    for (i, blob) in blobs.iter().enumerate() {
        match parse_header(blob, path) {
            Ok(Some(p)) => parsed.push(p),
            Ok(None) => {}
            Err(e) => warnings.push(format!("{path}: rpm header #{i} skipped: {e}")),
        }
    }
    // Capability → providing package; a package provides its own name too.
    let mut providers: HashMap<&str, &str> = HashMap::new();
    for p in &parsed {
        for cap in &p.provides {
            providers
                .entry(cap.as_str())
                .or_insert(p.package.name.as_str());
        }
    }
    for p in &parsed {
        providers
            .entry(p.package.name.as_str())
            .or_insert(p.package.name.as_str());
    }
    let wanted_files: HashSet<&str> = parsed
        .iter()
        .flat_map(|p| p.requires.iter())
        .filter(|r| r.starts_with('/'))
        .map(String::as_str)
        .collect();
    let mut file_owner: HashMap<&str, &str> = HashMap::new();
    if !wanted_files.is_empty() {
        for p in &parsed {
            for f in &p.files {
                if wanted_files.contains(f.as_str()) {
                    file_owner
                        .entry(f.as_str())
                        .or_insert(p.package.name.as_str());
                }
            }
        }
    }
    let resolved: Vec<Vec<String>> = parsed
        .iter()
        .map(|p| {
            let mut deps: Vec<String> = Vec::new();
            for r in &p.requires {
                let target = providers
                    .get(r.as_str())
                    .or_else(|| file_owner.get(r.as_str()));
                if let Some(t) = target {
                    if *t != p.package.name && !deps.iter().any(|d| d == t) {
                        deps.push((*t).to_owned());
                    }
                }
            }
            deps
        })
        .collect();
    let packages = parsed
        .into_iter()
        .zip(resolved)
        .map(|(p, deps)| {
            let mut pkg = p.package;
            pkg.dependencies = deps;
            pkg.purl = purl::rpm(&pkg, None);
            pkg
        })
        .collect();
    Findings {
        packages,
        os: None,
        warnings,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::header::build::{blob, Value};
    use super::*;
    use std::io::Cursor;

    /// The real database written by `tests/fixtures/rpm/make.sh`.
    pub(crate) const SQLITE_DB: &[u8] = include_bytes!("../../../tests/fixtures/rpm/rpmdb.sqlite");

    pub(crate) fn run(path: &str, bytes: &[u8]) -> Result<Findings, AnalyzerError> {
        let meta = FileMeta {
            size: bytes.len() as u64,
            mode: 0o644,
        };
        assert!(RpmAnalyzer.wants(path, &meta), "{path}");
        RpmAnalyzer.analyze(AnalyzerInput {
            path,
            meta,
            reader: &mut Cursor::new(bytes.to_vec()),
            spooled: None,
        })
    }

    /// Checks the two packages of the fixture database, whatever backend carried them.
    pub(crate) fn assert_demo_packages(f: &Findings) {
        assert!(f.warnings.is_empty(), "{:?}", f.warnings);
        let mut pkgs = f.packages.clone();
        pkgs.sort_by(|a, b| a.name.cmp(&b.name));
        let names: Vec<_> = pkgs
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str()))
            .collect();
        assert_eq!(
            names,
            [("cra-demo-app", "2.0-1"), ("cra-demo-lib", "1:1.2.3-4.el9")]
        );
        let (app, lib) = (&pkgs[0], &pkgs[1]);
        assert_eq!(lib.arch.as_deref(), Some("noarch"));
        assert_eq!(lib.license.as_deref(), Some("MIT"));
        assert_eq!(lib.source_name.as_deref(), Some("cra-demo-lib"));
        assert_eq!(lib.source_version.as_deref(), Some("1.2.3-4.el9"));
        assert_eq!(
            lib.purl,
            "pkg:rpm/cra-demo-lib@1.2.3-4.el9?arch=noarch&epoch=1&upstream=cra-demo-lib-1.2.3-4.el9.src.rpm"
        );
        assert_eq!(app.license.as_deref(), Some("Apache-2.0"));
        // Requires by name, by soname provide and by file path all resolve to the library.
        assert_eq!(app.dependencies, ["cra-demo-lib"]);
    }

    #[test]
    fn wants_every_backend_path() {
        let m = FileMeta {
            size: 1,
            mode: 0o644,
        };
        for p in [
            "/var/lib/rpm/Packages",
            "/var/lib/rpm/rpmdb.sqlite",
            "/usr/lib/sysimage/rpm/Packages.db",
            "/usr/lib/sysimage/rpm/rpmdb.sqlite",
        ] {
            assert!(RpmAnalyzer.wants(p, &m), "{p}");
        }
        assert!(!RpmAnalyzer.wants("/var/lib/rpm/Name", &m));
        assert!(!RpmAnalyzer.wants("/var/lib/rpm/rpmdb.sqlite-shm", &m));
    }

    #[test]
    fn sqlite_database_from_rpm_tool() {
        let f = run("/var/lib/rpm/rpmdb.sqlite", SQLITE_DB).unwrap();
        assert_demo_packages(&f);
    }

    #[test]
    fn gpg_pubkey_is_skipped_and_none_values_dropped() {
        let key = blob(&[
            (tag::NAME, Value::Str("gpg-pubkey")),
            (tag::VERSION, Value::Str("fd431d51")),
            (tag::RELEASE, Value::Str("4ae0493b")),
        ]);
        let bare = blob(&[
            (tag::NAME, Value::Str("bare")),
            (tag::VERSION, Value::Str("1")),
            (tag::RELEASE, Value::Str("2")),
            (tag::LICENSE, Value::Str("(none)")),
            (tag::SOURCERPM, Value::Str("(none)")),
            (tag::EPOCH, Value::Int32(&[0])),
        ]);
        let f = packages_from_blobs(&[key, bare, vec![0, 0, 0, 1]], "/var/lib/rpm/Packages");
        assert_eq!(f.packages.len(), 1);
        let p = &f.packages[0];
        assert_eq!(p.version, "0:1-2", "an explicit epoch 0 is kept");
        assert_eq!(p.license, None);
        assert_eq!(p.source_name, None);
        assert_eq!(f.warnings.len(), 1);
    }

    #[test]
    fn unknown_and_corrupt_databases_are_errors() {
        assert!(run("/var/lib/rpm/Packages", b"not a database at all").is_err());
        let mut truncated = SQLITE_DB[..4096].to_vec();
        truncated.extend_from_slice(&[0; 100]);
        assert!(run("/var/lib/rpm/rpmdb.sqlite", &truncated).is_err());
        assert!(run("/var/lib/rpm/rpmdb.sqlite", b"")
            .unwrap()
            .packages
            .is_empty());
    }

    #[test]
    fn source_rpm_split() {
        assert_eq!(
            split_source_rpm("openssl-3.0.7-18.el9.src.rpm"),
            Some(("openssl".into(), "3.0.7-18.el9".into()))
        );
        assert_eq!(split_source_rpm("broken.src.rpm"), None);
    }
}
