//! Node.js packages: installed `node_modules` trees, application manifests and lock files.
//!
//! - Files: every `package.json` directly inside a `node_modules` package directory
//!   (`node_modules/x/package.json`, `node_modules/@scope/x/package.json`, nested copies such as
//!   `node_modules/a/node_modules/b/package.json` are kept, each with its own path);
//!   an application's own `package.json` outside any `node_modules` (`/app/package.json`) is
//!   reported too; lock files `package-lock.json` (v1–v3, `package_lock.rs`), `yarn.lock`
//!   (v1 and berry, `yarn.rs`) and `pnpm-lock.yaml` (v5, v6, v9, `pnpm.rs`).
//! - Ecosystem: `npm`; purl type `npm`, scope as namespace (`pkg:npm/%40babel/core@7.24.0`).
//! - `package.json` files elsewhere under `node_modules` (a dependency's test fixtures) are not
//!   packages and are not read. `node_modules/.package-lock.json` is not read: the tree it
//!   describes is read directly.
//! - Lock-file packages describe what *would* be installed: when the same directory also has an
//!   installed `node_modules` tree, [`drop_lockfile_packages_when_installed`] (called after merge)
//!   drops them so nothing is counted twice. Entries flagged `dev` in lock files are skipped.
//! - Libraries installed by Debian's `node-*` packages (`/usr/share/nodejs/<name>/package.json`,
//!   `/usr/lib/nodejs/…`) are reported with `os_managed = true`.
//! - Known gaps: lock-file dependency edges are not recorded; yarn berry `resolution` aliases
//!   (`npm:other@1.0`) are reported under the requested name.

pub(crate) mod package_lock;
pub(crate) mod pnpm;
pub(crate) mod yarn;

use std::collections::HashSet;

use cra_core::{Ecosystem, Package};
use serde::Deserialize;

use super::{Analyzer, AnalyzerError, AnalyzerId, AnalyzerInput, FileMeta, Findings};
use crate::purl;

/// A `package.json` larger than this is not a real manifest.
const MAX_MANIFEST: u64 = 1024 * 1024;

/// The Node.js analyzer.
#[derive(Debug, Default)]
pub struct NpmAnalyzer;

/// What kind of Node file a path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A package installed in `node_modules`.
    Installed,
    /// An application's own manifest.
    Root,
    PackageLock,
    YarnLock,
    PnpmLock,
}

fn kind(path: &str) -> Option<Kind> {
    let (dir, file) = path.rsplit_once('/')?;
    match file {
        "package.json" => {
            let segments: Vec<&str> = dir.split('/').collect();
            let n = segments.len();
            let direct =
                n >= 2 && segments[n - 2] == "node_modules" && !segments[n - 1].starts_with('.');
            let scoped =
                n >= 3 && segments[n - 3] == "node_modules" && segments[n - 2].starts_with('@');
            if direct || scoped || is_os_managed(path) {
                Some(Kind::Installed)
            } else if segments.contains(&"node_modules") {
                None
            } else {
                Some(Kind::Root)
            }
        }
        "package-lock.json" if !dir.contains("/node_modules") => Some(Kind::PackageLock),
        "yarn.lock" if !dir.contains("/node_modules") => Some(Kind::YarnLock),
        "pnpm-lock.yaml" if !dir.contains("/node_modules") => Some(Kind::PnpmLock),
        _ => None,
    }
}

impl Analyzer for NpmAnalyzer {
    fn id(&self) -> AnalyzerId {
        AnalyzerId::Npm
    }

    fn version(&self) -> u32 {
        2
    }

    fn max_size(&self) -> u64 {
        64 * 1024 * 1024
    }

    fn wants(&self, path: &str, meta: &FileMeta) -> bool {
        match kind(path) {
            Some(Kind::Installed | Kind::Root) => meta.size <= MAX_MANIFEST,
            Some(_) => true,
            None => false,
        }
    }

    fn analyze(&self, mut input: AnalyzerInput<'_>) -> Result<Findings, AnalyzerError> {
        let path = input.path;
        let Some(kind) = kind(path) else {
            return Ok(Findings::default());
        };
        let bytes = input.read_bytes()?;
        let malformed = |reason: String| AnalyzerError::Malformed {
            format: "npm",
            path: path.to_owned(),
            reason,
        };
        let packages = match kind {
            Kind::Installed | Kind::Root => {
                return Ok(manifest(&bytes, path, kind == Kind::Root));
            }
            Kind::PackageLock => package_lock::parse(&bytes, path).map_err(malformed)?,
            Kind::YarnLock => yarn::parse(&String::from_utf8_lossy(&bytes), path),
            Kind::PnpmLock => pnpm::parse(&String::from_utf8_lossy(&bytes), path),
        };
        Ok(Findings {
            packages,
            ..Findings::default()
        })
    }
}

