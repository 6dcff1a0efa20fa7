//! Installed Python distributions.
//!
//! - Files: `*.dist-info/METADATA`, `*.egg-info/PKG-INFO`, `*.egg-info` as a file (legacy
//!   setuptools), `*.egg/EGG-INFO/PKG-INFO`, anywhere in the image (virtualenvs included).
//! - Ecosystem: `pypi`; purl type `pypi`, name PEP 503-normalised (`typing-extensions`); the
//!   reported name keeps the display form of the `Name:` field.
//! - Reads: `Name`, `Version`, `License-Expression` (else `License`), `Requires-Dist` without an
//!   `extra ==` marker as dependencies (normalised names); the directory name is the fallback
//!   when `Name` or `Version` is missing.
//! - OS-owned distributions: files under `/usr/lib/python3/dist-packages/` (Debian and Ubuntu
//!   `python3-*` packages) or `/usr/lib{,64}/python3.N/site-packages/` (where rpm and apk
//!   distributions install their `python3-*`/`py3-*` packages) are reported, once, with
//!   `os_managed = true`, so consumers can tell them from pip-installed ones; pip installs go to
//!   `/usr/local/lib/…`, `~/.local` or a virtualenv and are not marked.
//! - Directory suffixes are matched ignoring case (`Foo-1.0.DIST-INFO`); the interpreter's own
//!   `Python-X.Y.egg-info` is not a distribution and is skipped.
//! - Known gaps: `RECORD` and `requires.txt` are not read; pip run as root on Alpine writes into `/usr/lib/python3.N/site-packages` and is
//!   then marked as OS-managed.

use cra_core::Ecosystem;

use super::{Analyzer, AnalyzerError, AnalyzerId, AnalyzerInput, FileMeta, Findings};
use crate::purl;

/// The Python installed-distribution analyzer.
#[derive(Debug, Default)]
pub struct PythonAnalyzer;

impl Analyzer for PythonAnalyzer {
    fn id(&self) -> AnalyzerId {
        AnalyzerId::Python
    }

    fn version(&self) -> u32 {
        2
    }

    fn max_size(&self) -> u64 {
        4 * 1024 * 1024
    }

    fn wants(&self, path: &str, meta: &FileMeta) -> bool {
        // Empty entries are skipped: a directory named `x.egg-info` is not the file form.
        if meta.size == 0 || is_interpreter_egg_info(path) {
            return false;
        }
        let has_suffix = |suffix: &str| {
            path.len() >= suffix.len()
                && path.is_char_boundary(path.len() - suffix.len())
                && path[path.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
        };
        has_suffix(".dist-info/METADATA")
            || has_suffix(".egg-info/PKG-INFO")
            || has_suffix(".egg/EGG-INFO/PKG-INFO")
            || has_suffix(".egg-info")
    }

    fn analyze(&self, mut input: AnalyzerInput<'_>) -> Result<Findings, AnalyzerError> {
        let bytes = input.read_bytes()?;
        Ok(parse(&String::from_utf8_lossy(&bytes), input.path))
    }
}

/// Whether a distribution at this path was installed by the OS package manager.
pub(crate) fn is_os_managed(path: &str) -> bool {
    if path.starts_with("/usr/lib/python3/dist-packages/") {
        return true;
    }
    for prefix in ["/usr/lib/python", "/usr/lib64/python"] {
        if let Some(rest) = path.strip_prefix(prefix) {
            if let Some((_ver, tail)) = rest.split_once('/') {
                return tail.starts_with("site-packages/");
            }
        }
    }
    false
}

/// The interpreter's own `Python-3.11.4.egg-info` (written by CPython's `make install` next to
/// the standard library): the interpreter, not a PyPI distribution.
fn is_interpreter_egg_info(path: &str) -> bool {
    let base = path.rsplit('/').next().unwrap_or(path);
    let Some(stem) = strip_suffix_ci(base, ".egg-info") else {
        return false;
    };
    stem.strip_prefix("Python-")
        .is_some_and(|v| v.starts_with(|c: char| c.is_ascii_digit()))
}

/// `s` without `suffix`, compared ignoring ASCII case.
fn strip_suffix_ci<'a>(s: &'a str, suffix: &str) -> Option<&'a str> {
    let cut = s.len().checked_sub(suffix.len())?;
    (s.is_char_boundary(cut) && s[cut..].eq_ignore_ascii_case(suffix)).then(|| &s[..cut])
}

