//! SPDX 2.3 JSON: the image as the described `CONTAINER` package, the OS and every package as
//! packages it `CONTAINS`, and `DEPENDS_ON` relationships between packages.
//!
//! - SPDX ids are `SPDXRef-image`, `SPDXRef-os` and `SPDXRef-pkg-<type>-<name>-<n>`, with every
//!   character outside letters, digits, `.` and `-` replaced by `-`; `<n>` keeps them unique.
//! - Each package carries its purl as a `PACKAGE-MANAGER` external reference, the source package
//!   in `sourceInfo`, and in `comment` where it was found (path and layer) and whether it was
//!   installed by the OS package manager (`installed by the OS package manager`, for example
//!   Debian's `python3-*` under `dist-packages`).
//! - `licenseDeclared` is the recorded license when it reads as an SPDX expression, otherwise
//!   `NOASSERTION`; nothing is concluded (`licenseConcluded` is `NOASSERTION`).
//! - The output is validated against the official schema in the integration tests.

use std::io::Write;

use cra_core::{Ecosystem, Package};
use serde_json::{json, Value};

use super::cyclonedx::{resolve_edges, utc_now, ImageRef, TOOL, TOOL_VERSION};
use crate::error::ScanError;
use crate::pipeline::ScanReport;

/// Writes the report as SPDX 2.3 JSON.
pub(crate) fn render(report: &ScanReport, out: &mut dyn Write) -> Result<(), ScanError> {
    let doc = document(report, &utc_now(), &uuid::Uuid::new_v4().to_string());
    serde_json::to_writer_pretty(&mut *out, &doc).map_err(|e| ScanError::Output(e.into()))?;
    writeln!(out).map_err(ScanError::Output)
}

/// Letters, digits, `.` and `-` kept; everything else becomes `-`.
pub(super) fn sanitize(s: &str) -> String {
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

/// Whether a license string reads as an SPDX license expression.
fn looks_like_spdx_expression(license: &str) -> bool {
    let tokens: Vec<&str> = license
        .split_whitespace()
        .map(|t| t.trim_matches(['(', ')']))
        .filter(|t| !t.is_empty())
        .collect();
    let is_operator = |t: &str| matches!(t, "AND" | "OR" | "WITH");
    tokens.len() % 2 == 1
        && tokens.iter().enumerate().all(|(i, t)| {
            if i % 2 == 1 {
                is_operator(t)
            } else {
                !is_operator(t)
                    && t.chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+' | ':'))
            }
        })
}

fn purpose(pkg: &Package) -> &'static str {
    match pkg.ecosystem {
        Ecosystem::Deb | Ecosystem::Apk | Ecosystem::Rpm => "LIBRARY",
        _ if !pkg.location.path.contains("node_modules")
            && pkg.location.path.ends_with("/package.json") =>
        {
            "APPLICATION"
        }
        _ => "LIBRARY",
    }
}