#[derive(Deserialize)]
struct Manifest {
    name: Option<String>,
    version: Option<String>,
    #[serde(default)]
    license: Option<serde_json::Value>,
    #[serde(default)]
    licenses: Option<serde_json::Value>,
    #[serde(default)]
    dependencies: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default, rename = "optionalDependencies")]
    optional_dependencies: Option<serde_json::Map<String, serde_json::Value>>,
}

fn license_of(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
        serde_json::Value::Object(o) => o.get("type").and_then(|t| t.as_str()).map(str::to_owned),
        serde_json::Value::Array(items) => {
            let names: Vec<String> = items.iter().filter_map(license_of).collect();
            (!names.is_empty()).then(|| names.join(" OR "))
        }
        _ => None,
    }
}

/// One `package.json`: an installed package, or an application's root manifest.
fn manifest(bytes: &[u8], path: &str, root: bool) -> Findings {
    let parsed: Manifest = match serde_json::from_slice(bytes) {
        Ok(m) => m,
        Err(e) => {
            return Findings {
                warnings: vec![format!("{path}: invalid package.json: {e}")],
                ..Findings::default()
            };
        }
    };
    let name = parsed.name.filter(|n| !n.is_empty());
    let version = parsed.version.unwrap_or_default();
    let Some(name) = name else {
        // Nameless manifests are common in app folders (a `package.json` with scripts only) and
        // in packages' sub-folders; they are not packages.
        return Findings::default();
    };
    if !root && version.is_empty() {
        return Findings {
            warnings: vec![format!("{path}: installed package {name} has no version")],
            ..Findings::default()
        };
    }
    let mut pkg = purl::new_package(
        Ecosystem::Npm,
        &name,
        &version,
        purl::npm(&name, &version),
        path,
    );
    pkg.os_managed = is_os_managed(path);
    pkg.license = parsed
        .license
        .as_ref()
        .and_then(license_of)
        .or_else(|| parsed.licenses.as_ref().and_then(license_of));
    let mut deps: Vec<String> = Vec::new();
    for map in [&parsed.dependencies, &parsed.optional_dependencies]
        .into_iter()
        .flatten()
    {
        for key in map.keys() {
            if !deps.contains(key) {
                deps.push(key.clone());
            }
        }
    }
    pkg.dependencies = deps;
    Findings {
        packages: vec![pkg],
        ..Findings::default()
    }
}

/// Builds a lock-file package (no license, no edges).
pub(crate) fn lock_package(name: &str, version: &str, path: &str) -> Package {
    purl::new_package(
        Ecosystem::Npm,
        name,
        version,
        purl::npm(name, version),
        path,
    )
}

/// Debian's `node-*` packages install libraries as `/usr/share/nodejs/<name>/package.json`
/// (and `/usr/lib/nodejs/`), outside any `node_modules`.
fn is_os_managed(path: &str) -> bool {
    ["/usr/share/nodejs/", "/usr/lib/nodejs/"]
        .iter()
        .any(|prefix| {
            path.strip_prefix(prefix).is_some_and(|rest| {
                let depth = rest.matches('/').count();
                depth == 1 || (depth == 2 && rest.starts_with('@'))
            })
        })
}

/// Whether a package was read from a lock file; returns the lock file's directory.
fn lockfile_dir(pkg: &Package) -> Option<&str> {
    if pkg.ecosystem != Ecosystem::Npm {
        return None;
    }
    let (dir, file) = pkg.location.path.rsplit_once('/')?;
    matches!(file, "package-lock.json" | "yarn.lock" | "pnpm-lock.yaml").then_some(dir)
}

/// Drops lock-file packages of every project directory that also has an installed
/// `node_modules` tree, which is the better source; lock files without one are kept.
///
/// Call once on the merged package list.
pub fn drop_lockfile_packages_when_installed(packages: &mut Vec<Package>) {
    let installed_roots: HashSet<&str> = packages
        .iter()
        .filter(|p| p.ecosystem == Ecosystem::Npm)
        .filter_map(|p| {
            let path = p.location.path.as_str();
            path.find("/node_modules/").map(|i| &path[..i])
        })
        .collect();
    if installed_roots.is_empty() {
        return;
    }
    let drop: HashSet<String> = packages
        .iter()
        .filter_map(lockfile_dir)
        .filter(|dir| installed_roots.contains(dir))
        .map(str::to_owned)
        .collect();
    packages.retain(|p| lockfile_dir(p).is_none_or(|dir| !drop.contains(dir)));
}

