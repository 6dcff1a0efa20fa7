//! The inventory of an image: its OS, its packages with their layers, and the warnings.
//!
//! Built from the merged view: the best-ranked OS file wins (a missing `VERSION_ID` is taken
//! from `/etc/debian_version`), every surviving file's packages are listed with the layer that
//! wrote the file, and OS package purls get their vendor and `distro` qualifier.

use cra_core::{Ecosystem, OsRelease, Package};
use serde::Serialize;

use crate::analyzers::{dpkg, os_release, OsFinding};
use crate::merge::Merged;
use crate::source::LayerInfo;

/// What a scan found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Inventory {
    /// The operating system, when a release file was found.
    pub os: Option<OsRelease>,
    /// Every package, in path order.
    pub packages: Vec<Package>,
    /// Problems that did not stop the scan, each naming its layer or file.
    pub warnings: Vec<String>,
}

impl Inventory {
    /// Builds the inventory from the merged view and the image's layers.
    pub fn from_merged(merged: Merged, layers: &[LayerInfo]) -> Inventory {
        let mut os_findings: Vec<OsFinding> = Vec::new();
        let mut packages = Vec::new();
        let mut warnings = merged.warnings;
        for (path, file) in merged.files {
            let layer = layers.get(file.layer_index);
            for analyzed in file.analyzed {
                let findings = analyzed.findings;
                os_findings.extend(findings.os);
                warnings.extend(
                    findings
                        .warnings
                        .into_iter()
                        .map(|w| format!("layer {}: {w}", file.layer_index)),
                );
                for mut pkg in findings.packages {
                    pkg.location.path.clone_from(&path);
                    pkg.location.layer_index = file.layer_index;
                    pkg.location.diff_id = layer.and_then(|l| l.diff_id.clone());
                    pkg.location.layer_digest = layer.map(|l| l.digest.clone());
                    packages.push(pkg);
                }
            }
        }
        crate::analyzers::npm::drop_lockfile_packages_when_installed(&mut packages);
        let os = choose_os(os_findings);
        if let Some(os) = &os {
            complete_purls(&mut packages, os);
        }
        Inventory {
            os,
            packages,
            warnings,
        }
    }
}

fn choose_os(mut findings: Vec<OsFinding>) -> Option<OsRelease> {
    findings.sort_by_key(|f| f.rank);
    let debian_version = findings
        .iter()
        .find(|f| f.rank == os_release::DEBIAN_VERSION_RANK)
        .and_then(|f| f.release.version_id.clone());
    let mut best = findings.into_iter().next()?.release;
    if best.version_id.is_none()
        && (best.id == "debian" || best.id_like.iter().any(|i| i == "debian"))
    {
        best.version_id = debian_version;
    }
    Some(best)
}

/// The Debian codename of a release number, as snyk writes `distro` qualifiers.
fn debian_codename(version: &str) -> Option<&'static str> {
    Some(match version.split('.').next()? {
        "8" => "jessie",
        "9" => "stretch",
        "10" => "buster",
        "11" => "bullseye",
        "12" => "bookworm",
        "13" => "trixie",
        "14" => "forky",
        "unstable" => "sid",
        _ => return None,
    })
}

/// The `distro` qualifier for an OS: `<id>-<codename>` when known, else `<id>-<version>`.
pub fn distro_qualifier(os: &OsRelease) -> Option<String> {
    let codename = os.version_codename.clone().or_else(|| {
        (os.id == "debian")
            .then(|| os.version_id.as_deref().and_then(debian_codename))
            .flatten()
            .map(str::to_owned)
    });
    codename
        .or_else(|| os.version_id.clone())
        .map(|v| format!("{}-{v}", os.id))
}

fn complete_purls(packages: &mut [Package], os: &OsRelease) {
    let distro = distro_qualifier(os);
    for pkg in packages
        .iter_mut()
        .filter(|p| p.ecosystem == Ecosystem::Deb)
    {
        pkg.purl = dpkg::purl(pkg, &os.id, distro.as_deref());
    }
    crate::purl::qualify_os_packages(packages, Some(os));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(id: &str, version: Option<&str>) -> OsRelease {
        OsRelease {
            id: id.into(),
            version_id: version.map(Into::into),
            ..OsRelease::default()
        }
    }

    #[test]
    fn best_rank_wins_and_debian_version_fills_in() {
        let os = choose_os(vec![
            OsFinding {
                rank: 3,
                release: rel("debian", Some("trixie/sid")),
            },
            OsFinding {
                rank: 1,
                release: rel("debian", None),
            },
        ])
        .unwrap();
        assert_eq!(os.version_id.as_deref(), Some("trixie/sid"));
        let os = choose_os(vec![
            OsFinding {
                rank: 4,
                release: rel("alpine", Some("3.19.1")),
            },
            OsFinding {
                rank: 0,
                release: rel("alpine", Some("3.20.0")),
            },
        ])
        .unwrap();
        assert_eq!(os.version_id.as_deref(), Some("3.20.0"));
        assert_eq!(choose_os(vec![]), None);
    }

    #[test]
    fn distro_qualifiers() {
        assert_eq!(
            distro_qualifier(&rel("debian", Some("12"))).as_deref(),
            Some("debian-bookworm")
        );
        let mut ubuntu = rel("ubuntu", Some("22.04"));
        ubuntu.version_codename = Some("jammy".into());
        assert_eq!(distro_qualifier(&ubuntu).as_deref(), Some("ubuntu-jammy"));
        assert_eq!(
            distro_qualifier(&rel("alpine", Some("3.19.1"))).as_deref(),
            Some("alpine-3.19.1")
        );
        assert_eq!(distro_qualifier(&rel("x", None)), None);
    }
}
