//! What a scan finds: packages, where they were found, and the operating system.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;

/// The package manager or language ecosystem a package belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ecosystem {
    /// Debian and Ubuntu packages (dpkg).
    Deb,
    /// Alpine and Wolfi packages (apk).
    Apk,
    /// Red Hat, SUSE, Amazon Linux packages (rpm).
    Rpm,
    /// Python distributions.
    Pypi,
    /// Node.js packages.
    Npm,
    /// Java archives.
    Maven,
    /// Go modules compiled into a binary.
    Golang,
    /// Rust crates compiled into a binary.
    Cargo,
    /// Ruby gems.
    Gem,
    /// PHP Composer packages.
    Composer,
    /// .NET NuGet packages.
    Nuget,
}

impl Ecosystem {
    /// The ecosystem's purl type, which is also its serde name.
    pub fn as_str(self) -> &'static str {
        match self {
            Ecosystem::Deb => "deb",
            Ecosystem::Apk => "apk",
            Ecosystem::Rpm => "rpm",
            Ecosystem::Pypi => "pypi",
            Ecosystem::Npm => "npm",
            Ecosystem::Maven => "maven",
            Ecosystem::Golang => "golang",
            Ecosystem::Cargo => "cargo",
            Ecosystem::Gem => "gem",
            Ecosystem::Composer => "composer",
            Ecosystem::Nuget => "nuget",
        }
    }

    /// Whether this is an operating-system package manager.
    pub fn is_os(self) -> bool {
        matches!(self, Ecosystem::Deb | Ecosystem::Apk | Ecosystem::Rpm)
    }
}

impl fmt::Display for Ecosystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where in the image a package was found.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Location {
    /// The absolute path inside the image (`/var/lib/dpkg/status`).
    pub path: String,
    /// The index of the layer that introduced the file, base layer = 0.
    pub layer_index: usize,
    /// The layer's uncompressed digest (`rootfs.diff_ids`), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff_id: Option<Digest>,
    /// The layer blob's digest as stored in the registry, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer_digest: Option<Digest>,
}

/// One installed package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    /// Its ecosystem.
    pub ecosystem: Ecosystem,
    /// The name as the package manager prints it.
    pub name: String,
    /// The version as the package manager prints it (deb and rpm include the epoch: `1:2.38.1-5`).
    pub version: String,
    /// The source package name, when it differs or is known (deb `Source:`, rpm source rpm, apk origin).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_name: Option<String>,
    /// The source package version, when it differs from `version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_version: Option<String>,
    /// The CPU architecture, for OS packages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// The declared license, when the database records it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    /// The package URL.
    pub purl: String,
    /// Names of the packages this one depends on (already resolved to names, no versions).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<String>,
    /// Where it was found.
    pub location: Location,
    /// The SHA-1 of the package's own file, lowercase hex, where one file is the package
    /// (Java archives, nested ones included).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha1: Option<String>,
    /// Whether the files were installed by an OS package rather than by the language's own tool
    /// (for example Debian's `python3-*` packages under `dist-packages`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub os_managed: bool,
    /// Whether `version` was read from the file name rather than from metadata inside the file
    /// (a jar with neither `pom.properties` nor a version in its manifest): a guess, which the
    /// SBOMs mark as such and which is left out of Maven coordinates.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub version_from_file_name: bool,
}

/// The operating system of an image, from `os-release` or a fallback file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OsRelease {
    /// `ID` (`debian`, `alpine`, `rhel`), lowercase.
    pub id: String,
    /// `VERSION_ID` (`12`, `3.19.1`), when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// `VERSION_CODENAME` (`bookworm`), when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_codename: Option<String>,
    /// `PRETTY_NAME`, when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pretty_name: Option<String>,
    /// `ID_LIKE` entries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub id_like: Vec<String>,
}
