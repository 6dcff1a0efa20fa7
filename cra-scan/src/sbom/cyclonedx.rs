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
//!   `cra:version:source` (`file-name` when the version was read from the file name alone, as
//!   for a jar without metadata), `cra:location:path` (a nested jar as `outer.jar!/inner.jar`),
//!   `cra:layer:index`, `cra:layer:digest`, `cra:layer:diffId`.
//! - A license that is a valid SPDX expression is given as an `expression`, anything else as a
//!   license `name`.
//! - A jar's SHA-1 is given in `hashes`.
//! - The output is validated against the official schema in the integration tests.

use std::collections::HashMap;
use std::io::Write;

use cra_core::{Ecosystem, Package};
use serde::Serialize;

use super::license::License;
use super::shared::{resolve_edges, utc_now, ImageRef, TOOL, TOOL_VERSION};
use crate::error::ScanError;
use crate::pipeline::ScanReport;

/// A CycloneDX 1.6 BOM (the parts this writer fills).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Bom {
    #[serde(rename = "$schema")]
    schema: &'static str,
    bom_format: &'static str,
    spec_version: &'static str,
    serial_number: String,
    version: u32,
    metadata: Metadata,
    components: Vec<Component>,
    dependencies: Vec<Dependency>,
}

#[derive(Debug, Clone, Serialize)]
struct Metadata {
    timestamp: String,
    tools: Tools,
    component: Component,
}

#[derive(Debug, Clone, Serialize)]
struct Tools {
    components: Vec<Component>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "lowercase")]
enum ComponentType {
    Application,
    Container,
    #[serde(rename = "operating-system")]
    OperatingSystem,
    Library,
}

#[derive(Debug, Clone, Serialize)]
struct Component {
    #[serde(rename = "type")]
    kind: ComponentType,
    #[serde(rename = "bom-ref", skip_serializing_if = "Option::is_none")]
    bom_ref: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<String>,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hashes: Vec<Hash>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    licenses: Vec<LicenseChoice>,
    #[serde(skip_serializing_if = "Option::is_none")]
    purl: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    properties: Vec<Property>,
}

