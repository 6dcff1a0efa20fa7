//! SPDX 2.3 JSON: the image as the described `CONTAINER` package, the OS and every package as
//! packages it `CONTAINS`, and `DEPENDS_ON` relationships between packages.
//!
//! - SPDX ids are `SPDXRef-image`, `SPDXRef-os` and `SPDXRef-pkg-<type>-<name>-<n>`, with every
//!   character outside letters, digits, `.` and `-` replaced by `-`; `<n>` keeps them unique.
//! - Each package carries its purl as a `PACKAGE-MANAGER` external reference, the source package
//!   in `sourceInfo`, a jar's SHA-1 in `checksums`, and in `comment` where it was found (path and
//!   layer) and whether it was installed by the OS package manager
//!   (`installed by the OS package manager`, for example Debian's `python3-*` under
//!   `dist-packages`).
//! - `licenseDeclared` is the recorded license when it is a valid SPDX expression; other license
//!   text gets a `LicenseRef-<sanitised text>` id whose text is listed in
//!   `hasExtractedLicensingInfos` (see [`super::license`]); no license gives `NOASSERTION`.
//!   Nothing is concluded (`licenseConcluded` is `NOASSERTION`).
//! - The output is validated against the official schema in the integration tests, and with
//!   `pyspdxtools` where it is installed.

use std::io::Write;

use cra_core::{Ecosystem, Package};
use serde::Serialize;

use super::license::{License, LicenseRefs};
use super::shared::{resolve_edges, utc_now, ImageRef, TOOL, TOOL_VERSION};
use crate::error::ScanError;
use crate::pipeline::ScanReport;

const NOASSERTION: &str = "NOASSERTION";

/// An SPDX 2.3 document (the parts this writer fills).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Document {
    spdx_version: &'static str,
    data_license: &'static str,
    #[serde(rename = "SPDXID")]
    spdx_id: &'static str,
    name: String,
    document_namespace: String,
    creation_info: CreationInfo,
    document_describes: Vec<String>,
    packages: Vec<SpdxPackage>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    has_extracted_licensing_infos: Vec<ExtractedLicense>,
    relationships: Vec<Relationship>,
}

