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
                    // An analyzer may locate a package inside the file (a jar nested in
                    // `path` is `path!/inner.jar`); that finer location is kept.
                    if !within(&pkg.location.path, &path) {
                        pkg.location.path.clone_from(&path);
                    }
                    pkg.location.layer_index = file.layer_index;
                    pkg.location.diff_id = layer.and_then(|l| l.diff_id.clone());
                    pkg.location.layer_digest = layer.map(|l| l.digest.clone());
                    packages.push(pkg);
                }
            }
        }
        crate::analyzers::npm::drop_lockfile_packages_when_installed(&mut packages);
        crate::analyzers::pyproject::drop_projects_without_lockfile(&mut packages);
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

/// Whether `location` is the file `path` itself or an archive member inside it.
fn within(location: &str, path: &str) -> bool {
    location
        .strip_prefix(path)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with("!/"))
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
    fn each_package_keeps_its_own_location() {
        use crate::analyzers::{AnalyzerId, Findings};
        use crate::layer::AnalyzedFile;
        use crate::merge::MergedFile;
        use cra_core::Ecosystem;

        let pkg = |name: &str, path: &str| {
            crate::purl::new_package(Ecosystem::Maven, name, "1", String::new(), path)
        };
        let file = |layer_index: usize, packages: Vec<Package>| MergedFile {
            layer_index,
            analyzed: vec![AnalyzedFile {
                analyzer: AnalyzerId::Java,
                findings: Findings {
                    packages,
                    ..Findings::default()
                },
            }],
        };
        let mut merged = Merged::default();
        merged.files.insert(
            "/srv/app.war".into(),
            file(
                1,
                vec![
                    pkg("app", "/srv/app.war"),
                    pkg("inner", "/srv/app.war!/WEB-INF/lib/inner.jar"),
                    pkg(
                        "deeper",
                        "/srv/app.war!/WEB-INF/lib/inner.jar!/lib/deep.jar",
                    ),
                    // Not inside this file: the merged path wins.
                    pkg("stray", "/srv/app.war2"),
                    pkg("unset", ""),
                ],
            ),
        );
        merged.files.insert(
            "/srv/lib/other.jar".into(),
            file(0, vec![pkg("other", "/x")]),
        );
        let inv = Inventory::from_merged(merged, &[]);
        let located: Vec<(&str, &str, usize)> = inv
            .packages
            .iter()
            .map(|p| {
                (
                    p.name.as_str(),
                    p.location.path.as_str(),
                    p.location.layer_index,
                )
            })
            .collect();
        assert_eq!(
            located,
            [
                ("app", "/srv/app.war", 1),
                ("inner", "/srv/app.war!/WEB-INF/lib/inner.jar", 1),
                (
                    "deeper",
                    "/srv/app.war!/WEB-INF/lib/inner.jar!/lib/deep.jar",
                    1
                ),
                ("stray", "/srv/app.war", 1),
                ("unset", "/srv/app.war", 1),
                ("other", "/srv/lib/other.jar", 0),
            ]
        );
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
