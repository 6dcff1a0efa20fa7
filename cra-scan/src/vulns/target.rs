//! Which OSV ecosystem and package name an installed package is looked up under.
//!
//! OS packages are matched by their source package (Debian advisories name source packages;
//! Alpine's name the `origin`) and the distribution release (`Debian:12`, `Alpine:v3.19`);
//! a binNMU's `+bN` is dropped, since it carries the same source version. Language packages are
//! matched by ecosystem and name.

use cra_core::{Ecosystem, OsRelease, Package};
use serde::Serialize;

use super::version::{dpkg, Scheme};

/// How to look one package up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The OSV archive that holds its advisories (`Debian`, `PyPI`).
    pub source: &'static str,
    /// Which ecosystem strings of that archive apply.
    pub release: Release,
    /// The name advisories use.
    pub name: String,
    /// The version to compare.
    pub version: String,
    /// The version ordering.
    pub scheme: Scheme,
}

/// Which ecosystem strings apply to a package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Release {
    /// Exactly this one (`Debian:12`, `PyPI`).
    Exact(String),
    /// This one, or this one followed by `:` and a qualifier (`Ubuntu:22.04` and `Ubuntu:22.04:LTS`).
    WithQualifier(String),
    /// Red Hat's CPE-like names for a major release (`Red Hat:enterprise_linux:9::baseos`).
    RedHat(String),
}

impl Release {
    /// Whether an advisory's ecosystem string applies.
    pub fn matches(&self, ecosystem: &str) -> bool {
        match self {
            Release::Exact(e) => ecosystem == e,
            Release::WithQualifier(e) => {
                ecosystem == e
                    || ecosystem
                        .strip_prefix(e.as_str())
                        .is_some_and(|rest| rest.starts_with(':'))
            }
            Release::RedHat(major) => {
                let mut parts = ecosystem.split(':');
                parts.next() == Some("Red Hat")
                    && parts
                        .nth(1)
                        .is_some_and(|v| v.split('.').next() == Some(major))
            }
        }
    }
}

/// Why a package could not be looked up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Unmatchable {
    /// An OS package in an image whose OS was not identified.
    #[error("the image's operating system was not identified")]
    UnknownOs,
    /// An OS package of a distribution or release with no advisory data.
    #[error("no advisory data for {os} {release}")]
    UnsupportedOs {
        /// The OS id.
        os: String,
        /// Its release, as found.
        release: String,
    },
    /// The database has no data for the ecosystem.
    #[error("the database has no {ecosystem} data")]
    NoData {
        /// The OSV archive missing.
        ecosystem: String,
    },
    /// A version could not be read by the ecosystem's ordering.
    #[error("{detail}")]
    InvalidVersion {
        /// The version error.
        detail: String,
    },
}

fn major(v: &str) -> Option<&str> {
    let m = v.split('.').next()?;
    (!m.is_empty() && m.bytes().all(|c| c.is_ascii_digit())).then_some(m)
}

