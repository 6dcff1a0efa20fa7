//! Version ordering, one module per ecosystem, all pure.
//!
//! [`Scheme`] names an ordering; [`Scheme::for_ecosystem`] picks the one an OSV ecosystem uses,
//! and [`Scheme::compare`] compares two version strings under it. A version that the scheme cannot
//! read is a [`VersionError`], never a guess: the matcher then reports the package as unmatched.

use std::cmp::Ordering;
use std::fmt;

pub mod apk;
pub mod composer;
pub mod dpkg;
pub mod golang;
pub mod maven;
pub mod nuget;
pub mod pep440;
pub mod rpm;
pub mod rubygems;
pub mod semver;

/// A version ordering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Debian and Ubuntu (`dpkg --compare-versions`).
    Dpkg,
    /// Red Hat, Rocky, Alma, SUSE (`rpmvercmp` with epochs).
    Rpm,
    /// Alpine, Wolfi (apk-tools).
    Apk,
    /// PyPI (PEP 440).
    Pep440,
    /// Semantic Versioning 2.0: OSV `SEMVER` ranges, npm, crates.io.
    Semver,
    /// Go modules.
    Go,
    /// Maven `ComparableVersion`.
    Maven,
    /// RubyGems `Gem::Version`.
    RubyGems,
    /// Packagist (Composer normalisation and PHP `version_compare`).
    Composer,
    /// NuGet.
    NuGet,
}

impl Scheme {
    /// The ordering of an OSV ecosystem name (`Debian:12`, `PyPI`, ...), or `None` when cra has no
    /// ordering for it.
    pub fn for_ecosystem(ecosystem: &str) -> Option<Scheme> {
        let base = ecosystem.split(':').next().unwrap_or(ecosystem);
        Some(match base {
            "Debian" | "Ubuntu" => Scheme::Dpkg,
            "Alpine" | "Wolfi" | "Chainguard" => Scheme::Apk,
            "Red Hat" | "Rocky Linux" | "AlmaLinux" | "openSUSE" | "SUSE" | "Mageia" => Scheme::Rpm,
            "PyPI" => Scheme::Pep440,
            "npm" | "crates.io" => Scheme::Semver,
            "Go" => Scheme::Go,
            "Maven" => Scheme::Maven,
            "RubyGems" => Scheme::RubyGems,
            "Packagist" => Scheme::Composer,
            "NuGet" => Scheme::NuGet,
            _ => return None,
        })
    }

    /// Compares two versions under this ordering.
    pub fn compare(self, a: &str, b: &str) -> Result<Ordering, VersionError> {
        match self {
            Scheme::Dpkg => dpkg::compare(a, b),
            Scheme::Rpm => rpm::compare(a, b),
            Scheme::Apk => apk::compare(a, b),
            Scheme::Pep440 => pep440::compare(a, b),
            Scheme::Semver => semver::compare(a, b),
            Scheme::Go => golang::compare(a, b),
            Scheme::Maven => maven::compare(a, b),
            Scheme::RubyGems => rubygems::compare(a, b),
            Scheme::Composer => composer::compare(a, b),
            Scheme::NuGet => nuget::compare(a, b),
        }
    }

    /// The scheme's short name (`dpkg`, `pep440`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Scheme::Dpkg => "dpkg",
            Scheme::Rpm => "rpm",
            Scheme::Apk => "apk",
            Scheme::Pep440 => "pep440",
            Scheme::Semver => "semver",
            Scheme::Go => "go",
            Scheme::Maven => "maven",
            Scheme::RubyGems => "rubygems",
            Scheme::Composer => "composer",
            Scheme::NuGet => "nuget",
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A version string that an ordering cannot read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {scheme} version {version:?}: {reason}")]
pub struct VersionError {
    /// The ordering's name.
    pub scheme: &'static str,
    /// The version as given.
    pub version: String,
    /// Why it was refused.
    pub reason: String,
}

impl VersionError {
    pub(crate) fn new(scheme: &'static str, version: &str, reason: impl Into<String>) -> Self {
        VersionError {
            scheme,
            version: version.to_owned(),
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Checks `a op b` for each pair, and the reverse (`b` op' `a`) so both orders are exercised.
    pub(crate) fn check_corpus(
        corpus: &[(&str, char, &str)],
        compare: impl Fn(&str, &str) -> Result<Ordering, VersionError>,
    ) {
        for &(a, op, b) in corpus {
            let want = match op {
                '<' => Ordering::Less,
                '=' => Ordering::Equal,
                '>' => Ordering::Greater,
                other => panic!("bad operator {other}"),
            };
            assert_eq!(compare(a, b), Ok(want), "{a} {op} {b}");
            assert_eq!(compare(b, a), Ok(want.reverse()), "{b} vs {a}");
        }
    }

    #[test]
    fn ecosystems_map_to_schemes() {
        assert_eq!(Scheme::for_ecosystem("Debian:12"), Some(Scheme::Dpkg));
        assert_eq!(
            Scheme::for_ecosystem("Ubuntu:22.04:LTS"),
            Some(Scheme::Dpkg)
        );
        assert_eq!(Scheme::for_ecosystem("Alpine:v3.19"), Some(Scheme::Apk));
        assert_eq!(Scheme::for_ecosystem("Rocky Linux:9"), Some(Scheme::Rpm));
        assert_eq!(Scheme::for_ecosystem("crates.io"), Some(Scheme::Semver));
        assert_eq!(Scheme::for_ecosystem("Packagist"), Some(Scheme::Composer));
        assert_eq!(Scheme::for_ecosystem("Hackage"), None);
    }
}
