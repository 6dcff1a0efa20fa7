//! PHP Composer packages from `vendor/composer/installed.json` and `composer.lock`.
//!
//! - Files: `**/vendor/composer/installed.json`, in both shapes: Composer 1 writes a JSON array
//!   of packages, Composer 2 an object `{"packages": […], "dev": …, "dev-package-names": […]}`;
//!   and `**/composer.lock` (Composer's documentation, "composer.lock"): an object whose
//!   `packages` lists the locked packages in the same entry shape and whose `packages-dev`
//!   (development-only) is skipped. An application that ships both reports each file's
//!   packages at its own path.
//! - Ecosystem: `composer`; purl type `composer`, vendor as namespace
//!   (`pkg:composer/symfony/console@6.4.3`); the version as Composer prints it (`v6.4.3`).
//! - Packages listed in `dev-package-names` are dev-only installs and are skipped; `require`
//!   entries that are packages (not `php` or `ext-*` platform requirements) become edges.

use serde::Deserialize;
use serde_json::{Map, Value};

use cra_core::Ecosystem;

use super::{Analyzer, AnalyzerError, AnalyzerId, AnalyzerInput, FileMeta, Findings};
use crate::purl;

/// The Composer analyzer.
#[derive(Debug, Default)]
pub struct PhpAnalyzer;

#[derive(Deserialize)]
#[serde(untagged)]
enum Installed {
    V1(Vec<Entry>),
    V2 {
        packages: Vec<Entry>,
        #[serde(default, rename = "dev-package-names")]
        dev_package_names: Vec<String>,
    },
}

#[derive(Deserialize)]
struct Entry {
    name: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    license: Vec<String>,
    #[serde(default)]
    require: Map<String, Value>,
}

impl Analyzer for PhpAnalyzer {
    fn id(&self) -> AnalyzerId {
        AnalyzerId::Php
    }

    fn version(&self) -> u32 {
        2
    }

    fn wants(&self, path: &str, _meta: &FileMeta) -> bool {
        path.ends_with("/vendor/composer/installed.json") || path.ends_with("/composer.lock")
    }

    fn analyze(&self, mut input: AnalyzerInput<'_>) -> Result<Findings, AnalyzerError> {
        let bytes = input.read_bytes()?;
        parse(&bytes, input.path).map_err(|reason| AnalyzerError::Malformed {
            format: "composer",
            path: input.path.to_owned(),
            reason,
        })
    }
}

fn is_platform(name: &str) -> bool {
    !name.contains('/')
}

/// Parses `installed.json` in either shape.
pub(crate) fn parse(bytes: &[u8], path: &str) -> Result<Findings, String> {
    let installed: Installed = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    let (entries, dev) = match installed {
        Installed::V1(p) => (p, Vec::new()),
        Installed::V2 {
            packages,
            dev_package_names,
        } => (packages, dev_package_names),
    };
    let mut findings = Findings::default();
    for e in entries {
        if dev.contains(&e.name) {
            continue;
        }
        let Some((vendor, name)) = e.name.split_once('/') else {
            findings.warnings.push(format!(
                "{path}: composer package without vendor: {}",
                e.name
            ));
            continue;
        };
        let mut pkg = purl::new_package(
            Ecosystem::Composer,
            &e.name,
            &e.version,
            purl::simple("composer", Some(vendor), name, &e.version),
            path,
        );
        pkg.license = (!e.license.is_empty()).then(|| e.license.join(" OR "));
        pkg.dependencies = e
            .require
            .keys()
            .filter(|k| !is_platform(k))
            .cloned()
            .collect();
        findings.packages.push(pkg);
    }
    Ok(findings)
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = r#"[
      {"name":"symfony/console","version":"v6.4.3","license":["MIT"],
       "require":{"php":">=8.1","ext-json":"*","symfony/string":"^6.4"}},
      {"name":"symfony/string","version":"v6.4.3"}]"#;

    const V2: &str = r#"{"packages":[
      {"name":"Monolog/Monolog","version":"3.5.0","license":["MIT"]},
      {"name":"phpunit/phpunit","version":"10.5.0"}],
      "dev":true,"dev-package-names":["phpunit/phpunit"]}"#;

    #[test]
    fn composer_1_array() {
        let f = parse(V1.as_bytes(), "/app/vendor/composer/installed.json").unwrap();
        assert_eq!(f.packages.len(), 2);
        assert_eq!(f.packages[0].purl, "pkg:composer/symfony/console@v6.4.3");
        assert_eq!(f.packages[0].dependencies, ["symfony/string"]);
        assert_eq!(f.packages[0].license.as_deref(), Some("MIT"));
    }

    #[test]
    fn composer_2_object_skips_dev_packages() {
        let f = parse(V2.as_bytes(), "/app/vendor/composer/installed.json").unwrap();
        let got: Vec<_> = f.packages.iter().map(|p| p.purl.as_str()).collect();
        assert_eq!(got, ["pkg:composer/monolog/monolog@3.5.0"]);
        assert!(parse(b"{\"nope\":1}", "/x").is_err());
        let m = FileMeta {
            size: 1,
            mode: 0o644,
        };
        assert!(PhpAnalyzer.wants("/var/www/vendor/composer/installed.json", &m));
        assert!(!PhpAnalyzer.wants("/var/www/composer.json", &m));
        assert!(PhpAnalyzer.wants("/var/www/composer.lock", &m));
    }

    /// Shaped like the `composer.lock` Composer's documentation describes.
    const LOCK: &str = r#"{
        "_readme": ["This file locks the dependencies of your project to a known state"],
        "content-hash": "e3b0",
        "packages": [
            {"name": "guzzlehttp/guzzle", "version": "7.8.1", "type": "library",
             "require": {"php": "^7.2.5 || ^8.0", "ext-json": "*", "guzzlehttp/psr7": "^1.9.1 || ^2.5.1"},
             "license": ["MIT"]},
            {"name": "guzzlehttp/psr7", "version": "2.6.2", "license": ["MIT"]}
        ],
        "packages-dev": [
            {"name": "phpunit/phpunit", "version": "10.5.5"}
        ],
        "aliases": [], "minimum-stability": "stable", "platform": {"php": ">=8.1"}
    }"#;

    #[test]
    fn composer_lock_packages_with_edges_and_no_dev_packages() {
        let f = parse(LOCK.as_bytes(), "/app/composer.lock").unwrap();
        let got: Vec<String> = f
            .packages
            .iter()
            .map(|p| format!("{} {}", p.purl, p.dependencies.join(",")))
            .collect();
        assert_eq!(
            got,
            [
                "pkg:composer/guzzlehttp/guzzle@7.8.1 guzzlehttp/psr7",
                "pkg:composer/guzzlehttp/psr7@2.6.2 ",
            ]
        );
    }
}