/// How to look a package up, given the image's OS.
pub fn target(pkg: &Package, os: Option<&OsRelease>) -> Result<Target, Unmatchable> {
    let lang = |source: &'static str, scheme: Scheme| {
        Ok(Target {
            source,
            release: Release::Exact(source.to_owned()),
            name: pkg.name.clone(),
            version: pkg.version.clone(),
            scheme,
        })
    };
    match pkg.ecosystem {
        Ecosystem::Pypi => return lang("PyPI", Scheme::Pep440),
        Ecosystem::Npm => return lang("npm", Scheme::Semver),
        Ecosystem::Maven => return lang("Maven", Scheme::Maven),
        Ecosystem::Golang => return lang("Go", Scheme::Go),
        Ecosystem::Cargo => return lang("crates.io", Scheme::Semver),
        Ecosystem::Gem => return lang("RubyGems", Scheme::RubyGems),
        Ecosystem::Composer => return lang("Packagist", Scheme::Composer),
        Ecosystem::Nuget => return lang("NuGet", Scheme::NuGet),
        Ecosystem::Deb | Ecosystem::Apk | Ecosystem::Rpm => {}
    }
    let os = os.ok_or(Unmatchable::UnknownOs)?;
    let version_id = os.version_id.as_deref().unwrap_or_default();
    let unsupported = || Unmatchable::UnsupportedOs {
        os: os.id.clone(),
        release: version_id.to_owned(),
    };
    let source_name = pkg.source_name.clone().unwrap_or_else(|| pkg.name.clone());
    let (source, release, name, version, scheme) = match (pkg.ecosystem, os.id.as_str()) {
        (Ecosystem::Deb, "debian") => {
            let major = major(version_id).ok_or_else(unsupported)?;
            let version = pkg.source_version.as_deref().unwrap_or(&pkg.version);
            (
                "Debian",
                Release::Exact(format!("Debian:{major}")),
                source_name,
                dpkg::strip_binnmu(version).to_owned(),
                Scheme::Dpkg,
            )
        }
        (Ecosystem::Deb, "ubuntu") => {
            if version_id.is_empty() {
                return Err(unsupported());
            }
            let version = pkg.source_version.as_deref().unwrap_or(&pkg.version);
            (
                "Ubuntu",
                Release::WithQualifier(format!("Ubuntu:{version_id}")),
                source_name,
                version.to_owned(),
                Scheme::Dpkg,
            )
        }
        (Ecosystem::Apk, "alpine") => {
            let mut parts = version_id.split('.');
            let (Some(maj), Some(min)) = (parts.next(), parts.next()) else {
                return Err(unsupported());
            };
            (
                "Alpine",
                Release::Exact(format!("Alpine:v{maj}.{min}")),
                source_name,
                pkg.version.clone(),
                Scheme::Apk,
            )
        }
        (Ecosystem::Apk, "wolfi") => (
            "Wolfi",
            Release::Exact("Wolfi".into()),
            source_name,
            pkg.version.clone(),
            Scheme::Apk,
        ),
        (Ecosystem::Rpm, id @ ("rocky" | "almalinux" | "rhel")) => {
            let major = major(version_id).ok_or_else(unsupported)?.to_owned();
            let (source, release) = match id {
                "rocky" => (
                    "Rocky Linux",
                    Release::Exact(format!("Rocky Linux:{major}")),
                ),
                "almalinux" => ("AlmaLinux", Release::Exact(format!("AlmaLinux:{major}"))),
                _ => ("Red Hat", Release::RedHat(major)),
            };
            // These sources name binary packages.
            (
                source,
                release,
                pkg.name.clone(),
                pkg.version.clone(),
                Scheme::Rpm,
            )
        }
        _ => return Err(unsupported()),
    };
    Ok(Target {
        source,
        release,
        name,
        version,
        scheme,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cra_core::Location;

    fn pkg(
        eco: Ecosystem,
        name: &str,
        version: &str,
        source: Option<(&str, Option<&str>)>,
    ) -> Package {
        Package {
            ecosystem: eco,
            name: name.into(),
            version: version.into(),
            source_name: source.map(|s| s.0.into()),
            source_version: source.and_then(|s| s.1.map(Into::into)),
            arch: None,
            license: None,
            purl: String::new(),
            dependencies: Vec::new(),
            location: Location {
                path: String::new(),
                layer_index: 0,
                diff_id: None,
                layer_digest: None,
            },
            os_managed: false,
            version_from_file_name: false,
            sha1: None,
        }
    }

    fn os(id: &str, version: &str) -> OsRelease {
        OsRelease {
            id: id.into(),
            version_id: Some(version.into()),
            ..OsRelease::default()
        }
    }

    #[test]
    fn debian_binaries_match_by_source_and_binnmu_is_dropped() {
        let p = pkg(
            Ecosystem::Deb,
            "libc6",
            "2.36-9+deb12u3",
            Some(("glibc", None)),
        );
        let t = target(&p, Some(&os("debian", "12"))).unwrap();
        assert_eq!(
            (t.source, t.name.as_str(), t.version.as_str()),
            ("Debian", "glibc", "2.36-9+deb12u3")
        );
        assert!(t.release.matches("Debian:12"));
        assert!(!t.release.matches("Debian:11"));
        let p = pkg(
            Ecosystem::Deb,
            "libfoo1",
            "1.2-3+b2",
            Some(("foo", Some("1.2-3"))),
        );
        assert_eq!(
            target(&p, Some(&os("debian", "12.5"))).unwrap().version,
            "1.2-3"
        );
        let p = pkg(Ecosystem::Deb, "foo", "1.2-3+b1", None);
        assert_eq!(
            target(&p, Some(&os("debian", "12"))).unwrap().version,
            "1.2-3"
        );
    }

    #[test]
    fn releases_of_each_distribution() {
        let p = pkg(
            Ecosystem::Apk,
            "libcrypto3",
            "3.1.4-r5",
            Some(("openssl", None)),
        );
        let t = target(&p, Some(&os("alpine", "3.19.1"))).unwrap();
        assert_eq!(t.name, "openssl");
        assert!(t.release.matches("Alpine:v3.19") && !t.release.matches("Alpine:v3.18"));
        let p = pkg(Ecosystem::Deb, "bash", "5.1-6ubuntu1", None);
        let t = target(&p, Some(&os("ubuntu", "22.04"))).unwrap();
        assert!(t.release.matches("Ubuntu:22.04:LTS") && t.release.matches("Ubuntu:22.04"));
        assert!(!t.release.matches("Ubuntu:22.040"));
        let p = pkg(
            Ecosystem::Rpm,
            "openssl-libs",
            "1:3.0.7-27.el9",
            Some(("openssl", None)),
        );
        let t = target(&p, Some(&os("rhel", "9.3"))).unwrap();
        assert!(t.release.matches("Red Hat:enterprise_linux:9::baseos"));
        assert!(!t.release.matches("Red Hat:enterprise_linux:8::baseos"));
    }

    #[test]
    fn os_packages_without_a_known_release_are_unmatchable() {
        let p = pkg(Ecosystem::Deb, "bash", "5.2-1", None);
        assert_eq!(target(&p, None), Err(Unmatchable::UnknownOs));
        assert!(matches!(
            target(&p, Some(&os("debian", "trixie/sid"))),
            Err(Unmatchable::UnsupportedOs { .. })
        ));
        assert!(matches!(
            target(&p, Some(&os("slackware", "15"))),
            Err(Unmatchable::UnsupportedOs { .. })
        ));
    }

    #[test]
    fn language_packages_match_by_ecosystem_and_name() {
        let p = pkg(Ecosystem::Pypi, "requests", "2.30.0", None);
        let t = target(&p, None).unwrap();
        assert_eq!((t.source, t.scheme), ("PyPI", Scheme::Pep440));
        assert!(t.release.matches("PyPI"));
    }
}
