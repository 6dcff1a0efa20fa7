//! Debian packages from the dpkg database.
//!
//! Files matched: `/var/lib/dpkg/status`, and the per-package files of distroless images under
//! `/var/lib/dpkg/status.d/` (except the `*.md5sums` lists).
//! Ecosystem `deb`, purl type `deb`; the namespace and the `distro` qualifier are completed from
//! the detected OS after the layers are merged.
//! A stanza counts when its `Status` says `installed` in the third word (`install ok installed`,
//! `hold ok installed`); `deinstall ok config-files` and `install ok not-installed` do not.
//! In `status.d` files, where dpkg writes no `Status`, a missing `Status` means installed.
//! Versions keep their epoch (`1:2.4.48-4`); `Source: name (version)` gives the source package.
//! Dependencies are the names in `Depends` and `Pre-Depends`, all alternatives, without
//! version constraints or architecture qualifiers.
//! Known gaps: `Provides` is not used to resolve virtual names; `extended_states` is not read.

use std::io::Read;

use cra_core::{Ecosystem, Location, Package};

use super::{Analyzer, AnalyzerError, AnalyzerId, AnalyzerInput, FileMeta, Findings};

const STATUS: &str = "/var/lib/dpkg/status";
const STATUS_D: &str = "/var/lib/dpkg/status.d/";

/// Reads the dpkg status database.
#[derive(Debug, Default, Clone, Copy)]
pub struct DpkgAnalyzer;

impl Analyzer for DpkgAnalyzer {
    fn id(&self) -> AnalyzerId {
        AnalyzerId::Dpkg
    }

    fn version(&self) -> u32 {
        1
    }

    fn max_size(&self) -> u64 {
        64 * 1024 * 1024
    }

    fn wants(&self, path: &str, _meta: &FileMeta) -> bool {
        path == STATUS
            || path.strip_prefix(STATUS_D).is_some_and(|name| {
                !name.is_empty() && !name.contains('/') && !name.ends_with(".md5sums")
            })
    }

    fn analyze(&self, input: AnalyzerInput<'_>) -> Result<Findings, AnalyzerError> {
        let mut text = String::new();
        let mut bytes = Vec::new();
        input
            .reader
            .take(self.max_size())
            .read_to_end(&mut bytes)
            .map_err(|source| AnalyzerError::Io {
                path: input.path.to_owned(),
                source,
            })?;
        text.push_str(&String::from_utf8_lossy(&bytes));
        let distroless = input.path != STATUS;
        Ok(parse_status(&text, input.path, distroless))
    }
}

/// One deb822 stanza as `(field, value)` pairs, field names as written.
type Stanza<'a> = Vec<(&'a str, String)>;

fn stanzas(text: &str) -> Vec<Stanza<'_>> {
    let mut all = Vec::new();
    let mut current: Stanza<'_> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !current.is_empty() {
                all.push(std::mem::take(&mut current));
            }
        } else if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = current.last_mut() {
                value.push('\n');
                value.push_str(line.trim());
            }
        } else if let Some((field, value)) = line.split_once(':') {
            current.push((field.trim(), value.trim().to_owned()));
        }
    }
    if !current.is_empty() {
        all.push(current);
    }
    all
}