/// Splits `@scope/name@range` or `name@range` at the version separator.
pub(crate) fn split_spec(spec: &str) -> (&str, &str) {
    let search_from = usize::from(spec.starts_with('@'));
    match spec[search_from..].find('@') {
        Some(i) => (&spec[..search_from + i], &spec[search_from + i + 1..]),
        None => (spec, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn run(path: &str, content: &str) -> Result<Findings, AnalyzerError> {
        let meta = FileMeta {
            size: content.len() as u64,
            mode: 0o644,
        };
        assert!(NpmAnalyzer.wants(path, &meta), "{path}");
        NpmAnalyzer.analyze(AnalyzerInput {
            path,
            meta,
            reader: &mut Cursor::new(content.as_bytes().to_vec()),
            spooled: None,
        })
    }

    #[test]
    fn selects_only_package_directories() {
        let m = FileMeta {
            size: 100,
            mode: 0o644,
        };
        let a = NpmAnalyzer;
        assert!(a.wants("/app/node_modules/lodash/package.json", &m));
        assert!(a.wants("/app/node_modules/@babel/core/package.json", &m));
        assert!(a.wants("/app/node_modules/a/node_modules/b/package.json", &m));
        assert!(a.wants("/app/package.json", &m));
        assert!(a.wants("/app/package-lock.json", &m));
        assert!(a.wants("/app/yarn.lock", &m));
        assert!(a.wants("/app/pnpm-lock.yaml", &m));
        assert_eq!(
            kind("/usr/share/nodejs/debug/package.json"),
            Some(Kind::Installed)
        );
        assert_eq!(
            kind("/usr/share/nodejs/@types/node/package.json"),
            Some(Kind::Installed)
        );
        assert!(is_os_managed("/usr/lib/nodejs/ms/package.json"));
        assert!(!is_os_managed("/usr/share/nodejs/debug/src/package.json"));
        assert!(!a.wants("/app/node_modules/a/test/fixtures/package.json", &m));
        assert!(!a.wants("/app/node_modules/.package-lock.json", &m));
        assert!(!a.wants("/app/node_modules/a/lib/package.json", &m));
        assert!(!a.wants("/app/node_modules/whois/README.md", &m));
        let big = FileMeta {
            size: 2 * MAX_MANIFEST,
            mode: 0o644,
        };
        assert!(!a.wants("/app/node_modules/x/package.json", &big));
    }

    #[test]
    fn installed_and_root_manifests() {
        let f = run(
            "/app/node_modules/@babel/core/package.json",
            r#"{"name":"@babel/core","version":"7.24.0","license":{"type":"MIT"},
               "dependencies":{"debug":"^4"},"optionalDependencies":{"fsevents":"*"}}"#,
        )
        .unwrap();
        let p = &f.packages[0];
        assert_eq!(p.purl, "pkg:npm/%40babel/core@7.24.0");
        assert_eq!(p.license.as_deref(), Some("MIT"));
        assert_eq!(p.dependencies, ["debug", "fsevents"]);

        let f = run(
            "/srv/app/package.json",
            r#"{"name":"goof","version":"0.0.3","private":true}"#,
        )
        .unwrap();
        assert_eq!(f.packages[0].name, "goof");
        assert_eq!(f.packages[0].location.path, "/srv/app/package.json");

        let f = run("/srv/x/package.json", r#"{"scripts":{}}"#).unwrap();
        assert!(f.packages.is_empty());
        let f = run("/srv/app/node_modules/x/package.json", "{not json").unwrap();
        assert!(f.packages.is_empty());
        assert_eq!(f.warnings.len(), 1);
    }

    #[test]
    fn lockfiles_are_dropped_only_where_node_modules_exists() {
        let installed = lock_package("lodash", "4.17.21", "/a/node_modules/lodash/package.json");
        let lock_a = lock_package("lodash", "4.17.21", "/a/package-lock.json");
        let lock_b = lock_package("left-pad", "1.3.0", "/b/yarn.lock");
        let root = lock_package("app", "1.0.0", "/a/package.json");
        let mut all = vec![installed.clone(), lock_a, lock_b.clone(), root.clone()];
        drop_lockfile_packages_when_installed(&mut all);
        assert_eq!(all, vec![installed, lock_b, root]);
    }

    #[test]
    fn spec_splitting() {
        assert_eq!(split_spec("@babel/core@^7.0.0"), ("@babel/core", "^7.0.0"));
        assert_eq!(split_spec("lodash@npm:^4"), ("lodash", "npm:^4"));
        assert_eq!(split_spec("lodash"), ("lodash", ""));
    }
}
