//! What the SBOM writers share: the tool name, the image's name parts, dependency edges and
//! timestamps.

use std::collections::HashMap;

use cra_core::{Ecosystem, Package};

use crate::pipeline::ScanReport;

/// The tool name recorded in SBOMs.
pub(super) const TOOL: &str = "cra";
/// The tool version recorded in SBOMs.
pub(super) const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The name dependency lists use for a package: pypi names are PEP 503-normalised, Composer
/// names compare without case.
fn edge_name(ecosystem: Ecosystem, name: &str) -> String {
    match ecosystem {
        Ecosystem::Pypi => crate::purl::pep503(name),
        Ecosystem::Composer => name.to_lowercase(),
        _ => name.to_owned(),
    }
}

/// The lockfile whose packages a manifest's dependencies name first: `poetry.lock` beside a
/// `pyproject.toml`.
fn lockfile_of(ecosystem: Ecosystem, path: &str) -> Option<String> {
    match (ecosystem, path.rsplit_once('/')) {
        (Ecosystem::Pypi, Some((dir, "pyproject.toml"))) => Some(format!("{dir}/poetry.lock")),
        _ => None,
    }
}

/// Dependency names resolved to package indices: same ecosystem, the same file first, then the
/// manifest's lockfile, then any file.
pub(super) fn resolve_edges(packages: &[Package]) -> Vec<Vec<usize>> {
    let mut by_file: HashMap<(Ecosystem, &str, String), usize> = HashMap::new();
    let mut by_name: HashMap<(Ecosystem, String), usize> = HashMap::new();
    for (i, p) in packages.iter().enumerate() {
        let name = edge_name(p.ecosystem, &p.name);
        by_file
            .entry((p.ecosystem, p.location.path.as_str(), name.clone()))
            .or_insert(i);
        by_name.entry((p.ecosystem, name)).or_insert(i);
    }
    packages
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut out: Vec<usize> = Vec::new();
            let lockfile = lockfile_of(p.ecosystem, &p.location.path);
            for d in &p.dependencies {
                let d = edge_name(p.ecosystem, d);
                let target = by_file
                    .get(&(p.ecosystem, p.location.path.as_str(), d.clone()))
                    .or_else(|| {
                        let lock = lockfile.as_deref()?;
                        by_file.get(&(p.ecosystem, lock, d.clone()))
                    })
                    .or_else(|| by_name.get(&(p.ecosystem, d)));
                if let Some(&j) = target {
                    if j != i && !out.contains(&j) {
                        out.push(j);
                    }
                }
            }
            out
        })
        .collect()
}

/// The image's repository and tag, from its first name.
pub(super) struct ImageRef {
    /// `docker.io/library/debian`, or the image id when the image has no name.
    pub(super) repository: String,
    /// The tag, when the name has one.
    pub(super) tag: Option<String>,
}

impl ImageRef {
    pub(super) fn of(report: &ScanReport) -> ImageRef {
        let Some(name) = report.image.names.first() else {
            return ImageRef {
                repository: report.image.config_digest.to_string(),
                tag: None,
            };
        };
        let without_digest = name.split('@').next().unwrap_or(name);
        let last_slash = without_digest.rfind('/').map_or(0, |i| i + 1);
        match without_digest[last_slash..].rfind(':') {
            Some(colon) => ImageRef {
                repository: without_digest[..last_slash + colon].to_owned(),
                tag: Some(without_digest[last_slash + colon + 1..].to_owned()),
            },
            None => ImageRef {
                repository: without_digest.to_owned(),
                tag: None,
            },
        }
    }

    /// `pkg:oci/debian@sha256:…?arch=amd64&repository_url=docker.io%2Flibrary%2Fdebian&tag=12`,
    /// or `None` for an image without a name.
    pub(super) fn purl(&self, report: &ScanReport) -> Option<String> {
        if report.image.names.is_empty() {
            return None;
        }
        let name = self
            .repository
            .rsplit('/')
            .next()
            .unwrap_or(&self.repository)
            .to_lowercase();
        let purl = crate::purl::PurlParts {
            ty: "oci",
            namespace: None,
            name: &name,
            version: &report.image.manifest_digest.to_string(),
            qualifiers: vec![
                ("arch", report.image.platform.architecture.clone()),
                ("repository_url", self.repository.clone()),
                ("tag", self.tag.clone().unwrap_or_default()),
            ],
        }
        .build();
        (!purl.is_empty()).then_some(purl)
    }
}