fn field<'s>(stanza: &'s Stanza<'_>, name: &str) -> Option<&'s str> {
    stanza
        .iter()
        .find(|(f, _)| f.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Parses a `status` file or a `status.d` entry into packages and warnings.
pub fn parse_status(text: &str, path: &str, status_optional: bool) -> Findings {
    let mut findings = Findings::default();
    for (i, stanza) in stanzas(text).iter().enumerate() {
        let Some(name) = field(stanza, "Package") else {
            findings
                .warnings
                .push(format!("{path}: stanza {} has no Package field", i + 1));
            continue;
        };
        let installed = match field(stanza, "Status") {
            Some(status) => status.split_whitespace().nth(2) == Some("installed"),
            None => status_optional,
        };
        if !installed {
            continue;
        }
        let Some(version) = field(stanza, "Version").filter(|v| !v.is_empty()) else {
            findings
                .warnings
                .push(format!("{path}: package {name} has no Version field"));
            continue;
        };
        findings.packages.push(package(stanza, name, version, path));
    }
    findings
}

fn package(stanza: &Stanza<'_>, name: &str, version: &str, path: &str) -> Package {
    let (source_name, source_version) = match field(stanza, "Source") {
        Some(source) => match source.split_once('(') {
            Some((n, v)) => (
                Some(n.trim().to_owned()),
                Some(v.trim_end_matches(')').trim().to_owned()),
            ),
            None => (Some(source.trim().to_owned()), None),
        },
        None => (None, None),
    };
    let arch = field(stanza, "Architecture").map(str::to_owned);
    let mut dependencies = Vec::new();
    for f in ["Pre-Depends", "Depends"] {
        if let Some(value) = field(stanza, f) {
            for dep in dependency_names(value) {
                if !dependencies.contains(&dep) {
                    dependencies.push(dep);
                }
            }
        }
    }
    let mut pkg = Package {
        ecosystem: Ecosystem::Deb,
        name: name.to_owned(),
        version: version.to_owned(),
        source_name,
        source_version,
        arch,
        license: None,
        purl: String::new(),
        dependencies,
        location: Location {
            path: path.to_owned(),
            layer_index: 0,
            diff_id: None,
            layer_digest: None,
        },
        os_managed: false,
        version_from_file_name: false,
        sha1: None,
    };
    pkg.purl = purl(&pkg, "debian", None);
    pkg
}

/// Names in a `Depends`-style field: every alternative of every group, without version
/// constraints, architecture qualifiers or restrictions.
pub fn dependency_names(value: &str) -> Vec<String> {
    value
        .split([',', '|'])
        .filter_map(|alt| {
            let name = alt.split_whitespace().next()?;
            let name = name.split(':').next()?.trim();
            (!name.is_empty() && !name.starts_with('(')).then(|| name.to_owned())
        })
        .collect()
}

/// The purl of a deb package: `pkg:deb/<vendor>/<name>@<version>?arch=…&distro=…&upstream=…`.
pub fn purl(pkg: &Package, vendor: &str, distro: Option<&str>) -> String {
    let build = || -> Result<String, packageurl::Error> {
        let mut p = packageurl::PackageUrl::new("deb", pkg.name.as_str())?;
        p.with_namespace(vendor)?;
        p.with_version(pkg.version.as_str())?;
        if let Some(arch) = &pkg.arch {
            p.add_qualifier("arch", arch.as_str())?;
        }
        if let Some(distro) = distro {
            p.add_qualifier("distro", distro)?;
        }
        if let Some(source) = &pkg.source_name {
            let upstream = match &pkg.source_version {
                Some(v) => format!("{source}@{v}"),
                None => source.clone(),
            };
            p.add_qualifier("upstream", upstream)?;
        }
        Ok(p.to_string())
    };
    // Package and vendor names come from the database and are never empty here; should the crate
    // still refuse one, fall back to the bare form rather than lose the package.
    build().unwrap_or_else(|_| format!("pkg:deb/{vendor}/{}@{}", pkg.name, pkg.version))
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS_TEXT: &str = "\
Package: libssl3
Status: install ok installed
Priority: optional
Architecture: amd64
Multi-Arch: same
Source: openssl (3.0.11-1~deb12u2)
Version: 3.0.11-1~deb12u2+b1
Depends: libc6 (>= 2.34)
Pre-Depends: dpkg (>= 1.17.0)
Description: Secure Sockets Layer toolkit - shared libraries
 This package is part of the OpenSSL project's implementation
 .
 of the SSL and TLS protocols.

Package: libc6
Status: install ok installed
Architecture: i386
Source: glibc
Version: 2.36-9+deb12u4
Depends: libgcc-s1, debconf (>= 0.5) | debconf-2.0

Package: libc6
Status: install ok installed
Architecture: amd64
Source: glibc
Version: 2.36-9+deb12u4

Package: libaudit1
Status: hold ok installed
Architecture: amd64
Source: audit
Version: 1:3.0.9-1

Package: oldpkg
Status: deinstall ok config-files
Version: 1.0

Package: notthere
Status: install ok not-installed
Version: 2.0


Package: bash
Status: install ok installed
Architecture: amd64
Version: 5.2.15-2+b2
Pre-Depends: libc6 (>= 2.36), libtinfo6 (>= 6):any
";

    #[test]
    fn parses_installed_packages_only() {
        let f = parse_status(STATUS_TEXT, STATUS, false);
        let names: Vec<(&str, Option<&str>)> = f
            .packages
            .iter()
            .map(|p| (p.name.as_str(), p.arch.as_deref()))
            .collect();
        assert_eq!(
            names,
            [
                ("libssl3", Some("amd64")),
                ("libc6", Some("i386")),
                ("libc6", Some("amd64")),
                ("libaudit1", Some("amd64")),
                ("bash", Some("amd64")),
            ]
        );
        assert!(f.warnings.is_empty());
    }

    #[test]
    fn source_versions_epochs_and_dependencies() {
        let f = parse_status(STATUS_TEXT, STATUS, false);
        let ssl = &f.packages[0];
        assert_eq!(ssl.version, "3.0.11-1~deb12u2+b1");
        assert_eq!(ssl.source_name.as_deref(), Some("openssl"));
        assert_eq!(ssl.source_version.as_deref(), Some("3.0.11-1~deb12u2"));
        assert_eq!(ssl.dependencies, ["dpkg", "libc6"]);
        assert_eq!(
            ssl.purl,
            "pkg:deb/debian/libssl3@3.0.11-1~deb12u2%2Bb1?arch=amd64&upstream=openssl%403.0.11-1~deb12u2"
        );
        let libc = &f.packages[1];
        assert_eq!(libc.source_name.as_deref(), Some("glibc"));
        assert_eq!(libc.source_version, None);
        assert_eq!(libc.dependencies, ["libgcc-s1", "debconf", "debconf-2.0"]);
        let audit = &f.packages[3];
        assert_eq!(audit.version, "1:3.0.9-1");
        assert!(audit.purl.contains("@1:3.0.9-1"), "{}", audit.purl);
        let bash = &f.packages[4];
        assert_eq!(bash.source_name, None);
        assert_eq!(bash.dependencies, ["libc6", "libtinfo6"]);
    }

    #[test]
    fn distroless_entries_without_status_are_installed() {
        let text = "Package: libssl3\nVersion: 3.0.11-1\nArchitecture: amd64\n\nPackage: tzdata\nVersion: 2024a-0\n";
        let f = parse_status(text, "/var/lib/dpkg/status.d/libssl3", true);
        assert_eq!(f.packages.len(), 2);
        let f = parse_status(text, STATUS, false);
        assert!(f.packages.is_empty());
    }

    #[test]
    fn malformed_stanzas_become_warnings() {
        let text = "Foo: bar\n\nPackage: x\nStatus: install ok installed\n\nPackage: y\nStatus: install ok installed\nVersion: 1\n";
        let f = parse_status(text, STATUS, false);
        assert_eq!(f.packages.len(), 1);
        assert_eq!(f.warnings.len(), 2, "{:?}", f.warnings);
    }

    #[test]
    fn wants_status_and_status_d_files() {
        let meta = FileMeta { size: 1, mode: 0 };
        let a = DpkgAnalyzer;
        assert!(a.wants("/var/lib/dpkg/status", &meta));
        assert!(a.wants("/var/lib/dpkg/status.d/libssl3", &meta));
        assert!(!a.wants("/var/lib/dpkg/status.d/libssl3.md5sums", &meta));
        assert!(!a.wants("/var/lib/dpkg/status.d/", &meta));
        assert!(!a.wants("/var/lib/dpkg/status-old", &meta));
        assert!(!a.wants("/var/lib/dpkg/status.d/a/b", &meta));
    }
}
