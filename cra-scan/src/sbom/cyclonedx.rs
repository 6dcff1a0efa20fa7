//! CycloneDX 1.6 JSON: the image as the metadata component, the OS and every package as
//! components, and a dependency graph.
//!
//! - The image is a `container` component with an `oci` purl; the OS an `operating-system`
//!   component; packages are `library` components with their purl.
//! - `bom-ref`s are unique: a package's purl, suffixed with `#<n>` when the same purl occurs again
//!   (the same package in two virtualenvs or two nested jars).
//! - Where each package was found and what else is known goes into properties in the `cra:`
//!   namespace: `cra:package:type`, `cra:package:source`, `cra:package:sourceVersion`,
//!   `cra:package:arch`, `cra:package:osManaged` (`true` for language packages installed by the
//!   OS package manager, such as Debian's `python3-*` under `dist-packages`),
//!   `cra:location:path`, `cra:layer:index`, `cra:layer:digest`, `cra:layer:diffId`.
//! - Licenses are given as names, since databases record free text, not always SPDX ids.
//! - The output is validated against the official schema in the integration tests.

use std::collections::HashMap;
use std::io::Write;

use cra_core::{Ecosystem, Package};
use serde_json::{json, Map, Value};

use crate::error::ScanError;
use crate::pipeline::ScanReport;

/// The tool name and version recorded in SBOMs.
pub(super) const TOOL: &str = "cra";
pub(super) const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Writes the report as CycloneDX 1.6 JSON.
pub(crate) fn render(report: &ScanReport, out: &mut dyn Write) -> Result<(), ScanError> {
    let bom = bom(report, &utc_now(), &uuid::Uuid::new_v4().to_string());
    serde_json::to_writer_pretty(&mut *out, &bom).map_err(|e| ScanError::Output(e.into()))?;
    writeln!(out).map_err(ScanError::Output)
}

/// Builds the BOM for a fixed timestamp and serial number.
pub(super) fn bom(report: &ScanReport, timestamp: &str, serial: &str) -> Value {
    let image = &report.image;
    let inv = &report.inventory;
    let reference = ImageRef::of(report);

    let mut image_props = vec![
        prop("cra:image:id", &image.config_digest.to_string()),
        prop("cra:image:platform", &image.platform.to_string()),
    ];
    for name in &image.names {
        image_props.push(prop("cra:image:name", name));
    }
    let mut metadata_component = json!({
        "type": "container",
        "bom-ref": "image",
        "name": reference.repository,
        "version": image.manifest_digest.to_string(),
        "properties": image_props,
    });
    let oci = reference.purl(report);
    if !oci.is_empty() {
        metadata_component["purl"] = Value::String(oci);
    }

    let refs = bom_refs(&inv.packages);
    let mut components = Vec::new();
    let mut top = Vec::new();
    if let Some(os) = &inv.os {
        let mut c = json!({
            "type": "operating-system",
            "bom-ref": "os",
            "name": os.id,
        });
        if let Some(v) = &os.version_id {
            c["version"] = Value::String(v.clone());
        }
        if let Some(p) = &os.pretty_name {
            c["description"] = Value::String(p.clone());
        }
        components.push(c);
        top.push(Value::String("os".into()));
    }
    for (pkg, r) in inv.packages.iter().zip(&refs) {
        components.push(component(pkg, r));
        top.push(Value::String(r.clone()));
    }

    let edges = resolve_edges(&inv.packages);
    let mut dependencies = vec![json!({ "ref": "image", "dependsOn": top })];
    if inv.os.is_some() {
        dependencies.push(json!({ "ref": "os", "dependsOn": [] }));
    }
    for (i, r) in refs.iter().enumerate() {
        let depends: Vec<&String> = edges[i].iter().map(|&j| &refs[j]).collect();
        dependencies.push(json!({ "ref": r, "dependsOn": depends }));
    }

    json!({
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": format!("urn:uuid:{serial}"),
        "version": 1,
        "metadata": {
            "timestamp": timestamp,
            "tools": { "components": [ {
                "type": "application", "name": TOOL, "version": TOOL_VERSION } ] },
            "component": metadata_component,
        },
        "components": components,
        "dependencies": dependencies,
    })
}