/// Name and version from the metadata directory or file name (`Foo_Bar-1.0.dist-info`).
fn from_dir_name(path: &str) -> (Option<String>, Option<String>) {
    let mut dir = path;
    for tail in ["/METADATA", "/PKG-INFO", "/EGG-INFO"] {
        dir = strip_suffix_ci(dir, tail).unwrap_or(dir);
    }
    let base = dir.rsplit('/').next().unwrap_or(dir);
    let stem = strip_suffix_ci(base, ".dist-info")
        .or_else(|| strip_suffix_ci(base, ".egg-info"))
        .or_else(|| strip_suffix_ci(base, ".egg"))
        .unwrap_or(base);
    let mut parts = stem.splitn(3, '-');
    let name = parts.next().filter(|s| !s.is_empty()).map(str::to_owned);
    let version = parts.next().filter(|s| !s.is_empty()).map(str::to_owned);
    (name, version)
}

/// Parses one METADATA / PKG-INFO file.
pub(crate) fn parse(text: &str, path: &str) -> Findings {
    let mut name = None;
    let mut version = None;
    let mut license = None;
    let mut license_expr = None;
    let mut requires = Vec::new();
    for line in text.lines() {
        if line.is_empty() {
            break; // the body (long description) follows the first blank line
        }
        if line.starts_with([' ', '\t']) {
            continue; // continuation of a multi-line field
        }
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match key.to_ascii_lowercase().as_str() {
            "name" => name = Some(value.to_owned()),
            "version" => version = Some(value.to_owned()),
            "license" if !value.is_empty() && value != "UNKNOWN" => {
                license = Some(value.to_owned());
            }
            "license-expression" => license_expr = Some(value.to_owned()),
            "requires-dist" => {
                if let Some(dep) = requirement_name(value) {
                    let dep = purl::pep503(&dep);
                    if !requires.contains(&dep) {
                        requires.push(dep);
                    }
                }
            }
            _ => {}
        }
    }
    let (dir_name, dir_version) = from_dir_name(path);
    let mut warnings = Vec::new();
    let (Some(name), Some(version)) = (
        name.filter(|n| !n.is_empty()).or(dir_name),
        version.filter(|v| !v.is_empty()).or(dir_version),
    ) else {
        warnings.push(format!("{path}: python metadata without name or version"));
        return Findings {
            warnings,
            ..Findings::default()
        };
    };
    let mut pkg = purl::new_package(
        Ecosystem::Pypi,
        &name,
        &version,
        purl::pypi(&name, &version),
        path,
    );
    pkg.license = license_expr.or(license);
    pkg.dependencies = requires;
    pkg.os_managed = is_os_managed(path);
    Findings {
        packages: vec![pkg],
        os: None,
        warnings,
    }
}

