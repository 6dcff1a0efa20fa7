//! `Pipfile.lock`, the lockfile pipenv writes.
//!
//! - Files: `Pipfile.lock` anywhere.
//! - Format (pipenv's documentation, "Pipfile.lock"): a JSON object with `_meta`, `default`
//!   (the packages the application needs) and `develop` (development-only packages); each
//!   package maps its name to `{"version": "==2.31.0", "hashes": […], "markers": …}`.
//! - Read: the `default` section; `develop` is skipped like other dev-only entries. Entries
//!   without an exact `==` version (VCS and path installs) are skipped with a warning.
//! - Ecosystem: `pypi`; purl type `pypi`. The lockfile records no dependency edges.

use std::collections::BTreeMap;

use cra_core::Ecosystem;
use serde::Deserialize;

use super::{Analyzer, AnalyzerError, AnalyzerId, AnalyzerInput, FileMeta, Findings};
use crate::purl;

/// The `Pipfile.lock` analyzer.
#[derive(Debug, Default)]
pub struct PipenvAnalyzer;

#[derive(Deserialize)]
struct Lock {
    #[serde(default)]
    default: BTreeMap<String, Entry>,
}

#[derive(Deserialize)]
struct Entry {
    #[serde(default)]
    version: Option<String>,
}

impl Analyzer for PipenvAnalyzer {
    fn id(&self) -> AnalyzerId {
        AnalyzerId::Pipenv
    }

    fn version(&self) -> u32 {
        1
    }

    fn max_size(&self) -> u64 {
        8 * 1024 * 1024
    }

    fn wants(&self, path: &str, meta: &FileMeta) -> bool {
        meta.size > 0 && path.ends_with("/Pipfile.lock")
    }

    fn analyze(&self, mut input: AnalyzerInput<'_>) -> Result<Findings, AnalyzerError> {
        let bytes = input.read_bytes()?;
        parse(&bytes, input.path).map_err(|reason| AnalyzerError::Malformed {
            format: "Pipfile.lock",
            path: input.path.to_owned(),
            reason,
        })
    }
}

/// Parses a `Pipfile.lock`.
pub(crate) fn parse(bytes: &[u8], path: &str) -> Result<Findings, String> {
    let lock: Lock = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    let mut findings = Findings::default();
    for (name, entry) in &lock.default {
        let Some(version) = entry
            .version
            .as_deref()
            .and_then(|v| v.strip_prefix("=="))
            .map(str::trim)
            .filter(|v| !v.is_empty())
        else {
            findings
                .warnings
                .push(format!("{path}: {name} has no exact version; skipped"));
            continue;
        };
        findings.packages.push(purl::new_package(
            Ecosystem::Pypi,
            name,
            version,
            purl::pypi(name, version),
            path,
        ));
    }
    Ok(findings)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Shaped like pipenv's documented example lockfile.
    const LOCK: &str = r#"{
        "_meta": {
            "hash": {"sha256": "a3f1"},
            "pipfile-spec": 6,
            "requires": {"python_version": "3.11"},
            "sources": [{"name": "pypi", "url": "https://pypi.org/simple", "verify_ssl": true}]
        },
        "default": {
            "certifi": {"hashes": ["sha256:92d6"], "markers": "python_version >= '3.6'", "version": "==2023.7.22"},
            "requests": {"hashes": ["sha256:58cd"], "index": "pypi", "version": "==2.31.0"},
            "Flask_Login": {"version": "==0.6.3"},
            "mylib": {"git": "https://example.invalid/mylib.git", "ref": "abc123"}
        },
        "develop": {
            "pytest": {"version": "==7.4.3"}
        }
    }"#;

    #[test]
    fn default_packages_are_read_and_develop_is_not() {
        let f = parse(LOCK.as_bytes(), "/app/Pipfile.lock").unwrap();
        let got: Vec<&str> = f.packages.iter().map(|p| p.purl.as_str()).collect();
        assert_eq!(
            got,
            [
                "pkg:pypi/flask-login@0.6.3",
                "pkg:pypi/certifi@2023.7.22",
                "pkg:pypi/requests@2.31.0",
            ]
        );
        assert_eq!(f.warnings.len(), 1, "{:?}", f.warnings);
        assert!(f.warnings[0].contains("mylib"));
        assert!(parse(b"{", "/x/Pipfile.lock").is_err());
        assert!(PipenvAnalyzer.wants("/app/Pipfile.lock", &FileMeta { size: 2, mode: 0 }));
        assert!(!PipenvAnalyzer.wants("/app/Pipfile", &FileMeta { size: 2, mode: 0 }));
    }
}