fn prop(name: &str, value: &str) -> Value {
    json!({ "name": name, "value": value })
}

fn component(pkg: &Package, bom_ref: &str) -> Value {
    let mut c = Map::new();
    c.insert("type".into(), "library".into());
    c.insert("bom-ref".into(), bom_ref.into());
    match (pkg.ecosystem, pkg.name.split_once(':')) {
        (Ecosystem::Maven, Some((group, artifact))) => {
            c.insert("group".into(), group.into());
            c.insert("name".into(), artifact.into());
        }
        _ => {
            c.insert("name".into(), pkg.name.clone().into());
        }
    }
    if !pkg.version.is_empty() {
        c.insert("version".into(), pkg.version.clone().into());
    }
    if !pkg.purl.is_empty() {
        c.insert("purl".into(), pkg.purl.clone().into());
    }
    if let Some(l) = &pkg.license {
        c.insert("licenses".into(), json!([{ "license": { "name": l } }]));
    }
    let mut props = vec![prop("cra:package:type", pkg.ecosystem.as_str())];
    if let Some(s) = &pkg.source_name {
        props.push(prop("cra:package:source", s));
    }
    if let Some(s) = &pkg.source_version {
        props.push(prop("cra:package:sourceVersion", s));
    }
    if let Some(a) = &pkg.arch {
        props.push(prop("cra:package:arch", a));
    }
    if pkg.os_managed {
        props.push(prop("cra:package:osManaged", "true"));
    }
    props.push(prop("cra:location:path", &pkg.location.path));
    props.push(prop(
        "cra:layer:index",
        &pkg.location.layer_index.to_string(),
    ));
    if let Some(d) = &pkg.location.layer_digest {
        props.push(prop("cra:layer:digest", &d.to_string()));
    }
    if let Some(d) = &pkg.location.diff_id {
        props.push(prop("cra:layer:diffId", &d.to_string()));
    }
    c.insert("properties".into(), props.into());
    Value::Object(c)
}

/// Unique `bom-ref`s: the purl, `#<n>` appended for repeats, `package-<n>` without a purl.
pub(super) fn bom_refs(packages: &[Package]) -> Vec<String> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    packages
        .iter()
        .enumerate()
        .map(|(i, p)| {
            if p.purl.is_empty() {
                return format!("package-{i}");
            }
            let n = seen.entry(p.purl.as_str()).or_insert(0);
            *n += 1;
            if *n == 1 {
                p.purl.clone()
            } else {
                format!("{}#{}", p.purl, *n - 1)
            }
        })
        .collect()
}

/// The name dependency lists use for a package: pypi names are PEP 503-normalised, Composer
/// names compare without case.
fn edge_name(ecosystem: Ecosystem, name: &str) -> String {
    match ecosystem {
        Ecosystem::Pypi => crate::purl::pep503(name),
        Ecosystem::Composer => name.to_lowercase(),
        _ => name.to_owned(),
    }
}