/// The distribution name of a PEP 508 requirement, or `None` when it only applies to an extra.
fn requirement_name(req: &str) -> Option<String> {
    let (spec, marker) = match req.split_once(';') {
        Some((s, m)) => (s, Some(m)),
        None => (req, None),
    };
    if marker.is_some_and(|m| m.contains("extra")) {
        return None;
    }
    let end = spec
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(spec.len());
    let name = spec[..end].trim();
    (!name.is_empty()).then(|| name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const METADATA: &str = "Metadata-Version: 2.1
Name: Typing_Extensions
Version: 4.12.2
Summary: Backported and Experimental Type Hints
License: PSF-2.0
Classifier: Development Status :: 5
Requires-Dist: charset-normalizer<4,>=2
Requires-Dist: Foo.Bar (>=1.0)
Requires-Dist: pytest>=7; extra == \"test\"
Requires-Dist: colorama; sys_platform == \"win32\"
Description: first line
  continued: not a field

Name: not-a-header
Version: 9.9.9
";

    #[test]
    fn parses_metadata_headers_only() {
        let f = parse(
            METADATA,
            "/usr/local/lib/python3.12/site-packages/typing_extensions-4.12.2.dist-info/METADATA",
        );
        let p = &f.packages[0];
        assert_eq!(p.name, "Typing_Extensions");
        assert_eq!(p.version, "4.12.2");
        assert_eq!(p.purl, "pkg:pypi/typing-extensions@4.12.2");
        assert_eq!(p.license.as_deref(), Some("PSF-2.0"));
        assert_eq!(
            p.dependencies,
            ["charset-normalizer", "foo-bar", "colorama"]
        );
        assert!(!p.os_managed);
    }

    #[test]
    fn egg_info_file_and_dir_forms_and_fallbacks() {
        let f = parse(
            "Metadata-Version: 1.1\nName: six\nVersion: 1.16.0\n",
            "/usr/lib/python3/dist-packages/six-1.16.0.egg-info",
        );
        assert_eq!(f.packages[0].name, "six");
        assert!(f.packages[0].os_managed);
        // No Version field: the directory name gives it.
        let f = parse(
            "Metadata-Version: 1.1\nName: Foo\n",
            "/opt/venv/lib/python3.11/site-packages/Foo-2.0-py3.11.egg-info/PKG-INFO",
        );
        assert_eq!(f.packages[0].version, "2.0");
        assert_eq!(f.packages[0].purl, "pkg:pypi/foo@2.0");
        // Upper-case suffixes give the name and version too.
        let f = parse(
            "Metadata-Version: 1.1\nName: Foo\n",
            "/app/lib/Foo-2.1.EGG-INFO/PKG-INFO",
        );
        assert_eq!(f.packages[0].version, "2.1");
        // Only a name, and none in the directory name: no version is made up.
        let f = parse(
            "Metadata-Version: 1.1\nName: Bar\n",
            "/app/lib/Bar.egg-info/PKG-INFO",
        );
        assert!(f
            .packages
            .iter()
            .all(|p| !p.version.is_empty() && p.version != "version"));
        // Nothing at all: a warning, no package.
        let f = parse("garbage", "/x/METADATA");
        assert!(f.packages.is_empty());
        assert_eq!(f.warnings.len(), 1);
    }

    #[test]
    fn wants_and_os_ownership() {
        let m = FileMeta {
            size: 10,
            mode: 0o644,
        };
        let a = PythonAnalyzer;
        assert!(a.wants(
            "/app/.venv/lib/python3.12/site-packages/x-1.dist-info/METADATA",
            &m
        ));
        assert!(a.wants("/usr/lib/python3/dist-packages/y-1.egg-info", &m));
        assert!(a.wants("/usr/lib/python3/dist-packages/y-1.egg-info/PKG-INFO", &m));
        assert!(a.wants("/x/z.egg/EGG-INFO/PKG-INFO", &m));
        assert!(!a.wants("/x/z.dist-info/RECORD", &m));
        // Directory names in any case; the interpreter's own egg-info is not a distribution.
        assert!(a.wants("/app/lib/Foo-1.0.DIST-INFO/METADATA", &m));
        assert!(a.wants("/app/lib/Foo-1.0.EGG-INFO/PKG-INFO", &m));
        assert!(a.wants("/app/lib/Foo-1.0.Egg-Info", &m));
        assert!(!a.wants(
            "/usr/local/lib/python3.11/lib-dynload/Python-3.11.4.egg-info",
            &m
        ));
        assert!(!a.wants("/usr/lib/python3.9/Python-3.9.egg-info", &m));
        assert!(a.wants(
            "/usr/lib/python3/dist-packages/Python-Xlib-0.33.egg-info",
            &m
        ));
        let dir = FileMeta {
            size: 0,
            mode: 0o755,
        };
        assert!(!a.wants("/usr/lib/python3/dist-packages/y-1.egg-info", &dir));
        assert!(is_os_managed(
            "/usr/lib/python3.9/site-packages/a-1.dist-info/METADATA"
        ));
        assert!(is_os_managed(
            "/usr/lib64/python3.9/site-packages/a-1.dist-info/METADATA"
        ));
        assert!(!is_os_managed(
            "/usr/local/lib/python3.9/site-packages/a/METADATA"
        ));
        assert!(!is_os_managed(
            "/usr/lib/python3.9/x/site-packages/a/METADATA"
        ));
    }
}