fn package(pkg: &Package, id: &str) -> Value {
    let mut p = json!({
        "SPDXID": id,
        "name": pkg.name,
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
        "licenseConcluded": "NOASSERTION",
        "licenseDeclared": pkg.license.as_deref()
            .filter(|l| looks_like_spdx_expression(l))
            .unwrap_or("NOASSERTION"),
        "copyrightText": "NOASSERTION",
        "primaryPackagePurpose": purpose(pkg),
    });
    if !pkg.version.is_empty() {
        p["versionInfo"] = Value::String(pkg.version.clone());
    }
    if !pkg.purl.is_empty() {
        p["externalRefs"] = json!([{
            "referenceCategory": "PACKAGE-MANAGER",
            "referenceType": "purl",
            "referenceLocator": pkg.purl,
        }]);
    }
    if let Some(src) = &pkg.source_name {
        let version = pkg.source_version.as_deref().unwrap_or("");
        p["sourceInfo"] = Value::String(
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
    p["comment"] = Value::String(comment);
    p
}

/// Builds the document for a fixed creation time and namespace id.
pub(super) fn document(report: &ScanReport, created: &str, uuid: &str) -> Value {
    let image = &report.image;
    let inv = &report.inventory;
    let reference = ImageRef::of(report);
    let mut image_pkg = json!({
        "SPDXID": "SPDXRef-image",
        "name": reference.repository,
        "versionInfo": image.manifest_digest.to_string(),
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
        "licenseConcluded": "NOASSERTION",
        "licenseDeclared": "NOASSERTION",
        "copyrightText": "NOASSERTION",
        "primaryPackagePurpose": "CONTAINER",
        "comment": format!("image id {}, platform {}", image.config_digest, image.platform),
    });
    if let Some(tag) = &reference.tag {
        image_pkg["summary"] = Value::String(format!("{}:{tag}", reference.repository));
    }
    let mut packages = vec![image_pkg];
    let mut relationships = vec![json!({
        "spdxElementId": "SPDXRef-DOCUMENT",
        "relationshipType": "DESCRIBES",
        "relatedSpdxElement": "SPDXRef-image",
    })];
    let contains = |id: &str| {
        json!({
            "spdxElementId": "SPDXRef-image",
            "relationshipType": "CONTAINS",
            "relatedSpdxElement": id,
        })
    };
    if let Some(os) = &inv.os {
        let mut p = json!({
            "SPDXID": "SPDXRef-os",
            "name": os.id,
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "licenseConcluded": "NOASSERTION",
            "licenseDeclared": "NOASSERTION",
            "copyrightText": "NOASSERTION",
            "primaryPackagePurpose": "OPERATING_SYSTEM",
        });
        if let Some(v) = &os.version_id {
            p["versionInfo"] = Value::String(v.clone());
        }
        if let Some(pretty) = &os.pretty_name {
            p["description"] = Value::String(pretty.clone());
        }
        packages.push(p);
        relationships.push(contains("SPDXRef-os"));
    }
    let ids: Vec<String> = inv
        .packages
        .iter()
        .enumerate()
        .map(|(i, p)| format!("SPDXRef-pkg-{}-{}-{i}", p.ecosystem, sanitize(&p.name)))
        .collect();
    for (pkg, id) in inv.packages.iter().zip(&ids) {
        packages.push(package(pkg, id));
        relationships.push(contains(id));
    }
    for (i, targets) in resolve_edges(&inv.packages).into_iter().enumerate() {
        for j in targets {
            relationships.push(json!({
                "spdxElementId": ids[i],
                "relationshipType": "DEPENDS_ON",
                "relatedSpdxElement": ids[j],
            }));
        }
    }
    let name = image
        .names
        .first()
        .cloned()
        .unwrap_or_else(|| reference.repository.clone());
    json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": name,
        "documentNamespace": format!("https://cra.invalid/spdx/{}-{uuid}", sanitize(&name)),
        "creationInfo": {
            "created": created,
            "creators": [format!("Tool: {TOOL}-{TOOL_VERSION}")],
        },
        "documentDescribes": ["SPDXRef-image"],
        "packages": packages,
        "relationships": relationships,
    })
}

#[cfg(test)]
mod tests {
    use super::super::cyclonedx::tests::report;
    use super::*;

    #[test]
    fn ids_are_sanitised_and_unique() {
        let doc = document(&report(), "2026-01-01T00:00:00Z", "u");
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
        let rels = doc["relationships"].as_array().unwrap();
        assert!(rels.iter().any(|r| r["relationshipType"] == "DEPENDS_ON"
            && r["spdxElementId"] == "SPDXRef-pkg-npm--babel-core-3"
            && r["relatedSpdxElement"] == "SPDXRef-pkg-npm-debug-4"));
        assert_eq!(
            doc["documentNamespace"],
            "https://cra.invalid/spdx/docker.io-library-debian-12-u"
        );
    }

    #[test]
    fn license_expressions() {
        assert!(looks_like_spdx_expression("MIT"));
        assert!(looks_like_spdx_expression(
            "(MIT OR Apache-2.0) AND BSD-3-Clause"
        ));
        assert!(looks_like_spdx_expression("GPL-2.0+"));
        assert!(!looks_like_spdx_expression("BSD License"));
        assert!(!looks_like_spdx_expression("GPLv2, see COPYING"));
        assert!(!looks_like_spdx_expression(""));
    }
}