/// Dependency names resolved to package indices: same ecosystem, the same file first.
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
            for d in &p.dependencies {
                let d = edge_name(p.ecosystem, d);
                let target = by_file
                    .get(&(p.ecosystem, p.location.path.as_str(), d.clone()))
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

/// The image's repository, tag and digest, from its first name.
pub(super) struct ImageRef {
    /// `docker.io/library/debian`, or the image id when the image has no name.
    pub(super) repository: String,
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

    /// `pkg:oci/debian@sha256:…?arch=amd64&repository_url=docker.io%2Flibrary%2Fdebian&tag=12`.
    fn purl(&self, report: &ScanReport) -> String {
        if report.image.names.is_empty() {
            return String::new();
        }
        let name = self
            .repository
            .rsplit('/')
            .next()
            .unwrap_or(&self.repository)
            .to_lowercase();
        crate::purl::PurlParts {
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
        .build()
    }
}

/// The current UTC time as `YYYY-MM-DDThh:mm:ssZ`.
pub(super) fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    utc_from_unix(secs)
}

/// Formats Unix seconds as `YYYY-MM-DDThh:mm:ssZ` (civil-from-days, proleptic Gregorian).
pub(super) fn utc_from_unix(secs: u64) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::inventory::Inventory;
    use crate::source::ImageInfo;
    use cra_core::{Digest, Location, OsRelease};

    pub(in crate::sbom) fn report() -> ScanReport {
        let digest = |c: char| -> Digest {
            format!("sha256:{}", c.to_string().repeat(64))
                .parse()
                .unwrap()
        };
        let pkg = |eco, name: &str, version: &str, purl: &str, path: &str| Package {
            ecosystem: eco,
            name: name.into(),
            version: version.into(),
            source_name: None,
            source_version: None,
            arch: None,
            license: None,
            purl: purl.into(),
            dependencies: vec![],
            location: Location {
                path: path.into(),
                layer_index: 1,
                diff_id: Some(digest('d')),
                layer_digest: Some(digest('e')),
            },
            os_managed: false,
            version_from_file_name: false,
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
        let guava = pkg(
            Ecosystem::Maven,
            "com.google.guava:guava",
            "32.1.3-jre",
            "pkg:maven/com.google.guava/guava@32.1.3-jre",
            "/app/app.war!/WEB-INF/lib/guava.jar",
        );
        let nopurl = pkg(Ecosystem::Golang, "weird", "", "", "/usr/bin/x");
        ScanReport {
            image: ImageInfo {
                manifest_digest: digest('a'),
                manifest_media_type: "application/vnd.oci.image.manifest.v1+json".into(),
                config_digest: digest('b'),
                platform: "linux/amd64".parse().unwrap(),
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
        }
    }

    #[test]
    fn bom_shape_refs_and_edges() {
        let bom = bom(
            &report(),
            "2026-01-01T00:00:00Z",
            "3e671687-395b-41f5-a30f-a58921a69b79",
        );
        assert_eq!(bom["specVersion"], "1.6");
        let meta = &bom["metadata"]["component"];
        assert_eq!(meta["name"], "docker.io/library/debian");
        assert_eq!(
            meta["purl"],
            format!(
                "pkg:oci/debian@sha256:{}?arch=amd64&repository_url=docker.io%2Flibrary%2Fdebian&tag=12",
                "a".repeat(64)
            )
        );
        let comps = bom["components"].as_array().unwrap();
        let refs: Vec<&str> = comps
            .iter()
            .map(|c| c["bom-ref"].as_str().unwrap())
            .collect();
        assert_eq!(refs[2], "pkg:pypi/six@1.16.0");
        assert_eq!(refs[3], "pkg:pypi/six@1.16.0#1");
        assert_eq!(refs[7], "package-6");
        let mut unique = refs.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), refs.len());
        // The OS-owned python package says so.
        let six = &comps[2]["properties"];
        assert!(six
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "cra:package:osManaged" && p["value"] == "true"));
        assert_eq!(comps[6]["group"], "com.google.guava");
        assert_eq!(comps[6]["name"], "guava");
        let deps = bom["dependencies"].as_array().unwrap();
        let core = deps
            .iter()
            .find(|d| d["ref"] == "pkg:npm/%40babel/core@7.24.0")
            .unwrap();
        assert_eq!(core["dependsOn"], json!(["pkg:npm/debug@4.3.4"]));
        assert_eq!(deps[0]["dependsOn"].as_array().unwrap().len(), 9);
        // Python dependency names match display names after normalisation.
        let venv_six = deps
            .iter()
            .find(|d| d["ref"] == "pkg:pypi/six@1.16.0#1")
            .unwrap();
        assert_eq!(
            venv_six["dependsOn"],
            json!(["pkg:pypi/typing-extensions@4.12.2"])
        );
    }

    #[test]
    fn timestamps() {
        assert_eq!(utc_from_unix(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_from_unix(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc_from_unix(1_767_225_599), "2025-12-31T23:59:59Z");
    }
}
