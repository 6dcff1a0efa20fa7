//! The SBOMs against the official schemas and the reference validators.

// Test helpers outside `#[test]` functions panic on setup failures by design.
#![allow(clippy::unwrap_used)]

use cra_scan::{sbom, ScanReport};
use serde_json::{json, Value};

use super::{application_report, render, repo_root, scan, synthetic_report};

fn schema(name: &str) -> Value {
    let path = repo_root().join("tests/fixtures/schemas").join(name);
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

pub(crate) fn assert_valid(validator: &jsonschema::Validator, doc: &Value) {
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "schema violations: {errors:#?}");
}

pub(crate) fn cyclonedx_validator() -> jsonschema::Validator {
    let registry = jsonschema::Registry::new()
        .add(
            "http://cyclonedx.org/schema/spdx.schema.json",
            schema("spdx.schema.json"),
        )
        .unwrap()
        .add(
            "http://cyclonedx.org/schema/jsf-0.82.schema.json",
            schema("jsf-0.82.schema.json"),
        )
        .unwrap()
        .prepare()
        .unwrap();
    jsonschema::options()
        .with_registry(&registry)
        .should_validate_formats(true)
        .build(&schema("bom-1.6.schema.json"))
        .expect("CycloneDX schema compiles")
}

pub(super) fn spdx_validator() -> jsonschema::Validator {
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema("spdx-2.3.schema.json"))
        .expect("SPDX schema compiles")
}

#[tokio::test]
async fn cyclonedx_is_valid_against_the_official_schema() {
    let (_dir, report) = synthetic_report().await;
    let bom = render(&report, sbom::Format::CycloneDx);
    assert_valid(&cyclonedx_validator(), &bom);
    let components = bom["components"].as_array().unwrap();
    // OS component plus one component per package.
    assert_eq!(components.len(), report.inventory.packages.len() + 1);
    let six = components
        .iter()
        .find(|c| c["purl"] == "pkg:pypi/six@1.16.0")
        .unwrap();
    assert!(six["properties"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["name"] == "cra:package:osManaged" && p["value"] == "true"));
    // Flask's `Requires-Dist: Werkzeug` becomes an edge to the installed Werkzeug.
    let flask = bom["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["ref"] == "pkg:pypi/flask@3.0.2")
        .unwrap();
    assert_eq!(flask["dependsOn"], json!(["pkg:pypi/werkzeug@3.0.1"]));
    // A broken document is rejected, so the validator really checks.
    let mut broken = bom.clone();
    broken["components"][0]["type"] = json!("not-a-type");
    assert!(!cyclonedx_validator().is_valid(&broken));
}

#[tokio::test]
async fn spdx_is_valid_against_the_official_schema() {
    let (_dir, report) = synthetic_report().await;
    let doc = render(&report, sbom::Format::Spdx);
    assert_valid(&spdx_validator(), &doc);
    // Image + OS + every package.
    assert_eq!(
        doc["packages"].as_array().unwrap().len(),
        report.inventory.packages.len() + 2
    );
    let mut broken = doc.clone();
    broken["packages"][0]
        .as_object_mut()
        .unwrap()
        .remove("downloadLocation");
    assert!(!spdx_validator().is_valid(&broken));
}

/// The real Debian image from `../shared/fixtures`, when present.
#[tokio::test]
async fn real_debian_image_sboms_are_valid() {
    let archive = repo_root().join("../shared/fixtures/images/debian-min.oci.tar");
    if !archive.exists() {
        eprintln!("skipping: {} is absent", archive.display());
        return;
    }
    let report = scan(&format!("oci-archive:{}", archive.display())).await;
    assert!(report.inventory.packages.len() >= 80);
    assert_valid(
        &cyclonedx_validator(),
        &render(&report, sbom::Format::CycloneDx),
    );
    assert_valid(&spdx_validator(), &render(&report, sbom::Format::Spdx));
}

/// `pyspdxtools -i` on a document; `None` when the tool is not installed.
fn pyspdxtools(doc: &Value) -> Option<Result<(), String>> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("doc.spdx.json");
    std::fs::write(&path, serde_json::to_vec_pretty(doc).unwrap()).unwrap();
    let out = match std::process::Command::new("pyspdxtools")
        .arg("-i")
        .arg(&path)
        .output()
    {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => return Some(Err(format!("pyspdxtools did not run: {e}"))),
    };
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(
        if out.status.success() && !text.contains("ValidationMessage") {
            Ok(())
        } else {
            Err(text)
        },
    )
}

/// Both SBOMs of an image against the reference validators.
// A skipped check is said on stderr, as the tests' other skips are.
#[allow(clippy::print_stderr)]
fn assert_sboms_valid(report: &ScanReport) {
    let bom = render(report, sbom::Format::CycloneDx);
    assert_valid(&cyclonedx_validator(), &bom);
    let doc = render(report, sbom::Format::Spdx);
    assert_valid(&spdx_validator(), &doc);
    match pyspdxtools(&doc) {
        None => eprintln!("skipping pyspdxtools: not installed (.ci/install-sbom.sh installs it)"),
        Some(verdict) => {
            verdict.unwrap_or_else(|e| panic!("pyspdxtools rejects the document: {e}"))
        }
    }
}

#[tokio::test]
async fn sboms_pass_the_reference_validators() {
    // The schema is strict: an unknown property is an error, so nothing unchecked slips by.
    let (_dir, report) = application_report().await;
    let mut bom = render(&report, sbom::Format::CycloneDx);
    bom["components"][0]["unknownField"] = json!(1);
    assert!(!cyclonedx_validator().is_valid(&bom));
    assert_sboms_valid(&report);

    // License strings that are not SPDX expressions are carried as LicenseRefs with their text.
    let doc = render(&report, sbom::Format::Spdx);
    let declared = |name: &str| -> String {
        doc["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .map(|p| p["licenseDeclared"].as_str().unwrap().to_owned())
            .unwrap()
    };
    assert_eq!(declared("Flask"), "LicenseRef-BSD");
    assert_eq!(declared("Werkzeug"), "LicenseRef-LGPL");
    assert_eq!(declared("click"), "BSD-3-Clause");
    assert!(declared("docutils").starts_with("LicenseRef-public-domain"));
    let extracted: Vec<(&str, &str)> = doc["hasExtractedLicensingInfos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["licenseId"].as_str().unwrap(),
                e["extractedText"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(
        extracted.contains(&("LicenseRef-BSD", "BSD")),
        "{extracted:?}"
    );
    assert!(
        extracted.contains(&("LicenseRef-LGPL", "LGPL")),
        "{extracted:?}"
    );

    // The committed example image.
    let example = repo_root().join("examples/images/tiny-debian");
    let report = scan(&format!("oci:{}", example.display())).await;
    assert!(!report.inventory.packages.is_empty());
    assert_sboms_valid(&report);
    // And the synthetic image of every analyzer.
    let (_dir, report) = synthetic_report().await;
    assert_sboms_valid(&report);
}