/// The current UTC time as `YYYY-MM-DDThh:mm:ssZ`.
pub(super) fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    utc_from_unix(secs)
}

/// Formats Unix seconds as `YYYY-MM-DDThh:mm:ssZ` (RFC 3339, UTC, whole seconds).
pub(super) fn utc_from_unix(secs: u64) -> String {
    use time::format_description::well_known::Rfc3339;
    i64::try_from(secs)
        .ok()
        .and_then(|secs| time::OffsetDateTime::from_unix_timestamp(secs).ok())
        .and_then(|at| at.format(&Rfc3339).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_owned())
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::inventory::Inventory;
    use crate::source::ImageInfo;
    use cra_core::{Digest, Location, OsRelease};

    /// A report with OS, Python, npm, Maven and Go packages.
    pub(in crate::sbom) fn report() -> ScanReport {
        let digest = |c: char| -> Digest {
            format!("sha256:{}", c.to_string().repeat(64))
                .parse()
                .unwrap()
        };
        let pkg = |eco, name: &str, version: &str, purl: &str, path: &str| {
            let mut p = crate::purl::new_package(eco, name, version, purl.into(), path);
            p.location = Location {
                path: path.into(),
                layer_index: 1,
                diff_id: Some(digest('d')),
                layer_digest: Some(digest('e')),
            };
            p
        };
        let mut ssl = pkg(
            Ecosystem::Deb,
            "libssl3",
            "3.0.11-1~deb12u2",
            "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12",
            "/var/lib/dpkg/status",
        );
        ssl.source_name = Some("openssl".into());
        ssl.license = Some("Apache-2.0".into());
        let mut six = pkg(
            Ecosystem::Pypi,
            "six",
            "1.16.0",
            "pkg:pypi/six@1.16.0",
            "/usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA",
        );
        six.os_managed = true;
        let mut six_venv = pkg(
            Ecosystem::Pypi,
            "six",
            "1.16.0",
            "pkg:pypi/six@1.16.0",
            "/opt/venv/lib/python3.11/site-packages/six-1.16.0.dist-info/METADATA",
        );
        six_venv.dependencies = vec!["typing-extensions".into()];
        let typing = pkg(
            Ecosystem::Pypi,
            "Typing_Extensions",
            "4.12.2",
            "pkg:pypi/typing-extensions@4.12.2",
            "/opt/venv/lib/python3.11/site-packages/typing_extensions-4.12.2.dist-info/METADATA",
        );
        let mut core = pkg(
            Ecosystem::Npm,
            "@babel/core",
            "7.24.0",
            "pkg:npm/%40babel/core@7.24.0",
            "/app/node_modules/@babel/core/package.json",
        );
        core.dependencies = vec!["debug".into(), "missing".into()];
        let debug = pkg(
            Ecosystem::Npm,
            "debug",
            "4.3.4",
            "pkg:npm/debug@4.3.4",
            "/app/node_modules/debug/package.json",
        );
        let mut guava = pkg(
            Ecosystem::Maven,
            "com.google.guava:guava",
            "32.1.3-jre",
            "pkg:maven/com.google.guava/guava@32.1.3-jre",
            "/app/app.war!/WEB-INF/lib/guava.jar",
        );
        guava.sha1 = Some("0123456789abcdef0123456789abcdef01234567".into());
        let nopurl = pkg(Ecosystem::Golang, "weird", "", "", "/usr/bin/x");
        ScanReport {
            image: ImageInfo {
                manifest_digest: digest('a'),
                manifest_media_type: "application/vnd.oci.image.manifest.v1+json".into(),
                config_digest: digest('b'),
                platform: "linux/arm64/v8".parse().unwrap(),
                created: None,
                layers: vec![],
                names: vec!["docker.io/library/debian:12".into()],
                total_size: 0,
                config: serde_json::json!({}),
            },
            inventory: Inventory {
                os: Some(OsRelease {
                    id: "debian".into(),
                    version_id: Some("12".into()),
                    version_codename: Some("bookworm".into()),
                    pretty_name: Some("Debian GNU/Linux 12 (bookworm)".into()),
                    id_like: vec![],
                }),
                packages: vec![ssl, six, six_venv, core, debug, guava, nopurl, typing],
                warnings: vec![],
            },
            signature: None,
        }
    }

    #[test]
    fn timestamps() {
        assert_eq!(utc_from_unix(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_from_unix(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc_from_unix(1_767_225_599), "2025-12-31T23:59:59Z");
    }
}