#[derive(Debug, Clone, Serialize)]
struct CreationInfo {
    created: String,
    creators: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum Purpose {
    Container,
    OperatingSystem,
    Library,
    Application,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct SpdxPackage {
    #[serde(rename = "SPDXID")]
    spdx_id: String,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    version_info: Option<String>,
    download_location: &'static str,
    files_analyzed: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    checksums: Vec<Checksum>,
    license_concluded: &'static str,
    license_declared: String,
    copyright_text: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_info: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<String>,
    primary_package_purpose: Purpose,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    external_refs: Vec<ExternalRef>,
}

impl SpdxPackage {
    fn new(spdx_id: String, name: String, purpose: Purpose) -> SpdxPackage {
        SpdxPackage {
            spdx_id,
            name,
            version_info: None,
            download_location: NOASSERTION,
            files_analyzed: false,
            checksums: Vec::new(),
            license_concluded: NOASSERTION,
            license_declared: NOASSERTION.to_owned(),
            copyright_text: NOASSERTION,
            summary: None,
            description: None,
            source_info: None,
            comment: None,
            primary_package_purpose: purpose,
            external_refs: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
struct Checksum {
    algorithm: &'static str,
    #[serde(rename = "checksumValue")]
    value: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct ExternalRef {
    reference_category: &'static str,
    reference_type: &'static str,
    reference_locator: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct ExtractedLicense {
    license_id: String,
    extracted_text: String,
    name: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum RelationshipType {
    Describes,
    Contains,
    DependsOn,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct Relationship {
    spdx_element_id: String,
    relationship_type: RelationshipType,
    related_spdx_element: String,
}

fn relationship(from: &str, kind: RelationshipType, to: &str) -> Relationship {
    Relationship {
        spdx_element_id: from.to_owned(),
        relationship_type: kind,
        related_spdx_element: to.to_owned(),
    }
}

/// Writes the report as SPDX 2.3 JSON.
pub(crate) fn render(report: &ScanReport, out: &mut dyn Write) -> Result<(), ScanError> {
    let doc = document(report, &utc_now(), &uuid::Uuid::new_v4().to_string());
    serde_json::to_writer_pretty(&mut *out, &doc).map_err(|e| ScanError::Output(e.into()))?;
    writeln!(out).map_err(ScanError::Output)
}

/// Letters, digits, `.` and `-` kept; everything else becomes `-`.
fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

fn purpose(pkg: &Package) -> Purpose {
    match pkg.ecosystem {
        Ecosystem::Deb | Ecosystem::Apk | Ecosystem::Rpm => Purpose::Library,
        _ if !pkg.location.path.contains("node_modules")
            && pkg.location.path.ends_with("/package.json") =>
        {
            Purpose::Application
        }
        _ => Purpose::Library,
    }
}

fn package(pkg: &Package, id: &str, refs: &mut LicenseRefs) -> SpdxPackage {
    let mut p = SpdxPackage::new(id.to_owned(), pkg.name.clone(), purpose(pkg));
    p.license_declared = match pkg.license.as_deref().and_then(License::parse) {
        Some(License::Expression(e)) => e,
        Some(License::Text(t)) => refs.id_for(&t),
        None => NOASSERTION.to_owned(),
    };
    p.version_info = (!pkg.version.is_empty()).then(|| pkg.version.clone());
    if let Some(sha1) = &pkg.sha1 {
        p.checksums.push(Checksum {
            algorithm: "SHA1",
            value: sha1.clone(),
        });
    }
    if !pkg.purl.is_empty() {
        p.external_refs.push(ExternalRef {
            reference_category: "PACKAGE-MANAGER",
            reference_type: "purl",
            reference_locator: pkg.purl.clone(),
        });
    }
    if let Some(src) = &pkg.source_name {
        let version = pkg.source_version.as_deref().unwrap_or("");
        p.source_info = Some(
            format!("built from source package {src} {version}")
                .trim_end()
                .to_owned(),
        );
    }
    let mut comment = format!(
        "{} package found at {} in layer {}",
        pkg.ecosystem, pkg.location.path, pkg.location.layer_index
    );
    if let Some(d) = &pkg.location.layer_digest {
        comment.push_str(&format!(" ({d})"));
    }
    if pkg.os_managed {
        comment.push_str("; installed by the OS package manager");
    }
    if pkg.version_from_file_name {
        comment.push_str("; version taken from the file name");
    }
    p.comment = Some(comment);
    p
}

/// Builds the document for a fixed creation time and namespace id.
pub(super) fn document(report: &ScanReport, created: &str, uuid: &str) -> Document {
    let image = &report.image;
    let inv = &report.inventory;
    let reference = ImageRef::of(report);
    let mut image_pkg = SpdxPackage::new(
        "SPDXRef-image".into(),
        reference.repository.clone(),
        Purpose::Container,
    );
    image_pkg.version_info = Some(image.manifest_digest.to_string());
    image_pkg.comment = Some(format!(
        "image id {}, platform {}",
        image.config_digest, image.platform
    ));
    image_pkg.summary = reference
        .tag
        .as_ref()
        .map(|tag| format!("{}:{tag}", reference.repository));
    let mut packages = vec![image_pkg];
    let mut relationships = vec![relationship(
        "SPDXRef-DOCUMENT",
        RelationshipType::Describes,
        "SPDXRef-image",
    )];
    if let Some(os) = &inv.os {
        let mut p = SpdxPackage::new("SPDXRef-os".into(), os.id.clone(), Purpose::OperatingSystem);
        p.version_info.clone_from(&os.version_id);
        p.description.clone_from(&os.pretty_name);
        packages.push(p);
        relationships.push(relationship(
            "SPDXRef-image",
            RelationshipType::Contains,
            "SPDXRef-os",
        ));
    }
    let ids: Vec<String> = inv
        .packages
        .iter()
        .enumerate()
        .map(|(i, p)| format!("SPDXRef-pkg-{}-{}-{i}", p.ecosystem, sanitize(&p.name)))
        .collect();
    let mut refs = LicenseRefs::default();
    for (pkg, id) in inv.packages.iter().zip(&ids) {
        packages.push(package(pkg, id, &mut refs));
        relationships.push(relationship(
            "SPDXRef-image",
            RelationshipType::Contains,
            id,
        ));
    }
    for (i, targets) in resolve_edges(&inv.packages).into_iter().enumerate() {
        for j in targets {
            relationships.push(relationship(&ids[i], RelationshipType::DependsOn, &ids[j]));
        }
    }
    let name = image
        .names
        .first()
        .cloned()
        .unwrap_or_else(|| reference.repository.clone());
    Document {
        spdx_version: "SPDX-2.3",
        data_license: "CC0-1.0",
        spdx_id: "SPDXRef-DOCUMENT",
        document_namespace: format!("https://cra.invalid/spdx/{}-{uuid}", sanitize(&name)),
        name,
        creation_info: CreationInfo {
            created: created.to_owned(),
            creators: vec![format!("Tool: {TOOL}-{TOOL_VERSION}")],
        },
        document_describes: vec!["SPDXRef-image".into()],
        packages,
        has_extracted_licensing_infos: refs
            .into_extracted()
            .map(|(license_id, text)| ExtractedLicense {
                name: text
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .chars()
                    .take(80)
                    .collect(),
                license_id,
                extracted_text: text,
            })
            .collect(),
        relationships,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sbom::shared::tests::report;

    #[test]
    fn ids_are_sanitised_and_unique() {
        let doc = serde_json::to_value(document(&report(), "2026-01-01T00:00:00Z", "u")).unwrap();
        let pkgs = doc["packages"].as_array().unwrap();
        let ids: Vec<&str> = pkgs.iter().map(|p| p["SPDXID"].as_str().unwrap()).collect();
        for id in &ids {
            let rest = id.strip_prefix("SPDXRef-").unwrap();
            assert!(
                rest.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'),
                "{id}"
            );
        }
        let mut unique = ids.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), ids.len());
        assert_eq!(ids[5], "SPDXRef-pkg-npm--babel-core-3");
        assert!(pkgs[3]["comment"]
            .as_str()
            .unwrap()
            .contains("installed by the OS package manager"));
        assert_eq!(pkgs[2]["licenseDeclared"], "Apache-2.0");
        assert_eq!(pkgs[2]["sourceInfo"], "built from source package openssl");
        assert_eq!(pkgs[7]["checksums"][0]["algorithm"], "SHA1");
        let rels = doc["relationships"].as_array().unwrap();
        assert!(rels.iter().any(|r| r["relationshipType"] == "DEPENDS_ON"
            && r["spdxElementId"] == "SPDXRef-pkg-npm--babel-core-3"
            && r["relatedSpdxElement"] == "SPDXRef-pkg-npm-debug-4"));
        assert_eq!(
            doc["documentNamespace"],
            "https://cra.invalid/spdx/docker.io-library-debian-12-u"
        );
        assert!(doc.get("hasExtractedLicensingInfos").is_none());
    }

    #[test]
    fn license_text_becomes_a_license_ref_with_its_text() {
        let mut report = report();
        report.inventory.packages[1].license = Some("BSD".into());
        report.inventory.packages[2].license = Some("BSD".into());
        report.inventory.packages[3].license = Some("LGPL".into());
        report.inventory.packages[4].license = Some("MIT OR Apache-2.0".into());
        let doc = serde_json::to_value(document(&report, "2026-01-01T00:00:00Z", "u")).unwrap();
        let pkgs = doc["packages"].as_array().unwrap();
        assert_eq!(pkgs[3]["licenseDeclared"], "LicenseRef-BSD");
        assert_eq!(pkgs[4]["licenseDeclared"], "LicenseRef-BSD");
        assert_eq!(pkgs[5]["licenseDeclared"], "LicenseRef-LGPL");
        assert_eq!(pkgs[6]["licenseDeclared"], "MIT OR Apache-2.0");
        assert_eq!(
            doc["hasExtractedLicensingInfos"],
            serde_json::json!([
                { "licenseId": "LicenseRef-BSD", "extractedText": "BSD", "name": "BSD" },
                { "licenseId": "LicenseRef-LGPL", "extractedText": "LGPL", "name": "LGPL" },
            ])
        );
    }
}