impl Component {
    fn new(kind: ComponentType, name: impl Into<String>) -> Component {
        Component {
            kind,
            bom_ref: None,
            group: None,
            name: name.into(),
            version: None,
            description: None,
            hashes: Vec::new(),
            licenses: Vec::new(),
            purl: None,
            properties: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
struct Hash {
    alg: &'static str,
    content: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
enum LicenseChoice {
    License { license: NamedLicense },
    Expression { expression: String },
}

#[derive(Debug, Clone, Serialize)]
struct NamedLicense {
    name: String,
}

#[derive(Debug, Clone, Serialize)]
struct Property {
    name: &'static str,
    value: String,
}

/// `cra:signature:*` properties: the status, the policy scope, each verified signer and the
/// identity it signed, or the reason for a rejection.
fn signature_properties(signature: &crate::signature::SignatureStatus) -> Vec<Property> {
    let mut props = vec![
        prop("cra:signature:status", signature.status),
        prop("cra:signature:enforced", signature.enforced.to_string()),
        prop("cra:signature:scope", signature.scope.as_str()),
    ];
    for s in &signature.signatures {
        props.push(prop(
            "cra:signature:signer",
            format!("{}:{}", s.kind.as_str(), s.signer),
        ));
        props.push(prop("cra:signature:identity", s.identity.as_str()));
    }
    if let Some(reason) = &signature.reason {
        props.push(prop("cra:signature:reason", reason.as_str()));
    }
    props
}

fn prop(name: &'static str, value: impl Into<String>) -> Property {
    Property {
        name,
        value: value.into(),
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct Dependency {
    #[serde(rename = "ref")]
    reference: String,
    depends_on: Vec<String>,
}

/// Writes the report as CycloneDX 1.6 JSON.
pub(crate) fn render(report: &ScanReport, out: &mut dyn Write) -> Result<(), ScanError> {
    let bom = bom_now(report);
    serde_json::to_writer_pretty(&mut *out, &bom).map_err(|e| ScanError::Output(e.into()))?;
    writeln!(out).map_err(ScanError::Output)
}

/// Builds the BOM, stamped now with a fresh serial number.
pub(crate) fn bom_now(report: &ScanReport) -> Bom {
    bom(report, &utc_now(), &uuid::Uuid::new_v4().to_string())
}

/// Builds the BOM for a fixed timestamp and serial number.
pub(crate) fn bom(report: &ScanReport, timestamp: &str, serial: &str) -> Bom {
    let image = &report.image;
    let inv = &report.inventory;
    let reference = ImageRef::of(report);

    let mut image_component = Component::new(ComponentType::Container, &reference.repository);
    image_component.bom_ref = Some("image".into());
    image_component.version = Some(image.manifest_digest.to_string());
    image_component.purl = reference.purl(report);
    image_component.properties = vec![
        prop("cra:image:id", image.config_digest.to_string()),
        prop("cra:image:platform", image.platform.to_string()),
    ];
    for name in &image.names {
        image_component
            .properties
            .push(prop("cra:image:name", name));
    }
    if let Some(signature) = &report.signature {
        image_component
            .properties
            .extend(signature_properties(signature));
    }

    let refs = bom_refs(&inv.packages);
    let mut components = Vec::new();
    let mut top = Vec::new();
    if let Some(os) = &inv.os {
        let mut c = Component::new(ComponentType::OperatingSystem, &os.id);
        c.bom_ref = Some("os".into());
        c.version.clone_from(&os.version_id);
        c.description.clone_from(&os.pretty_name);
        components.push(c);
        top.push("os".to_owned());
    }
    for (pkg, r) in inv.packages.iter().zip(&refs) {
        components.push(component(pkg, r));
        top.push(r.clone());
    }

    let edges = resolve_edges(&inv.packages);
    let mut dependencies = vec![Dependency {
        reference: "image".into(),
        depends_on: top,
    }];
    if inv.os.is_some() {
        dependencies.push(Dependency {
            reference: "os".into(),
            depends_on: Vec::new(),
        });
    }
    for (i, r) in refs.iter().enumerate() {
        dependencies.push(Dependency {
            reference: r.clone(),
            depends_on: edges[i].iter().map(|&j| refs[j].clone()).collect(),
        });
    }

    let mut tool = Component::new(ComponentType::Application, TOOL);
    tool.version = Some(TOOL_VERSION.to_owned());
    Bom {
        schema: "http://cyclonedx.org/schema/bom-1.6.schema.json",
        bom_format: "CycloneDX",
        spec_version: "1.6",
        serial_number: format!("urn:uuid:{serial}"),
        version: 1,
        metadata: Metadata {
            timestamp: timestamp.to_owned(),
            tools: Tools {
                components: vec![tool],
            },
            component: image_component,
        },
        components,
        dependencies,
    }
}

fn component(pkg: &Package, bom_ref: &str) -> Component {
    let (group, name) = match (pkg.ecosystem, pkg.name.split_once(':')) {
        (Ecosystem::Maven, Some((group, artifact))) => (Some(group.to_owned()), artifact),
        _ => (None, pkg.name.as_str()),
    };
    let mut c = Component::new(ComponentType::Library, name);
    c.bom_ref = Some(bom_ref.to_owned());
    c.group = group;
    c.version = (!pkg.version.is_empty()).then(|| pkg.version.clone());
    c.purl = (!pkg.purl.is_empty()).then(|| pkg.purl.clone());
    if let Some(sha1) = &pkg.sha1 {
        c.hashes.push(Hash {
            alg: "SHA-1",
            content: sha1.clone(),
        });
    }
    match pkg.license.as_deref().and_then(License::parse) {
        Some(License::Expression(expression)) => {
            c.licenses.push(LicenseChoice::Expression { expression });
        }
        Some(License::Text(name)) => c.licenses.push(LicenseChoice::License {
            license: NamedLicense { name },
        }),
        None => {}
    }
    let props = &mut c.properties;
    props.push(prop("cra:package:type", pkg.ecosystem.as_str()));
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
    if pkg.version_from_file_name {
        props.push(prop("cra:version:source", "file-name"));
    }
    props.push(prop("cra:location:path", &pkg.location.path));
    props.push(prop(
        "cra:layer:index",
        pkg.location.layer_index.to_string(),
    ));
    if let Some(d) = &pkg.location.layer_digest {
        props.push(prop("cra:layer:digest", d.to_string()));
    }
    if let Some(d) = &pkg.location.diff_id {
        props.push(prop("cra:layer:diffId", d.to_string()));
    }
    c
}

/// Unique `bom-ref`s: the purl, `#<n>` appended for repeats, `package-<n>` without a purl.
pub(crate) fn bom_refs(packages: &[Package]) -> Vec<String> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sbom::shared::tests::report;
    use serde_json::json;

    #[test]
    fn bom_shape_refs_and_edges() {
        let mut report = report();
        report.inventory.packages[3].license = Some("MIT OR Apache-2.0".into());
        report.inventory.packages[4].license = Some("BSD".into());
        let bom = bom(
            &report,
            "2026-01-01T00:00:00Z",
            "3e671687-395b-41f5-a30f-a58921a69b79",
        );
        let bom = serde_json::to_value(bom).unwrap();
        assert_eq!(bom["specVersion"], "1.6");
        let meta = &bom["metadata"]["component"];
        assert_eq!(meta["name"], "docker.io/library/debian");
        assert_eq!(
            meta["purl"],
            format!(
                "pkg:oci/debian@sha256:{}?arch=arm64&repository_url=docker.io%2Flibrary%2Fdebian&tag=12",
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
        assert_eq!(comps[6]["hashes"][0]["alg"], "SHA-1");
        // Licenses: an SPDX expression as such, free text as a name.
        assert_eq!(
            comps[1]["licenses"],
            json!([{ "expression": "Apache-2.0" }])
        );
        assert_eq!(
            comps[4]["licenses"],
            json!([{ "expression": "MIT OR Apache-2.0" }])
        );
        assert_eq!(
            comps[5]["licenses"],
            json!([{ "license": { "name": "BSD" } }])
        );
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
}
